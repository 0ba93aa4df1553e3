/**
 * The dedup set of a partition's event-time gate: event id -> event time of its latest acceptance, kept as
 * fixed-size entries in typed arrays instead of a Map of strings.
 *
 * Layout: a log of acceptances in the order they happened (each entry a 64-bit hash of the id as two 32-bit
 * halves plus its event time as a float64: 16 bytes), and an open-addressing index over it (linear probing,
 * 4 bytes per slot, 53-80% full) that points each id at its newest entry. About 22-30 bytes per id in memory,
 * exactly 16 in a snapshot.
 *
 * Why a log: retention by count needs an order to evict in, and snapshots need "what was added since the last
 * one". Acceptance order gives both: every acceptance has a number (its `seq`, counted from the partition's first
 * acceptance), the set remembers at most the `maxIds` most recent acceptances (older ones are evicted first, one
 * per new acceptance, so the rule is a pure function of the events and a replay decides exactly as the first run
 * did), and the entries added since a snapshot are the log's tail from the seq that snapshot ended at.
 *
 * An id accepted again (its earlier entry had fallen behind the time retention) gets a new entry; the old one
 * stays in the log, superseded, until eviction reaches it. It counts towards `maxIds` like any acceptance.
 *
 * Why a hash is enough: two different ids share an entry only when their 64-bit hashes are equal. For n ids
 * alive at once the chance that any two collide is at most n^2 / 2^65: for ten million live ids about 3 in a
 * million, per retention window. A collision makes the later event look like a redelivery, so it is the one way
 * this set can drop an event; the bound above is why we accept it. The hash is not cryptographic: ids are
 * producer data, and a producer able to choose ids that collide on purpose could hide its own later events (not
 * anyone else's that it cannot predict).
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

// One hash, two inputs: a string's UTF-16 code units, or UTF-8 bytes that are all ASCII (the same units). The
// steps below are shared so that the two loops cannot drift apart.
const firstLane = (length: number): number => 0x9e3779b9 ^ length;
const secondLane = (length: number): number => 0x85ebca6b ^ Math.imul(length, 0xcc9e2d51);
function stepFirst(h1: number, unit: number): number {
  const h = Math.imul(h1 ^ unit, 0x9e3779b1);
  return (h << 13) | (h >>> 19);
}
function stepSecond(h2: number, h1: number, unit: number): number {
  const h = Math.imul(h2 ^ unit, 0x5bd1e995);
  return (((h << 15) | (h >>> 17)) + h1) | 0;
}
function finish(h1: number, h2: number): void {
  h1 = Math.imul(h1 ^ (h1 >>> 16), 0x85ebca6b) ^ Math.imul(h2 ^ (h2 >>> 13), 0xc2b2ae35);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 0x27d4eb2f) ^ Math.imul(h1 ^ (h1 >>> 15), 0x165667b1);
  h1 ^= h1 >>> 16;
  h2 ^= h2 >>> 16;
  hashHi = h1 >>> 0;
  hashLo = h2 >>> 0;
}

function hashInto(text: string): void {
  let h1 = firstLane(text.length);
  let h2 = secondLane(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = stepFirst(h1, c);
    h2 = stepSecond(h2, h1, c);
  }
  finish(h1, h2);
}

/**
 * `hashInto` of the text of UTF-8 bytes [start, end) without making the string, when every byte is ASCII (a byte
 * is then a code unit); false, with nothing hashed, at the first byte that is not (the caller decodes those).
 */
function hashAsciiInto(bytes: Uint8Array, start: number, end: number): boolean {
  let h1 = firstLane(end - start);
  let h2 = secondLane(end - start);
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    if (c >= 0x80) return false;
    h1 = stepFirst(h1, c);
    h2 = stepSecond(h2, h1, c);
  }
  finish(h1, h2);
  return true;
}

/**
 * A stretch of the log as stored in a snapshot: the acceptances numbered `first`, `first + 1`, ... in order,
 * as parallel arrays (16 bytes per entry).
 */
export interface DedupEntries {
  /** the seq of entry 0 (the number of acceptances before it) */
  first: number;
  /** high and low 32-bit halves of each entry's hash, interleaved: [hi0, lo0, hi1, lo1, ...] */
  hashes: Uint32Array;
  times: Float64Array;
}

/** The most ids a set may be asked to keep (its arrays stay well inside what typed arrays allow). */
export const MAX_DEDUP_IDS = 1_000_000_000;

const MAX_LOAD = 0.8;
const GROWTH = 1.5;
const MIN_CAPACITY = 16;

export class DedupSet {
  // The log: entries [head, tail) of these arrays are live; entry i has seq `base + i`.
  private hashes: Uint32Array;
  private times: Float64Array;
  private head = 0;
  private tail = 0;
  private base = 0;
  // The index: slot -> log entry + 1 (0 = empty), one slot per distinct live id.
  private index: Uint32Array;
  private indexed = 0;
  /** the hash of the id of the last `get` */
  private lastHi = 0;
  private lastLo = 0;

  constructor(readonly maxIds: number = MAX_DEDUP_IDS, expected = 0) {
    if (!Number.isInteger(maxIds) || maxIds < 1 || maxIds > MAX_DEDUP_IDS) {
      throw new RangeError(`dedup set: maxIds ${maxIds} is not a whole number from 1 to ${MAX_DEDUP_IDS}`);
    }
    const capacity = logCapacityFor(Math.min(expected, maxIds));
    this.hashes = new Uint32Array(capacity * 2);
    this.times = new Float64Array(capacity);
    this.index = new Uint32Array(indexCapacityFor(0));
  }

  /** live log entries (superseded ones included) */
  get size(): number {
    return this.tail - this.head;
  }

  /** acceptances so far: the seq the next one gets */
  get end(): number {
    return this.base + this.tail;
  }

  /** the seq of the oldest live entry */
  get first(): number {
    return this.base + this.head;
  }

  /** bytes held by the log and the index */
  get byteLength(): number {
    return this.hashes.byteLength + this.times.byteLength + this.index.byteLength;
  }

  /** The time of this id's newest live entry, or undefined. */
  get(id: string): number | undefined {
    hashInto(id);
    return this.lookUpLastHash();
  }

  /**
   * `get` of the id whose UTF-8 bytes are `bytes[start, end)` (the same id, hence the same hash, as the string
   * they decode to): ASCII ids are hashed from their bytes, others decoded first.
   */
  getUtf8(bytes: Uint8Array, start: number, end: number): number | undefined {
    if (!hashAsciiInto(bytes, start, end)) hashInto(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8', start, end));
    return this.lookUpLastHash();
  }

  /** The time of the newest live entry of the hash just computed (kept for `addLastLookedUp`), or undefined. */
  private lookUpLastHash(): number | undefined {
    this.lastHi = hashHi;
    this.lastLo = hashLo;
    const entry = this.index[this.find(hashHi, hashLo)]!;
    return entry === 0 ? undefined : this.times[entry - 1];
  }

  /** Records an acceptance of this id at `time`; past `maxIds` live entries the oldest is evicted. */
  add(id: string, time: number): void {
    hashInto(id);
    this.addHash(hashHi, hashLo, time);
  }

  /** `add` for the id of the last `get` (the gate's look-then-accept), without hashing it again. */
  addLastLookedUp(time: number): void {
    this.addHash(this.lastHi, this.lastLo, time);
  }

  private addHash(hi: number, lo: number, time: number): void {
    this.append(hi, lo, time);
    if (this.tail - this.head > this.maxIds) this.evictHead();
  }

  /**
   * Evicts entries from the oldest on while their time is before `horizon`. It stops at the first entry still
   * inside: acceptance order is event-time order only up to the out-of-orderness, so a few expired entries may
   * wait behind it (the gate ignores them by their time, so verdicts never depend on when this ran).
   */
  evictBefore(horizon: number): void {
    while (this.head < this.tail && this.times[this.head]! < horizon) this.evictHead();
  }

  /**
   * The live entries, oldest first. The arrays are views of the log, valid until the next `add`: a snapshot is
   * encoded (or copied) before the partition admits more events, so the commit path copies nothing.
   */
  entries(): DedupEntries {
    return { first: this.first, hashes: this.hashes.subarray(this.head * 2, this.tail * 2), times: this.times.subarray(this.head, this.tail) };
  }

  static from(entries: DedupEntries, maxIds: number = MAX_DEDUP_IDS): DedupSet {
    if (entries.hashes.length !== entries.times.length * 2) {
      throw new RangeError(`dedup entries: ${entries.hashes.length} hash words for ${entries.times.length} times (expected two per time)`);
    }
    if (!Number.isSafeInteger(entries.first) || entries.first < 0) throw new RangeError(`dedup entries: first ${entries.first} is not a seq`);
    const set = new DedupSet(maxIds, entries.times.length);
    set.base = entries.first;
    for (let i = 0; i < entries.times.length; i++) set.append(entries.hashes[i * 2]!, entries.hashes[i * 2 + 1]!, entries.times[i]!);
    // A snapshot taken under a larger maxIds: keep its newest entries, as the count rule would have.
    while (set.tail - set.head > maxIds) set.evictHead();
    return set;
  }

  private append(hi: number, lo: number, time: number): void {
    if (this.tail === this.times.length) this.makeRoom();
    const entry = this.tail++;
    this.hashes[entry * 2] = hi;
    this.hashes[entry * 2 + 1] = lo;
    this.times[entry] = time;
    const slot = this.find(hi, lo);
    if (this.index[slot] === 0) {
      this.indexed++;
      if (this.indexed > this.index.length * MAX_LOAD) {
        this.rebuildIndex();
        return;
      }
    }
    this.index[slot] = entry + 1;
  }

  private evictHead(): void {
    const entry = this.head++;
    const slot = this.find(this.hashes[entry * 2]!, this.hashes[entry * 2 + 1]!);
    // Only the id's newest entry is indexed; a superseded one leaves the index alone.
    if (this.index[slot] === entry + 1) this.removeSlot(slot);
    if (this.head === this.tail) {
      // Empty: restart at the front so the arrays are reused rather than grown.
      this.base += this.head;
      this.head = 0;
      this.tail = 0;
    }
  }

  /** The slot indexing this hash, or the empty slot where it would go. */
  private find(hi: number, lo: number): number {
    const capacity = this.index.length;
    // Range reduction by multiplication (no power-of-two capacity needed); `hi` picks the slot, both halves match.
    let slot = Math.floor((hi / 0x1_0000_0000) * capacity);
    for (;;) {
      const entry = this.index[slot]!;
      if (entry === 0 || (this.hashes[(entry - 1) * 2] === hi && this.hashes[(entry - 1) * 2 + 1] === lo)) return slot;
      slot = slot + 1 === capacity ? 0 : slot + 1;
    }
  }

  private homeOf(entry: number): number {
    return Math.floor((this.hashes[entry * 2]! / 0x1_0000_0000) * this.index.length);
  }

  /** Backward-shift deletion: moves later members of the probe run up, so lookups need no tombstones. */
  private removeSlot(hole: number): void {
    const capacity = this.index.length;
    let i = hole;
    let j = hole;
    for (;;) {
      j = j + 1 === capacity ? 0 : j + 1;
      const entry = this.index[j]!;
      if (entry === 0) break;
      const home = this.homeOf(entry - 1);
      // The entry at j may move to i unless its home lies cyclically in (i, j].
      const stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (stays) continue;
      this.index[i] = entry;
      i = j;
    }
    this.index[i] = 0;
    this.indexed--;
  }

  /**
   * The log's end is reached: slide the live entries to the front (after at least a third of the log's length in
   * appends, so amortised O(1)), into new arrays when they would be too full or far too empty.
   */
  private makeRoom(): void {
    const live = this.tail - this.head;
    // At the count bound the log holds at most maxIds: a quarter more room slides it every maxIds / 4 appends.
    const target = Math.min(logCapacityFor(live + 1), Math.ceil(this.maxIds * 1.25) + MIN_CAPACITY);
    const capacity = target > this.times.length || target * 3 < this.times.length ? target : this.times.length;
    if (capacity === this.times.length) {
      this.hashes.copyWithin(0, this.head * 2, this.tail * 2);
      this.times.copyWithin(0, this.head, this.tail);
    } else {
      const hashes = new Uint32Array(capacity * 2);
      const times = new Float64Array(capacity);
      hashes.set(this.hashes.subarray(this.head * 2, this.tail * 2));
      times.set(this.times.subarray(this.head, this.tail));
      this.hashes = hashes;
      this.times = times;
    }
    this.base += this.head;
    this.head = 0;
    this.tail = live;
    this.rebuildIndex();
  }

  /** A new index sized for the live ids; later entries of an id replace earlier ones. */
  private rebuildIndex(): void {
    let distinct = 0;
    this.index = new Uint32Array(indexCapacityFor(this.tail - this.head));
    for (let entry = this.head; entry < this.tail; entry++) {
      const slot = this.find(this.hashes[entry * 2]!, this.hashes[entry * 2 + 1]!);
      if (this.index[slot] === 0) distinct++;
      this.index[slot] = entry + 1;
    }
    this.indexed = distinct;
  }
}

/** A log for `n` entries with room for half as many again before it must move. */
function logCapacityFor(n: number): number {
  return Math.max(MIN_CAPACITY, Math.ceil(n * GROWTH));
}

/** An index for `n` ids filled to about 53%, the fill just after growing, so it can take half as many again. */
function indexCapacityFor(n: number): number {
  return Math.max(MIN_CAPACITY, Math.ceil(n / (MAX_LOAD / GROWTH)));
}
