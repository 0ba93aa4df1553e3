/**
 * Value encoders for the fixed-width kinds: boolean (RLE), int32 / float / double (PLAIN), int64 and timestamps
 * (DELTA_BINARY_PACKED from doubles, or PLAIN when a value is a bigint or the range is too wide for exact double
 * deltas). One pass per column validates, compacts the non-null values into a typed scratch array and gathers
 * min / max / null count as hyparquet-writer states them. Typed arrays are written in the platform's byte order,
 * which Parquet's little-endian PLAIN matches on every platform Node ships for.
 */
import type { ByteSink } from './byte-sink.js';
import { isNull, type ChunkStatistics, type ColumnInput, type EncodedValues } from './column.js';
import { DELTA_MAX_RANGE, writeDeltaBinaryPacked } from './delta.js';
import { valueError } from './errors.js';
import { writeHybrid } from './rle.js';
import { allPresent, f64Scratch, i32Scratch, i64Scratch, u8Scratch, validityScratch } from './scratch.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const TWO_32 = 4294967296;

export function encodeBoolean(input: ColumnInput, out: ByteSink): EncodedValues {
  const { table, spec, values, nulls, start, end } = input;
  const rows = end - start;
  const validity = spec.nullable ? validityScratch(rows) : null;
  const bits = u8Scratch(rows);
  let count = 0;
  let anyTrue = false;
  let anyFalse = false;
  for (let row = start; row < end; row++) {
    const value = nulls !== undefined && nulls[row] === 0 ? null : values[row];
    if (typeof value === 'boolean') {
      if (validity) validity[row - start] = 1;
      bits[count++] = value ? 1 : 0;
      if (value) anyTrue = true;
      else anyFalse = true;
    } else if (isNull(value) && validity) {
      validity[row - start] = 0;
    } else {
      throw valueError(table, spec, row, value, 'boolean');
    }
  }
  // RLE booleans: a 4-byte length, then the hybrid at bit width 1.
  out.reserve(4);
  const lengthAt = out.offset;
  out.offset += 4;
  const length = writeHybrid(out, bits, count, 1);
  out.view.setUint32(lengthAt, length, true);
  const statistics: ChunkStatistics = { null_count: BigInt(rows - count) };
  if (count > 0) {
    statistics.min_value = !anyFalse;
    statistics.max_value = anyTrue;
  }
  return { encoding: 'RLE', count, validity, dictionary: null, values: out.written(), statistics };
}

export function encodeInt32(input: ColumnInput, out: ByteSink): EncodedValues {
  const { table, spec, values, nulls, start, end } = input;
  const rows = end - start;
  const validity = spec.nullable ? validityScratch(rows) : null;
  const ints = i32Scratch(rows);
  let count = 0;
  let min = 0;
  let max = 0;
  for (let row = start; row < end; row++) {
    const value = nulls !== undefined && nulls[row] === 0 ? null : values[row];
    if (typeof value === 'number' && (value | 0) === value) {
      if (validity) validity[row - start] = 1;
      if (count === 0) min = max = value;
      else if (value < min) min = value;
      else if (value > max) max = value;
      ints[count++] = value;
    } else if (isNull(value) && validity) {
      validity[row - start] = 0;
    } else {
      throw valueError(table, spec, row, value, 'int32 (integer number)');
    }
  }
  out.append(new Uint8Array(ints.buffer, 0, count * 4));
  return { encoding: 'PLAIN', count, validity, dictionary: null, values: out.written(), statistics: minMax(count, rows, min, max) };
}

export function encodeFloating(input: ColumnInput, out: ByteSink, single: boolean): EncodedValues {
  const { table, spec, values, nulls, start, end } = input;
  if (values instanceof Float64Array) return writeFloating(input, out, single, gatherFloating(table, spec, spec.nullable, values, nulls ?? allPresent(end), start, end, validityScratch(end - start), f64Scratch(end - start)));
  const rows = end - start;
  const validity = spec.nullable ? validityScratch(rows) : null;
  const doubles = f64Scratch(rows);
  let count = 0;
  let nans = 0;
  let min = NaN;
  let max = NaN;
  for (let row = start; row < end; row++) {
    const value = nulls !== undefined && nulls[row] === 0 ? null : values[row];
    if (typeof value === 'number') {
      if (validity) validity[row - start] = 1;
      doubles[count++] = value;
      // NaN is left out of min / max and counted apart (the spec's rule, and hyparquet-writer's).
      if (value !== value) nans++;
      else if (min !== min) min = max = value;
      else if (value < min) min = value;
      else if (value > max) max = value;
    } else if (isNull(value) && validity) {
      validity[row - start] = 0;
    } else {
      throw valueError(table, spec, row, value, 'number');
    }
  }
  found[MIN] = min;
  found[MAX] = max;
  found[NANS] = nans;
  return writeFloating(input, out, single, count);
}

/*
 * Typed columns (Float64Array values, a validity array always: allPresent when none is given) are gathered by
 * loops of their own, apart from the JS-value loops: each loop then sees one element kind, and does nothing after
 * it but return, its other findings written to `found` inside the loop. V8 compiles these loops on stack
 * replacement during their first run; code that had not run by then would deoptimise, and recompile, later.
 */

/** A gather's findings besides the count: least and greatest value (NaN when none), and NaNs counted. */
const found = new Float64Array(3);
const MIN = 0;
const MAX = 1;
const NANS = 2;

/** Non-null values of rows [start, end) into `doubles`, validity into `present`, extremes into `found`. */
function gatherFloating(
  table: string,
  spec: ColumnInput['spec'],
  nullable: boolean,
  values: Float64Array,
  nulls: Uint8Array,
  start: number,
  end: number,
  present: Uint8Array,
  doubles: Float64Array,
): number {
  let count = 0;
  let nans = 0;
  let min = NaN;
  let max = NaN;
  found[MIN] = found[MAX] = NaN;
  found[NANS] = 0;
  for (let row = start; row < end; row++) {
    const here = nulls[row] === 0 ? 0 : 1;
    present[row - start] = here;
    if (here === 0) {
      if (!nullable) throw valueError(table, spec, row, null, 'number');
      continue;
    }
    const value = values[row]!;
    doubles[count++] = value;
    // NaN is left out of min / max and counted apart (the spec's rule, and hyparquet-writer's).
    if (value !== value) found[NANS] = ++nans;
    else if (min !== min) found[MIN] = found[MAX] = min = max = value;
    else if (value < min) found[MIN] = min = value;
    else if (value > max) found[MAX] = max = value;
  }
  return count;
}

/** The PLAIN section and statistics of `count` values gathered into the f64 scratch (extremes in `found`). */
function writeFloating(input: ColumnInput, out: ByteSink, single: boolean, count: number): EncodedValues {
  const rows = input.end - input.start;
  const validity = input.spec.nullable ? validityScratch(rows) : null;
  const doubles = f64Scratch(rows);
  const min = found[MIN]!;
  const max = found[MAX]!;
  const nans = found[NANS]!;
  if (single) {
    out.reserve(count * 4);
    for (let i = 0; i < count; i++) {
      out.view.setFloat32(out.offset, doubles[i]!, true);
      out.offset += 4;
    }
  } else {
    out.append(new Uint8Array(doubles.buffer, 0, count * 8));
  }
  const statistics: ChunkStatistics = { null_count: BigInt(rows - count), nan_count: BigInt(nans) };
  if (min === min) {
    // Signed zero: the lower bound is -0 and the upper +0, whichever zero the column holds.
    statistics.min_value = min === 0 ? -0 : min;
    statistics.max_value = max === 0 ? 0 : max;
  }
  return { encoding: 'PLAIN', count, validity, dictionary: null, values: out.written(), statistics };
}

/**
 * int64 (safe-integer numbers or bigints) and timestamps (epoch milliseconds, scaled to the column's unit:
 * `perMillisecond` 1 truncates sub-millisecond digits, 1000 rounds off float noise).
 */
export function encodeInt64(input: ColumnInput, out: ByteSink, perMillisecond: 0 | 1 | 1000): EncodedValues {
  const { table, spec, values, nulls, start, end } = input;
  if (values instanceof Float64Array) {
    const gather = perMillisecond === 0 ? gatherInt64 : perMillisecond === 1 ? gatherMillis : gatherMicros;
    const count = gather(table, spec, spec.nullable, values, nulls ?? allPresent(end), start, end, validityScratch(end - start), f64Scratch(end - start));
    return writeInt64(out, spec.nullable ? validityScratch(end - start) : null, count, end - start, found[MIN]!, found[MAX]!);
  }
  const rows = end - start;
  const validity = spec.nullable ? validityScratch(rows) : null;
  const doubles = f64Scratch(rows);
  let count = 0;
  let min = 0;
  let max = 0;
  let bigints = false;
  for (let row = start; row < end; row++) {
    const value = nulls !== undefined && nulls[row] === 0 ? null : values[row];
    let units: number;
    if (typeof value === 'number') {
      if (perMillisecond === 0) {
        if (!Number.isSafeInteger(value)) throw valueError(table, spec, row, value, 'int64 (safe integer number or bigint)');
        units = value === 0 ? 0 : value;
      } else {
        units = perMillisecond === 1 ? Math.floor(value) : Math.round(value * 1000);
        if (!Number.isSafeInteger(units)) throw valueError(table, spec, row, value, 'finite epoch milliseconds');
        if (units === 0) units = 0;
      }
    } else if (isNull(value) && validity) {
      validity[row - start] = 0;
      continue;
    } else if (perMillisecond === 0 && typeof value === 'bigint' && value >= INT64_MIN && value <= INT64_MAX) {
      bigints = true;
      units = NaN; // placeholder: the bigint pass below writes the column
    } else {
      throw valueError(table, spec, row, value, perMillisecond === 0 ? 'int64 (safe integer number or bigint)' : 'epoch milliseconds (number)');
    }
    if (validity) validity[row - start] = 1;
    if (count === 0) min = max = units;
    else if (units < min) min = units;
    else if (units > max) max = units;
    doubles[count++] = units;
  }
  if (bigints) return encodeBigInts(input, out, validity, count);
  return writeInt64(out, validity, count, rows, min, max);
}

type Int64Gather = (
  table: string,
  spec: ColumnInput['spec'],
  nullable: boolean,
  values: Float64Array,
  nulls: Uint8Array,
  start: number,
  end: number,
  present: Uint8Array,
  doubles: Float64Array,
) => number;

/** int64 from a Float64Array: safe integers (-0 as 0) into `doubles`, extremes into `found`. */
const gatherInt64: Int64Gather = (table, spec, nullable, values, nulls, start, end, present, doubles) => {
  let count = 0;
  for (let row = start; row < end; row++) {
    const here = nulls[row] === 0 ? 0 : 1;
    present[row - start] = here;
    if (here === 0) {
      if (!nullable) throw valueError(table, spec, row, null, 'int64 (safe integer number or bigint)');
      continue;
    }
    const value = values[row]!;
    if (!Number.isSafeInteger(value)) throw valueError(table, spec, row, value, 'int64 (safe integer number or bigint)');
    const units = value === 0 ? 0 : value;
    if (count === 0) found[MIN] = found[MAX] = units;
    else if (units < found[MIN]!) found[MIN] = units;
    else if (units > found[MAX]!) found[MAX] = units;
    doubles[count++] = units;
  }
  return count;
};

/** timestamp_ms from a Float64Array of epoch milliseconds: sub-millisecond digits truncated. */
const gatherMillis: Int64Gather = (table, spec, nullable, values, nulls, start, end, present, doubles) => {
  let count = 0;
  for (let row = start; row < end; row++) {
    const here = nulls[row] === 0 ? 0 : 1;
    present[row - start] = here;
    if (here === 0) {
      if (!nullable) throw valueError(table, spec, row, null, 'epoch milliseconds (number)');
      continue;
    }
    const value = values[row]!;
    let units = Math.floor(value);
    if (!Number.isSafeInteger(units)) throw valueError(table, spec, row, value, 'finite epoch milliseconds');
    if (units === 0) units = 0;
    if (count === 0) found[MIN] = found[MAX] = units;
    else if (units < found[MIN]!) found[MIN] = units;
    else if (units > found[MAX]!) found[MAX] = units;
    doubles[count++] = units;
  }
  return count;
};

/** timestamp_us from a Float64Array of epoch milliseconds: microseconds rounded (float noise off). */
const gatherMicros: Int64Gather = (table, spec, nullable, values, nulls, start, end, present, doubles) => {
  let count = 0;
  for (let row = start; row < end; row++) {
    const here = nulls[row] === 0 ? 0 : 1;
    present[row - start] = here;
    if (here === 0) {
      if (!nullable) throw valueError(table, spec, row, null, 'epoch milliseconds (number)');
      continue;
    }
    const value = values[row]!;
    let units = Math.round(value * 1000);
    if (!Number.isSafeInteger(units)) throw valueError(table, spec, row, value, 'finite epoch milliseconds');
    if (units === 0) units = 0;
    if (count === 0) found[MIN] = found[MAX] = units;
    else if (units < found[MIN]!) found[MIN] = units;
    else if (units > found[MAX]!) found[MAX] = units;
    doubles[count++] = units;
  }
  return count;
};

/** DELTA_BINARY_PACKED (or PLAIN past DELTA_MAX_RANGE) of `count` integers gathered into the f64 scratch. */
function writeInt64(out: ByteSink, validity: Uint8Array | null, count: number, rows: number, min: number, max: number): EncodedValues {
  const doubles = f64Scratch(rows);
  const statistics = minMax(count, rows, min, max);
  if (count === 0 || max - min < DELTA_MAX_RANGE) {
    writeDeltaBinaryPacked(out, doubles, count);
    return { encoding: 'DELTA_BINARY_PACKED', count, validity, dictionary: null, values: out.written(), statistics };
  }
  out.reserve(count * 8);
  for (let i = 0; i < count; i++) {
    const value = doubles[i]!;
    const high = Math.floor(value / TWO_32);
    out.view.setUint32(out.offset, value - high * TWO_32, true);
    out.view.setInt32(out.offset + 4, high, true);
    out.offset += 8;
  }
  return { encoding: 'PLAIN', count, validity, dictionary: null, values: out.written(), statistics };
}

/** A column holding a bigint: PLAIN from a BigInt64Array (rare: only values beyond 2^53 arrive as bigints). */
function encodeBigInts(input: ColumnInput, out: ByteSink, validity: Uint8Array | null, count: number): EncodedValues {
  const { values, nulls, start, end } = input;
  const longs = i64Scratch(count);
  let n = 0;
  for (let row = start; row < end; row++) {
    const value = nulls !== undefined && nulls[row] === 0 ? null : values[row];
    if (isNull(value)) continue;
    longs[n++] = typeof value === 'bigint' ? value : BigInt(value as number);
  }
  let min = longs[0]!;
  let max = min;
  for (let i = 1; i < n; i++) {
    const value = longs[i]!;
    if (value < min) min = value;
    else if (value > max) max = value;
  }
  out.append(new Uint8Array(longs.buffer, 0, n * 8));
  const statistics: ChunkStatistics = { null_count: BigInt(end - start - n), min_value: min, max_value: max };
  return { encoding: 'PLAIN', count: n, validity, dictionary: null, values: out.written(), statistics };
}

function minMax(count: number, rows: number, min: number, max: number): ChunkStatistics {
  const statistics: ChunkStatistics = { null_count: BigInt(rows - count) };
  if (count > 0) {
    statistics.min_value = min;
    statistics.max_value = max;
  }
  return statistics;
}
