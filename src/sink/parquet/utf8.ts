/**
 * String and JSON-text columns held as UTF-8 spans (TypedColumn 'utf8'): the same encodings, dictionary rule and
 * statistics as ./text.ts, with bytes copied instead of strings converted. Distinct values are found with an
 * open-addressing table of FNV-1a hashes over the spans (no string or object per value). The dictionary rule
 * counts UTF-16 units, as text.ts does (a span's units: its bytes that start a character, plus one more for each
 * 4-byte character), so a column makes the same file in either form; only a column that leaves ASCII pays for
 * the count.
 */
import { isAscii } from 'node:buffer';
import type { ByteSink } from './byte-sink.js';
import type { ChunkStatistics, EncodedValues } from './column.js';
import { contractError } from './errors.js';
import { writeHybrid } from './rle.js';
import { i32Scratch, validityScratch } from './scratch.js';
import { PROBE_SIZE, probeRows } from './text.js';
import type { ColumnSpec } from '../../core/table.js';

const LENGTH_PREFIX = 4;

export interface Utf8Input {
  table: string;
  spec: ColumnSpec;
  bytes: Uint8Array;
  offsets: Uint32Array;
  nulls: Uint8Array | undefined;
  start: number;
  end: number;
}

/** Hash-table slots (entry index + 1, 0 empty) and the dictionary's entries as (row) of first occurrence. */
let slots = new Int32Array(1024);
let entryRows = new Int32Array(1024);

/** UTF-16 units of the string a valid UTF-8 span decodes to. */
function utf16Units(bytes: Uint8Array, from: number, to: number): number {
  let units = 0;
  for (let i = from; i < to; i++) {
    const b = bytes[i]!;
    if ((b & 0xc0) !== 0x80) units++;
    if (b >= 0xf0) units++;
  }
  return units;
}

/** A span's size as text.ts counts it (UTF-16 units); `ascii` when every byte of the column is ASCII. */
function spanSize(bytes: Uint8Array, from: number, to: number, ascii: boolean): number {
  return ascii ? to - from : utf16Units(bytes, from, to);
}

function hashSpan(bytes: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

function spanEquals(bytes: Uint8Array, a: number, aEnd: number, b: number, bEnd: number): boolean {
  if (aEnd - a !== bEnd - b) return false;
  for (let i = 0; i < aEnd - a; i++) if (bytes[a + i] !== bytes[b + i]) return false;
  return true;
}

function compareSpans(bytes: Uint8Array, a: number, aEnd: number, b: number, bEnd: number): number {
  const length = Math.min(aEnd - a, bEnd - b);
  for (let i = 0; i < length; i++) {
    const diff = bytes[a + i]! - bytes[b + i]!;
    if (diff !== 0) return diff;
  }
  return aEnd - a - (bEnd - b);
}

export function encodeUtf8(input: Utf8Input, out: ByteSink, dictionaryOut: ByteSink, statistics: boolean): EncodedValues {
  const { table, spec, offsets, nulls, start, end } = input;
  const bytes = Buffer.isBuffer(input.bytes) ? input.bytes : Buffer.from(input.bytes.buffer, input.bytes.byteOffset, input.bytes.byteLength);
  const rows = end - start;
  const validity = spec.nullable ? validityScratch(rows) : null;
  const ascii = isAscii(bytes);
  let count = 0;
  let plainBytes = 0;
  for (let row = start; row < end; row++) {
    if (nulls !== undefined && nulls[row] === 0) {
      if (!validity) throw contractError(table, `column "${spec.name}" (${spec.type}) row ${row}: expected a value, got null`);
      validity[row - start] = 0;
      continue;
    }
    const from = offsets[row]!;
    const to = offsets[row + 1]!;
    if (!(from <= to && to <= bytes.length)) throw contractError(table, `column "${spec.name}" row ${row}: UTF-8 span ${from}..${to} is outside its ${bytes.length} bytes`);
    if (validity) validity[row - start] = 1;
    plainBytes += spanSize(bytes, from, to, ascii) + LENGTH_PREFIX;
    count++;
  }
  const nullCount = BigInt(rows - count);
  if (count > 0 && !looksUnique(input, count)) {
    const entries = buildDictionary(input, count, plainBytes, ascii);
    if (entries > 0) {
      let min = entryRows[0]!;
      let max = min;
      dictionaryOut.reserve(entries * LENGTH_PREFIX);
      for (let e = 0; e < entries; e++) {
        const row = entryRows[e]!;
        const from = offsets[row]!;
        const to = offsets[row + 1]!;
        writeSpan(dictionaryOut, bytes, from, to);
        if (!statistics) continue;
        if (compareSpans(bytes, from, to, offsets[min]!, offsets[min + 1]!) < 0) min = row;
        else if (compareSpans(bytes, from, to, offsets[max]!, offsets[max + 1]!) > 0) max = row;
      }
      out.reserve(1);
      const bitWidth = Math.ceil(Math.log2(entries));
      out.u8(bitWidth);
      writeHybrid(out, i32Scratch(count), count, bitWidth);
      return {
        encoding: 'RLE_DICTIONARY',
        count,
        validity,
        dictionary: { bytes: dictionaryOut.written(), count: entries },
        values: out.written(),
        statistics: statistics ? { null_count: nullCount, min_value: span(bytes, offsets, min), max_value: span(bytes, offsets, max) } : undefined,
      };
    }
  }
  let min = -1;
  let max = -1;
  for (let row = start; row < end; row++) {
    if (nulls !== undefined && nulls[row] === 0) continue;
    const from = offsets[row]!;
    const to = offsets[row + 1]!;
    writeSpan(out, bytes, from, to);
    if (!statistics) continue;
    if (min < 0) min = max = row;
    else if (compareSpans(bytes, from, to, offsets[min]!, offsets[min + 1]!) < 0) min = row;
    else if (compareSpans(bytes, from, to, offsets[max]!, offsets[max + 1]!) > 0) max = row;
  }
  let stats: ChunkStatistics | undefined;
  if (statistics) {
    stats = { null_count: nullCount };
    if (min >= 0) {
      stats.min_value = span(bytes, offsets, min);
      stats.max_value = span(bytes, offsets, max);
    }
  }
  return { encoding: 'PLAIN', count, validity, dictionary: null, values: out.written(), statistics: stats };
}

function span(bytes: Uint8Array, offsets: Uint32Array, row: number): Uint8Array {
  return Uint8Array.prototype.slice.call(bytes, offsets[row]!, offsets[row + 1]!);
}

function writeSpan(out: ByteSink, bytes: Buffer, from: number, to: number): void {
  const length = to - from;
  out.reserve(LENGTH_PREFIX + length);
  out.u32(length);
  const target = out.bytes;
  let at = out.offset;
  // Short spans: a loop beats the call into a native copy (which, unlike set(subarray), allocates no view).
  if (length < 64) for (let i = from; i < to; i++) target[at++] = bytes[i]!;
  else at += bytes.copy(target, at, from, to);
  out.offset = at;
}

/**
 * Builds the dictionary (entryRows[0..n)) and each non-null value's index (i32Scratch); returns n, or 0 as soon
 * as the distinct values alone exceed half the PLAIN bytes or the whole fails the rule (text.ts's).
 */
function buildDictionary(input: Utf8Input, count: number, plainBytes: number, ascii: boolean): number {
  const { bytes, offsets, nulls, start, end } = input;
  let capacity = 1024;
  while (capacity < count * 2) capacity *= 2;
  if (slots.length < capacity) slots = new Int32Array(capacity);
  else slots.fill(0, 0, capacity);
  if (entryRows.length < count) entryRows = new Int32Array(Math.max(count, entryRows.length * 2));
  const indexes = i32Scratch(count);
  const mask = capacity - 1;
  let entries = 0;
  let dictionaryBytes = 0;
  let n = 0;
  for (let row = start; row < end; row++) {
    if (nulls !== undefined && nulls[row] === 0) continue;
    const from = offsets[row]!;
    const to = offsets[row + 1]!;
    let slot = hashSpan(bytes, from, to) & mask;
    let index = -1;
    for (;;) {
      const held = slots[slot]!;
      if (held === 0) break;
      const other = entryRows[held - 1]!;
      if (spanEquals(bytes, from, to, offsets[other]!, offsets[other + 1]!)) {
        index = held - 1;
        break;
      }
      slot = (slot + 1) & mask;
    }
    if (index < 0) {
      index = entries++;
      entryRows[index] = row;
      slots[slot] = index + 1;
      dictionaryBytes += spanSize(bytes, from, to, ascii) + LENGTH_PREFIX;
      if (2 * dictionaryBytes > plainBytes) return 0;
    }
    indexes[n++] = index;
  }
  const indexBytes = Math.ceil((count * Math.ceil(Math.log2(Math.max(entries, 2)))) / 8);
  return 2 * (dictionaryBytes + indexBytes) <= plainBytes ? entries : 0;
}

/** text.ts's sample, over spans: no repeat among PROBE_SIZE random positions means no dictionary can pay. */
const probeSlots = new Int32Array(PROBE_SIZE * 4);

function looksUnique(input: Utf8Input, nonNull: number): boolean {
  if (nonNull < 4 * PROBE_SIZE) return false;
  const { bytes, offsets, nulls, start, end } = input;
  // An open-addressing table of sampled rows (row + 1; 0 empty), as buildDictionary's: no object per sample.
  probeSlots.fill(0);
  const mask = probeSlots.length - 1;
  for (const row of probeRows(start, end)) {
    if (nulls !== undefined && nulls[row] === 0) continue;
    const from = offsets[row]!;
    const to = offsets[row + 1]!;
    let slot = hashSpan(bytes, from, to) & mask;
    for (;;) {
      const held = probeSlots[slot]!;
      if (held === 0) {
        probeSlots[slot] = row + 1;
        break;
      }
      const other = held - 1;
      if (spanEquals(bytes, from, to, offsets[other]!, offsets[other + 1]!)) return false;
      slot = (slot + 1) & mask;
    }
  }
  return true;
}
