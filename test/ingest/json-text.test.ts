/**
 * Numbers (and ASCII fragments) in nested JSON text (src/ingest/decode/compiled/json-text.ts) are written as `String(value)` writes them
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

  it('equals String(value) for every 32-bit integer written digit by digit, the extremes included', () => {
    const ints = fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.integer({ min: -1100, max: 1100 }), fc.constantFrom(0, 9, 10, -1, -10, 2 ** 31 - 1, -(2 ** 31), -(2 ** 31) + 1));
    fc.assert(
      fc.property(fc.array(ints, { maxLength: 4 }), (values) => {
        json.reset();
        for (const value of values) {
          json.appendInteger(value);
          json.appendByte(0x2c);
        }
        expect(json.text()).toBe(values.map((v) => `${String(v)},`).join(''));
      }),
      { numRuns: 20000 },
    );
  });
});

describe('JSON text of ASCII fragments', () => {
  it('copies ASCII text as its bytes, and leaves other text to append', () => {
    expect(json.asciiBytes('{"a_1":')).toEqual(new Uint8Array(Buffer.from('{"a_1":')));
    expect(json.asciiBytes('{"é":')).toBeUndefined();
    json.reset();
    json.appendAscii(json.asciiBytes(',"k":')!);
    json.appendByte(0x5b);
    expect(json.text()).toBe(',"k":[');
  });
});
