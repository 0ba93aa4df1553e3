/**
 * DELTA_BINARY_PACKED for INT64 columns held as doubles: blocks of 128 values in 4 miniblocks of 32, each
 * miniblock bit-packed at the width of its largest (delta - block minimum). The caller guarantees that the
 * column's values are integers whose range (max - min) is below 2^52, so every delta and adjusted delta is an
 * exact double and no BigInt is made per value; wider columns are written PLAIN instead.
 */
import type { ByteSink } from './byte-sink.js';

const BLOCK = 128;
const MINIBLOCKS = 4;
const MINI = BLOCK / MINIBLOCKS;
const TWO_32 = 4294967296;

/** Deltas of one block, and its adjusted deltas split into 32-bit halves for packing. */
const deltas = new Float64Array(BLOCK);
const lows = new Int32Array(BLOCK);
const highs = new Int32Array(BLOCK);
const widths = new Uint8Array(MINIBLOCKS);

/** Largest range (max - min) this encoder takes: deltas lie in (-range, range), adjusted ones in [0, 2 range). */
export const DELTA_MAX_RANGE = 2 ** 52;

export function writeDeltaBinaryPacked(out: ByteSink, values: Float64Array, count: number): void {
  out.reserve(32);
  out.varint(BLOCK);
  out.varint(MINIBLOCKS);
  out.varint(count);
  out.zigzag(count > 0 ? values[0]! : 0);
  for (let index = 1; index < count; index += BLOCK) {
    const size = Math.min(BLOCK, count - index);
    let min = Infinity;
    for (let i = 0; i < size; i++) {
      const delta = values[index + i]! - values[index + i - 1]!;
      deltas[i] = delta;
      if (delta < min) min = delta;
    }
    out.reserve(16 + MINIBLOCKS + BLOCK * 8);
    out.zigzag(min);
    const widthsAt = out.offset;
    out.offset += MINIBLOCKS;
    for (let mb = 0; mb < MINIBLOCKS; mb++) {
      const from = mb * MINI;
      // A miniblock past the last value has width 0 and no bytes (the spec allows any width there).
      if (from >= size) {
        widths[mb] = 0;
        continue;
      }
      const to = Math.min(from + MINI, size);
      let max = 0;
      for (let i = from; i < to; i++) {
        const adjusted = deltas[i]! - min;
        if (adjusted > max) max = adjusted;
      }
      const width = bitWidth(max);
      widths[mb] = width;
      if (width === 0) continue;
      if (width <= 32) {
        for (let i = from; i < to; i++) lows[i] = deltas[i]! - min;
        packLow(out, from, to, width);
      } else {
        for (let i = from; i < to; i++) {
          const adjusted = deltas[i]! - min;
          const high = Math.floor(adjusted / TWO_32);
          highs[i] = high;
          lows[i] = adjusted - high * TWO_32;
        }
        packWide(out, from, to, width);
      }
    }
    out.bytes.set(widths, widthsAt);
  }
}

function bitWidth(max: number): number {
  if (max < TWO_32) return 32 - Math.clz32(max);
  return 32 + (32 - Math.clz32(Math.floor(max / TWO_32)));
}

/** 32 values (padded with zeros past `to`) of at most 32 bits, LSB first. */
function packLow(out: ByteSink, from: number, to: number, width: number): void {
  const bytes = out.bytes;
  let at = out.offset;
  let acc = 0;
  let bits = 0;
  const end = from + MINI;
  if (width <= 24) {
    const mask = (1 << width) - 1;
    for (let i = from; i < end; i++) {
      acc |= ((i < to ? lows[i]! : 0) & mask) << bits;
      bits += width;
      while (bits >= 8) {
        bytes[at++] = acc & 0xff;
        acc >>>= 8;
        bits -= 8;
      }
    }
  } else {
    const highMask = width === 32 ? 0xffff : (1 << (width - 16)) - 1;
    for (let i = from; i < end; i++) {
      const value = i < to ? lows[i]! : 0;
      acc |= (value & 0xffff) << bits;
      bits += 16;
      while (bits >= 8) {
        bytes[at++] = acc & 0xff;
        acc >>>= 8;
        bits -= 8;
      }
      acc |= ((value >>> 16) & highMask) << bits;
      bits += width - 16;
      while (bits >= 8) {
        bytes[at++] = acc & 0xff;
        acc >>>= 8;
        bits -= 8;
      }
    }
  }
  // 32 values of `width` bits fill exactly width * 4 bytes: nothing is left in the accumulator.
  out.offset = at;
}

/** 32 values of 33..53 bits: the low 32 bits, then the high ones, per value. */
function packWide(out: ByteSink, from: number, to: number, width: number): void {
  const bytes = out.bytes;
  let at = out.offset;
  let acc = 0;
  let bits = 0;
  const highBits = width - 32;
  const highMask = (1 << highBits) - 1;
  const end = from + MINI;
  const push = (value: number, count: number): void => {
    acc |= value << bits;
    bits += count;
    while (bits >= 8) {
      bytes[at++] = acc & 0xff;
      acc >>>= 8;
      bits -= 8;
    }
  };
  for (let i = from; i < end; i++) {
    const low = i < to ? lows[i]! : 0;
    const high = i < to ? highs[i]! : 0;
    push(low & 0xffff, 16);
    push((low >>> 16) & 0xffff, 16);
    push(high & highMask, highBits);
  }
  out.offset = at;
}
