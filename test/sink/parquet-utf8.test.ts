/**
 * The span encoder (src/sink/parquet/utf8.ts) against the string encoder (text.ts) as its model: the same column
 * given as UTF-8 spans and as JS strings must make the same file, byte for byte, whatever the spans' layout
 * (null rows holding junk or pointing anywhere, runs of values out of order in the buffer) and whatever the
 * values' lengths (the hash and equality read four bytes at a time, with a tail), for PLAIN and dictionary
 * columns alike. text.ts shares no code with the span path: its dictionary is a Map of strings and its PLAIN
 * values are written string by string.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeParquet } from '../../src/sink/parquet.js';
import type { ColumnType, TableData, TypedColumn } from '../../src/core/table.js';

/** Values of 0..13 bytes (every tail length of a 4-byte word), some multi-byte; a few of them, or many. */
const shortText = fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'é', '€', '\u{1F680}'), maxLength: 6 });
const longText = fc.string({ unit: 'grapheme', maxLength: 80 });

interface Column {
  type: ColumnType;
  values: (string | null)[];
}

/**
 * The column as spans: each run of non-null rows is one block of bytes (a row's end is the next row's start), the
 * blocks are placed in a random order with junk between them, and a null row's offsets point anywhere.
 */
function spansOf(values: (string | null)[], order: number[], junk: number[], wild: number[]): TypedColumn {
  const rows = values.length;
  const blocks: Array<{ first: number; parts: Buffer[] }> = [];
  for (let row = 0; row < rows; row++) {
    const value = values[row];
    if (value === null || value === undefined) continue;
    const last = blocks.at(-1);
    const part = Buffer.from(value, 'utf8');
    if (last && last.first + last.parts.length === row) last.parts.push(part);
    else blocks.push({ first: row, parts: [part] });
  }
  const placed = blocks.map((block, i) => ({ block, key: order[i % order.length]! + i / 1e6 })).sort((a, b) => a.key - b.key);
  const pieces: Buffer[] = [];
  const at = new Map<number, number>();
  let size = 0;
  placed.forEach(({ block }, i) => {
    const gap = Buffer.alloc(junk[i % junk.length]!, 0x7a);
    pieces.push(gap);
    size += gap.length;
    at.set(block.first, size);
    for (const part of block.parts) {
      pieces.push(part);
      size += part.length;
    }
  });
  const bytes = Buffer.concat(pieces);
  const offsets = new Uint32Array(rows + 1);
  for (let j = 0; j <= rows; j++) offsets[j] = Math.floor(wild[j % wild.length]! * (size + 1));
  for (const block of blocks) {
    let position = at.get(block.first)!;
    offsets[block.first] = position;
    block.parts.forEach((part, i) => {
      position += part.length;
      offsets[block.first + i + 1] = position;
    });
  }
  const validity = Uint8Array.from(values, (v) => (v === null ? 0 : 1));
  return { kind: 'utf8', bytes, offsets, validity };
}

/** A column of `rows` values (nulls among them): drawn freely, or from a pool of up to 40. */
function columnArb(rows: number, text: fc.Arbitrary<string>): fc.Arbitrary<Column> {
  return fc.record({
    type: fc.constantFrom<ColumnType>('string', 'json_text'),
    values: fc.oneof(
      fc.array(fc.option(text, { nil: null, freq: 4 }), { minLength: rows, maxLength: rows }),
      fc.array(fc.option(text, { nil: null, freq: 4 }), { minLength: 1, maxLength: 40 }).chain((pool) =>
        fc.array(fc.constantFrom(...pool), { minLength: rows, maxLength: rows }),
      ),
    ),
  });
}

const layout = fc.record({
  order: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 20 }),
  junk: fc.array(fc.nat(9), { minLength: 1, maxLength: 20 }),
  wild: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 20 }),
});

function bothForms(columns: Column[], typed: TypedColumn[]): { spans: TableData; strings: TableData } {
  const schema = { name: 'spans', columns: columns.map((c, i) => ({ name: `c${i}`, type: c.type, nullable: true })) };
  return {
    spans: { schema, columns: columns.map(() => []), typed },
    strings: { schema, columns: columns.map((c) => c.values) },
  };
}

function sameFile(columns: Column[], layouts: Array<{ order: number[]; junk: number[]; wild: number[] }>, rowGroupSize: number): void {
  const typed = columns.map((c, i) => spansOf(c.values, layouts[i]!.order, layouts[i]!.junk, layouts[i]!.wild));
  const { spans, strings } = bothForms(columns, typed);
  for (const compression of ['SNAPPY', 'UNCOMPRESSED'] as const) {
    const fromSpans = Buffer.from(encodeParquet(spans, { rowGroupSize, compression }));
    const fromStrings = Buffer.from(encodeParquet(strings, { rowGroupSize, compression }));
    expect(fromSpans.equals(fromStrings)).toBe(true);
  }
}

describe('UTF-8 spans in any layout', () => {
  it('make the file the same column of JS strings makes (PLAIN and dictionary, every value length)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300 }).chain((rows) => fc.array(columnArb(rows, fc.oneof(shortText, longText)), { minLength: 1, maxLength: 3 })),
        fc.array(layout, { minLength: 3, maxLength: 3 }),
        fc.oneof(fc.constant(131_072), fc.integer({ min: 1, max: 120 })),
        (columns, layouts, rowGroupSize) => sameFile(columns, layouts, rowGroupSize),
      ),
      { numRuns: 200 },
    );
  });

  it('make the same file past the unique-id sample (4,096 values and more), with and without repeats', () => {
    const id = fc.integer({ min: 0, max: 2 ** 30 }).map((n) => `id-${n.toString(36)}`);
    fc.assert(
      fc.property(
        fc.integer({ min: 4096, max: 6000 }).chain((rows) => fc.tuple(columnArb(rows, fc.oneof(id, shortText)), fc.array(id, { minLength: rows, maxLength: rows }))),
        fc.array(layout, { minLength: 3, maxLength: 3 }),
        ([mixed, unique], layouts) => sameFile([mixed, { type: 'string', values: unique }], layouts, 131_072),
      ),
      { numRuns: 12 },
    );
  });

  it('make the same dictionary when hash slots collide among values that differ only in their last byte', () => {
    // One prefix per column (0, 2, 4 or 7 bytes: word and tail boundaries) and one character after it, from 158
    // (94 of one byte, 64 of two sharing their first): each value about five times, so the dictionary pays, and
    // with 2,048 slots several probes per column meet a value of the same length that differs in its last byte.
    const column = fc.tuple(fc.constantFrom('', 'ab', 'abcd', 'abcdefg'), fc.integer({ min: 700, max: 900 })).chain(([prefix, rows]) => {
      const value = fc.oneof(fc.integer({ min: 0x21, max: 0x7e }), fc.integer({ min: 0x80, max: 0xbf })).map((code) => prefix + String.fromCharCode(code));
      return fc.array(fc.option(value, { nil: null, freq: 10 }), { minLength: rows, maxLength: rows });
    });
    fc.assert(
      fc.property(column, layout, (values, spread) => sameFile([{ type: 'string', values }], [spread], 131_072)),
      { numRuns: 20 },
    );
  });
});

describe('typed columns that break the table contract', () => {
  /** The message encoding `typed` gives, or undefined when it encodes. */
  function failure(table: TableData): string | undefined {
    try {
      encodeParquet(table);
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  }

  it('fail with the error the same rows as JS values give (nulls in required columns, values out of range)', () => {
    const validity = Uint8Array.from([1, 1, 0, 1]);
    const cases: Array<{ type: ColumnType; typed: TypedColumn; values: unknown[] }> = [
      ...(['double', 'float', 'int64', 'timestamp_ms', 'timestamp_us'] as const).map((type) => ({
        type,
        typed: { kind: 'float64' as const, values: Float64Array.from([1, 2, 3, 4]), validity },
        values: [1, 2, null, 4],
      })),
      { type: 'int64', typed: { kind: 'float64', values: Float64Array.from([1, 2 ** 53, 3]) }, values: [1, 2 ** 53, 3] },
      { type: 'timestamp_ms', typed: { kind: 'float64', values: Float64Array.from([1, NaN]) }, values: [1, NaN] },
      { type: 'timestamp_us', typed: { kind: 'float64', values: Float64Array.from([1, Infinity]) }, values: [1, Infinity] },
    ];
    for (const { type, typed, values } of cases) {
      const schema = { name: 'orders_raw', columns: [{ name: 'col', type, nullable: false }] };
      const fromValues = failure({ schema, columns: [values] });
      expect(fromValues, type).toMatch(/orders_raw.*"col".*row \d/);
      expect(failure({ schema, columns: [[]], typed: [typed] }), type).toBe(fromValues);
    }
  });

  it('name the row of a null in a required span column, and the row whose span lies outside the bytes', () => {
    for (const type of ['string', 'json_text'] as const) {
      const schema = { name: 'orders_raw', columns: [{ name: 'col', type, nullable: false }] };
      const typed = spansOf(['a', 'b', null, 'c'], [0], [0], [0]);
      expect(failure({ schema, columns: [[]], typed: [typed] })).toBe(`parquet: table "orders_raw" column "col" (${type}) row 2: expected a value, got null`);
    }
    const schema = { name: 'orders_raw', columns: [{ name: 'col', type: 'string' as const, nullable: false }] };
    const typed: TypedColumn = { kind: 'utf8', bytes: Buffer.from('abcdef'), offsets: Uint32Array.from([0, 2, 9, 9]) };
    expect(failure({ schema, columns: [[]], typed: [typed] })).toMatch(/orders_raw.*"col" row 1: UTF-8 span 2\.\.9 is outside its 6 bytes/);
  });
});
