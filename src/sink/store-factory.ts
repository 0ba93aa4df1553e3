import type { StoreConfig } from '../config/schema.js';
import type { Logger } from '../core/log.js';
import type { RetryPolicy } from '../core/retry.js';
import { BlobObjectStore } from './blob/blob-object-store.js';
import { LocalObjectStore } from './local-object-store.js';
import type { ObjectStore } from './object-store.js';

export interface StoreOptions {
  /** Shutdown: blob stores stop retrying and abort requests in flight. */
  signal?: AbortSignal;
  logger?: Logger;
  /** Backoff for transient storage faults (blob stores). */
  retry?: RetryPolicy;
}

/** Builds the object store a config section names. */
export function createObjectStore(config: StoreConfig, options: StoreOptions = {}): ObjectStore {
  switch (config.kind) {
    case 'local':
      return new LocalObjectStore(config.path);
    case 'blob':
      return BlobObjectStore.fromConfig(config, options);
  }
}
