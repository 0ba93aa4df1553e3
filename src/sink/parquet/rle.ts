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
  const bytes = out.bytes;
  let at = out.offset;
  const end = from + groups * 8;
  if (bitWidth === 1) {
    for (let i = from; i < end; i += 8) {
      let byte = 0;
      for (let j = 0; j < 8; j++) if (i + j < count && values[i + j]! & 1) byte |= 1 << j;
      bytes[at++] = byte;
    }
    out.offset = at;
    return;
  }
  // Bits accumulate LSB first; at most 7 bits wait, so up to 24-bit values fit an int32 accumulator.
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
  if (bits > 0) bytes[at++] = acc & 0xff;
  out.offset = at;
}
