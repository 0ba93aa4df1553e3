/**
 * The history of a partition's state snapshots: one per committed cell boundary, named by its position
 * (`snapshots/<stream>/partition=<p>/pos<16 digits>.snap`), so a replay can start at any retained boundary with
 * the state of that moment. The processor calls it twice: on restore (`latestAtOrBefore`) and on commit (`write`).
 * Retention keeps the newest `count` snapshots that are younger than `age` (by the time they were written); the
 * newest one, the one a plain restart needs, is never deleted.
 */
import type { Fence, ObjectStore, StoreCallOptions } from '../core/object-store.js';
import { decodeSnapshot, encodeSnapshot, type PartitionSnapshot } from '../aggregate/snapshot.js';
import { legacySnapshotKey, snapshotKey, snapshotPosition, snapshotPrefix } from '../sink/lake-layout.js';

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
  bytes: number;
}

const WRITTEN_AT = 'writtenat';

export class SnapshotStore {
  constructor(
    private readonly store: ObjectStore,
    private readonly retention: SnapshotRetention = DEFAULT_SNAPSHOT_RETENTION,
    private readonly now: () => number = Date.now,
  ) {}

  get location(): string {
    return `${this.store.location}/snapshots`;
  }

  /** The partition's snapshots, oldest position first. */
  async history(stream: string, partition: string, options: StoreCallOptions = {}): Promise<SnapshotRef[]> {
    const refs: SnapshotRef[] = [];
    for (const object of await this.store.list(snapshotPrefix(stream, partition), options)) {
      const position = snapshotPosition(object.key);
      if (position === undefined) continue;
      const written = Number(object.metadata[WRITTEN_AT]);
      refs.push({ key: object.key, position, writtenAtMs: Number.isFinite(written) ? written : undefined, bytes: object.size });
    }
    return refs.sort((a, b) => a.position - b.position);
  }

  async read(ref: Pick<SnapshotRef, 'key'>, options: StoreCallOptions = {}): Promise<PartitionSnapshot | undefined> {
    const bytes = await this.store.get(ref.key, options);
    return bytes ? decodeSnapshot(bytes, `${this.store.location}/${ref.key}`) : undefined;
  }

  /** The newest snapshot at or before `position` (the newest of all when omitted), or undefined. */
  async latestAtOrBefore(stream: string, partition: string, position = Number.POSITIVE_INFINITY, options: StoreCallOptions = {}): Promise<PartitionSnapshot | undefined> {
    const history = await this.history(stream, partition, options);
    const ref = history.filter((r) => r.position <= position).at(-1);
    if (ref) return this.read(ref, options);
    if (history.length > 0) return undefined;
    // State from before the history existed: one snapshot per partition under the old name.
    const legacyKey = legacySnapshotKey(stream, partition);
    const legacy = await this.read({ key: legacyKey }, options);
    return legacy && legacy.position <= position ? legacy : undefined;
  }

  /**
   * Writes a snapshot into the history, then applies the retention. With a fence (the owner's epoch), the write
   * is refused when a newer owner already wrote that position.
   */
  async write(snapshot: PartitionSnapshot, fence?: Fence, options: StoreCallOptions = {}): Promise<void> {
    const key = snapshotKey(snapshot.stream, snapshot.partition, snapshot.position);
    const metadata = { [WRITTEN_AT]: String(this.now()) };
    if (fence) await this.store.putFenced(key, encodeSnapshot(snapshot), metadata, fence, options);
    else await this.store.put(key, encodeSnapshot(snapshot), metadata, options);
    await this.prune(snapshot.stream, snapshot.partition, options);
  }

  /** Which snapshots the retention removes from this history (never the newest). */
  expired(history: SnapshotRef[]): SnapshotRef[] {
    const cutoff = this.now() - this.retention.ageMs;
    const keep = Math.max(1, this.retention.count);
    return history.filter((ref, i) => i < history.length - 1 && (i < history.length - keep || (ref.writtenAtMs !== undefined && ref.writtenAtMs < cutoff)));
  }

  async prune(stream: string, partition: string, options: StoreCallOptions = {}): Promise<void> {
    for (const ref of this.expired(await this.history(stream, partition, options))) await this.store.delete(ref.key, options);
  }

  /**
   * Deletes the snapshots after `position` (a reset that moves a partition back): a replay from `position`
   * writes them again, with the same content when the settings are the same.
   */
  async deleteAfter(stream: string, partition: string, position: number): Promise<SnapshotRef[]> {
    const removed = (await this.history(stream, partition)).filter((r) => r.position > position);
    for (const ref of removed) await this.store.delete(ref.key);
    const legacyKey = legacySnapshotKey(stream, partition);
    const legacy = await this.read({ key: legacyKey });
    if (legacy && legacy.position > position) await this.store.delete(legacyKey);
    return removed;
  }
}

/** The retention as configured under `state.snapshotRetention` (defaults when absent). */
export function snapshotRetention(config: { count: number; age: number } | undefined): SnapshotRetention {
  return config ? { count: config.count, ageMs: config.age } : DEFAULT_SNAPSHOT_RETENTION;
}
