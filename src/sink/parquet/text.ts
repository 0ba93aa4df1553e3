/**
 * Value encoders for byte-array kinds: strings and JSON text (UTF-8, RLE_DICTIONARY where a dictionary pays, else
 * PLAIN) and bytes (PLAIN). The dictionary rule is hyparquet-writer's (dictionary values + bit-packed indexes at
 * most half the PLAIN bytes), applied to the whole chunk: its built-in check samples 1000 values and so rejects
 * medium-cardinality columns (20k customers in 200k rows: 2.9x slower, 1.7x larger without the dictionary).
 * String statistics order by UTF-8 bytes (= code points), as the spec and hyparquet-writer do; JSON columns carry
 * none (min / max of JSON text help no reader and would put whole documents in the footer).
 */
import type { ByteSink } from './byte-sink.js';
import { isNull, type ChunkStatistics, type ColumnInput, type EncodedValues } from './column.js';
import { contractError, valueError } from './errors.js';
import { writeHybrid } from './rle.js';
import { i32Scratch, validityScratch } from './scratch.js';

const LENGTH_PREFIX = 4;

/** JSON text per row for a `json` column (any JSON-serialisable value); reused across chunks. */
let jsonTexts: (string | null)[] = [];

export function encodeJson(input: ColumnInput, out: ByteSink, dictionaryOut: ByteSink): EncodedValues {
  const { table, spec, values, start, end } = input;
  if (jsonTexts.length < end - start) jsonTexts = new Array<string | null>(end - start);
  for (let row = start; row < end; row++) {
    const value = values[row];
    let text: string | undefined;
    if (!isNull(value)) {
      try {
        text = JSON.stringify(value);
      } catch (error) {
        throw contractError(table, `column "${spec.name}" row ${row}: value is not JSON-serialisable`, error);
      }
    }
    if (text === undefined && !spec.nullable) throw valueError(table, spec, row, value, 'a JSON-serialisable value');
    jsonTexts[row - start] = text ?? null;
  }
  try {
    return encodeStrings({ ...input, values: jsonTexts, start: 0, end: end - start }, out, dictionaryOut, false, 'a JSON-serialisable value', start);
  } finally {
    jsonTexts.fill(null, 0, end - start);
  }
}

/**
 * A string or JSON-text column. `rowBase` maps a row of `values` back to the caller's row number for errors (the
 * `json` path hands over its serialised copy).
 */
export function encodeStrings(
  input: ColumnInput,
  out: ByteSink,
  dictionaryOut: ByteSink,
  statistics: boolean,
  expected = 'string',
  rowBase = 0,
): EncodedValues {
  const { table, spec, values, start, end } = input;
  const rows = end - start;
  const validity = spec.nullable ? validityScratch(rows) : null;
  let count = 0;
  let plainBytes = 0;
  for (let row = start; row < end; row++) {
    const value = values[row];
    if (typeof value === 'string') {
      if (validity) validity[row - start] = 1;
      plainBytes += value.length + LENGTH_PREFIX;
      count++;
    } else if (isNull(value) && validity) {
      validity[row - start] = 0;
    } else {
      throw valueError(table, spec, row + rowBase, value, expected);
    }
  }
  const strings = values as readonly (string | null | undefined)[];
  const nullCount = BigInt(rows - count);
  if (count > 0 && !looksUnique(strings, start, end, count)) {
    const dictionary = buildDictionary(strings, start, end, count, plainBytes);
    if (dictionary) {
      const { entries, indexes } = dictionary;
      dictionaryOut.reserve(entries.length * LENGTH_PREFIX);
      let min = entries[0]!;
      let max = min;
      for (const entry of entries) {
        writeString(dictionaryOut, entry);
        if (statistics) {
          if (compareStrings(entry, min) < 0) min = entry;
          else if (compareStrings(entry, max) > 0) max = entry;
        }
      }
      out.reserve(1);
      const bitWidth = Math.ceil(Math.log2(entries.length));
      out.u8(bitWidth);
      writeHybrid(out, indexes, count, bitWidth);
      return {
        encoding: 'RLE_DICTIONARY',
        count,
        validity,
        dictionary: { bytes: dictionaryOut.written(), count: entries.length },
        values: out.written(),
        statistics: statistics ? { null_count: nullCount, min_value: Buffer.from(min, 'utf8'), max_value: Buffer.from(max, 'utf8') } : undefined,
      };
    }
  }
  let min: string | undefined;
  let max: string | undefined;
  let minAscii = true;
  let maxAscii = true;
  for (let row = start; row < end; row++) {
    const value = strings[row];
    if (value === null || value === undefined) continue;
    const written = writeString(out, value);
    if (!statistics) continue;
    // `<` orders UTF-16 units, which is code-point order unless both strings leave ASCII (surrogates sort
    // below U+E000..U+FFFF in UTF-16 but above them in UTF-8); only then is the exact comparison needed.
    const ascii = written === value.length;
    if (min === undefined || max === undefined) {
      min = max = value;
      minAscii = maxAscii = ascii;
    } else if (ascii || minAscii ? value < min : compareStrings(value, min) < 0) {
      min = value;
      minAscii = ascii;
    } else if (ascii || maxAscii ? value > max : compareStrings(value, max) > 0) {
      max = value;
      maxAscii = ascii;
    }
  }
  let stats: ChunkStatistics | undefined;
  if (statistics) {
    stats = { null_count: nullCount };
    if (min !== undefined && max !== undefined) {
      stats.min_value = Buffer.from(min, 'utf8');
      stats.max_value = Buffer.from(max, 'utf8');
    }
  }
  return { encoding: 'PLAIN', count, validity, dictionary: null, values: out.written(), statistics: stats };
}

export function encodeBytes(input: ColumnInput, out: ByteSink): EncodedValues {
  const { table, spec, values, start, end } = input;
  const rows = end - start;
  const validity = spec.nullable ? validityScratch(rows) : null;
  let count = 0;
  let min: Uint8Array | undefined;
  let max: Uint8Array | undefined;
  for (let row = start; row < end; row++) {
    const value = values[row];
    if (value instanceof Uint8Array) {
      if (validity) validity[row - start] = 1;
      out.reserve(LENGTH_PREFIX + value.length);
      out.u32(value.length);
      out.bytes.set(value, out.offset);
      out.offset += value.length;
      if (min === undefined || max === undefined) min = max = value;
      else if (compareBytes(value, min) < 0) min = value;
      else if (compareBytes(value, max) > 0) max = value;
      count++;
    } else if (isNull(value) && validity) {
      validity[row - start] = 0;
    } else {
      throw valueError(table, spec, row, value, 'Uint8Array');
    }
  }
  const statistics: ChunkStatistics = { null_count: BigInt(rows - count) };
  if (min && max) {
    // Copies (a Buffer's slice would be a view of the caller's bytes).
    statistics.min_value = Uint8Array.prototype.slice.call(min);
    statistics.max_value = Uint8Array.prototype.slice.call(max);
  }
  return { encoding: 'PLAIN', count, validity, dictionary: null, values: out.written(), statistics };
}

/** Length-prefixed UTF-8; returns the byte length. */
function writeString(out: ByteSink, value: string): number {
  out.reserve(LENGTH_PREFIX + value.length * 3);
  const at = out.offset;
  out.offset += LENGTH_PREFIX;
  const written = out.utf8(value);
  out.view.setUint32(at, written, true);
  return written;
}

/**
 * The dictionary and each non-null value's index, or null as soon as the distinct values alone exceed half the
 * PLAIN bytes (sizes count UTF-16 units: exact for ASCII, close enough to choose an encoding).
 */
function buildDictionary(
  strings: readonly (string | null | undefined)[],
  start: number,
  end: number,
  count: number,
  plainBytes: number,
): { entries: string[]; indexes: Int32Array } | null {
  const indexes = i32Scratch(count);
  const lookup = new Map<string, number>();
  const entries: string[] = [];
  let dictionaryBytes = 0;
  let n = 0;
  for (let row = start; row < end; row++) {
    const value = strings[row];
    if (value === null || value === undefined) continue;
    let index = lookup.get(value);
    if (index === undefined) {
      index = entries.length;
      entries.push(value);
      lookup.set(value, index);
      dictionaryBytes += value.length + LENGTH_PREFIX;
      if (2 * dictionaryBytes > plainBytes) return null;
    }
    indexes[n++] = index;
  }
  const indexBytes = Math.ceil((count * Math.ceil(Math.log2(Math.max(entries.length, 2)))) / 8);
  return 2 * (dictionaryBytes + indexBytes) <= plainBytes ? { entries, indexes } : null;
}

export const PROBE_SIZE = 1024;

/**
 * No repeat among PROBE_SIZE distinct positions drawn at random means a dictionary cannot pay: for one to pay,
 * each value must occur about three times or more, and then such a sample repeats almost surely (birthday
 * bound). The positions are not a stride: an arithmetic progression of positions meets a column that cycles
 * through its values with an arithmetic progression of values, and sees no repeat. The generator has a fixed
 * seed, so the decision, and with it the file, is still a function of the input.
 */
function looksUnique(values: readonly (string | null | undefined)[], start: number, end: number, nonNull: number): boolean {
  if (nonNull < 4 * PROBE_SIZE) return false;
  const sample = new Set<string>();
  for (const row of probeRows(start, end)) {
    const value = values[row];
    if (value === null || value === undefined) continue;
    if (sample.has(value)) return false;
    sample.add(value);
  }
  return true;
}

/** PROBE_SIZE distinct rows of [start, end) drawn by a fixed-seed xorshift (end - start must exceed PROBE_SIZE). */
export function* probeRows(start: number, end: number): Generator<number> {
  for (const position of probePositions(end - start)) yield start + position;
}

/** Drawn positions by chunk size: row groups come in few sizes, and each draw costs a Set of PROBE_SIZE numbers. */
const drawn = new Map<number, Int32Array>();
const DRAWN_SIZES = 8;

/**
 * probeRows' positions (offsets from `start`) for a chunk of `rows` rows, in draw order; computed once per size
 * and shared, so callers must not write to it.
 */
export function probePositions(rows: number): Int32Array {
  let positions = drawn.get(rows);
  if (positions) return positions;
  positions = new Int32Array(PROBE_SIZE);
  const seen = new Set<number>();
  let state = 0x9e3779b9;
  let n = 0;
  while (n < PROBE_SIZE) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const position = (state >>> 0) % rows;
    if (seen.has(position)) continue;
    seen.add(position);
    positions[n++] = position;
  }
  if (drawn.size >= DRAWN_SIZES) drawn.clear();
  drawn.set(rows, positions);
  return positions;
}

/**
 * Code-point (= UTF-8 byte) order. Lone surrogates compare as U+FFFD, which is what the UTF-8 encoder writes
 * for them.
 */
export function compareStrings(left: string, right: string): number {
  if (left === right) return 0;
  const length = Math.min(left.length, right.length);
  let i = 0;
  while (i < length && left.charCodeAt(i) === right.charCodeAt(i)) i++;
  if (i > 0) {
    const previous = left.charCodeAt(i - 1);
    if (previous >= 0xd800 && previous <= 0xdbff) i--;
  }
  while (i < left.length && i < right.length) {
    const a = codePoint(left, i);
    const b = codePoint(right, i);
    if (a !== b) return a - b;
    i += a > 0xffff ? 2 : 1;
  }
  return left.length - i - (right.length - i);
}

function codePoint(text: string, i: number): number {
  const code = text.codePointAt(i) ?? 0xfffd;
  return code >= 0xd800 && code <= 0xdfff ? 0xfffd : code;
}

function compareBytes(left: Uint8Array, right: Uint8Array): number {
  const length = Math.min(left.length, right.length);
  for (let i = 0; i < length; i++) if (left[i] !== right[i]) return left[i]! - right[i]!;
  return left.length - right.length;
}
