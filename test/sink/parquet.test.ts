import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TributaryError } from '../../src/core/errors.js';
import { PARQUET_CREATED_BY, assembleParquet, encodeParquet, encodeRowGroup } from '../../src/sink/parquet.js';
import { queryDuckDb } from '../support/duckdb.js';
import type { ColumnSpec, ColumnType, TableData } from '../../src/core/table.js';
import { readParquet, readParquetMetadata } from '../support/read-parquet.js';

const T0 = Date.UTC(2024, 4, 17, 9, 30, 0, 250);

/** One column per type, required and nullable, with values that exercise each type's edges. */
function everyTypeTable(): TableData {
  const samples: Record<ColumnType, unknown[]> = {
    boolean: [true, false, true, false],
    int32: [0, -2147483648, 2147483647, 42],
    int64: [0, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2n ** 62n],
    float: [0.5, -1.25, 3.75, 1e10],
    double: [Math.PI, -0.1, 1e-300, 123456.789],
    string: ['plain', 'ünïcødé ✓', '', '𝄞 emoji 🚀'],
    bytes: [new Uint8Array([0, 1, 2, 255]), new Uint8Array([]), new Uint8Array([7]), new Uint8Array([9, 9])],
    timestamp_ms: [T0, 0, T0 + 1, Date.UTC(2100, 0, 1)],
    timestamp_us: [T0, T0 + 0.5, 0, T0 + 1.001],
    json: [{ a: 1, b: [1, 2] }, [1, 'two', null], 'text', { nested: { deep: true } }],
    json_text: ['{"a":1}', '[1,"two",null]', '"text"', '{"nested":{"deep":true}}'],
  };
  const columns: ColumnSpec[] = [];
  const values: unknown[][] = [];
  for (const [type, sample] of Object.entries(samples) as [ColumnType, unknown[]][]) {
    columns.push({ name: `${type}_required`, type, nullable: false });
    values.push(sample);
    columns.push({ name: `${type}_nullable`, type, nullable: true });
    values.push([sample[0], null, sample[2], undefined]);
  }
  return { schema: { name: 'every_type', columns }, columns: values };
}

/** What a reader should give back for a value written into a column of this type. */
function expected(type: ColumnType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (type === 'int64' && typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value;
  if (type === 'float') return Math.fround(value as number);
  if (type === 'json') return JSON.stringify(value);
  if (type === 'bytes') return Array.from(value as Uint8Array);
  return value;
}

function stringTable(name: string, values: (string | null)[]): TableData {
  return { schema: { name: 't', columns: [{ name, type: 'string', nullable: true }] }, columns: [values] };
}

describe('encodeParquet', () => {
  it('round-trips every column type, nulls included, through an independent reader', async () => {
    const table = everyTypeTable();
    const { rows } = await readParquet(encodeParquet(table));

    expect(rows).toHaveLength(4);
    table.schema.columns.forEach((spec, c) => {
      const got = rows.map((row) => {
        const value = row[spec.name];
        return value instanceof Uint8Array ? Array.from(value) : value;
      });
      const want = table.columns[c]!.map((value) => expected(spec.type, value));
      expect({ column: spec.name, values: got }).toEqual({ column: spec.name, values: want });
    });
  });

  it('writes real Parquet logical types and repetition, as Arrow sees them', async () => {
    const { columns } = await readParquet(encodeParquet(everyTypeTable()));
    const arrowType: Record<ColumnType, string> = {
      boolean: 'Bool',
      int32: 'Int32',
      int64: 'Int64',
      float: 'Float32',
      double: 'Float64',
      string: 'Utf8',
      bytes: 'Binary',
      timestamp_ms: 'Timestamp<MILLISECOND, UTC>',
      timestamp_us: 'Timestamp<MICROSECOND, UTC>',
      json: 'Utf8',
      json_text: 'Utf8',
    };
    const want = everyTypeTable().schema.columns.map((spec) => ({ name: spec.name, type: arrowType[spec.type], nullable: spec.nullable }));
    expect(columns).toEqual(want);
  });

  it('keeps microseconds in a timestamp_us column', async () => {
    const table: TableData = {
      schema: { name: 't', columns: [{ name: 'at', type: 'timestamp_us', nullable: false }] },
      columns: [[T0 + 0.123, T0 + 0.999]],
    };
    const { rows } = await readParquet(encodeParquet(table));
    // Arrow hands timestamps back as (fractional) epoch milliseconds
    expect(rows.map((row) => Math.round((row.at as number) * 1000))).toEqual([T0 * 1000 + 123, T0 * 1000 + 999]);
  });

  it('compresses every column chunk with snappy by default, and not at all when asked', async () => {
    const table = everyTypeTable();
    const snappy = await readParquetMetadata(encodeParquet(table));
    const codecs = snappy.rowGroups.flatMap((group) => group.columns.map((column) => column.codec));
    expect(codecs).toHaveLength(table.schema.columns.length);
    expect(new Set(codecs)).toEqual(new Set(['SNAPPY']));

    const plain = await readParquetMetadata(encodeParquet(table, { compression: 'UNCOMPRESSED' }));
    expect(new Set(plain.rowGroups.flatMap((group) => group.columns.map((column) => column.codec)))).toEqual(new Set(['UNCOMPRESSED']));
  });

  it('is deterministic: equal tables give identical bytes, with a clock-free created_by', async () => {
    const first = encodeParquet(everyTypeTable());
    const second = encodeParquet(everyTypeTable());
    expect(Buffer.from(second).equals(Buffer.from(first))).toBe(true);
    expect((await readParquetMetadata(first)).createdBy).toBe(PARQUET_CREATED_BY);
  });

  it('dictionary-encodes low- and medium-cardinality strings and leaves unique ids plain', async () => {
    const rows = 20_000;
    const table: TableData = {
      schema: {
        name: 'orders_raw',
        columns: [
          { name: 'order_id', type: 'string', nullable: false },
          { name: 'currency', type: 'string', nullable: false },
          // 2,000 distinct values: the writer's own 1,000-value sample would reject this column
          { name: 'customer', type: 'string', nullable: true },
        ],
      },
      columns: [
        Array.from({ length: rows }, (_, i) => `order-${i.toString().padStart(8, '0')}`),
        Array.from({ length: rows }, (_, i) => ['EUR', 'USD', 'GBP'][i % 3]),
        Array.from({ length: rows }, (_, i) => (i % 10 === 0 ? null : `customer-${(i * 7919) % 2000}`)),
      ],
    };
    const bytes = encodeParquet(table);
    const encodings = Object.fromEntries((await readParquetMetadata(bytes)).rowGroups[0]!.columns.map((c) => [c.path, c.encodings]));
    expect(encodings.order_id).not.toContain('RLE_DICTIONARY');
    expect(encodings.currency).toContain('RLE_DICTIONARY');
    expect(encodings.customer).toContain('RLE_DICTIONARY');

    const back = await readParquet(bytes);
    expect(back.rows.map((row) => row.customer)).toEqual(table.columns[2]);
    expect(back.rows.map((row) => row.order_id)).toEqual(table.columns[0]);
  });

  it('round-trips multi-byte UTF-8 on both the plain and the dictionary path', async () => {
    const unique = Array.from({ length: 3000 }, (_, i) => `Zürich-${i}-日本-🚀`);
    const repeated = Array.from({ length: 3000 }, (_, i) => ['Ωmega', 'ça va', '北京'][i % 3]!);
    for (const values of [unique, repeated]) {
      const { rows } = await readParquet(encodeParquet(stringTable('city', values)));
      expect(rows.map((row) => row.city)).toEqual(values);
    }
  });

  it('splits rows into row groups of the requested size, in order', async () => {
    const ids = Array.from({ length: 2500 }, (_, i) => i * 3);
    const table: TableData = { schema: { name: 't', columns: [{ name: 'id', type: 'int64', nullable: false }] }, columns: [ids] };
    const bytes = encodeParquet(table, { rowGroupSize: 1000 });
    expect((await readParquetMetadata(bytes)).rowGroups.map((group) => group.numRows)).toEqual([1000, 1000, 500]);
    expect((await readParquet(bytes)).rows.map((row) => row.id)).toEqual(ids);
  });

  it('writes an empty table as a readable file with its schema', async () => {
    const table: TableData = {
      schema: { name: 't', columns: [{ name: 'at', type: 'timestamp_ms', nullable: false }, { name: 'name', type: 'string', nullable: true }] },
      columns: [[], []],
    };
    const contents = await readParquet(encodeParquet(table));
    expect(contents.rows).toEqual([]);
    expect(contents.columns.map((column) => column.name)).toEqual(['at', 'name']);
  });

  it('rejects values that break the table contract with an error naming table, column and row', () => {
    const base = (type: ColumnType, nullable: boolean, values: unknown[]): TableData => ({
      schema: { name: 'orders_raw', columns: [{ name: 'col', type, nullable }] },
      columns: [values],
    });
    const cases: [TableData, RegExp][] = [
      [base('string', false, ['a', null]), /orders_raw.*"col".*row 1.*got null/],
      [base('int32', true, [1, 2.5]), /row 1: expected int32/],
      [base('int64', true, [1, Number.MAX_SAFE_INTEGER + 1]), /row 1: expected int64/],
      [base('timestamp_ms', true, ['2024-01-01']), /row 0: expected epoch milliseconds/],
      [base('bytes', false, ['not bytes']), /row 0: expected Uint8Array/],
      [base('json', false, [undefined]), /row 0: expected a JSON-serialisable value/],
    ];
    for (const [table, message] of cases) {
      let caught: unknown;
      try {
        encodeParquet(table);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(TributaryError);
      expect((caught as TributaryError).code).toBe('INTERNAL');
      expect((caught as Error).message).toMatch(message);
    }
  });

  it('rejects columns of different lengths', () => {
    const table: TableData = {
      schema: { name: 't', columns: [{ name: 'a', type: 'int32', nullable: false }, { name: 'b', type: 'int32', nullable: false }] },
      columns: [[1, 2], [1]],
    };
    expect(() => encodeParquet(table)).toThrow(/column "b" has 1 values, expected 2/);
  });
});

describe('what DuckDB reads', () => {
  it('reads JSON columns as JSON and timestamps as UTC timestamps (regression: JSON without the converted type was a BLOB)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tributary-parquet-duckdb-'));
    try {
      const table = everyTypeTable();
      await writeFile(path.join(dir, 'whole.parquet'), encodeParquet(table));
      await writeFile(path.join(dir, 'groups.parquet'), assembleParquet(table.schema, [encodeRowGroup(table)]));
      for (const file of ['whole.parquet', 'groups.parquet']) {
        const { types, rows } = await queryDuckDb(`SELECT * FROM read_parquet('${path.join(dir, file)}')`);
        expect(types, file).toMatchObject({
          json_required: 'JSON',
          json_text_nullable: 'JSON',
          timestamp_ms_required: 'TIMESTAMP WITH TIME ZONE',
          timestamp_us_required: 'TIMESTAMP WITH TIME ZONE',
          int64_required: 'BIGINT',
          int32_required: 'INTEGER',
          string_required: 'VARCHAR',
        });
        expect(JSON.parse(String(rows[0]!.json_required))).toEqual({ a: 1, b: [1, 2] });
        expect(rows[0]!.timestamp_ms_required).toBe(T0);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
