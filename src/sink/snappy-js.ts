/**
 * Snappy compression in JavaScript, for processes where the native binding cannot load: hyparquet-writer's
 * compressor (snappyjs's algorithm over the whole input, offsets up to 64 KiB), step for step, so it writes the
 * same bytes, but into one preallocated output (the format's worst-case bound) with literals copied in bulk.
 * hyparquet-writer's appends every byte through a DataView and regrows its buffer from 1 KiB, which made it the
 * largest cost of encoding a page without the native binding.
 */
const MAX_HASH_BITS = 14;
const MAX_OFFSET = 0xffff;
const INPUT_MARGIN = 15;

const tables: Uint32Array[] = [];

function load32(bytes: Uint8Array, at: number): number {
  return bytes[at]! + (bytes[at + 1]! << 8) + (bytes[at + 2]! << 16) + (bytes[at + 3]! << 24);
}

function equals32(bytes: Uint8Array, a: number, b: number): boolean {
  return bytes[a] === bytes[b] && bytes[a + 1] === bytes[b + 1] && bytes[a + 2] === bytes[b + 2] && bytes[a + 3] === bytes[b + 3];
}

function emitLiteral(input: Uint8Array, from: number, length: number, out: Uint8Array, at: number): number {
  if (length <= 60) {
    out[at++] = (length - 1) << 2;
  } else {
    const value = length - 1;
    const bytes = value < 0x100 ? 1 : value < 0x10000 ? 2 : value < 0x1000000 ? 3 : 4;
    out[at++] = (59 + bytes) << 2;
    for (let i = 0; i < bytes; i++) out[at++] = (value >>> (i * 8)) & 0xff;
  }
  if (length < 32) {
    for (let i = 0; i < length; i++) out[at + i] = input[from + i]!;
  } else {
    out.set(input.subarray(from, from + length), at);
  }
  return at + length;
}

/** A copy of 4..64 bytes. */
function emitShortCopy(out: Uint8Array, at: number, offset: number, length: number): number {
  if (length < 12 && offset < 2048) {
    out[at++] = 1 + ((length - 4) << 2) + ((offset >>> 8) << 5);
    out[at++] = offset & 0xff;
  } else {
    out[at++] = 2 + ((length - 1) << 2);
    out[at++] = offset & 0xff;
    out[at++] = offset >>> 8;
  }
  return at;
}

function emitCopy(out: Uint8Array, at: number, offset: number, length: number): number {
  while (length >= 68) {
    at = emitShortCopy(out, at, offset, 64);
    length -= 64;
  }
  if (length > 64) {
    at = emitShortCopy(out, at, offset, 60);
    length -= 60;
  }
  return emitShortCopy(out, at, offset, length);
}

function hashOf(value: number, shift: number): number {
  return Math.imul(value, 0x1e35a7bd) >>> shift;
}

/** Raw Snappy (no framing) of `input`. */
export function snappyCompressJs(input: Uint8Array): Uint8Array {
  const size = input.length;
  const out = new Uint8Array(32 + size + Math.floor(size / 6));
  let at = 0;
  let length = size;
  while (length > 0x7f) {
    out[at++] = (length & 0x7f) | 0x80;
    length = Math.floor(length / 128);
  }
  out[at++] = length;

  let bits = 1;
  while (1 << bits <= size && bits <= MAX_HASH_BITS) bits++;
  bits--;
  const shift = 32 - bits;
  const hashes = (tables[bits] ??= new Uint32Array(1 << bits));
  hashes.fill(0);

  let ip = 0;
  let nextEmit = 0;
  if (size >= INPUT_MARGIN) {
    const limit = size - INPUT_MARGIN;
    ip++;
    let nextHash = hashOf(load32(input, ip), shift);
    outer: for (;;) {
      let skip = 32;
      let nextIp = ip;
      let candidate: number;
      do {
        ip = nextIp;
        const hash = nextHash;
        nextIp = ip + (skip++ >>> 5);
        if (ip > limit) break outer;
        nextHash = hashOf(load32(input, nextIp), shift);
        candidate = hashes[hash]!;
        hashes[hash] = ip;
      } while (ip - candidate > MAX_OFFSET || !equals32(input, ip, candidate));
      at = emitLiteral(input, nextEmit, ip - nextEmit, out, at);
      do {
        const base = ip;
        let matched = 4;
        while (ip + matched < size && input[ip + matched] === input[candidate + matched]) matched++;
        ip += matched;
        at = emitCopy(out, at, base - candidate, matched);
        nextEmit = ip;
        if (ip >= limit) break outer;
        hashes[hashOf(load32(input, ip - 1), shift)] = ip - 1;
        const hash = hashOf(load32(input, ip), shift);
        candidate = hashes[hash]!;
        hashes[hash] = ip;
      } while (ip - candidate <= MAX_OFFSET && equals32(input, ip, candidate));
      ip++;
      nextHash = hashOf(load32(input, ip), shift);
    }
  }
  if (nextEmit < size) at = emitLiteral(input, nextEmit, size - nextEmit, out, at);
  return out.subarray(0, at);
}
