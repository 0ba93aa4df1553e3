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
import { PROBE_SIZE, probePositions } from './text.js';
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

/**
 * Murmur3 (x86, 32-bit) of a span, four bytes per step: only which slot a value lands in depends on it (the
 * dictionary's order is first occurrence), so any hash gives the same file; this one reads words and mixes well.
 */
function hashSpan(view: DataView, bytes: Uint8Array, from: number, to: number): number {
  let h = to - from;
  let i = from;
  for (; i + 4 <= to; i += 4) {
    let k = Math.imul(view.getInt32(i, true), 0xcc9e2d51);
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < to) {
    let k = 0;
    for (let shift = 0; i < to; i++, shift += 8) k |= bytes[i]! << shift;
    k = Math.imul(k, 0xcc9e2d51);
    h ^= Math.imul((k << 15) | (k >>> 17), 0x1b873593);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function spanEquals(view: DataView, bytes: Uint8Array, a: number, aEnd: number, b: number, bEnd: number): boolean {
  const length = aEnd - a;
  if (bEnd - b !== length) return false;
  let i = 0;
  for (; i + 4 <= length; i += 4) if (view.getInt32(a + i, true) !== view.getInt32(b + i, true)) return false;
  for (; i < length; i++) if (bytes[a + i] !== bytes[b + i]) return false;
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
  // The non-null spans' extent, and whether each starts at or after the end of the one before (as a column
  // builder lays them out): then the PLAIN values section is written from one copy of that extent.
  let first = 0;
  let last = 0;
  let ordered = true;
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
    if (count === 0) first = from;
    else if (from < last) ordered = false;
    last = to;
    plainBytes += spanSize(bytes, from, to, ascii) + LENGTH_PREFIX;
    count++;
  }
  const nullCount = BigInt(rows - count);
  if (count > 0) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (!looksUnique(input, view, count)) {
      const entries = buildDictionary(input, view, count, plainBytes, ascii);
      if (entries > 0) return writeDictionaryEncoded(input, bytes, entries, count, validity, nullCount, out, dictionaryOut, statistics);
    }
  }
  if (ordered) writePlainOrdered(out, bytes, offsets, nulls, start, end, count, first, last);
  else writePlain(out, bytes, offsets, nulls, start, end);
  let stats: ChunkStatistics | undefined;
  if (statistics) {
    stats = { null_count: nullCount };
    if (count > 0) {
      const [min, max] = minMaxRows(bytes, offsets, nulls, start, end);
      stats.min_value = span(bytes, offsets, min);
      stats.max_value = span(bytes, offsets, max);
    }
  }
  return { encoding: 'PLAIN', count, validity, dictionary: null, values: out.written(), statistics: stats };
}

/** The dictionary page (entryRows[0..entries)) and the data page's indexes (i32Scratch). */
function writeDictionaryEncoded(
  input: Utf8Input,
  bytes: Buffer,
  entries: number,
  count: number,
  validity: Uint8Array | null,
  nullCount: bigint,
  out: ByteSink,
  dictionaryOut: ByteSink,
  statistics: boolean,
): EncodedValues {
  const { offsets } = input;
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

/** The rows of the least and greatest non-null values (byte order; the first of equals), given one exists. */
function minMaxRows(bytes: Uint8Array, offsets: Uint32Array, nulls: Uint8Array | undefined, start: number, end: number): [number, number] {
  let min = -1;
  let max = -1;
  for (let row = start; row < end; row++) {
    if (nulls !== undefined && nulls[row] === 0) continue;
    const from = offsets[row]!;
    const to = offsets[row + 1]!;
    if (min < 0) min = max = row;
    else if (compareSpans(bytes, from, to, offsets[min]!, offsets[min + 1]!) < 0) min = row;
    else if (compareSpans(bytes, from, to, offsets[max]!, offsets[max + 1]!) > 0) max = row;
  }
  return [min, max];
}

function span(bytes: Uint8Array, offsets: Uint32Array, row: number): Uint8Array {
  return Uint8Array.prototype.slice.call(bytes, offsets[row]!, offsets[row + 1]!);
}

/**
 * PLAIN values when the non-null spans lie in order within bytes[first, last): that extent is copied once (one
 * native copy) to where its bytes would sit if no length prefix came before them, then each value moves left
 * into place behind its prefix. A value only ever moves left, onto bytes already moved or prefixed, so none is
 * overwritten before it moves; the last one does not move.
 */
function writePlainOrdered(
  out: ByteSink,
  bytes: Buffer,
  offsets: Uint32Array,
  nulls: Uint8Array | undefined,
  start: number,
  end: number,
  count: number,
  first: number,
  last: number,
): void {
  if (count === 0) return;
  out.reserve(count * LENGTH_PREFIX + (last - first));
  const target = out.bytes;
  const view = out.view;
  const placed = out.offset + count * LENGTH_PREFIX - first;
  target.set(bytes.subarray(first, last), placed + first);
  let at = out.offset;
  for (let row = start; row < end; row++) {
    if (nulls !== undefined && nulls[row] === 0) continue;
    const from = offsets[row]!;
    const length = offsets[row + 1]! - from;
    view.setUint32(at, length, true);
    at += LENGTH_PREFIX;
    const source = placed + from;
    // Short values: a loop beats the call into copyWithin.
    if (length < 32) for (let i = 0; i < length; i++) target[at + i] = target[source + i]!;
    else target.copyWithin(at, source, source + length);
    at += length;
  }
  out.offset = at;
}

/** PLAIN values, one span at a time (spans out of order, or overlapping: no producer here makes those). */
function writePlain(out: ByteSink, bytes: Buffer, offsets: Uint32Array, nulls: Uint8Array | undefined, start: number, end: number): void {
  for (let row = start; row < end; row++) {
    if (nulls !== undefined && nulls[row] === 0) continue;
    writeSpan(out, bytes, offsets[row]!, offsets[row + 1]!);
  }
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
function buildDictionary(input: Utf8Input, view: DataView, count: number, plainBytes: number, ascii: boolean): number {
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
    let slot = hashSpan(view, bytes, from, to) & mask;
    let index = -1;
    for (;;) {
      const held = slots[slot]!;
      if (held === 0) break;
      const other = entryRows[held - 1]!;
      if (spanEquals(view, bytes, from, to, offsets[other]!, offsets[other + 1]!)) {
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

function looksUnique(input: Utf8Input, view: DataView, nonNull: number): boolean {
  if (nonNull < 4 * PROBE_SIZE) return false;
  const { bytes, offsets, nulls, start, end } = input;
  // An open-addressing table of sampled rows (row + 1; 0 empty), as buildDictionary's: no object per sample.
  probeSlots.fill(0);
  const mask = probeSlots.length - 1;
  const positions = probePositions(end - start);
  for (let p = 0; p < positions.length; p++) {
    const row = start + positions[p]!;
    if (nulls !== undefined && nulls[row] === 0) continue;
    const from = offsets[row]!;
    const to = offsets[row + 1]!;
    let slot = hashSpan(view, bytes, from, to) & mask;
    for (;;) {
      const held = probeSlots[slot]!;
      if (held === 0) {
        probeSlots[slot] = row + 1;
        break;
      }
      const other = held - 1;
      if (spanEquals(view, bytes, from, to, offsets[other]!, offsets[other + 1]!)) return false;
      slot = (slot + 1) & mask;
    }
  }
  return true;
}
