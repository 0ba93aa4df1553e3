/**
 * Checkpoints in the blob layout of `@azure/eventhubs-checkpointstore-blob`, written by that package itself, so
 * KEDA's Event Hubs scaler and the Azure SDKs of other languages read this consumer group's positions and lag:
 * `<namespace>/<hub>/<consumer group>/checkpoint/<partition>` (lower-cased), an empty blob whose metadata holds
 * `sequencenumber` and `offset`. Those blobs live at the container's root, as the SDK puts them; the store
 * config's prefix applies to the other objects (state snapshots), not to checkpoints.
 */
import type { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import type { ContainerClient } from '@azure/storage-blob';
import { z } from 'zod';
import { TributaryError } from '../../core/errors.js';
import type { Checkpoint, CheckpointStore } from '../../core/checkpoint-store.js';
import { createContainerClient, describeContainer, type BlobStoreConfig } from './blob-client.js';
import { isNotFound } from './blob-errors.js';
import { BlobOperations, DEFAULT_REQUEST_TIMEOUT_MS, type BlobOperationOptions } from './blob-operations.js';
import { checkpointStoreBlobSdk } from './sdk.js';

export const eventHubsCheckpointTargetSchema = z.strictObject({
  fullyQualifiedNamespace: z.string().min(1).describe('<namespace>.servicebus.windows.net, as the Event Hubs SDKs name it'),
  consumerGroup: z.string().min(1).default('$Default').describe('consumer group whose positions these are'),
  hubs: z.record(z.string(), z.string().min(1)).default({}).describe('stream name -> event hub name; a stream not listed uses its own name'),
});
export type EventHubsCheckpointTarget = z.infer<typeof eventHubsCheckpointTargetSchema>;
export type EventHubsCheckpointTargetInput = z.input<typeof eventHubsCheckpointTargetSchema>;

/** The blob the SDK keeps a partition's checkpoint in (its naming is private API, so we mirror it and test it). */
export function checkpointBlobName(target: EventHubsCheckpointTarget, hub: string, partition: string): string {
  return `${target.fullyQualifiedNamespace}/${hub}/${target.consumerGroup}/`.toLowerCase() + `checkpoint/${partition}`;
}

export class EventHubsCheckpointStore implements CheckpointStore {
  readonly location: string;
  /** The SDK's store on the same container, for an EventHubConsumerClient's partition load balancing. */
  readonly sdkStore: BlobCheckpointStore;
  private readonly ops: BlobOperations;
  private readonly target: EventHubsCheckpointTarget;

  static fromConfig(config: BlobStoreConfig, target: EventHubsCheckpointTargetInput, options: BlobOperationOptions = {}): EventHubsCheckpointStore {
    const client = createContainerClient(config, options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
    return new EventHubsCheckpointStore(client, target, options);
  }

  constructor(container: ContainerClient, target: EventHubsCheckpointTargetInput, options: BlobOperationOptions = {}) {
    this.target = eventHubsCheckpointTargetSchema.parse(target);
    this.location = `${describeContainer(container)}/${checkpointBlobName(this.target, '<hub>', '')}`;
    this.ops = new BlobOperations(container, this.location, options);
    this.sdkStore = new (checkpointStoreBlobSdk().BlobCheckpointStore)(container);
  }

  hubOf(stream: string): string {
    return this.target.hubs[stream] ?? stream;
  }

  async list(stream: string): Promise<Checkpoint[]> {
    const hub = this.hubOf(stream);
    const found = await this.ops.run(`list checkpoints of ${hub}`, async (abortSignal) => {
      try {
        return await this.sdkStore.listCheckpoints(this.target.fullyQualifiedNamespace, hub, this.target.consumerGroup, { abortSignal });
      } catch (error) {
        if (isNotFound(error)) return [];
        throw error;
      }
    });
    return found
      .map((checkpoint) => ({ stream, partition: checkpoint.partitionId, nextPosition: checkpoint.sequenceNumber + 1, offset: checkpoint.offset }))
      .sort((a, b) => Number(a.partition) - Number(b.partition) || (a.partition < b.partition ? -1 : a.partition > b.partition ? 1 : 0));
  }

  /**
   * An Event Hubs checkpoint names the last event done; ours names the next one to do, so sequenceNumber is
   * nextPosition - 1. "Nothing done yet" (a reset to the start) has no Event Hubs form, so it removes the checkpoint,
   * which every reader takes as "start from the beginning".
   */
  async update(checkpoint: Checkpoint): Promise<void> {
    if (!Number.isSafeInteger(checkpoint.nextPosition) || checkpoint.nextPosition < 0) {
      throw new RangeError(`checkpoint position must be a non-negative integer, got ${checkpoint.nextPosition}`);
    }
    const hub = this.hubOf(checkpoint.stream);
    if (checkpoint.nextPosition === 0) {
      const name = checkpointBlobName(this.target, hub, checkpoint.partition);
      await this.ops.run(`remove checkpoint ${name}`, async (abortSignal) => {
        try {
          await this.ops.container.getBlobClient(name).deleteIfExists({ abortSignal });
        } catch (error) {
          if (isNotFound(error)) return;
          throw error;
        }
      });
      return;
    }
    if (checkpoint.offset === '') {
      throw new TributaryError('INTERNAL', `checkpoint of ${checkpoint.stream}/${checkpoint.partition} at ${checkpoint.nextPosition} has no offset`);
    }
    await this.ops.run(`update checkpoint of ${hub}/${checkpoint.partition}`, async (abortSignal) => {
      await this.ops.ensureContainer(abortSignal);
      try {
        await this.sdkStore.updateCheckpoint(
          {
            fullyQualifiedNamespace: this.target.fullyQualifiedNamespace,
            eventHubName: hub,
            consumerGroup: this.target.consumerGroup,
            partitionId: checkpoint.partition,
            sequenceNumber: checkpoint.nextPosition - 1,
            offset: checkpoint.offset,
          },
          { abortSignal },
        );
      } catch (error) {
        if (isNotFound(error)) this.ops.forgetContainer();
        throw error;
      }
    });
  }
}
