import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { GroupKeys } from '../../src/aggregate/group-key.js';

/** The model: two values are one group when SQL would group them (0 and -0 together, NaN with NaN, bytes by content). */
function sameGroupValue(a: unknown, b: unknown): boolean {
  const x = a ?? null;
  const y = b ?? null;
  if (x === null || y === null) return x === y;
  if (typeof x !== typeof y) return false;
  if (typeof x === 'number') return (Number.isNaN(x) && Number.isNaN(y as number)) || x === y;
  if (x instanceof Uint8Array) return y instanceof Uint8Array && Buffer.from(x).equals(Buffer.from(y));
  if (typeof x === 'object') return !(y instanceof Uint8Array) && JSON.stringify(x) === JSON.stringify(y);
  return x === y;
}

const value = fc.oneof(
  fc.constantFrom<unknown>(null, undefined, 0, -0, Number.NaN, 1, '1', 'null', '', 'a', 1n, true, false, 'true'),
  fc.string({ maxLength: 3 }),
  fc.integer({ min: -3, max: 3 }),
  fc.uint8Array({ maxLength: 2 }),
  fc.constantFrom<unknown>({ a: 1 }, [1], { a: '1' }),
);

describe('GroupKeys', () => {
  it('gives every row its own values and a key equal exactly when the model groups the rows together, across memo resets', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.array(fc.array(value, { minLength: 3, maxLength: 3 }), { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 5 }), (width, rows, limit) => {
        // columns: row values are stored column-major, the group reads the last `width` of three columns
        const columns = [0, 1, 2].map((c) => rows.map((r) => r[c]));
        const groupColumns = [2, 1, 0].slice(0, width).reverse();
        const keys = new GroupKeys(groupColumns, limit);
        const seen = rows.map((_, row) => keys.of(columns, row));
        for (let row = 0; row < rows.length; row++) {
          const expected = groupColumns.map((c) => rows[row]![c] ?? null);
          expect(seen[row]!.group.length).toBe(width);
          // the very values of this row (a memoised group is another row's array with the same values)
          seen[row]!.group.forEach((v, i) => expect(Object.is(v, expected[i]) || (typeof v === 'string' && v === expected[i])).toBe(true));
          for (let other = 0; other < row; other++) {
            const same = groupColumns.every((c) => sameGroupValue(rows[row]![c], rows[other]![c]));
            expect(seen[row]!.key === seen[other]!.key).toBe(same);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('keeps -0 in the group a -0 row starts even after 0 was memoised (and the other way round)', () => {
    const keys = new GroupKeys([0]);
    const column = [0, -0, 0, -0];
    const groups = column.map((_, row) => keys.of([column], row).group[0]);
    expect(groups.map((v) => Object.is(v, -0))).toEqual([false, true, false, true]);
    expect(new Set(column.map((_, row) => keys.of([column], row).key)).size).toBe(1);
  });
});
