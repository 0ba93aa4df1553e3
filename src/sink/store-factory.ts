import type { StoreConfig } from '../config/schema.js';
import { TributaryError } from '../core/errors.js';
import { LocalObjectStore } from './local-object-store.js';
import type { ObjectStore } from './object-store.js';

/** Builds the object store a config section names. Blob stores arrive with the blob-storage work. */
export function createObjectStore(config: StoreConfig): ObjectStore {
  switch (config.kind) {
    case 'local':
      return new LocalObjectStore(config.path);
    case 'blob':
      throw new TributaryError('CONFIG_INVALID', 'blob stores are not available in this build');
  }
}
