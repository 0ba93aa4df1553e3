/**
 * The RLE / bit-packed hybrid (Parquet's encoding for definition levels, dictionary indexes and booleans), from a
 * typed array: runs of 8 or more equal values become RLE runs, everything else groups of 8 bit-packed values.
 * Same scheme as hyparquet-writer's, without a JS array or a per-byte writer call.
 */
import type { ByteSink } from './byte-sink.js';

type Values = Uint8Array | Int32Array;

/** Writes `values[0..count)` at `bitWidth` (0..32); returns the bytes written. */
export function writeHybrid(out: ByteSink, values: Values, count: number, bitWidth: number): number {
  const start = out.offset;
  // Worst case: every group of 8 bit-packed (bitWidth bytes + a header byte per 63 groups), plus padding.
  out.reserve(Math.ceil(count / 8) * (bitWidth + 1) + 16);
  let i = 0;
  let packedStart = 0;
  let packedGroups = 0;
  while (i < count) {
    const first = values[i]!;
    let run = 1;
    while (i + run < count && values[i + run] === first) run++;
    if (run >= 8) {
      if (packedGroups > 0) {
        writePacked(out, values, count, packedStart, packedGroups, bitWidth);
        packedGroups = 0;
      }
      out.reserve(16);
      out.varint(run * 2);
      for (let b = 0; b < bitWidth; b += 8) out.u8((first >>> b) & 0xff);
      i += run;
    } else {
      if (packedGroups === 0) packedStart = i;
      packedGroups++;
      i += 8;
    }
  }
  if (packedGroups > 0) writePacked(out, values, count, packedStart, packedGroups, bitWidth);
  return out.offset - start;
}

function writePacked(out: ByteSink, values: Values, count: number, from: number, groups: number, bitWidth: number): void {
  out.reserve(groups * bitWidth + 8);
  out.varint(groups * 2 + 1);
  if (bitWidth === 0) return;
  const end = from + groups * 8;
  // The loops are apart and return the offset, so nothing after a loop compiled on stack replacement lacks type
  // feedback (which would deoptimise it on every later call).
  out.offset = bitWidth === 1 ? packBits(out.bytes, out.offset, values, count, from, end) : packWide(out.bytes, out.offset, values, count, from, end, bitWidth);
}

/** Values [from, end) at bit width 1 (values past `count` are 0); returns the offset after them. */
function packBits(bytes: Uint8Array, at: number, values: Values, count: number, from: number, end: number): number {
  for (let i = from; i < end; i += 8) {
    let byte = 0;
    for (let j = 0; j < 8; j++) if (i + j < count && values[i + j]! & 1) byte |= 1 << j;
    bytes[at++] = byte;
  }
  return at;
}

/**
 * Values [from, end) at `bitWidth` 2..32, LSB first. Bits accumulate; at most 7 wait, so up to 24-bit values fit
 * an int32 accumulator (wider ones go in two halves). Groups of 8 values fill whole bytes: nothing waits at the end.
 */
function packWide(bytes: Uint8Array, at: number, values: Values, count: number, from: number, end: number, bitWidth: number): number {
  const split = bitWidth > 24;
  const mask = split ? 0xffff : (1 << bitWidth) - 1;
  let acc = 0;
  let bits = 0;
  for (let i = from; i < end; i++) {
    const value = i < count ? values[i]! : 0;
    if (split) {
      acc |= (value & 0xffff) << bits;
      bits += 16;
      while (bits >= 8) {
        bytes[at++] = acc & 0xff;
        acc >>>= 8;
        bits -= 8;
      }
      const high = bitWidth - 16;
      acc |= ((value >>> 16) & ((1 << high) - 1)) << bits;
      bits += high;
    } else {
      acc |= (value & mask) << bits;
      bits += bitWidth;
    }
    while (bits >= 8) {
      bytes[at++] = acc & 0xff;
      acc >>>= 8;
      bits -= 8;
    }
  }
  return at;
}
