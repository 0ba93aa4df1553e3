/**
 * A utf8 batch column's rows as JS strings, one string per distinct value: the columns aggregators group by
 * (channel, currency, region...) repeat a few values over and over, so decoding every row (a native call and a
 * fresh string, hashed again by every Map lookup) is what grouping costs. Rows are hashed from their bytes and
 * looked up in a table of the values seen; a value seen before comes back as the very same string (whose hash
 * V8 has cached), a new one is decoded once.
 *
 * It is a cache: bounded (the table starts again past `limit` values) and off for a column whose values rarely
 * repeat (ids), where it would only add work: when most of a batch's rows are new, the next batches are decoded
 * plainly, and the table is tried again every PROBE_EVERY batches.
 */
import type { Utf8Column } from './table.js';

interface SliceBuffer extends Uint8Array {
  utf8Slice(start: number, end: number): string;
}

const DEFAULT_LIMIT = 1 << 14;
const PROBE_EVERY = 16;

export class Utf8Interner {
  /** open addressing: slot -> entry + 1 (0 = empty) */
  private slots = new Int32Array(256);
  private hashes: number[] = [];
  private strings: string[] = [];
  private starts: number[] = [];
  private lengths: number[] = [];
  /** the bytes of every value held, back to back */
  private arena = Buffer.alloc(4096);
  private arenaLength = 0;
  private plainBatches = 0;

  constructor(private readonly limit = DEFAULT_LIMIT) {}

  /** The column's rows as strings (null where the row is null), into an array of its length. */
  values(column: Utf8Column): Array<string | null> {
    const rows = column.offsets.length - 1;
    const out = new Array<string | null>(rows);
    const bytes = sliceable(column.bytes);
    const { offsets, validity } = column;
    if (this.plainBatches > 0 && this.plainBatches++ % PROBE_EVERY !== 0) {
      for (let row = 0; row < rows; row++) out[row] = validity !== undefined && validity[row] === 0 ? null : bytes.utf8Slice(offsets[row]!, offsets[row + 1]!);
      return out;
    }
    let added = 0;
    for (let row = 0; row < rows; row++) {
      if (validity !== undefined && validity[row] === 0) {
        out[row] = null;
        continue;
      }
      const from = offsets[row]!;
      const to = offsets[row + 1]!;
      const before = this.strings.length;
      out[row] = this.intern(bytes, from, to);
      if (this.strings.length > before) added++;
    }
    // mostly new values: decode plainly for a while (the first call after that probes again)
    this.plainBatches = rows >= 64 && added * 2 > rows ? 1 : 0;
    return out;
  }

  private intern(bytes: SliceBuffer, from: number, to: number): string {
    let hash = 0x811c9dc5;
    for (let p = from; p < to; p++) hash = Math.imul(hash ^ bytes[p]!, 0x01000193);
    const slots = this.slots;
    const mask = slots.length - 1;
    const length = to - from;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = slots[slot]! - 1;
      if (entry < 0) break;
      if (this.hashes[entry] === hash && this.lengths[entry] === length && this.sameBytes(entry, bytes, from, length)) return this.strings[entry]!;
    }
    const text = bytes.utf8Slice(from, to);
    if (this.strings.length >= this.limit) this.clear();
    this.add(hash, text, bytes, from, length);
    return text;
  }

  private sameBytes(entry: number, bytes: Uint8Array, from: number, length: number): boolean {
    const arena = this.arena;
    const start = this.starts[entry]!;
    for (let k = 0; k < length; k++) if (arena[start + k] !== bytes[from + k]) return false;
    return true;
  }

  private add(hash: number, text: string, bytes: Uint8Array, from: number, length: number): void {
    if (this.arenaLength + length > this.arena.length) {
      const bigger = Buffer.alloc(Math.max(this.arena.length * 2, this.arenaLength + length));
      bigger.set(this.arena.subarray(0, this.arenaLength));
      this.arena = bigger;
    }
    this.arena.set(bytes.subarray(from, from + length), this.arenaLength);
    const entry = this.strings.length;
    this.hashes.push(hash);
    this.strings.push(text);
    this.starts.push(this.arenaLength);
    this.lengths.push(length);
    this.arenaLength += length;
    if ((entry + 1) * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    else this.place(entry);
  }

  private place(entry: number): void {
    const slots = this.slots;
    const mask = slots.length - 1;
    let slot = this.hashes[entry]! & mask;
    while (slots[slot] !== 0) slot = (slot + 1) & mask;
    slots[slot] = entry + 1;
  }

  private rehash(size: number): void {
    this.slots = new Int32Array(size);
    for (let entry = 0; entry < this.strings.length; entry++) this.place(entry);
  }

  private clear(): void {
    this.slots = new Int32Array(256);
    this.hashes = [];
    this.strings = [];
    this.starts = [];
    this.lengths = [];
    this.arenaLength = 0;
  }
}

function sliceable(bytes: Uint8Array): SliceBuffer {
  const buffer = bytes as SliceBuffer;
  return typeof buffer.utf8Slice === 'function' ? buffer : (Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) as unknown as SliceBuffer);
}
