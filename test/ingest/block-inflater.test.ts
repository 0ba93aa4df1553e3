/**
 * The lane's inflater (container.ts BlockInflater) against node:zlib's inflateRawSync, the library it stands in
 * for: for valid, truncated, corrupt and trailing-garbage deflate streams, written at any offset of a lent buffer
 * of any size, the same bytes or the same error, and the bytes before the offset kept. The fallback (a Node whose
 * zlib handle has another shape) is held to the same.
 */
import { createHash } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BlockInflater, blockDataSync, MAX_BLOCK_BYTES, type InflateTarget } from '../../src/ingest/capture/container.js';

/** the bytes as their length and SHA-256 (a deep equality over 100 KiB arrays is what made this test slow) */
type Outcome = { length: number; sha256: string } | { error: string };

const digest = (bytes: Uint8Array): Outcome => ({ length: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });

function reference(stored: Buffer): Outcome {
  try {
    return digest(blockDataSync('deflate', stored, 7, 'file.avro'));
  } catch (error) {
    return { error: (error as Error).message };
  }
}

function viaInflater(inflater: BlockInflater, stored: Buffer, target: InflateTarget, at: number): Outcome {
  try {
    const written = inflater.inflateInto(stored, target, at, 7, 'file.avro');
    return digest(target.buffer.subarray(at, at + written));
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** records-like bytes: runs of repeated text with some noise, from tiny to a few hundred KiB inflated */
const payload = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 2000 }),
  fc.tuple(fc.string({ minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: 8000 })).map(([text, times]) => new TextEncoder().encode(text.repeat(times))),
);

/** a stored block: valid, cut short, with bytes flipped, with garbage after the stream's end, or random bytes */
const stored = fc.oneof(
  payload.map((p) => deflateRawSync(p)),
  fc.tuple(payload, fc.double({ min: 0, max: 1, noNaN: true })).map(([p, cut]) => {
    const whole = deflateRawSync(p);
    return whole.subarray(0, Math.floor(whole.length * cut));
  }),
  fc.tuple(payload, fc.nat(), fc.integer({ min: 1, max: 255 })).map(([p, at, xor]) => {
    const bytes = Buffer.from(deflateRawSync(p));
    const i = at % bytes.length;
    bytes[i] = bytes[i]! ^ xor;
    return bytes;
  }),
  fc.tuple(payload, fc.uint8Array({ minLength: 1, maxLength: 50 })).map(([p, tail]) => Buffer.concat([deflateRawSync(p), tail])),
  fc.uint8Array({ minLength: 0, maxLength: 300 }).map((b) => Buffer.from(b)),
);

describe('BlockInflater', () => {
  it('gives what inflateRawSync gives (bytes or error), at any offset of a lent buffer, keeping what lies before it', () => {
    const inflater = new BlockInflater();
    const fallback = new BlockInflater();
    Object.assign(fallback, { unsupported: true });
    fc.assert(
      fc.property(fc.array(stored, { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 5000 }), fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 300_000 })), (blocks, at, size) => {
        for (const use of [inflater, fallback]) {
          const target: InflateTarget = { buffer: Buffer.alloc(size) };
          const before = Buffer.alloc(at, 0xab);
          if (target.buffer.length < at) target.buffer = Buffer.concat([target.buffer, Buffer.alloc(at - target.buffer.length)]);
          before.copy(target.buffer, 0);
          let offset = at;
          for (const block of blocks) {
            const expected = reference(Buffer.from(block));
            const got = viaInflater(use, Buffer.from(block), target, offset);
            expect(got).toEqual(expected);
            if ('length' in got) offset += got.length;
          }
          expect(target.buffer.subarray(0, at).equals(before)).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('stops a block that inflates past the limit with the file and byte, and inflates the next block after it', () => {
    const inflater = new BlockInflater();
    const bomb = deflateRawSync(Buffer.alloc(MAX_BLOCK_BYTES + 1));
    const target: InflateTarget = { buffer: Buffer.alloc(0) };
    expect(() => inflater.inflateInto(bomb, target, 0, 7, 'file.avro')).toThrow(`file.avro: corrupt deflate block at byte 7: inflates past ${MAX_BLOCK_BYTES} bytes`);
    expect(reference(bomb)).toEqual({ error: `file.avro: corrupt deflate block at byte 7: inflates past ${MAX_BLOCK_BYTES} bytes` });
    const written = inflater.inflateInto(deflateRawSync(Buffer.from('after')), target, 0, 7, 'file.avro');
    expect(target.buffer.subarray(0, written).toString()).toBe('after');
  });
});
