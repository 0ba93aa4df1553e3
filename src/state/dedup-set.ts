/**
 * The dedup set of a partition's event-time gate: event id -> event time of its first acceptance, kept as
 * fixed-size entries in typed arrays instead of a Map of strings. An id is stored as a 64-bit hash (two 32-bit
 * halves), its time as a float64: 16 bytes per entry, in an open-addressing table (linear probing) that is kept
 * between 53% and 80% full, so 20 to 30 bytes per id in memory and exactly 16 in a snapshot.
 *
 * Why a hash is enough: two different ids share an entry only when their 64-bit hashes are equal. For n ids
 * alive at once (inside the dedup retention) the chance that any two collide is at most n^2 / 2^65: for ten
 * million live ids about 3 in a million, per retention window. A collision makes the later event look like a
 * redelivery, so it is the one way this set can drop an event; the bound above is why we accept it. The hash is
 * not cryptographic: ids are producer data, and a producer able to choose ids that collide on purpose could
 * hide its own later events (not anyone else's that it cannot predict).
 *
 * Ids are hashed as UTF-16 code units, so every string (including text such as "#NaN") is just its characters.
 */

/** 64-bit hash of a string as [high, low] 32-bit halves: two murmur3-style lanes with a final cross mix. */
export function hash64(text: string): [number, number] {
  hashInto(text);
  return [hashHi, hashLo];
}

// The last hash, returned through module variables so the per-event path allocates nothing.
let hashHi = 0;
let hashLo = 0;

function hashInto(text: string): void {
  let h1 = 0x9e3779b9 ^ text.length;
  let h2 = 0x85ebca6b ^ Math.imul(text.length, 0xcc9e2d51);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x9e3779b1);
    h1 = (h1 << 13) | (h1 >>> 19);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 = (h2 << 15) | (h2 >>> 17);
    h2 = (h2 + h1) | 0;
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 0x85ebca6b) ^ Math.imul(h2 ^ (h2 >>> 13), 0xc2b2ae35);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 0x27d4eb2f) ^ Math.imul(h1 ^ (h1 >>> 15), 0x165667b1);
  h1 ^= h1 >>> 16;
  h2 ^= h2 >>> 16;
  hashHi = h1 >>> 0;
  hashLo = h2 >>> 0;
}

/** The set as stored in a snapshot: one entry per id, parallel arrays (16 bytes per id). */
export interface DedupEntries {
  /** high and low 32-bit halves of each id's hash, interleaved: [hi0, lo0, hi1, lo1, ...] */
  hashes: Uint32Array;
  times: Float64Array;
}

const MAX_LOAD = 0.8;
const GROWTH = 1.5;
const MIN_CAPACITY = 16;

export class DedupSet {
  private hashes: Uint32Array;
  private times: Float64Array;
  private capacity: number;
  private count = 0;

  constructor(expected = 0) {
    this.capacity = capacityFor(expected);
    this.hashes = new Uint32Array(this.capacity * 2);
    this.times = new Float64Array(this.capacity);
  }

  get size(): number {
    return this.count;
  }

  /** bytes held by the table */
  get byteLength(): number {
    return this.hashes.byteLength + this.times.byteLength;
  }

  /** The time stored for this id, or undefined. */
  get(id: string): number | undefined {
    hashInto(id);
    const slot = this.find(hashHi, hashLo);
    return this.isEmpty(slot) ? undefined : this.times[slot];
  }

  /** Stores (or replaces) the time of this id. */
  set(id: string, time: number): void {
    hashInto(id);
    this.setHash(hashHi, hashLo, time);
  }

  /** Keeps only the entries whose time is at or after `horizon` (rebuilds the table at its ideal size). */
  retainFrom(horizon: number): void {
    let kept = 0;
    for (let slot = 0; slot < this.capacity; slot++) if (!this.isEmpty(slot) && this.times[slot]! >= horizon) kept++;
    if (kept === this.count) return;
    const old = { hashes: this.hashes, times: this.times, capacity: this.capacity };
    this.reset(kept);
    for (let slot = 0; slot < old.capacity; slot++) {
      const hi = old.hashes[slot * 2]!;
      const lo = old.hashes[slot * 2 + 1]!;
      if ((hi | lo) !== 0 && old.times[slot]! >= horizon) this.setHash(hi, lo, old.times[slot]!);
    }
  }

  /** The live entries in ascending hash order, so equal sets give equal snapshots whatever their history. */
  entries(): DedupEntries {
    const order: number[] = [];
    for (let slot = 0; slot < this.capacity; slot++) if (!this.isEmpty(slot)) order.push(slot);
    order.sort((a, b) => this.hashes[a * 2]! - this.hashes[b * 2]! || this.hashes[a * 2 + 1]! - this.hashes[b * 2 + 1]!);
    const hashes = new Uint32Array(order.length * 2);
    const times = new Float64Array(order.length);
    order.forEach((slot, i) => {
      hashes[i * 2] = this.hashes[slot * 2]!;
      hashes[i * 2 + 1] = this.hashes[slot * 2 + 1]!;
      times[i] = this.times[slot]!;
    });
    return { hashes, times };
  }

  static from(entries: DedupEntries): DedupSet {
    if (entries.hashes.length !== entries.times.length * 2) {
      throw new RangeError(`dedup entries: ${entries.hashes.length} hash words for ${entries.times.length} times (expected two per time)`);
    }
    const set = new DedupSet(entries.times.length);
    for (let i = 0; i < entries.times.length; i++) set.setHash(entries.hashes[i * 2]!, entries.hashes[i * 2 + 1]!, entries.times[i]!);
    return set;
  }

  private setHash(hiIn: number, loIn: number, time: number): void {
    // (0, 0) marks an empty slot; the one hash equal to it shares the entry of (0, 1).
    const hi = hiIn;
    const lo = (hiIn | loIn) === 0 ? 1 : loIn;
    let slot = this.find(hi, lo);
    if (this.isEmpty(slot)) {
      if (this.count + 1 > this.capacity * MAX_LOAD) {
        this.grow();
        slot = this.find(hi, lo);
      }
      this.hashes[slot * 2] = hi;
      this.hashes[slot * 2 + 1] = lo;
      this.count++;
    }
    this.times[slot] = time;
  }

  /** The slot holding this hash, or the empty slot where it would go. */
  private find(hi: number, loIn: number): number {
    const lo = (hi | loIn) === 0 ? 1 : loIn;
    // Range reduction by multiplication (no power-of-two capacity needed); `hi` picks the slot, both halves match.
    let slot = Math.floor((hi / 0x1_0000_0000) * this.capacity);
    for (;;) {
      const h = this.hashes[slot * 2]!;
      const l = this.hashes[slot * 2 + 1]!;
      if ((h | l) === 0 || (h === hi && l === lo)) return slot;
      slot = slot + 1 === this.capacity ? 0 : slot + 1;
    }
  }

  private isEmpty(slot: number): boolean {
    return (this.hashes[slot * 2]! | this.hashes[slot * 2 + 1]!) === 0;
  }

  private grow(): void {
    const old = { hashes: this.hashes, times: this.times, capacity: this.capacity };
    const count = this.count;
    this.capacity = Math.max(MIN_CAPACITY, Math.ceil(old.capacity * GROWTH));
    this.hashes = new Uint32Array(this.capacity * 2);
    this.times = new Float64Array(this.capacity);
    this.count = 0;
    for (let slot = 0; slot < old.capacity; slot++) {
      const hi = old.hashes[slot * 2]!;
      const lo = old.hashes[slot * 2 + 1]!;
      if ((hi | lo) !== 0) this.setHash(hi, lo, old.times[slot]!);
    }
    if (this.count !== count) throw new Error(`dedup set lost entries while growing (${count} -> ${this.count})`);
  }

  private reset(expected: number): void {
    this.capacity = capacityFor(expected);
    this.hashes = new Uint32Array(this.capacity * 2);
    this.times = new Float64Array(this.capacity);
    this.count = 0;
  }
}

/** A table for `n` entries filled to about 53%, the fill just after growing, so it can take half as many again. */
function capacityFor(n: number): number {
  return Math.max(MIN_CAPACITY, Math.ceil(n / (MAX_LOAD / GROWTH)));
}
