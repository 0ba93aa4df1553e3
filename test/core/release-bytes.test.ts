/**
 * releaseBytes gives a buffer back only when the view it is handed is all of it: a view of part of a buffer, a
 * small Buffer cut from Node's shared pool slab, shared memory, or an empty buffer stays as it is (and their
 * other views with it).
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { releaseBytes } from '../../src/core/release-bytes.js';

describe('releaseBytes', () => {
  it('detaches a buffer the view spans: every view of it reads as empty afterwards', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1 << 20 }), (size) => {
        const bytes = new Uint8Array(size).fill(7);
        const other = new DataView(bytes.buffer);
        expect(releaseBytes(bytes)).toBe(true);
        expect(bytes.byteLength).toBe(0);
        expect(bytes.buffer.byteLength).toBe(0);
        expect(() => other.getUint8(0)).toThrow(TypeError);
        // a second release has nothing to give back
        expect(releaseBytes(bytes)).toBe(false);
      }),
      { numRuns: 30 },
    );
  });

  it('gives back a file read whole, and leaves what it does not own alone', () => {
    const file = readFileSync(new URL('../../package.json', import.meta.url));
    // package.json is small: its Buffer is a slice of the shared pool slab
    expect(file.byteLength).toBeLessThan(file.buffer.byteLength);
    const slab = Buffer.from(file);
    expect(releaseBytes(file)).toBe(false);
    expect(Buffer.from(file).equals(slab)).toBe(true);

    const whole = new Uint8Array(100).fill(1);
    const part = whole.subarray(10, 20);
    expect(releaseBytes(part)).toBe(false);
    expect(releaseBytes(whole.subarray(0, 99))).toBe(false);
    expect(whole.byteLength).toBe(100);
    expect(part[0]).toBe(1);

    const shared = new Uint8Array(new SharedArrayBuffer(64));
    expect(releaseBytes(shared)).toBe(false);
    expect(shared.byteLength).toBe(64);

    expect(releaseBytes(new Uint8Array(0))).toBe(false);

    const big = Buffer.allocUnsafeSlow(64 * 1024);
    expect(releaseBytes(big)).toBe(true);
    expect(big.byteLength).toBe(0);
  });
});
