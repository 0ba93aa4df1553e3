/**
 * Growable typed columns: what the body decoder writes a batch into and what an open raw file gathers its rows
 * into, so a cell's values live in a few buffers (a Float64Array, UTF-8 bytes and offsets) instead of one JS value
 * each, and row groups are encoded from those buffers (TableData.typed).
 *
 * Column kinds follow TypedColumn (table.ts): numbers and timestamps in a Float64Array, int32 in an Int32Array,
 * string and json_text as UTF-8 bytes plus offsets; booleans and bytes stay JS values (no typed form takes them).
 *
 * The bytes of a utf8 column are always valid UTF-8, and equal to what the UTF-8 encoder makes of the string the
 * JS-value path held: a span copied from a body is checked, and an invalid one is decoded (each bad sequence
 * becomes U+FFFD, as `utf8Slice` does) and written again, so the file does not depend on which path filled it.
 */
import { isUtf8 } from 'node:buffer';
import type { ColumnType, TypedColumn, Utf8Column } from './table.js';

/** One column of a decoded batch: a typed column, or JS values for the kinds no typed form takes. */
export type BatchColumn = TypedColumn | { kind: 'values'; values: unknown[]; validity?: Uint8Array };

type BuilderKind = BatchColumn['kind'];

interface SliceBuffer extends Buffer {
  utf8Slice(start: number, end: number): string;
  latin1Slice(start: number, end: number): string;
  utf8Write(text: string, offset: number): number;
}

/** Which form a column of each type takes (the Parquet encoder's TYPED_KIND, plus JS values for the rest). */
export function builderKind(type: ColumnType): BuilderKind {
  switch (type) {
    case 'int32':
      return 'int32';
    case 'int64':
    case 'float':
    case 'double':
    case 'timestamp_ms':
    case 'timestamp_us':
      return 'float64';
    case 'string':
    case 'json_text':
      return 'utf8';
    default:
      return 'values';
  }
}

const EMPTY = Buffer.alloc(0) as SliceBuffer;

/** Spans shorter than this are copied by a loop (ids, keys, most order lines), longer ones natively. */
const COPY_LOOP_BYTES = 64;

export class ColumnBuilder {
  readonly kind: BuilderKind;
  /** rows held */
  rows = 0;
  f64: Float64Array;
  i32: Int32Array;
  /** utf8: bytes[0 .. byteLength) and rows + 1 offsets into them */
  bytes: SliceBuffer;
  byteLength = 0;
  offsets: Uint32Array;
  values: unknown[];
  /** 1 present, 0 null; allocated at the first null (every row before it present) */
  validity: Uint8Array | undefined;

  constructor(
    readonly type: ColumnType,
    capacity = 1024,
    /** utf8 columns: bytes to start with (a decoder that knows its rows' sizes saves the copies of growing) */
    byteCapacity?: number,
  ) {
    this.kind = builderKind(type);
    const rows = Math.max(16, capacity);
    this.f64 = this.kind === 'float64' ? new Float64Array(rows) : new Float64Array(0);
    this.i32 = this.kind === 'int32' ? new Int32Array(rows) : new Int32Array(0);
    this.offsets = this.kind === 'utf8' ? new Uint32Array(rows + 1) : new Uint32Array(1);
    this.bytes = this.kind === 'utf8' ? (Buffer.allocUnsafe(Math.max(16, byteCapacity ?? rows * 16)) as SliceBuffer) : EMPTY;
    this.values = [];
  }

  /** Room for one more row. */
  private grow(): void {
    const capacity = this.kind === 'float64' ? this.f64.length : this.kind === 'int32' ? this.i32.length : this.kind === 'utf8' ? this.offsets.length - 1 : Infinity;
    if (this.rows < capacity) {
      if (this.validity && this.rows >= this.validity.length) this.validity = grown(this.validity, this.rows + 1);
      return;
    }
    const size = capacity * 2;
    if (this.kind === 'float64') this.f64 = grown(this.f64, size);
    else if (this.kind === 'int32') this.i32 = grown(this.i32, size);
    else if (this.kind === 'utf8') this.offsets = grown(this.offsets, size + 1);
    this.validityToCapacity();
  }

  /** The validity bytes cover every row the data arrays have room for (a utf8 column's offsets may grow by one
   * more than asked, so its capacity is not always the size asked for). */
  private validityToCapacity(): void {
    const capacity = this.capacity();
    if (this.validity && this.validity.length < capacity) this.validity = grown(this.validity, capacity);
  }

  /** Room for `count` more bytes in a utf8 column. */
  private reserve(count: number): void {
    const need = this.byteLength + count;
    if (need <= this.bytes.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(need, this.bytes.length * 2)) as SliceBuffer;
    this.bytes.copy(bigger, 0, 0, this.byteLength);
    this.bytes = bigger;
  }

  private present(): void {
    if (this.validity) this.validity[this.rows] = 1;
  }

  appendNull(): void {
    this.grow();
    if (!this.validity) {
      this.validity = new Uint8Array(Math.max(this.rows + 1, this.kind === 'values' ? 16 : this.capacity()));
      this.validity.fill(1, 0, this.rows);
    }
    this.validity[this.rows] = 0;
    if (this.kind === 'float64') this.f64[this.rows] = 0;
    else if (this.kind === 'int32') this.i32[this.rows] = 0;
    else if (this.kind === 'utf8') this.offsets[this.rows + 1] = this.byteLength;
    else this.values.push(null);
    this.rows++;
  }

  private capacity(): number {
    return this.kind === 'float64' ? this.f64.length : this.kind === 'int32' ? this.i32.length : this.offsets.length - 1;
  }

  /** A float64 or int32 value (the caller knows the column's kind and the value's range). */
  appendNumber(value: number): void {
    this.grow();
    this.present();
    if (this.kind === 'float64') this.f64[this.rows++] = value;
    else this.i32[this.rows++] = value;
  }

  /** Bytes already known to be valid UTF-8. */
  appendValidUtf8(source: Uint8Array, from: number, to: number): void {
    this.grow();
    this.present();
    const length = to - from;
    this.reserve(length);
    const target = this.bytes;
    let at = this.byteLength;
    // Short spans: a loop beats the call into a native copy (and the view it needs).
    if (length < COPY_LOOP_BYTES) for (let i = from; i < to; i++) target[at++] = source[i]!;
    else {
      target.set(source.subarray(from, to), at);
      at += length;
    }
    this.byteLength = at;
    this.offsets[++this.rows] = at;
  }

  /** A string's bytes from a body: copied when valid UTF-8, else decoded (U+FFFD per bad sequence) and re-encoded. */
  appendUtf8(source: Buffer, from: number, to: number): void {
    this.grow();
    this.present();
    const length = to - from;
    this.reserve(length);
    const target = this.bytes;
    let at = this.byteLength;
    let high = 0;
    if (length < COPY_LOOP_BYTES) {
      for (let i = from; i < to; i++) high |= target[at++] = source[i]!;
    } else {
      source.copy(target, at, from, to);
      at += length;
      high = 0x80; // let isUtf8 (native) decide
    }
    if (high >= 0x80 && !isUtf8(target.subarray(this.byteLength, at))) {
      this.appendStringAt((source as SliceBuffer).utf8Slice(from, to));
      return;
    }
    this.byteLength = at;
    this.offsets[++this.rows] = at;
  }

  /**
   * A value whose bytes were written in place, at bytes[byteLength .. end), by a writer that took `bytes` (and
   * put back a grown one): checked like appendUtf8's unless the writer knows them to be valid UTF-8.
   */
  appendWritten(end: number, valid: boolean): void {
    this.grow();
    this.present();
    const from = this.byteLength;
    if (!valid && !isUtf8(this.bytes.subarray(from, end))) {
      this.appendStringAt(this.bytes.utf8Slice(from, end));
      return;
    }
    this.byteLength = end;
    this.offsets[++this.rows] = end;
  }

  /** A JS string, as UTF-8 (lone surrogates become U+FFFD, as in the encoder's own conversion). */
  appendString(value: string): void {
    this.grow();
    this.present();
    this.appendStringAt(value);
  }

  private appendStringAt(value: string): void {
    const n = value.length;
    this.reserve(n * 3);
    const target = this.bytes;
    let at = this.byteLength;
    for (let i = 0; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) {
        at += target.utf8Write(value.slice(i), at);
        break;
      }
      target[at++] = c;
    }
    this.byteLength = at;
    this.offsets[++this.rows] = at;
  }

  /**
   * A JS value as the avsc path produces it (null, a number, a string, or for 'values' columns anything). A value
   * the column's typed form cannot hold is a bug upstream (schema validation lets none through).
   */
  appendValue(value: unknown): void {
    if (value === null || value === undefined) {
      this.appendNull();
      return;
    }
    switch (this.kind) {
      case 'float64':
      case 'int32':
        if (typeof value !== 'number' || (this.kind === 'int32' && (value | 0) !== value)) throw new TypeError(`column of ${this.type} cannot hold ${typeof value} ${String(value)}`);
        this.appendNumber(value);
        return;
      case 'utf8':
        if (typeof value !== 'string') throw new TypeError(`column of ${this.type} cannot hold ${typeof value}`);
        this.appendString(value);
        return;
      default:
        this.values.push(value);
        if (this.validity) {
          if (this.rows >= this.validity.length) this.validity = grown(this.validity, this.rows * 2 + 1);
          this.validity[this.rows] = 1;
        }
        this.rows++;
    }
  }

  /** Row `row` of a batch column of the same kind (a byte copy for strings). */
  gather(from: BatchColumn, row: number): void {
    if (from.validity !== undefined && from.validity[row] === 0) {
      this.appendNull();
      return;
    }
    switch (from.kind) {
      case 'float64':
      case 'int32':
        this.appendNumber(from.values[row]!);
        return;
      case 'utf8':
        this.appendValidUtf8(from.bytes, from.offsets[row]!, from.offsets[row + 1]!);
        return;
      default:
        this.appendValue(from.values[row]);
    }
  }

  /**
   * Rows `rows[0 .. count)` of a batch column of the same kind, in that order: consecutive rows are copied as one
   * range (a typed-array copy, one byte copy for their strings and their offsets moved), which is most of a batch
   * (only duplicates, late and failed events leave gaps).
   */
  gatherRows(from: BatchColumn, rows: Int32Array, count: number): void {
    let k = 0;
    while (k < count) {
      const first = rows[k]!;
      let end = first + 1;
      k++;
      while (k < count && rows[k] === end) {
        end++;
        k++;
      }
      this.appendRange(from, first, end);
    }
  }

  /** Rows [first, end) of a batch column of the same kind. */
  appendRange(from: BatchColumn, first: number, end: number): void {
    const n = end - first;
    if (n <= 0) return;
    if (from.kind === 'values') {
      for (let row = first; row < end; row++) this.gather(from, row);
      return;
    }
    this.ensureRows(n);
    const at = this.rows;
    if (from.validity !== undefined || this.validity !== undefined) {
      if (!this.validity) {
        this.validity = new Uint8Array(this.capacity());
        this.validity.fill(1, 0, at);
      }
      if (from.validity !== undefined) this.validity.set(from.validity.subarray(first, end), at);
      else this.validity.fill(1, at, at + n);
    }
    if (from.kind === 'utf8') {
      const base = from.offsets[first]!;
      const length = from.offsets[end]! - base;
      this.reserve(length);
      const shift = this.byteLength - base;
      this.bytes.set(from.bytes.subarray(base, base + length), this.byteLength);
      const offsets = this.offsets;
      const source = from.offsets;
      for (let row = first + 1; row <= end; row++) offsets[at + row - first] = source[row]! + shift;
      this.byteLength += length;
    } else if (from.kind === 'float64') {
      this.f64.set(from.values.subarray(first, end), at);
    } else {
      this.i32.set(from.values.subarray(first, end), at);
    }
    this.rows += n;
  }

  /** The same UTF-8 bytes `count` times (a constant column such as the partition id). */
  appendRepeated(value: Uint8Array, count: number): void {
    for (let i = 0; i < count; i++) this.appendValidUtf8(value, 0, value.length);
  }

  /** Room for `n` more rows in a typed column. */
  private ensureRows(n: number): void {
    const need = this.rows + n;
    let capacity = this.capacity();
    if (need > capacity) {
      while (capacity < need) capacity *= 2;
      if (this.kind === 'float64') this.f64 = grown(this.f64, capacity);
      else if (this.kind === 'int32') this.i32 = grown(this.i32, capacity);
      else if (this.kind === 'utf8') this.offsets = grown(this.offsets, capacity + 1);
    }
    this.validityToCapacity();
  }

  /** Drops the rows from `rows` on (a body that failed half-way through its columns). */
  truncate(rows: number): void {
    if (rows >= this.rows) return;
    this.rows = rows;
    if (this.kind === 'utf8') this.byteLength = this.offsets[rows]!;
    else if (this.kind === 'values') this.values.length = rows;
  }

  /** Row `row` as the JS value the avsc path has for it (see valueAt). */
  valueAt(row: number): unknown {
    if (this.validity !== undefined && this.validity[row] === 0) return null;
    switch (this.kind) {
      case 'float64':
        return this.f64[row]!;
      case 'int32':
        return this.i32[row]!;
      case 'utf8':
        return this.bytes.utf8Slice(this.offsets[row]!, this.offsets[row + 1]!);
      default:
        return this.values[row] ?? null;
    }
  }

  /** The rows so far, as views of the buffers (valid until the next append). */
  column(): BatchColumn {
    const rows = this.rows;
    const validity = this.validity ? { validity: this.validity.subarray(0, rows) } : {};
    switch (this.kind) {
      case 'float64':
        return { kind: 'float64', values: this.f64.subarray(0, rows), ...validity };
      case 'int32':
        return { kind: 'int32', values: this.i32.subarray(0, rows), ...validity };
      case 'utf8':
        return { kind: 'utf8', bytes: this.bytes.subarray(0, this.byteLength), offsets: this.offsets.subarray(0, rows + 1), ...validity };
      default:
        return { kind: 'values', values: this.values.length === rows ? this.values : this.values.slice(0, rows), ...validity };
    }
  }
}

/** A copy of `array` in a larger one of its kind (at least `size`, else twice its length). */
export function grown<T extends Float64Array | Int32Array | Uint32Array | Uint8Array>(array: T, size: number): T {
  const bigger = new (array.constructor as new (n: number) => T)(Math.max(size, array.length * 2));
  bigger.set(array);
  return bigger;
}

/** Row `row` of a batch column as the JS value the avsc path has for it (strings decoded, nulls as null). */
export function valueAt(column: BatchColumn, row: number): unknown {
  if (column.validity !== undefined && column.validity[row] === 0) return null;
  switch (column.kind) {
    case 'float64':
    case 'int32':
      return column.values[row]!;
    case 'utf8':
      return stringAt(column, row);
    default:
      return column.values[row] ?? null;
  }
}

/** Row `row` of a utf8 column as a string, or null. */
export function stringOrNullAt(column: Utf8Column, row: number): string | null {
  return column.validity !== undefined && column.validity[row] === 0 ? null : stringAt(column, row);
}

/** Strings (or nulls) as a utf8 column. */
export function utf8ColumnOf(values: ReadonlyArray<string | null>): Utf8Column {
  const builder = new ColumnBuilder('string', Math.max(1, values.length));
  for (const value of values) {
    if (value === null) builder.appendNull();
    else builder.appendString(value);
  }
  return builder.column() as Utf8Column;
}

/** Row `row` of a utf8 column as a string. */
export function stringAt(column: Utf8Column, row: number): string {
  const bytes = column.bytes as SliceBuffer;
  const from = column.offsets[row]!;
  const to = column.offsets[row + 1]!;
  if (typeof bytes.utf8Slice === 'function') return bytes.utf8Slice(from, to);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8', from, to);
}

/** Every row of a batch column as JS values (tests, benchmarks, and the columns aggregators read). */
export function columnValues(column: BatchColumn): unknown[] {
  const rows = column.kind === 'utf8' ? column.offsets.length - 1 : column.values.length;
  const out = new Array<unknown>(rows);
  for (let row = 0; row < rows; row++) out[row] = valueAt(column, row);
  return out;
}

/** Rows in a batch column. */
export function batchLength(column: BatchColumn): number {
  return column.kind === 'utf8' ? Math.max(0, column.offsets.length - 1) : column.values.length;
}
