/**
 * The SDK CheckpointStore behind the source: @azure/eventhubs-checkpointstore-blob on a container (production,
 * scale-out; the layout KEDA reads lag from) or the local file store (one instance). The container is checked
 * before the run, because the blob store reports a missing container only as a plain Error deep in the SDK's
 * load-balancing loop.
 */
import type { Checkpoint, CheckpointStore, PartitionOwnership } from '@azure/event-hubs';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { ContainerClient } from '@azure/storage-blob';
import { TributaryError } from '../../core/errors.js';
import type { CheckpointStoreConfig } from './config.js';
import { translateEventHubsError } from './errors.js';
import { LocalCheckpointStore } from './local-checkpoint-store.js';

export interface OpenedCheckpointStore {
  store: CheckpointStore;
  location: string;
}

export async function openCheckpointStore(config: CheckpointStoreConfig, credential?: TokenCredential): Promise<OpenedCheckpointStore> {
  if (config.kind === 'local') {
    const store = new LocalCheckpointStore(config.path);
    return { store, location: store.location };
  }
  const container = config.connectionString
    ? new ContainerClient(config.connectionString, config.container)
    : new ContainerClient(`${config.accountUrl!.replace(/\/+$/, '')}/${config.container}`, credential ?? new DefaultAzureCredential());
  try {
    if (config.createContainer) await container.createIfNotExists();
    else if (!(await container.exists())) {
      throw new TributaryError(
        'CONFIG_INVALID',
        `source.checkpointStore: the blob container "${config.container}" does not exist (create it, or set createContainer: true)`,
      );
    }
  } catch (error) {
    throw translateEventHubsError(error, `source.checkpointStore: cannot reach the blob container "${config.container}"`);
  }
  return { store: new BlobCheckpointStore(container), location: container.url };
}

/**
 * What the SDK sees of the store: ownership as is, but no checkpoints. The SDK would otherwise pick the start of
 * each partition itself (from the checkpoint, before our initialize handler runs), while the start must come
 * from the partition's snapshot when it has one; the source reads the checkpoints itself.
 */
export class OwnershipOnlyStore implements CheckpointStore {
  constructor(private readonly inner: CheckpointStore) {}

  listOwnership(fullyQualifiedNamespace: string, eventHubName: string, consumerGroup: string): Promise<PartitionOwnership[]> {
    return this.inner.listOwnership(fullyQualifiedNamespace, eventHubName, consumerGroup);
  }

  claimOwnership(partitionOwnership: PartitionOwnership[]): Promise<PartitionOwnership[]> {
    return this.inner.claimOwnership(partitionOwnership);
  }

  async listCheckpoints(): Promise<Checkpoint[]> {
    return [];
  }

  updateCheckpoint(checkpoint: Checkpoint): Promise<void> {
    return this.inner.updateCheckpoint(checkpoint);
  }
}
