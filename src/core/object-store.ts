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

export interface UploadCommitOptions extends StoreCallOptions {
  /** the upload stays open after this commit: more parts may be staged and committed again (an idle flush of a
   * file that keeps growing). Without it the upload is finished by the commit. */
  keepOpen?: boolean;
}

/**
 * One object written in parts, so the writer never holds the whole object (a raw Parquet file of a cell is a
 * series of row groups; only the footer is built at the end). Parts are numbered 0, 1, 2... and go up as they
 * come; staging part `n` again replaces it and drops every part after it, so a retried or repeated call is
 * harmless. Nothing staged is visible under the key until `commit`, which makes parts 0..n-1 followed by `tail`
 * the object at once, fenced like `putFenced` (a newer epoch's object refuses it with OWNERSHIP_LOST).
 * A reader sees the object before or after a commit, never a partial one. Each call is one store operation:
 * the retry layer retries each on its own.
 */
export interface StagedUpload {
  readonly key: string;
  /** Stages part `part` (at most one more than the parts staged so far). */
  stage(part: number, bytes: Uint8Array, options?: StoreCallOptions): Promise<void>;
  /** The staged parts followed by `tail` (say, a Parquet footer) become the object under the key. */
  commit(tail: Uint8Array, metadata: Record<string, string>, options?: UploadCommitOptions): Promise<void>;
  /** Drops what was staged since the last commit; an object a commit made visible stays. */
  abort(options?: StoreCallOptions): Promise<void>;
}

/**
 * Bytes cross this boundary by ownership: a store reads the bytes handed to `put`, `putFenced`, `stage` and
 * `commit` only until the call settles (one that keeps them, an in-memory double, copies them), and `get` returns
 * bytes the caller owns. Callers give their buffers back as soon as a write has succeeded or a read is used up
 * (core/release-bytes.ts), and every view of a buffer given back reads as empty.
 */
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
  /** A staged upload of `key` by the owner of `fence` (see StagedUpload); opening it does no I/O. */
  openUpload(key: string, fence: Fence): StagedUpload;
}

/**
 * A StagedUpload for stores that cannot stage (in-memory doubles): parts are kept in memory and the commit is
 * one `putFenced`. Real stores stage outside memory.
 */
export class BufferedUpload implements StagedUpload {
  private readonly parts: Uint8Array[] = [];
  private finished = false;

  constructor(
    private readonly store: Pick<ObjectStore, 'putFenced'>,
    readonly key: string,
    private readonly fence: Fence,
  ) {}

  async stage(part: number, bytes: Uint8Array): Promise<void> {
    checkPart(this.key, part, this.parts.length, this.finished);
    this.parts.length = part;
    this.parts.push(bytes.slice());
  }

  async commit(tail: Uint8Array, metadata: Record<string, string>, options: UploadCommitOptions = {}): Promise<void> {
    checkPart(this.key, 0, 0, this.finished);
    const whole = Buffer.concat([...this.parts, tail]);
    await this.store.putFenced(this.key, whole, metadata, this.fence, options.signal ? { signal: options.signal } : {});
    if (options.keepOpen !== true) this.finished = true;
  }

  async abort(): Promise<void> {
    this.parts.length = 0;
    this.finished = true;
  }
}

/** The part-number rule every StagedUpload enforces: a programming error, not a store fault, when broken. */
export function checkPart(key: string, part: number, staged: number, finished: boolean): void {
  if (finished) throw new RangeError(`upload of ${key} is already committed or aborted`);
  if (!Number.isSafeInteger(part) || part < 0 || part > staged) {
    throw new RangeError(`upload of ${key}: part ${part} cannot follow ${staged} staged part(s)`);
  }
}
