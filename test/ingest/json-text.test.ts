/**
 * Numbers in nested JSON text (src/ingest/decode/compiled/json-text.ts) are written as `String(value)` writes them
 * (what the avsc path's JSON.stringify gives): amounts with two decimals take a digit-by-digit path, everything
 * else String itself; both must agree with String on every double.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as json from '../../src/ingest/decode/compiled/json-text.js';

function written(value: number): string {
  json.reset();
  json.appendNumber(value);
  return json.text();
}

const asString = (value: number) => (Number.isFinite(value) ? String(value) : 'null');

describe('JSON text of numbers', () => {
  it('equals String(value) for amounts in cents, near the fast path bound, and any double', () => {
    const cents = fc.integer({ min: -1_100_000_000, max: 1_100_000_000 }).map((c) => c / 100);
    const tenths = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((c) => c / 10);
    const products = fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 99, max: 24999 })).map(([q, c]) => q * (c / 100));
    fc.assert(
      fc.property(fc.oneof(cents, tenths, products, fc.double(), fc.constantFrom(0, -0, 0.1 + 0.2, 1.005, 9999999.995, 1e7, 1e7 - 0.01, 5e-324)), (value) => {
        expect(written(value)).toBe(asString(value));
      }),
      { numRuns: 20000 },
    );
  });
});
