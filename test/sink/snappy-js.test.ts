/**
 * The JavaScript Snappy (the fallback where the native binding cannot load) writes exactly what hyparquet-writer's
 * compressor, whose algorithm it follows, writes, and the native library decompresses it to the input: on random
 * inputs from incompressible to highly repetitive, across the 64 KiB offset limit.
 */
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { snappyCompress } from 'hyparquet-writer/src/snappy.js';
import { describe, expect, it } from 'vitest';
import { snappyCompressJs } from '../../src/sink/snappy-js.js';

const native = createRequire(import.meta.url)('snappy') as { uncompressSync(input: Buffer): Buffer };

/** Inputs built from pieces: random bytes, runs, repeats of earlier text (near and beyond 64 KiB back). */
const inputArb = fc
  .array(
    fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 5000 })).map(([byte, n]) => new Uint8Array(n).fill(byte)),
      fc.string({ unit: fc.constantFrom('a', 'b', '{"sku":', '1', ','), maxLength: 200 }).map((s) => new Uint8Array(Buffer.from(s))),
      fc.uint8Array({ minLength: 60_000, maxLength: 70_000 }),
    ),
    { maxLength: 12 },
  )
  .chain((pieces) =>
    fc.array(fc.nat(), { minLength: pieces.length, maxLength: pieces.length }).map((picks) => {
      // Repeat some earlier piece after each piece, so matches reach back various distances.
      const parts: Uint8Array[] = [];
      pieces.forEach((piece, i) => {
        parts.push(piece);
        if (picks[i]! % 3 === 0) parts.push(pieces[picks[i]! % (i + 1)]!);
      });
      return new Uint8Array(Buffer.concat(parts));
    }),
  );

describe('JavaScript Snappy', () => {
  it("writes hyparquet-writer's bytes, and the native library decompresses them to the input", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const compressed = snappyCompressJs(input);
        expect(Buffer.from(compressed).equals(Buffer.from(snappyCompress(input)))).toBe(true);
        expect(native.uncompressSync(Buffer.from(compressed)).equals(Buffer.from(input))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('compresses a view into a larger buffer as its own bytes alone', () => {
    const backing = new Uint8Array(Buffer.from('x'.repeat(100) + 'abcdabcdabcd'.repeat(50) + 'y'.repeat(100)));
    const view = backing.subarray(100, 700);
    expect(native.uncompressSync(Buffer.from(snappyCompressJs(view))).equals(Buffer.from(view))).toBe(true);
  });
});
