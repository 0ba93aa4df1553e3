/**
 * The storage boundary shared by the lake, the dead-letter stream and state snapshots: a flat key space of
 * whole objects. `put` is atomic (a reader sees the old object or the new one, never half of it) and replaces
 * any object under the same key, which is what makes deterministic file names idempotent.
 */
export interface ObjectInfo {
  key: string;
  size: number;
  metadata: Record<string, string>;
}

export interface StoreCallOptions {
  /** ends waiting (retries, a request in flight): shutdown past its deadline, or a partition whose owner changed */
  signal?: AbortSignal;
}

/**
 * A write by a partition's owner of an ownership period (`epoch`, strictly increasing per partition; see
 * src/runtime/ownership.ts). The store keeps the epoch with the object and refuses, with OWNERSHIP_LOST, a write
 * whose epoch is lower than the one the object was last written with; check and write are one atomic step
 * (an etag condition on blob storage, a lock on a folder). With `claim`, an equal epoch is refused too: that is
 * how an owner takes an epoch no one else holds.
 */
export interface Fence {
  epoch: number;
  claim?: boolean;
}

/** the metadata key the fencing epoch is kept under (blob metadata names allow letters and digits only) */
export const EPOCH_METADATA = 'tributaryepoch';

export interface ObjectStore {
  /** Human-readable location for summaries and logs (never contains secrets). */
  readonly location: string;
  put(key: string, bytes: Uint8Array, metadata?: Record<string, string>, options?: StoreCallOptions): Promise<void>;
  /** `put` that only an owner of the newest epoch can do (see Fence). */
  putFenced(key: string, bytes: Uint8Array, metadata: Record<string, string>, fence: Fence, options?: StoreCallOptions): Promise<void>;
  /** undefined when absent */
  get(key: string, options?: StoreCallOptions): Promise<Uint8Array | undefined>;
  /** Keys under a prefix, in lexical order, with metadata. */
  list(prefix: string, options?: StoreCallOptions): Promise<ObjectInfo[]>;
  delete(key: string, options?: StoreCallOptions): Promise<void>;
}
