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

export interface ObjectStore {
  /** Human-readable location for summaries and logs (never contains secrets). */
  readonly location: string;
  put(key: string, bytes: Uint8Array, metadata?: Record<string, string>): Promise<void>;
  /** undefined when absent */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Keys under a prefix, in lexical order, with metadata. */
  list(prefix: string): Promise<ObjectInfo[]>;
  delete(key: string): Promise<void>;
}
