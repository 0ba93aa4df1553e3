/**
 * A fault-injecting ObjectStore wrapper for failure-path tests. Every operation of every wrapped store draws the
 * next number from one shared counter; the plan says which numbers fail and how. It sits under the run's retry
 * layer, where a flaky disk or storage account would be.
 */
import { TributaryError } from '../../src/core/errors.js';
import type { Fence, ObjectInfo, ObjectStore, StagedUpload, StoreCallOptions, UploadCommitOptions } from '../../src/core/object-store.js';

export type FaultKind = 'transient' | 'permanent';

export interface FaultPlan {
  /** the operation numbers that fail, and with which kind of fault */
  faultAt(operation: number): FaultKind | undefined;
}

export class OperationCounter {
  count = 0;
  readonly log: string[] = [];
}

export class FaultyStore implements ObjectStore {
  readonly location: string;

  constructor(
    private readonly inner: ObjectStore,
    private readonly role: string,
    private readonly counter: OperationCounter,
    private readonly plan: FaultPlan,
  ) {
    this.location = inner.location;
  }

  put(key: string, bytes: Uint8Array, metadata?: Record<string, string>, options?: StoreCallOptions): Promise<void> {
    return this.operation(`put ${key}`, () => this.inner.put(key, bytes, metadata, options));
  }

  putFenced(key: string, bytes: Uint8Array, metadata: Record<string, string>, fence: Fence, options?: StoreCallOptions): Promise<void> {
    return this.operation(`put ${key}`, () => this.inner.putFenced(key, bytes, metadata, fence, options));
  }

  get(key: string, options?: StoreCallOptions): Promise<Uint8Array | undefined> {
    return this.operation(`get ${key}`, () => this.inner.get(key, options));
  }

  list(prefix: string, options?: StoreCallOptions): Promise<ObjectInfo[]> {
    return this.operation(`list ${prefix}`, () => this.inner.list(prefix, options));
  }

  delete(key: string, options?: StoreCallOptions): Promise<void> {
    return this.operation(`delete ${key}`, () => this.inner.delete(key, options));
  }

  /** Every step of an upload is an operation of its own, so a plan can fail any one of them. */
  openUpload(key: string, fence: Fence): StagedUpload {
    const upload = this.inner.openUpload(key, fence);
    return {
      key,
      stage: (part: number, bytes: Uint8Array, options?: StoreCallOptions) => this.operation(`stage ${part} ${key}`, () => upload.stage(part, bytes, options)),
      commit: (tail: Uint8Array, metadata: Record<string, string>, options?: UploadCommitOptions) =>
        this.operation(`commit ${key}`, () => upload.commit(tail, metadata, options)),
      abort: (options?: StoreCallOptions) => this.operation(`abort ${key}`, () => upload.abort(options)),
    };
  }

  private async operation<T>(what: string, run: () => Promise<T>): Promise<T> {
    const n = this.counter.count++;
    this.counter.log.push(`${this.role} ${what}`);
    const fault = this.plan.faultAt(n);
    if (fault === 'transient') throw new TributaryError('STORAGE_TRANSIENT', `injected transient fault at operation ${n} (${this.role} ${what})`);
    if (fault === 'permanent') throw new TributaryError('STORAGE_PERMANENT', `injected permanent fault at operation ${n} (${this.role} ${what})`);
    return run();
  }
}

/**
 * An archive store whose reads of each Capture file after its first (the index's) fail as a transient fault
 * would, every time: the keys are pushed to `failures`.
 */
export function unreadableAfterIndexing(store: ObjectStore, failures: string[]): ObjectStore {
  const readOnce = new Set<string>();
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property !== 'get') return Reflect.get(target, property, receiver) as unknown;
      return async (key: string, options?: StoreCallOptions) => {
        if (key.endsWith('.avro') && readOnce.has(key)) {
          failures.push(key);
          throw new TributaryError('STORAGE_TRANSIENT', `injected: ${key} cannot be read`);
        }
        readOnce.add(key);
        return target.get(key, options);
      };
    },
  });
}
