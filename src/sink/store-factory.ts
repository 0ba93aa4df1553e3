import type { RetryConfig, StoreConfig } from '../config/schema.js';
import type { Logger } from '../core/log.js';
import { retryPolicyFromConfig, type RetryPolicy } from '../core/retry.js';
import { BlobObjectStore } from './blob/blob-object-store.js';
import { EventHubsCheckpointStore, type EventHubsCheckpointTargetInput } from './blob/eventhubs-checkpoint-store.js';
import type { CheckpointStore } from '../core/checkpoint-store.js';
import { LocalObjectStore } from './local-object-store.js';
import { ObjectCheckpointStore } from './object-checkpoint-store.js';
import type { ObjectStore } from '../core/object-store.js';

export interface StoreOptions {
  /** Shutdown: blob stores stop retrying and abort requests in flight. */
  signal?: AbortSignal;
  logger?: Logger;
  /** Backoff for transient storage faults (blob stores). */
  retry?: RetryPolicy;
  /** Every failed attempt of a blob request, retried or not (for tributary_errors_total). */
  onFailure?: (error: unknown) => void;
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

/** The object store a config section names, retrying as the config's `retry` section says (every command's stores). */
export function configuredStore(config: { retry: RetryConfig }, store: StoreConfig, options: StoreOptions = {}): ObjectStore {
  return createObjectStore(store, { retry: retryPolicyFromConfig(config.retry), ...options });
}

/**
 * Checkpoints for the state store a config section names. With an Event Hubs target on a blob store they are
 * written in `@azure/eventhubs-checkpointstore-blob`'s format (KEDA and other SDKs read them); otherwise they are
 * JSON objects beside the state snapshots.
 */
export function createCheckpointStore(
  config: StoreConfig,
  options: StoreOptions & { eventHubs?: EventHubsCheckpointTargetInput } = {},
): CheckpointStore {
  const { eventHubs, ...storeOptions } = options;
  if (config.kind === 'blob' && eventHubs) return EventHubsCheckpointStore.fromConfig(config, eventHubs, storeOptions);
  return new ObjectCheckpointStore(createObjectStore(config, storeOptions));
}
