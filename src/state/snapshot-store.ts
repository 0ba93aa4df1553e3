/**
 * The history of a partition's state snapshots: one per committed cell boundary, named by its position
 * (`snapshots/<stream>/partition=<p>/pos<16 digits>.snap`), so a replay can start at any retained boundary with
 * the state of that moment. The processor calls it twice: on restore (`latestAtOrBefore`) and on commit (`write`).
 * Retention keeps the newest `count` snapshots that are younger than `age` (by the time they were written); the
 * newest one, the one a plain restart needs, is never deleted.
 *
 * Incremental: the dedup set is most of a partition's state and changes only at its ends (new acceptances at the
 * tail, evictions at the head; see dedup-set.ts), so a snapshot does not carry it. Each `pos….snap` is a manifest
 * (the rest of the state, small) naming a chain of dedup segments (`seg<16 digits>-<epoch>.dseg`, named by the
 * position of the snapshot that wrote them and the writer's fencing epoch), whose entries together are the set. A write stores the entries added since the
 * previous snapshot this process wrote as one new segment (the first write after a restore stores them all), then
 * the manifest. A partition's lane sends only those entries (`liveFirst` says where the live ones start), so what
 * crosses the thread boundary follows what changed too; a compaction then reads the chain's live segments back, and
 * a chain no longer there as this process wrote it fails the partition (its restart writes whole). A crash
 * between the segment and the manifest leaves the previous manifest and its chain untouched, and the orphan segment is overwritten by the next write at that position or deleted by
 * the retention. Segments whose entries have all been evicted drop out of the next manifest's chain. The chain is
 * compacted (the live entries written as one segment) when it grows past `maxSegments` or when more than half of
 * what it stores has been evicted, so a restore reads a bounded number of objects and storage stays within twice
 * the live set (plus `slack` entries) per retained manifest.
 *
 * Two owners of a partition (a new one and a previous one not yet fenced off) may both write: segment names carry
 * the writer's epoch so neither replaces the other's, and a write builds on its last chain only after a listing
 * shows that chain's manifest and segments still there as it wrote them (else it writes whole). What remains is
 * the window between that listing and the manifest put, in which only such a previous owner's retention could
 * delete a segment the manifest names; a restore then passes over that manifest to the newest intact one before it
 * (older state is still right: the source re-reads from its position and rewrites the same files).
 *
 * A manifest names only segments written at or before its own position, so a reset that deletes the snapshots
 * after a position may delete the segments after it too, and every retained manifest stays readable. A segment is
 * deleted once no retained manifest names it (the names are kept in the manifest's metadata, so the retention needs
 * a listing only).
 */
import type { Fence, ObjectInfo, ObjectStore, StoreCallOptions } from '../core/object-store.js';
import { TributaryError } from '../core/errors.js';
import {
  decodeManifest, decodeSegment, encodeSegment, encodeSnapshot, type PartitionSnapshot, type SegmentRef, type StoredSnapshot,
} from '../aggregate/snapshot.js';
import { legacySnapshotKey, snapshotKey, snapshotPosition, snapshotPrefix } from '../sink/lake-layout.js';
import type { DedupEntries } from './dedup-set.js';

export interface SnapshotRetention {
  /** at most this many snapshots per partition */
  count: number;
  /** snapshots written longer ago than this are deleted (ms) */
  ageMs: number;
}

export const DEFAULT_SNAPSHOT_RETENTION: SnapshotRetention = { count: 48, ageMs: 7 * 86_400_000 };

export interface SnapshotRef {
  key: string;
  position: number;
  /** when it was written (epoch ms), if the store kept it */
  writtenAtMs: number | undefined;
  /** the manifest's bytes (its dedup segments are separate objects) */
  bytes: number;
}

/** Bounds on a chain of dedup segments; past either, the next write compacts it into one segment. */
export interface ChainLimits {
  /** segments a manifest may name */
  maxSegments: number;
  /** stored entries may exceed twice the live ones by this many (no rewrite for tiny sets) */
  slack: number;
}

/**
 * 32 segments: with the default dedupMaxIds (2 M) and rowsPerFile (200 k) the set spans at most 10 cells, so a
 * chain never reaches it in steady state and every snapshot writes only what was added; a retention spanning
 * more cells than this costs a whole rewrite every 32 snapshots.
 */
export const DEFAULT_CHAIN_LIMITS: ChainLimits = { maxSegments: 32, slack: 65_536 };

const WRITTEN_AT = 'writtenat';
/** manifest metadata: the positions of the segments it names, comma-separated ("none" for no segment) */
const SEGMENTS = 'segments';

/** What this process last wrote for a partition: the chain the next write builds on. */
interface Chain {
  position: number;
  first: number;
  end: number;
  segments: SegmentRef[];
  /** the last entry (hash words and time), to check that the next snapshot continues this one */
  last: [number, number, number] | undefined;
}

/**
 * A segment's key: the position of the snapshot that wrote it, zero-padded like the manifests, and the writer's
 * epoch. Two owners of a partition (a previous one not yet fenced off) may write at the same position, each
 * deciding its own chain: with the epoch in the name neither replaces a segment the other's manifests name.
 */
export function segmentKey(stream: string, partition: string, ref: Pick<SegmentRef, 'position' | 'epoch'>): string {
  return `${snapshotPrefix(stream, partition)}seg${String(ref.position).padStart(16, '0')}-${ref.epoch}.dseg`;
}

/** The position and epoch a segment key names, as the manifests' metadata lists them ("<position>-<epoch>"). */
function segmentName(key: string): { position: number; name: string } | undefined {
  const match = /\/seg(\d{16})-(\d+)\.dseg$/.exec(key);
  return match ? { position: Number(match[1]), name: `${Number(match[1])}-${match[2]}` } : undefined;
}

/** errors of manifests whose chain lost a segment: a restore falls back to an older snapshot */
const missingSegments = new WeakSet<object>();

export class SnapshotStore {
  private readonly chains = new Map<string, Chain>();

  constructor(
    private readonly store: ObjectStore,
    private readonly retention: SnapshotRetention = DEFAULT_SNAPSHOT_RETENTION,
    private readonly now: () => number = Date.now,
    private readonly limits: ChainLimits = DEFAULT_CHAIN_LIMITS,
  ) {}

  get location(): string {
    return `${this.store.location}/snapshots`;
  }

  /** The partition's snapshots, oldest position first. */
  async history(stream: string, partition: string, options: StoreCallOptions = {}): Promise<SnapshotRef[]> {
    return manifests(await this.store.list(snapshotPrefix(stream, partition), options));
  }

  async read(ref: Pick<SnapshotRef, 'key'>, options: StoreCallOptions = {}): Promise<PartitionSnapshot | undefined> {
    return this.readChain(ref.key, options);
  }

  /**
   * The newest snapshot at or before `position` (the newest of all when omitted), or undefined. The next `write`
   * for this partition after a restore is written whole: its chain then holds only segments this process wrote,
   * which a previous owner still running (its writes fenced off, its retention not) cannot delete under it.
   */
  async latestAtOrBefore(stream: string, partition: string, position = Number.POSITIVE_INFINITY, options: StoreCallOptions = {}): Promise<PartitionSnapshot | undefined> {
    this.chains.delete(chainId(stream, partition));
    const history = await this.history(stream, partition, options);
    const candidates = history.filter((r) => r.position <= position).reverse();
    // A previous owner not yet fenced off may have deleted a segment the newest manifest names (see above). State
    // from an older snapshot is still right, only further back: the source re-reads from there and rewrites the
    // same files. So a manifest with a missing segment gives way to the newest intact one before it.
    let broken: unknown;
    for (const ref of candidates) {
      try {
        return await this.read(ref, options);
      } catch (error) {
        if (!missingSegments.has(error as object)) throw error;
        broken ??= error;
      }
    }
    if (broken !== undefined) throw broken;
    if (history.length > 0) return undefined;
    // State from before the history existed: one snapshot per partition under the old name.
    const legacy = await this.read({ key: legacySnapshotKey(stream, partition) }, options);
    return legacy && legacy.position <= position ? legacy : undefined;
  }

  /**
   * Writes a snapshot into the history (its new dedup entries as a segment, then the manifest), then applies the
   * retention. With a fence (the owner's epoch), each write is refused when a newer owner already wrote that key.
   */
  async write(snapshot: PartitionSnapshot, fence?: Fence, options: StoreCallOptions = {}): Promise<void> {
    const id = chainId(snapshot.stream, snapshot.partition);
    const epoch = fence?.epoch ?? 0;
    let previous = this.chains.get(id);
    // Build on the last chain only if it is still there as written: a previous owner not yet fenced off may have
    // replaced that manifest, or its retention (or ours, past a newer manifest of its) deleted it and its segments.
    if (previous && !intact(previous, await this.store.list(snapshotPrefix(snapshot.stream, snapshot.partition), options))) previous = undefined;
    let planned = snapshot.gate.liveFirst === undefined ? undefined : planAdded(previous, snapshot, epoch, this.limits);
    if (planned === 'compact') {
      // the chain is due to be compacted: its live entries are read back, and the snapshot is written whole
      snapshot = await this.withStoredEntries(previous!, snapshot, options).catch((error: unknown) => {
        // a segment of this process's own chain, listed a moment ago, is gone: the same race as a chain not intact
        if (!(error instanceof TributaryError) || error.code !== 'INPUT_UNREADABLE') throw error;
        throw new TributaryError('PARTITION_FAILED', `${error.message}; the partition restarts from its last snapshot`, { cause: error });
      });
      planned = undefined;
    }
    const { segments, added } = planned ?? plan(previous, snapshot, epoch, this.limits);
    const writtenAt = String(this.now());
    if (added) {
      await this.put(segmentKey(snapshot.stream, snapshot.partition, { position: snapshot.position, epoch }), encodeSegment(added), { [WRITTEN_AT]: writtenAt }, fence, options);
    }
    const metadata = { [WRITTEN_AT]: writtenAt, [SEGMENTS]: segmentNames(segments) };
    // Only a manifest written in full makes the chain the one to build on: a failed write leaves the last one.
    this.chains.delete(id);
    await this.put(snapshotKey(snapshot.stream, snapshot.partition, snapshot.position), encodeSnapshot(snapshot, segments), metadata, fence, options);
    this.chains.set(id, chainOf(snapshot, segments, previous));
    await this.prune(snapshot.stream, snapshot.partition, options);
  }

  /** A lane's snapshot that carries only the entries added, made whole with the live ones its chain holds. */
  private async withStoredEntries(chain: Chain, snapshot: PartitionSnapshot, options: StoreCallOptions): Promise<PartitionSnapshot> {
    const { seen, liveFirst } = snapshot.gate;
    const first = liveFirst!;
    const name = `${this.store.location}/${snapshotKey(snapshot.stream, snapshot.partition, chain.position)}`;
    const live = chain.segments.filter((s) => s.to > first);
    const held = live.length > 0 ? await this.readSegments({ snapshot: { ...snapshot, gate: { maxEventTime: null, seen: { first, hashes: new Uint32Array(0), times: new Float64Array(0) } } }, segments: live, end: chain.end }, name, options) : { first, hashes: new Uint32Array(0), times: new Float64Array(0) };
    const count = held.times.length + seen.times.length;
    const hashes = new Uint32Array(count * 2);
    const times = new Float64Array(count);
    hashes.set(held.hashes);
    hashes.set(seen.hashes, held.hashes.length);
    times.set(held.times);
    times.set(seen.times, held.times.length);
    return { ...snapshot, gate: { maxEventTime: snapshot.gate.maxEventTime, seen: { first, hashes, times } } };
  }

  /** Which snapshots the retention removes from this history (never the newest). */
  expired(history: SnapshotRef[]): SnapshotRef[] {
    const cutoff = this.now() - this.retention.ageMs;
    const keep = Math.max(1, this.retention.count);
    return history.filter((ref, i) => i < history.length - 1 && (i < history.length - keep || (ref.writtenAtMs !== undefined && ref.writtenAtMs < cutoff)));
  }

  /** Applies the retention: expired manifests, then the segments no remaining manifest names. */
  async prune(stream: string, partition: string, options: StoreCallOptions = {}): Promise<void> {
    const objects = await this.store.list(snapshotPrefix(stream, partition), options);
    const history = manifests(objects);
    const expired = new Set(this.expired(history).map((r) => r.key));
    for (const key of expired) await this.store.delete(key, options);
    const kept = objects.filter((o) => snapshotPosition(o.key) !== undefined && !expired.has(o.key));
    const named = new Set<string>();
    for (const manifest of kept) {
      const list = manifest.metadata[SEGMENTS];
      // A manifest that does not say (an older format's) might name any segment: delete none.
      if (list === undefined) return;
      if (list !== 'none') for (const name of list.split(',')) named.add(name);
    }
    // Segments past the newest manifest belong to a write in progress (or one that crashed; the next write at
    // that position replaces it).
    const newest = Math.max(...kept.map((o) => snapshotPosition(o.key)!), Number.NEGATIVE_INFINITY);
    for (const object of objects) {
      const segment = segmentName(object.key);
      if (segment && segment.position <= newest && !named.has(segment.name)) await this.store.delete(object.key, options);
    }
  }

  /**
   * Deletes the snapshots after `position` (a reset that moves a partition back), and the segments written after
   * it, which only those snapshots name: a replay from `position` writes them again, with the same content when
   * the settings are the same.
   */
  async deleteAfter(stream: string, partition: string, position: number): Promise<SnapshotRef[]> {
    this.chains.delete(chainId(stream, partition));
    const objects = await this.store.list(snapshotPrefix(stream, partition));
    const removed = manifests(objects).filter((r) => r.position > position);
    for (const ref of removed) await this.store.delete(ref.key);
    for (const object of objects) {
      const segment = segmentName(object.key);
      if (segment && segment.position > position) await this.store.delete(object.key);
    }
    const legacyKey = legacySnapshotKey(stream, partition);
    const legacy = await this.read({ key: legacyKey });
    if (legacy && legacy.position > position) await this.store.delete(legacyKey);
    return removed;
  }

  private async put(key: string, bytes: Uint8Array, metadata: Record<string, string>, fence: Fence | undefined, options: StoreCallOptions): Promise<void> {
    if (fence) await this.store.putFenced(key, bytes, metadata, fence, options);
    else await this.store.put(key, bytes, metadata, options);
  }

  /** A manifest and its segments, assembled into the snapshot; undefined when the manifest is absent. */
  private async readChain(key: string, options: StoreCallOptions): Promise<PartitionSnapshot | undefined> {
    const bytes = await this.store.get(key, options);
    if (!bytes) return undefined;
    const name = `${this.store.location}/${key}`;
    const stored = decodeManifest(bytes, name);
    if (!stored.segments) return stored.snapshot;
    return { ...stored.snapshot, gate: { ...stored.snapshot.gate, seen: await this.readSegments(stored, name, options) } };
  }

  private async readSegments(stored: StoredSnapshot, name: string, options: StoreCallOptions): Promise<DedupEntries> {
    const { stream, partition } = stored.snapshot;
    const first = stored.snapshot.gate.seen.first;
    const count = stored.end - first;
    const corrupt = (why: string): TributaryError => new TributaryError('INPUT_UNREADABLE', `${name}: corrupt state snapshot (${why})`);
    if (count < 0) throw corrupt(`its dedup entries end at seq ${stored.end}, before they start at ${first}`);
    // The chain must cover [first, end) with no gap: segments in order, each starting where the one before ended.
    let next = stored.segments![0]?.from ?? first;
    if (next > first) throw corrupt(`its first dedup segment starts at seq ${next}, after ${first}`);
    for (const s of stored.segments!) {
      if (s.from !== next || s.to <= s.from) throw corrupt(`dedup segment at ${s.position} covers [${s.from}, ${s.to}), expected to start at ${next}`);
      next = s.to;
    }
    if (next !== stored.end) throw corrupt(`its dedup segments end at seq ${next}, not ${stored.end}`);
    const parts = await Promise.all(stored.segments!.map(async (s) => {
      const key = segmentKey(stream, partition, s);
      const bytes = await this.store.get(key, options);
      if (!bytes) {
        const missing = new TributaryError('INPUT_UNREADABLE', `${name}: names dedup segment ${this.store.location}/${key}, which is missing`);
        missingSegments.add(missing);
        throw missing;
      }
      const entries = decodeSegment(bytes, `${this.store.location}/${key}`);
      if (entries.first !== s.from || entries.times.length !== s.to - s.from) {
        throw corrupt(`dedup segment ${key} holds [${entries.first}, ${entries.first + entries.times.length}), the manifest expects [${s.from}, ${s.to})`);
      }
      return entries;
    }));
    const hashes = new Uint32Array(count * 2);
    const times = new Float64Array(count);
    for (const part of parts) {
      // Entries before `first` were evicted after the segment was written.
      const skip = Math.max(0, first - part.first);
      hashes.set(part.hashes.subarray(skip * 2), (part.first + skip - first) * 2);
      times.set(part.times.subarray(skip), part.first + skip - first);
    }
    return { first, hashes, times };
  }
}

/**
 * The segments the manifest of `snapshot` names, and the entries to write as its new segment (none when nothing
 * was added). The new snapshot continues the previous one when it is at a later position and its entries are the
 * previous ones' minus evictions at the head plus new ones at the tail; anything else is written whole.
 */
type Plan = { segments: SegmentRef[]; added: DedupEntries | undefined };

function plan(previous: Chain | undefined, snapshot: PartitionSnapshot, epoch: number, limits: ChainLimits): Plan {
  const seen = snapshot.gate.seen;
  const first = seen.first;
  const end = first + seen.times.length;
  const whole = (): Plan => (end > first ? { segments: [{ position: snapshot.position, epoch, from: first, to: end }], added: seen } : { segments: [], added: undefined });
  if (!previous || !continues(previous, snapshot)) return whole();
  const from = Math.max(previous.end, first);
  const skip = from - first;
  const appended = append(previous, { first, from, end, position: snapshot.position, epoch }, limits, { first: from, hashes: seen.hashes.subarray(skip * 2), times: seen.times.subarray(skip) });
  return appended === 'compact' ? whole() : appended;
}

/**
 * `plan` for a lane's snapshot that carries only the entries added since the lane's previous one (`liveFirst` set):
 * it continues the chain that snapshot was written into, or nothing. 'compact' when the chain is due to be
 * compacted, which needs the live entries the chain holds.
 */
function planAdded(previous: Chain | undefined, snapshot: PartitionSnapshot, epoch: number, limits: ChainLimits): Plan | 'compact' {
  const seen = snapshot.gate.seen;
  const first = snapshot.gate.liveFirst!;
  const from = seen.first;
  const end = from + seen.times.length;
  if (!previous || previous.end !== from || previous.position >= snapshot.position || previous.first > first || first > from) {
    // Only when the chain this process wrote is no longer there as written (a previous owner's write, a reset):
    // the partition restarts from its last snapshot, and the lane's first snapshot after that carries every entry.
    throw new TributaryError(
      'PARTITION_FAILED',
      `the dedup entries of ${snapshot.stream}/${snapshot.partition} at ${snapshot.position} continue a snapshot chain that is not there as this process wrote it; the partition restarts from its last snapshot`,
    );
  }
  return append(previous, { first, from, end, position: snapshot.position, epoch }, limits, seen);
}

/**
 * The chain `previous` with the entries [from, end) appended as one segment (the live ones start at `first`), or
 * 'compact' when that chain would pass the limits.
 */
function append(previous: Chain, range: { first: number; from: number; end: number; position: number; epoch: number }, limits: ChainLimits, added: DedupEntries): Plan | 'compact' {
  const { first, from, end } = range;
  const live = previous.segments.filter((s) => s.to > first);
  const stored = live.reduce((sum, s) => sum + (s.to - s.from), 0) + (end - from);
  const chainLength = live.length + (end > from ? 1 : 0);
  if (chainLength > limits.maxSegments || stored > 2 * (end - first) + limits.slack) return 'compact';
  if (end === from) return { segments: live, added: undefined };
  return { segments: [...live, { position: range.position, epoch: range.epoch, from, to: end }], added };
}

function continues(previous: Chain, snapshot: PartitionSnapshot): boolean {
  const seen = snapshot.gate.seen;
  const first = seen.first;
  const end = first + seen.times.length;
  if (!(previous.position < snapshot.position && previous.first <= first && previous.end <= end)) return false;
  if (previous.end <= first || !previous.last) return true; // every earlier entry was evicted: nothing to compare
  const i = previous.end - 1 - first;
  return seen.hashes[i * 2] === previous.last[0] && seen.hashes[i * 2 + 1] === previous.last[1] && Object.is(seen.times[i], previous.last[2]);
}

/** The manifest metadata naming these segments. */
function segmentNames(segments: SegmentRef[]): string {
  return segments.length > 0 ? segments.map((s) => `${s.position}-${s.epoch}`).join(',') : 'none';
}

/** The chain's manifest is listed with the segment names it was written with, and every one of them is listed. */
function intact(chain: Chain, objects: ObjectInfo[]): boolean {
  const manifest = objects.find((o) => snapshotPosition(o.key) === chain.position);
  if (!manifest || manifest.metadata[SEGMENTS] !== segmentNames(chain.segments)) return false;
  const listed = new Set(objects.map((o) => segmentName(o.key)?.name));
  return chain.segments.every((s) => listed.has(`${s.position}-${s.epoch}`));
}

function chainOf(snapshot: PartitionSnapshot, segments: SegmentRef[], previous: Chain | undefined): Chain {
  const seen = snapshot.gate.seen;
  const n = seen.times.length;
  const first = snapshot.gate.liveFirst ?? seen.first;
  const end = seen.first + n;
  // a snapshot that added nothing to its chain's entries ends with the chain's last one
  const last: Chain['last'] = n > 0 ? [seen.hashes[(n - 1) * 2]!, seen.hashes[(n - 1) * 2 + 1]!, seen.times[n - 1]!] : end > first ? previous?.last : undefined;
  return { position: snapshot.position, first, end, segments, last };
}

function manifests(objects: ObjectInfo[]): SnapshotRef[] {
  const refs: SnapshotRef[] = [];
  for (const object of objects) {
    const position = snapshotPosition(object.key);
    if (position === undefined) continue;
    const written = Number(object.metadata[WRITTEN_AT]);
    refs.push({ key: object.key, position, writtenAtMs: Number.isFinite(written) ? written : undefined, bytes: object.size });
  }
  return refs.sort((a, b) => a.position - b.position);
}

function chainId(stream: string, partition: string): string {
  return `${stream}\u0000${partition}`;
}

/** The retention as configured under `state.snapshotRetention` (defaults when absent). */
export function snapshotRetention(config: { count: number; age: number } | undefined): SnapshotRetention {
  return config ? { count: config.count, ageMs: config.age } : DEFAULT_SNAPSHOT_RETENTION;
}
