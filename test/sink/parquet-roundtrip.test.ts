/**
 * Random tables of every column kind through the encoder, read back by two readers that share no code with it or
 * with each other: DuckDB (C++) and hyparquet (JavaScript). Each must give the values a brute-force model of the
 * table's value conventions (src/core/table.ts) says, DuckDB must type the columns as today (JSON, TIMESTAMP WITH
 * TIME ZONE, ...), and the footer statistics must be those hyparquet-writer writes for the same rows (the encoder
 * this one replaced, kept in bench/hyparquet-reference.ts), as both hyparquet and DuckDB's parquet_metadata read
 * them: DuckDB prunes row groups by them.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeParquet as encodeWithHyparquetWriter } from '../../bench/hyparquet-reference.js';
import { assembleParquet, encodeParquet, encodeRowGroup } from '../../src/sink/parquet.js';
import type { ColumnSpec, ColumnType, TableData, TypedColumn } from '../../src/core/table.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'tributary-parquet-roundtrip-'));
let duckdb: Promise<DuckDBInstance> | undefined;
afterAll(async () => {
  if (duckdb) (await duckdb).closeSync();
  rmSync(dir, { recursive: true, force: true });
});

const KINDS: ColumnType[] = ['boolean', 'int32', 'int64', 'float', 'double', 'string', 'bytes', 'timestamp_ms', 'timestamp_us', 'json', 'json_text'];
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
/** Epoch milliseconds whose microseconds are still a safe integer (a timestamp_us column rejects the rest). */
const US_LIMIT = Math.floor(Number.MAX_SAFE_INTEGER / 1000);

const text = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom('', 'ü', '\u{1F680}', '\uFFFD', '\uE000', '𝄞', 'a\u0000b') },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 200, maxLength: 3000 }) },
);

/** Dozens of short distinct values: dictionaries whose hash tables see collisions. */
const fewTexts = fc.string({ unit: fc.constantFrom('a', 'b', 'é', '\u{1F680}'), maxLength: 3 });

/** Values of one kind; `pool` picks from a few values, so dictionaries and RLE runs are exercised too. */
function valuesOf(type: ColumnType): fc.Arbitrary<unknown> {
  switch (type) {
    case 'boolean':
      return fc.boolean();
    case 'int32':
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case 'int64':
      return fc.oneof(
        fc.integer({ min: -1000, max: 1000 }),
        fc.bigInt({ min: -(2n ** 51n), max: 2n ** 51n }).map(Number),
        fc.maxSafeInteger(),
        fc.constantFrom(Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, INT64_MIN, INT64_MAX, 0),
        fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
      );
    case 'float':
      return fc.float();
    case 'double':
      return fc.double();
    case 'string':
    case 'json_text':
      return type === 'string' ? text : fc.json();
    case 'bytes':
      return fc.uint8Array({ maxLength: 40 });
    case 'timestamp_ms':
      return fc.oneof(
        fc.integer({ min: 1_600_000_000_000, max: 1_800_000_000_000 }),
        fc.double({ min: -8.64e15, max: 8.64e15, noNaN: true }),
        fc.constantFrom(-8.64e15, 8.64e15, 0, -0.5, 0.999),
      );
    case 'timestamp_us':
      return fc.oneof(
        fc.integer({ min: 1_600_000_000_000, max: 1_800_000_000_000 }).chain((ms) => fc.integer({ min: 0, max: 999 }).map((us) => ms + us / 1000)),
        fc.double({ min: -US_LIMIT, max: US_LIMIT, noNaN: true }),
        fc.constantFrom(-US_LIMIT, US_LIMIT, 0, 0.0005),
      );
    case 'json':
      // A top-level null is a missing value (the nullability generator makes those).
      return fc.jsonValue().filter((v) => v !== null);
  }
}

interface Column {
  spec: ColumnSpec;
  values: unknown[];
}

/** A column generator: kind, nullability, and the shape of its values (random, a small pool, or rising). */
interface Shape {
  type: ColumnType;
  nullable: boolean;
  nullRate: number;
  shape: 'random' | 'pool' | 'rising' | 'few';
}

const columnShape: fc.Arbitrary<Shape> = fc.record({
  type: fc.constantFrom(...KINDS),
  nullable: fc.boolean(),
  nullRate: fc.constantFrom(0, 0.1, 0.5, 1),
  shape: fc.constantFrom('random' as const, 'pool' as const, 'rising' as const, 'few' as const),
});

function columnValues(shape: Shape, rows: number): fc.Arbitrary<unknown[]> {
  const { type, nullable, nullRate } = shape;
  let values: fc.Arbitrary<unknown[]>;
  if (shape.shape === 'pool') {
    values = fc.array(valuesOf(type), { minLength: 1, maxLength: 4 }).chain((pool) => fc.array(fc.constantFrom(...pool), { minLength: rows, maxLength: rows }));
  } else if (shape.shape === 'few' && type === 'string') {
    values = fc.array(fewTexts, { minLength: rows, maxLength: rows });
  } else if (shape.shape === 'rising' && (type === 'int64' || type === 'timestamp_ms')) {
    values = fc.tuple(fc.integer({ min: 0, max: 2 ** 40 }), fc.array(fc.integer({ min: -5, max: 1000 }), { minLength: rows, maxLength: rows })).map(([base, steps]) => {
      let at = base;
      return steps.map((step) => (at += step));
    });
  } else {
    values = fc.array(valuesOf(type), { minLength: rows, maxLength: rows });
  }
  if (!nullable || nullRate === 0) return values;
  return fc.tuple(values, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: rows, maxLength: rows })).map(([vs, coins]) =>
    vs.map((v, i) => (coins[i]! < nullRate ? (i % 2 ? null : undefined) : v)),
  );
}

const tableArb = fc
  .record({
    rows: fc.oneof(fc.constantFrom(0, 1), fc.integer({ min: 2, max: 40 }), fc.integer({ min: 100, max: 700 })),
    shapes: fc.array(columnShape, { minLength: 1, maxLength: 6 }),
  })
  .chain(({ rows, shapes }) =>
    fc.record({
      columns: fc.tuple(...shapes.map((shape) => columnValues(shape, rows))).map((all) =>
        all.map((values, c): Column => ({ spec: { name: `c${c}_${shapes[c]!.type}`, type: shapes[c]!.type, nullable: shapes[c]!.nullable }, values })),
      ),
      rowGroupSize: fc.oneof(fc.constant(131_072), fc.integer({ min: 1, max: Math.max(1, rows) })),
    }),
  );

function tableOf(columns: Column[]): TableData {
  return { schema: { name: 'random', columns: columns.map((c) => c.spec) }, columns: columns.map((c) => c.values) };
}

/** What every reader must give back for a value of a column, in one canonical form: the value conventions of table.ts. */
function model(type: ColumnType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (type) {
    case 'int64':
      return BigInt(value as number | bigint);
    case 'float':
      return canonicalNumber(Math.fround(value as number));
    case 'double':
      return canonicalNumber(value as number);
    case 'bytes':
      return Array.from(value as Uint8Array);
    case 'timestamp_ms':
      return BigInt(Math.floor(value as number));
    case 'timestamp_us':
      return BigInt(Math.round((value as number) * 1000));
    case 'json':
      return JSON.stringify(value);
    default:
      return value;
  }
}

/** A reader's value in the model's form. */
function canonical(type: ColumnType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (value instanceof Uint8Array) return type === 'json' || type === 'json_text' || type === 'string' ? Buffer.from(value).toString('utf8') : Array.from(value);
  if (type === 'bytes' && typeof value === 'string') return Array.from(Buffer.from(value, 'hex')); // DuckDB's hex()
  if (type === 'int64' || type === 'timestamp_ms' || type === 'timestamp_us') return BigInt(value as number | bigint);
  if (type === 'float' || type === 'double') return canonicalNumber(value as number);
  return value;
}

/** -0 and 0 are one value to SQL and to min/max; NaN stays NaN (toEqual equates NaNs). */
function canonicalNumber(value: number): number {
  return value === 0 ? 0 : value;
}

const DUCKDB_TYPES: Record<ColumnType, string> = {
  boolean: 'BOOLEAN',
  int32: 'INTEGER',
  int64: 'BIGINT',
  float: 'FLOAT',
  double: 'DOUBLE',
  string: 'VARCHAR',
  bytes: 'BLOB',
  timestamp_ms: 'TIMESTAMP WITH TIME ZONE',
  timestamp_us: 'TIMESTAMP WITH TIME ZONE',
  json: 'JSON',
  json_text: 'JSON',
};

async function withDuckDb<T>(run: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
  const instance = await (duckdb ??= DuckDBInstance.create(':memory:'));
  const connection = await instance.connect();
  try {
    return await run(connection);
  } finally {
    connection.closeSync();
  }
}

let files = 0;
function writeTemp(bytes: Uint8Array): string {
  const file = path.join(dir, `t${files++}.parquet`);
  writeFileSync(file, bytes);
  return file;
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

async function readWithDuckDb(file: string, columns: Column[]): Promise<{ types: string[]; rows: unknown[][] }> {
  return withDuckDb(async (connection) => {
    const described = (await connection.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${file}')`)).getRowObjectsJS();
    // Timestamps as integers of the column's unit, JSON as its text: values the model can state exactly.
    const select = columns.map(({ spec }) => {
      const name = quote(spec.name);
      if (spec.type === 'timestamp_ms') return `epoch_ms(${name})`;
      if (spec.type === 'timestamp_us') return `epoch_us(${name})`;
      if (spec.type === 'json' || spec.type === 'json_text') return `${name}::VARCHAR`;
      if (spec.type === 'bytes') return `hex(${name})`;
      return name;
    });
    const reader = await connection.runAndReadAll(`SELECT ${select.join(', ')} FROM read_parquet('${file}')`);
    return { types: described.map((row) => String(row.column_type)), rows: reader.getRowsJS() };
  });
}

async function readWithHyparquet(bytes: Uint8Array, columns: Column[]): Promise<unknown[][]> {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const rows = await parquetReadObjects({
    file,
    utf8: false, // un-annotated BYTE_ARRAY (a bytes column) as bytes
    // Physical integers and text, not Dates and parsed objects: values the model can state exactly.
    parsers: { timestampFromMilliseconds: (v: bigint) => v, timestampFromMicroseconds: (v: bigint) => v, jsonFromBytes: (b: Uint8Array) => b },
  });
  return rows.map((row) => columns.map(({ spec }) => row[spec.name]));
}

function byColumn(rows: unknown[][], columns: Column[]): unknown[][] {
  return columns.map(({ spec }, c) => rows.map((row) => canonical(spec.type, row[c])));
}

function expectedColumns(columns: Column[]): unknown[][] {
  return columns.map(({ spec, values }) => values.map((v) => model(spec.type, v)));
}

/** Footer statistics per row group and column, as a reader decodes them. */
function statistics(bytes: Uint8Array): unknown {
  const metadata = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  return metadata.row_groups.map((group) => ({
    rows: group.num_rows,
    columns: group.columns.map((chunk) => ({ path: chunk.meta_data?.path_in_schema, statistics: chunk.meta_data?.statistics })),
  }));
}

async function duckDbStatistics(file: string): Promise<unknown[]> {
  return withDuckDb(async (connection) => {
    const reader = await connection.runAndReadAll(
      `SELECT row_group_id, path_in_schema, stats_min, stats_max, stats_null_count, stats_min_value, stats_max_value
         FROM parquet_metadata('${file}') ORDER BY row_group_id, column_id`,
    );
    return reader.getRowObjectsJS();
  });
}

describe('the Parquet encoder on random tables of every column kind', () => {
  it('DuckDB and hyparquet read back the model of every value, with today\'s types and hyparquet-writer\'s statistics', async () => {
    await fc.assert(
      fc.asyncProperty(tableArb, async ({ columns, rowGroupSize }) => {
        const table = tableOf(columns);
        const bytes = encodeParquet(table, { rowGroupSize });
        const file = writeTemp(bytes);
        const want = expectedColumns(columns);

        const duck = await readWithDuckDb(file, columns);
        expect(duck.types).toEqual(columns.map(({ spec }) => DUCKDB_TYPES[spec.type]));
        expect(byColumn(duck.rows, columns)).toEqual(want);
        expect(byColumn(await readWithHyparquet(bytes, columns), columns)).toEqual(want);

        const reference = encodeWithHyparquetWriter(table, { rowGroupSize });
        expect(statistics(bytes)).toEqual(statistics(reference));
        expect(await duckDbStatistics(file)).toEqual(await duckDbStatistics(writeTemp(reference)));
      }),
      { numRuns: 120 },
    );
  });

  it('is deterministic, and groups encoded apart and assembled are the same file as encoded whole', () => {
    fc.assert(
      fc.property(tableArb, fc.constantFrom('native' as const, 'js' as const), ({ columns, rowGroupSize }, snappy) => {
        const table = tableOf(columns);
        const bytes = Buffer.from(encodeParquet(table, { rowGroupSize, snappy }));
        expect(Buffer.from(encodeParquet(tableOf(columns.map((c) => ({ spec: c.spec, values: [...c.values] }))), { rowGroupSize, snappy })).equals(bytes)).toBe(true);
        const rows = table.columns[0]!.length;
        const groups = [];
        for (let start = 0; start < rows; start += rowGroupSize) {
          groups.push(encodeRowGroup({ schema: table.schema, columns: table.columns.map((c) => c.slice(start, start + rowGroupSize)) }, { snappy }));
        }
        expect(Buffer.from(assembleParquet(table.schema, groups)).equals(bytes)).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('takes columns as buffers (Float64Array, Int32Array, UTF-8 spans) and writes what it writes from JS values', async () => {
    await fc.assert(
      fc.asyncProperty(tableArb, fc.infiniteStream(fc.boolean()), async ({ columns, rowGroupSize }, picks) => {
        const table = tableOf(columns);
        const typed = columns.map((column) => (picks.next().value ? typedForm(column) : undefined));
        const fromBuffers = encodeParquet({ ...table, columns: table.columns.map((values, c) => (typed[c] ? [] : values)), typed }, { rowGroupSize });
        const fromValues = encodeParquet(table, { rowGroupSize });
        // The dictionary rule counts UTF-16 units for JS strings and bytes for spans: equal for ASCII text only.
        const ascii = columns.every(({ spec, values }) => (spec.type !== 'string' && spec.type !== 'json_text') || values.every((v) => typeof v !== 'string' || /^[\x00-\x7f]*$/.test(v)));
        if (ascii) expect(Buffer.from(fromBuffers).equals(Buffer.from(fromValues))).toBe(true);
        expect(byColumn(await readWithHyparquet(fromBuffers, columns), columns)).toEqual(expectedColumns(columns));
        expect(statistics(fromBuffers)).toEqual(statistics(fromValues));
      }),
      { numRuns: 120 },
    );
  });
});

describe('Snappy where it pays', () => {
  it('compresses pages that Snappy shrinks by a tenth or more and stores the rest as they are, both readable', async () => {
    const rows = 5000;
    const ids = Array.from({ length: rows }, (_, i) => `${(i * 2654435761) % 4294967296}`.padStart(10, '0') + Math.sin(i).toString(36).slice(2, 14));
    const lines = Array.from({ length: rows }, (_, i) => JSON.stringify([{ sku: `SKU-${i % 50}`, quantity: 1 + (i % 3), unitPrice: 9.99 }]));
    const columns: Column[] = [
      { spec: { name: 'id', type: 'string', nullable: false }, values: ids },
      { spec: { name: 'lines', type: 'json_text', nullable: false }, values: lines },
    ];
    const bytes = encodeParquet(tableOf(columns));
    const chunks = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer).row_groups[0]!.columns;
    const sizes = Object.fromEntries(chunks.map((c) => [c.meta_data!.path_in_schema[0], [Number(c.meta_data!.total_compressed_size), Number(c.meta_data!.total_uncompressed_size)]]));
    expect(sizes.id![0]).toBe(sizes.id![1]);
    expect(sizes.lines![0]).toBeLessThan(sizes.lines![1]! / 2);
    expect(new Set(chunks.map((c) => c.meta_data!.codec))).toEqual(new Set(['SNAPPY']));
    const want = expectedColumns(columns);
    expect(byColumn((await readWithDuckDb(writeTemp(bytes), columns)).rows, columns)).toEqual(want);
    expect(byColumn(await readWithHyparquet(bytes, columns), columns)).toEqual(want);
  });
});

describe('UTF-8 spans', () => {
  it('give the dictionary that strings give, hash collisions included (hundreds of short distinct values)', async () => {
    const shortAscii = fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), maxLength: 3 });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.option(shortAscii, { nil: null }), { minLength: 300, maxLength: 3000 }), async (values) => {
        const column: Column = { spec: { name: 's', type: 'string', nullable: true }, values };
        const table = tableOf([column]);
        const fromBuffers = encodeParquet({ ...table, columns: [[]], typed: [typedForm(column)] });
        expect(Buffer.from(fromBuffers).equals(Buffer.from(encodeParquet(table)))).toBe(true);
        expect(byColumn(await readWithHyparquet(fromBuffers, [column]), [column])).toEqual(expectedColumns([column]));
      }),
      { numRuns: 40 },
    );
  });
});

const FLOAT64_KINDS = new Set<ColumnType>(['double', 'float', 'int64', 'timestamp_ms', 'timestamp_us']);

/** The column as a producer holding buffers would give it; null slots hold junk the encoder must not read. */
function typedForm({ spec, values }: Column): TypedColumn | undefined {
  const validity = Uint8Array.from(values, (v) => (v === null || v === undefined ? 0 : 1));
  if (FLOAT64_KINDS.has(spec.type) && values.every((v) => typeof v !== 'bigint')) {
    return { kind: 'float64', values: Float64Array.from(values, (v) => (typeof v === 'number' ? v : 12345.5)), validity };
  }
  if (spec.type === 'int32') return { kind: 'int32', values: Int32Array.from(values, (v) => (typeof v === 'number' ? v : 777)), validity };
  if (spec.type === 'string' || spec.type === 'json_text') {
    const parts = values.map((v) => Buffer.from(typeof v === 'string' ? v : 'junk', 'utf8'));
    const offsets = new Uint32Array(values.length + 1);
    parts.forEach((part, i) => (offsets[i + 1] = offsets[i]! + part.length));
    return { kind: 'utf8', bytes: Buffer.concat(parts), offsets, validity };
  }
  return undefined;
}
