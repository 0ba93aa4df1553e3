/**
 * The retry layer for object stores whose own client does not retry: every operation is retried on transient
 * faults with the one storage policy (config `retry`: exponential backoff with full jitter, within a time budget,
 * never sooner than a Retry-After), logged at warn with the attempt number, and given up at once when the
 * shutdown signal fires. Blob stores retry each request inside BlobOperations with the same function and policy,
 * because there a retry must re-issue one request (one page of a listing), not the whole operation.
 */
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Fence, ObjectInfo, ObjectStore, StagedUpload, StoreCallOptions, UploadCommitOptions } from '../core/object-store.js';
import { withRetry, type RetryPolicy } from '../core/retry.js';

export class RetryingObjectStore implements ObjectStore {
  readonly location: string;

  constructor(
    private readonly inner: ObjectStore,
    private readonly policy: RetryPolicy,
    private readonly log: Logger | undefined,
    /** shutdown past its deadline: stop retrying */
    private readonly shutdown?: AbortSignal,
  ) {
    this.location = inner.location;
  }

  put(key: string, bytes: Uint8Array, metadata?: Record<string, string>, options: StoreCallOptions = {}): Promise<void> {
    return this.run(`write ${key}`, options, (call) => this.inner.put(key, bytes, metadata, call));
  }

  putFenced(key: string, bytes: Uint8Array, metadata: Record<string, string>, fence: Fence, options: StoreCallOptions = {}): Promise<void> {
    return this.run(`write ${key}`, options, (call) => this.inner.putFenced(key, bytes, metadata, fence, call));
  }

  get(key: string, options: StoreCallOptions = {}): Promise<Uint8Array | undefined> {
    return this.run(`read ${key}`, options, (call) => this.inner.get(key, call));
  }

  list(prefix: string, options: StoreCallOptions = {}): Promise<ObjectInfo[]> {
    return this.run(`list ${prefix}`, options, (call) => this.inner.list(prefix, call));
  }

  delete(key: string, options: StoreCallOptions = {}): Promise<void> {
    return this.run(`delete ${key}`, options, (call) => this.inner.delete(key, call));
  }

  /** Each step of the upload is retried on its own; staging a part again and committing again are harmless. */
  openUpload(key: string, fence: Fence): StagedUpload {
    const upload = this.inner.openUpload(key, fence);
    return {
      key,
      stage: (part: number, bytes: Uint8Array, options: StoreCallOptions = {}) =>
        this.run(`stage part ${part} of ${key}`, options, (call) => upload.stage(part, bytes, call)),
      commit: (tail: Uint8Array, metadata: Record<string, string>, options: UploadCommitOptions = {}) =>
        this.run(`commit ${key}`, options, (call) => upload.commit(tail, metadata, { ...call, ...(options.keepOpen ? { keepOpen: true } : {}) })),
      abort: (options: StoreCallOptions = {}) => this.run(`abort the upload of ${key}`, options, (call) => upload.abort(call)),
    };
  }

  private run<T>(action: string, options: StoreCallOptions, operation: (options: StoreCallOptions) => Promise<T>): Promise<T> {
    const signals = [options.signal, this.shutdown].filter((s): s is AbortSignal => s !== undefined);
    const signal = signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals);
    return withRetry(() => operation(signal ? { signal } : {}), {
      policy: this.policy,
      ...(signal ? { signal } : {}),
      onRetry: (error, attempt, delayMs) =>
        this.log?.warn({ store: this.location, action, attempt, delayMs, err: errorMessage(error) }, 'transient storage fault, retrying'),
    });
  }
}
