import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ColumnBuilder } from '../../src/core/column-builder.js';
import { Utf8Interner } from '../../src/core/utf8-interner.js';
import type { TypedColumn } from '../../src/core/table.js';

type Utf8Column = Extract<TypedColumn, { kind: 'utf8' }>;

function utf8Column(values: ReadonlyArray<string | null>): Utf8Column {
  const builder = new ColumnBuilder('string', 4);
  for (const v of values) {
    if (v === null) builder.appendNull();
    else builder.appendString(v);
  }
  return builder.column() as Utf8Column;
}

// few distinct values (group keys), values that share hashes' prefixes and lengths, non-ASCII, and unique ones
const value = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('web', 'app', 'store', 'EUR', 'USD', '', 'é', '日本', 'wé', 'ab', 'ba') },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 3, arbitrary: fc.string({ maxLength: 6, unit: 'binary' }) },
);

// batches of repeated values, and batches of mostly unique ones (ids), which turn the table off for a while
const batch = fc.oneof(fc.array(value, { maxLength: 150 }), fc.array(fc.oneof(fc.uuid(), value), { minLength: 64, maxLength: 150 }));

describe('Utf8Interner', () => {
  it('gives every row the string its bytes decode to, over many batches, table resets and plain stretches', () => {
    fc.assert(
      fc.property(fc.array(batch, { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 40 }), (batches, limit) => {
        const interner = new Utf8Interner(limit);
        for (const batch of batches) {
          const column = utf8Column(batch);
          // the model: each row decoded on its own (lone surrogates are written as U+FFFD, as the builder stores them)
          const expected = batch.map((v, row) => (v === null ? null : Buffer.from(column.bytes.subarray(column.offsets[row]!, column.offsets[row + 1]!)).toString('utf8')));
          expect(interner.values(column)).toEqual(expected);
        }
      }),
      { numRuns: 300 },
    );
  });
});
