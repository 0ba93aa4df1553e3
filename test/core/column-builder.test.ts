/**
 * Column builders (src/core/column-builder.ts), the buffers the decoder and the lane's open cell write: a table
 * built in them, by appending JS values or by gathering rows of another batch, encodes to the same Parquet bytes
 * as the same rows given as JS values, non-ASCII text included (the UTF-8 encoder's dictionary rule must count
 * what the string encoder counts); truncation drops exactly the rows after the mark.
 */
import fc from 'fast-check';
import { parquetMetadata } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import { ColumnBuilder, columnValues, type BatchColumn } from '../../src/core/column-builder.js';
import { encodeParquet } from '../../src/sink/parquet.js';
import type { ColumnSpec, ColumnType, TableData } from '../../src/core/table.js';

const KINDS: ColumnType[] = ['boolean', 'int32', 'int64', 'double', 'float', 'string', 'json_text', 'timestamp_ms', 'bytes'];

/** Texts that repeat (dictionaries pay) and that leave ASCII: 2-, 3- and 4-byte characters, U+FFFD itself. */
const text = fc.oneof(
  fc.string({ unit: fc.constantFrom('a', 'é', '\u{1F680}', '€', '\uFFFD'), maxLength: 3 }),
  fc.string({ unit: 'grapheme', maxLength: 10 }),
  fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
  fc.string({ unit: 'grapheme', minLength: 33, maxLength: 80 }),
);

function valueOf(type: ColumnType): fc.Arbitrary<unknown> {
  switch (type) {
    case 'boolean':
      return fc.boolean();
    case 'int32':
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case 'int64':
    case 'timestamp_ms':
      return fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.maxSafeInteger());
    case 'double':
      return fc.double();
    case 'float':
      return fc.float();
    case 'bytes':
      return fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b));
    default:
      return text;
  }
}

const tableArb = fc
  .array(fc.tuple(fc.constantFrom(...KINDS), fc.boolean()), { minLength: 1, maxLength: 5 })
  .chain((kinds) =>
    fc.integer({ min: 1, max: 400 }).chain((rows) =>
      fc.tuple(
        fc.constant(kinds.map(([type, nullable], i): ColumnSpec => ({ name: `c${i}`, type, nullable }))),
        fc.tuple(...kinds.map(([type, nullable]) => fc.array(nullable ? fc.option(valueOf(type), { nil: null, freq: 4 }) : valueOf(type), { minLength: rows, maxLength: rows }))),
        fc.integer({ min: 1, max: 500 }),
      ),
    ),
  );

function typedTable(specs: ColumnSpec[], builders: ColumnBuilder[]): TableData {
  const columns = builders.map((b) => b.column());
  return {
    schema: { name: 't', columns: specs },
    columns: columns.map((c) => (c.kind === 'values' ? c.values : [])),
    typed: columns.map((c) => (c.kind === 'values' ? undefined : c)),
  };
}

describe('column builders', () => {
  it('encode to the bytes the same rows as JS values encode to, appended or gathered', () => {
    fc.assert(
      fc.property(tableArb, fc.infiniteStream(fc.boolean()), ([specs, values, rowGroupSize], keep) => {
        const fromValues = Buffer.from(encodeParquet({ schema: { name: 't', columns: specs }, columns: values }, { rowGroupSize }));
        const appended = specs.map((spec, c) => {
          const builder = new ColumnBuilder(spec.type, 4);
          for (const value of values[c]!) builder.appendValue(value);
          return builder;
        });
        expect(Buffer.from(encodeParquet(typedTable(specs, appended), { rowGroupSize })).equals(fromValues)).toBe(true);
        // gathered by admitted row (what the open cell does with a batch), against the admitted rows as values
        const rows = values[0]!.length;
        const admitted = Array.from({ length: rows }, (_, r) => r).filter(() => keep.next().value);
        const batch: BatchColumn[] = appended.map((b) => b.column());
        const gathered = specs.map((spec, c) => {
          const builder = new ColumnBuilder(spec.type, 1);
          for (const row of admitted) builder.gather(batch[c]!, row);
          return builder;
        });
        if (admitted.length > 0) {
          const subset = values.map((column) => admitted.map((row) => column[row]));
          const want = Buffer.from(encodeParquet({ schema: { name: 't', columns: specs }, columns: subset }, { rowGroupSize }));
          expect(Buffer.from(encodeParquet(typedTable(specs, gathered), { rowGroupSize })).equals(want)).toBe(true);
          expect(gathered.map((b) => columnValues(b.column()))).toEqual(subset);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('emptied and filled again (the open cell reuses its buffers per row group), encode to the bytes of the new rows alone', () => {
    fc.assert(
      fc.property(tableArb, fc.infiniteStream(fc.boolean()), ([specs, values, rowGroupSize], keep) => {
        const builders = specs.map((spec, c) => {
          const builder = new ColumnBuilder(spec.type, 4);
          for (const value of values[c]!) builder.appendValue(value);
          return builder;
        });
        // the next group: some of the rows again, in reverse order (nulls where there were none, and the other way)
        const rows = values[0]!.length;
        const next = Array.from({ length: rows }, (_, r) => rows - 1 - r).filter(() => keep.next().value);
        if (next.length === 0) return;
        for (const builder of builders) builder.truncate(0);
        specs.forEach((_, c) => {
          for (const row of next) builders[c]!.appendValue(values[c]![row]);
        });
        const subset = values.map((column) => next.map((row) => column[row]));
        const want = Buffer.from(encodeParquet({ schema: { name: 't', columns: specs }, columns: subset }, { rowGroupSize }));
        expect(Buffer.from(encodeParquet(typedTable(specs, builders), { rowGroupSize })).equals(want)).toBe(true);
        expect(builders.map((b) => columnValues(b.column()))).toEqual(subset);
      }),
      { numRuns: 150 },
    );
  });

  it('hold the model rows for any mix of single appends and gathered runs (what the open cell does), from any capacity', () => {
    const op = (type: ColumnType) =>
      fc.oneof(
        { arbitrary: fc.record({ kind: fc.constant('append' as const), value: fc.option(valueOf(type), { nil: null, freq: 3 }) }), weight: 2 },
        {
          arbitrary: fc.record({
            kind: fc.constant('gather' as const),
            batch: fc.array(fc.option(valueOf(type), { nil: null, freq: 3 }), { minLength: 1, maxLength: 40 }),
            keep: fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
          }),
          weight: 1,
        },
      );
    fc.assert(
      fc.property(
        fc.constantFrom(...KINDS).chain((type) => fc.tuple(fc.constant(type), fc.integer({ min: 1, max: 40 }), fc.array(op(type), { minLength: 1, maxLength: 30 }))),
        ([type, capacity, ops]) => {
          const builder = new ColumnBuilder(type, capacity);
          const model: unknown[] = [];
          for (const step of ops) {
            if (step.kind === 'append') {
              builder.appendValue(step.value);
              model.push(step.value);
              continue;
            }
            const source = new ColumnBuilder(type, 1);
            for (const value of step.batch) source.appendValue(value);
            const rows = Int32Array.from(step.batch.map((_, r) => r).filter((r) => step.keep[r]));
            builder.gatherRows(source.column(), rows, rows.length);
            for (const r of rows) model.push(step.batch[r]);
          }
          expect(columnValues(builder.column())).toEqual(model);
        },
      ),
      {
        numRuns: 300,
        examples: [
          // a string column grown by single appends to 17 rows, then a run with a null that ends exactly at the
          // grown capacity (the validity bytes once grew one short of the offsets)
          [
            [
              'string',
              16,
              [
                { kind: 'append', value: null },
                ...Array.from({ length: 16 }, () => ({ kind: 'append' as const, value: 'a' })),
                { kind: 'gather', batch: [null, ...Array.from({ length: 15 }, () => 'b')], keep: Array.from({ length: 40 }, () => true) },
              ],
            ],
          ],
        ],
      },
    );
  });

  it('choose a dictionary by UTF-16 units as strings do, where counting bytes would choose otherwise', () => {
    // 100 x "a" and 5 distinct 60 x "€": by units the dictionary pays (2 x (320 + 5 + indexes) <= 500 + 320), by
    // bytes (each "€" is 3) it would not; the file must be the one the string encoder writes.
    const values = [...Array.from({ length: 100 }, () => 'a'), ...Array.from({ length: 5 }, (_, i) => `${i}${'€'.repeat(60)}`)];
    const spec: ColumnSpec = { name: 's', type: 'string', nullable: false };
    const builder = new ColumnBuilder('string');
    for (const value of values) builder.appendValue(value);
    const fromValues = Buffer.from(encodeParquet({ schema: { name: 't', columns: [spec] }, columns: [values] }));
    const metadata = parquetMetadata(fromValues.buffer.slice(fromValues.byteOffset, fromValues.byteOffset + fromValues.byteLength) as ArrayBuffer);
    expect(metadata.row_groups[0]!.columns[0]!.meta_data!.encodings).toContain('RLE_DICTIONARY');
    expect(Buffer.from(encodeParquet(typedTable([spec], [builder]))).equals(fromValues)).toBe(true);
  });

  it('truncate drops the rows after the mark and appends continue from there', () => {
    fc.assert(
      fc.property(fc.constantFrom(...KINDS), fc.array(fc.option(text, { nil: null }), { minLength: 1, maxLength: 60 }), fc.nat(), (type, strings, cut) => {
        const values = strings.map((s, i) => (s === null ? null : type === 'string' || type === 'json_text' ? s : type === 'boolean' ? i % 2 === 0 : type === 'bytes' ? Buffer.from(s) : type === 'double' || type === 'float' ? i / 3 : i));
        const builder = new ColumnBuilder(type, 2);
        for (const value of values) builder.appendValue(value);
        const mark = cut % (values.length + 1);
        builder.truncate(mark);
        for (const value of values.slice(mark)) builder.appendValue(value);
        expect(columnValues(builder.column())).toEqual(values.map((v) => v));
      }),
      { numRuns: 200 },
    );
  });
});
