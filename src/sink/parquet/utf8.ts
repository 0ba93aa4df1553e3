/**
 * String and JSON-text columns held as UTF-8 spans (TypedColumn 'utf8'): the same encodings, dictionary rule and
 * statistics as ./text.ts, with bytes copied instead of strings converted. Distinct values are found with an
 * open-addressing table of Murmur3 hashes over the spans (no string or object per value). The dictionary rule
 * counts UTF-16 units, as text.ts does (a span's units: its bytes that start a character, plus one more for each
 * 4-byte character), so a column makes the same file in either form; only a column that leaves ASCII pays for
 * the count.
 */
import { isAscii } from 'node:buffer';
import type { ByteSink } from './byte-sink.js';
import type { ChunkStatistics, EncodedValues } from './column.js';
import { contractError } from './errors.js';
import { writeHybrid } from './rle.js';
import { allPresent, i32Scratch, validityScratch } from './scratch.js';
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
/** Each row's size as text.ts counts it (UTF-16 units), by row - start. */
let sizes = new Int32Array(1024);

/*
 * Every loop over rows below sits in a function of its own, takes the same types on every call (a validity array
 * always; see encodeUtf8) and does nothing after the loop but return a local. V8 compiles such a loop on stack
 * replacement during its first run; code that had not run by then (the rest of a large function, a branch taken
 * only by a later column) has no type feedback and would deoptimise, and recompile, on a later call.
 */

/** Murmur3 (x86, 32-bit) of a span, four bytes per step: only which slot a value lands in depends on it. */
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
  let k = 0;
  for (let shift = 0; i < to; i++, shift += 8) k |= bytes[i]! << shift;
  k = Math.imul(k, 0xcc9e2d51);
  h ^= Math.imul((k << 15) | (k >>> 17), 0x1b873593);
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
  const { table, spec, offsets, start, end } = input;
  const bytes = Buffer.isBuffer(input.bytes) ? input.bytes : Buffer.from(input.bytes.buffer, input.bytes.byteOffset, input.bytes.byteLength);
  const rows = end - start;
  const nulls = input.nulls ?? allPresent(end);
  // Written for every column, so the loops see one type; handed on only for a nullable one.
  const present = validityScratch(rows);
  if (sizes.length < rows) sizes = new Int32Array(Math.max(rows, sizes.length * 2));
  const count = checkSpans(table, spec, spec.nullable, bytes, offsets, nulls, start, end, present, sizes);
  const ordered = scan[DISORDER] === 0;
  const validity = spec.nullable ? present : null;
  const nullCount = BigInt(rows - count);
  if (count > 0) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // Sizes count UTF-16 units, as text.ts's: a span's bytes when the column is ASCII, else counted again.
    const plainBytes = (isAscii(bytes) ? scan[BYTES]! : unitSizes(bytes, offsets, nulls, start, end, sizes)) + count * LENGTH_PREFIX;
    if (!looksUnique(view, bytes, offsets, nulls, start, end, count)) {
      const entries = buildDictionary(view, bytes, offsets, nulls, start, end, count, plainBytes);
      if (entries > 0 && dictionaryPays(count, entries, plainBytes, start)) {
        return writeDictionaryEncoded(bytes, offsets, entries, count, validity, nullCount, out, dictionaryOut, statistics);
      }
    }
  }
  if (ordered) out.offset = writePlainOrdered(out, bytes, offsets, nulls, start, end, count);
  else writePlain(out, bytes, offsets, nulls, start, end);
  let stats: ChunkStatistics | undefined;
  if (statistics) {
    stats = { null_count: nullCount };
    if (count > 0) {
      extremeRows(bytes, offsets, nulls, start, end);
      stats.min_value = span(bytes, offsets, extremes[0]!);
      stats.max_value = span(bytes, offsets, extremes[1]!);
    }
  }
  return { encoding: 'PLAIN', count, validity, dictionary: null, values: out.written(), statistics: stats };
}

/** What checkSpans finds besides the count: the non-null values' bytes, and 1 when a span starts before the end of
 * the one before (else 0). Written inside its loop, so nothing after the loop needs type feedback. */
const scan = new Float64Array(2);
const BYTES = 0;
const DISORDER = 1;

/**
 * Checks each non-null row's span, writes `present` (1 / 0) and the span's size in bytes (`sizes`) by row - start,
 * and fills `scan`; returns the non-null rows.
 */
function checkSpans(
  table: string,
  spec: ColumnSpec,
  nullable: boolean,
  bytes: Uint8Array,
  offsets: Uint32Array,
  nulls: Uint8Array,
  start: number,
  end: number,
  present: Uint8Array,
  sizes: Int32Array,
): number {
  const length = bytes.length;
  let count = 0;
  let total = 0;
  let last = 0;
  scan[BYTES] = 0;
  scan[DISORDER] = 0;
  for (let row = start; row < end; row++) {
    const here = nulls[row] === 0 ? 0 : 1;
    present[row - start] = here;
    if (here === 0) {
      if (!nullable) throw contractError(table, `column "${spec.name}" (${spec.type}) row ${row}: expected a value, got null`);
      continue;
    }
    const from = offsets[row]!;
    const to = offsets[row + 1]!;
    if (!(from <= to && to <= length)) throw contractError(table, `column "${spec.name}" row ${row}: UTF-8 span ${from}..${to} is outside its ${length} bytes`);
    if (from < last) scan[DISORDER] = 1;
    last = to;
    sizes[row - start] = to - from;
    total += to - from;
    scan[BYTES] = total;
    count++;
  }
  return count;
}

/**
 * UTF-16 units of each value (its bytes that start a character, plus one more for each 4-byte character) into
 * `sizes`; returns their sum.
 */
function unitSizes(bytes: Uint8Array, offsets: Uint32Array, nulls: Uint8Array, start: number, end: number, sizes: Int32Array): number {
  let total = 0;
  for (let row = start; row < end; row++) {
    if (nulls[row] === 0) continue;
    let units = 0;
    for (let i = offsets[row]!, to = offsets[row + 1]!; i < to; i++) {
      const b = bytes[i]!;
      units += ((b & 0xc0) !== 0x80 ? 1 : 0) + (b >= 0xf0 ? 1 : 0);
    }
    sizes[row - start] = units;
    total += units;
  }
  return total;
}

/** The rows of the least and the greatest non-null value (byte order; the first of equals) into `extremes`. */
const extremes = new Int32Array(2);

function extremeRows(bytes: Uint8Array, offsets: Uint32Array, nulls: Uint8Array, start: number, end: number): void {
  let min = -1;
  let max = -1;
  for (let row = start; row < end; row++) {
    if (nulls[row] === 0) continue;
    const from = offsets[row]!;
    const to = offsets[row + 1]!;
    if (min < 0) {
      min = max = row;
      extremes[0] = extremes[1] = row;
    } else if (compareSpans(bytes, from, to, offsets[min]!, offsets[min + 1]!) < 0) {
      min = row;
      extremes[0] = row;
    } else if (compareSpans(bytes, from, to, offsets[max]!, offsets[max + 1]!) > 0) {
      max = row;
      extremes[1] = row;
    }
  }
}

/** The dictionary page (entryRows[0..entries)) and the data page's indexes (i32Scratch). */
function writeDictionaryEncoded(
  bytes: Buffer,
  offsets: Uint32Array,
  entries: number,
  count: number,
  validity: Uint8Array | null,
  nullCount: bigint,
  out: ByteSink,
  dictionaryOut: ByteSink,
  statistics: boolean,
): EncodedValues {
  writeEntries(dictionaryOut, bytes, offsets, entries);
  if (statistics) extremeEntries(bytes, offsets, entries);
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
    statistics: statistics ? { null_count: nullCount, min_value: span(bytes, offsets, extremes[0]!), max_value: span(bytes, offsets, extremes[1]!) } : undefined,
  };
}

function writeEntries(out: ByteSink, bytes: Buffer, offsets: Uint32Array, entries: number): void {
  out.reserve(entries * LENGTH_PREFIX);
  for (let e = 0; e < entries; e++) {
    const row = entryRows[e]!;
    writeSpan(out, bytes, offsets[row]!, offsets[row + 1]!);
  }
}

/** The rows of the least and the greatest dictionary entry into `extremes`. */
function extremeEntries(bytes: Uint8Array, offsets: Uint32Array, entries: number): void {
  let min = entryRows[0]!;
  let max = min;
  extremes[0] = extremes[1] = min;
  for (let e = 1; e < entries; e++) {
    const row = entryRows[e]!;
    const from = offsets[row]!;
    const to = offsets[row + 1]!;
    if (compareSpans(bytes, from, to, offsets[min]!, offsets[min + 1]!) < 0) {
      min = row;
      extremes[0] = row;
    } else if (compareSpans(bytes, from, to, offsets[max]!, offsets[max + 1]!) > 0) {
      max = row;
      extremes[1] = row;
    }
  }
}

function span(bytes: Uint8Array, offsets: Uint32Array, row: number): Uint8Array {
  return Uint8Array.prototype.slice.call(bytes, offsets[row]!, offsets[row + 1]!);
}

/**
 * PLAIN values when the non-null spans lie in order (checkSpans): the extent from the first to the end of the last is
 * copied once (one native copy) to where its bytes would sit if no length prefix came before them, then each value
 * moves left into place behind its prefix. A value only ever moves left, onto bytes already moved or prefixed, so
 * none is overwritten before it moves; the last one does not move. Returns the sink's new offset.
 */
function writePlainOrdered(out: ByteSink, bytes: Buffer, offsets: Uint32Array, nulls: Uint8Array, start: number, end: number, count: number): number {
  if (count === 0) return out.offset;
  const first = offsets[firstPresent(nulls, start, end)]!;
  const last = offsets[lastPresent(nulls, start, end) + 1]!;
  out.reserve(count * LENGTH_PREFIX + (last - first));
  const target = out.bytes;
  const placed = out.offset + count * LENGTH_PREFIX - first;
  target.set(bytes.subarray(first, last), placed + first);
  return moveIntoPlace(target, out.view, out.offset, placed, offsets, nulls, start, end);
}

function moveIntoPlace(target: Uint8Array, view: DataView, at: number, placed: number, offsets: Uint32Array, nulls: Uint8Array, start: number, end: number): number {
  for (let row = start; row < end; row++) {
    if (nulls[row] === 0) continue;
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
  return at;
}

function firstPresent(nulls: Uint8Array, start: number, end: number): number {
  let row = start;
  while (row < end && nulls[row] === 0) row++;
  return row;
}

function lastPresent(nulls: Uint8Array, start: number, end: number): number {
  let row = end - 1;
  while (row >= start && nulls[row] === 0) row--;
  return row;
}

/** PLAIN values, one span at a time (spans out of order or overlapping: no producer here lays them out so). */
function writePlain(out: ByteSink, bytes: Buffer, offsets: Uint32Array, nulls: Uint8Array, start: number, end: number): void {
  for (let row = start; row < end; row++) {
    if (nulls[row] === 0) continue;
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
 * Builds the dictionary (entryRows[0..n)) and each non-null value's index (i32Scratch); returns n, or 0 as soon as
 * the distinct values alone exceed half the PLAIN bytes (text.ts's rule; sizes from `sizes`).
 */
function buildDictionary(
  view: DataView,
  bytes: Uint8Array,
  offsets: Uint32Array,
  nulls: Uint8Array,
  start: number,
  end: number,
  count: number,
  plainBytes: number,
): number {
  let capacity = 1024;
  while (capacity < count * 2) capacity *= 2;
  if (slots.length < capacity) slots = new Int32Array(capacity);
  else slots.fill(0, 0, capacity);
  if (entryRows.length < count) entryRows = new Int32Array(Math.max(count, entryRows.length * 2));
  return fillDictionary(view, bytes, offsets, nulls, start, end, plainBytes, sizes, slots, entryRows, i32Scratch(count), capacity - 1);
}

function fillDictionary(
  view: DataView,
  bytes: Uint8Array,
  offsets: Uint32Array,
  nulls: Uint8Array,
  start: number,
  end: number,
  plainBytes: number,
  sizes: Int32Array,
  slots: Int32Array,
  entryRows: Int32Array,
  indexes: Int32Array,
  mask: number,
): number {
  let entries = 0;
  let dictionaryBytes = 0;
  let n = 0;
  for (let row = start; row < end; row++) {
    if (nulls[row] === 0) continue;
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
      dictionaryBytes += sizes[row - start]! + LENGTH_PREFIX;
      if (2 * dictionaryBytes > plainBytes) return 0;
    }
    indexes[n++] = index;
  }
  return entries;
}

/** text.ts's rule on the whole chunk: dictionary values and bit-packed indexes at most half the PLAIN bytes. */
function dictionaryPays(count: number, entries: number, plainBytes: number, start: number): boolean {
  const indexBytes = Math.ceil((count * Math.ceil(Math.log2(Math.max(entries, 2)))) / 8);
  return 2 * (entryBytes(entries, start) + indexBytes) <= plainBytes;
}

/** The dictionary page's size as text.ts counts it (UTF-16 units and length prefixes). */
function entryBytes(entries: number, start: number): number {
  let total = 0;
  for (let e = 0; e < entries; e++) total += sizes[entryRows[e]! - start]! + LENGTH_PREFIX;
  return total;
}

/** text.ts's sample, over spans: no repeat among PROBE_SIZE random positions means no dictionary can pay. */
const probeSlots = new Int32Array(PROBE_SIZE * 4);

function looksUnique(view: DataView, bytes: Uint8Array, offsets: Uint32Array, nulls: Uint8Array, start: number, end: number, nonNull: number): boolean {
  if (nonNull < 4 * PROBE_SIZE) return false;
  // An open-addressing table of sampled rows (row + 1; 0 empty), as buildDictionary's: no object per sample.
  probeSlots.fill(0);
  return noRepeat(view, bytes, offsets, nulls, start, probePositions(end - start), probeSlots, probeSlots.length - 1);
}

function noRepeat(view: DataView, bytes: Uint8Array, offsets: Uint32Array, nulls: Uint8Array, start: number, positions: Int32Array, table: Int32Array, mask: number): boolean {
  for (let p = 0; p < positions.length; p++) {
    const row = start + positions[p]!;
    if (nulls[row] === 0) continue;
    const from = offsets[row]!;
    const to = offsets[row + 1]!;
    let slot = hashSpan(view, bytes, from, to) & mask;
    for (;;) {
      const held = table[slot]!;
      if (held === 0) {
        table[slot] = row + 1;
        break;
      }
      const other = held - 1;
      if (spanEquals(view, bytes, from, to, offsets[other]!, offsets[other + 1]!)) return false;
      slot = (slot + 1) & mask;
    }
  }
  return true;
}
