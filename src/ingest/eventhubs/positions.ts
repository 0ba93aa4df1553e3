/**
 * Reset positions of an Event Hubs consumer group, from the service and the group's checkpoint store: ranges from
 * partition properties (sequence numbers are contiguous in a partition, so they also count events), times from
 * the first event a reader receives from `enqueuedOn`, and the group's positions as checkpoints in the
 * `@azure/eventhubs-checkpointstore-blob` format (what KEDA and the other SDKs read).
 */
import type { Checkpoint, CheckpointStore, EventHubConsumerClient, PartitionOwnership, PartitionProperties } from '@azure/event-hubs';
import type { TokenCredential } from '@azure/identity';
import { TributaryError } from '../../core/errors.js';
import type { PartitionRange, SourcePositions } from '../../state/source-positions.js';
import { openCheckpointStore } from './checkpoint-stores.js';
import { createConsumerClient, sdkRetryOptions } from './client.js';
import { hubPlans, type EventHubsSourceConfig } from './config.js';
import { translateEventHubsError } from './errors.js';

/** The offset Event Hubs readers take as "before the first event" of a partition. */
const BEFORE_FIRST_OFFSET = '-1';

export class EventHubsPositions implements SourcePositions {
  readonly description: string;
  private store: CheckpointStore | undefined;
  private readonly clients = new Map<string, EventHubConsumerClient>();
  private readonly properties = new Map<string, PartitionProperties>();

  constructor(
    private readonly config: EventHubsSourceConfig,
    private readonly credential?: TokenCredential,
    /** a range replay's group: read without the checkpoint store (no owner level, no checkpoints), never moved */
    private readonly detached = false,
  ) {
    this.description = `Event Hubs consumer group ${config.consumerGroup}`;
  }

  private hub(stream: string): string {
    const plan = hubPlans(this.config).find((p) => p.stream === stream);
    if (!plan) throw new TributaryError('CONFIG_INVALID', `--stream ${stream}: not under source.hubs`);
    return plan.hub;
  }

  private async checkpointStore(): Promise<CheckpointStore> {
    this.store ??= (await openCheckpointStore(this.config.checkpointStore, this.credential)).store;
    return this.store;
  }

  private async client(stream: string): Promise<EventHubConsumerClient> {
    const hub = this.hub(stream);
    let client = this.clients.get(hub);
    if (!client) {
      // Not the group's store: a reader with it would start at the group's checkpoint instead of the time asked
      // for, and would take part in the group's ownership.
      client = createConsumerClient(this.config, this.config.consumerGroup, hub, this.detached ? undefined : new DetachedStore(), { retryOptions: sdkRetryOptions(this.config.clientRetry) }, this.credential);
      this.clients.set(hub, client);
    }
    return client;
  }

  private async partitionProperties(stream: string, partition: string): Promise<PartitionProperties> {
    const key = `${stream}/${partition}`;
    let properties = this.properties.get(key);
    if (!properties) {
      const client = await this.client(stream);
      try {
        properties = await client.getPartitionProperties(partition);
      } catch (error) {
        throw translateEventHubsError(error, `reading the properties of ${this.hub(stream)} partition ${partition}`);
      }
      this.properties.set(key, properties);
    }
    return properties;
  }

  private range(partition: string, p: PartitionProperties): PartitionRange {
    const earliest = p.beginningSequenceNumber;
    return { partition, earliest, latest: p.isEmpty ? earliest : p.lastEnqueuedSequenceNumber + 1 };
  }

  async partitions(stream: string): Promise<PartitionRange[]> {
    const client = await this.client(stream);
    const ids = await client.getPartitionIds();
    const ranges: PartitionRange[] = [];
    for (const id of ids) ranges.push(this.range(id, await this.partitionProperties(stream, id)));
    return ranges;
  }

  async current(stream: string, partition: string): Promise<number | undefined> {
    if (this.detached) return undefined;
    const client = await this.client(stream);
    const checkpoints = await (await this.checkpointStore()).listCheckpoints(client.fullyQualifiedNamespace, this.hub(stream), this.config.consumerGroup);
    const checkpoint = checkpoints.find((c) => c.partitionId === partition);
    return checkpoint ? checkpoint.sequenceNumber + 1 : undefined;
  }

  async positionAtTime(stream: string, partition: string, timeMs: number): Promise<number> {
    const properties = await this.partitionProperties(stream, partition);
    const range = this.range(partition, properties);
    if (range.latest === range.earliest || properties.lastEnqueuedOnUtc.getTime() < timeMs) return range.latest;
    const client = await this.client(stream);
    // An event at or after the time exists (the last one is), so the first event a reader from `enqueuedOn`
    // receives is the answer; empty batches only mean the link is still opening. Event Hubs reads from the first
    // event enqueued strictly after `enqueuedOn`, hence a millisecond earlier for "at or after".
    return new Promise<number>((resolve, reject) => {
      let settled = false;
      const subscription = client.subscribe(
        partition,
        {
          processEvents: async (events) => {
            if (settled || events.length === 0) return;
            settled = true;
            resolve(events[0]!.sequenceNumber);
            await subscription.close();
          },
          processError: async (error) => {
            if (settled) return;
            settled = true;
            reject(translateEventHubsError(error, `reading ${this.hub(stream)} partition ${partition} from ${new Date(timeMs).toISOString()}`));
            await subscription.close();
          },
        },
        { startPosition: { enqueuedOn: new Date(timeMs - 1) }, maxBatchSize: 1, maxWaitTimeInSeconds: Math.max(1, this.config.maxWaitTime / 1000) },
      );
    });
  }

  async countFrom(stream: string, partition: string, from: number): Promise<number> {
    const range = this.range(partition, await this.partitionProperties(stream, partition));
    return Math.max(0, range.latest - Math.max(from, range.earliest));
  }

  async commit(stream: string, partition: string, position: number, offsetBefore: string): Promise<void> {
    if (this.detached) throw new TributaryError('INTERNAL', `${this.description} is read without a checkpoint store: it has no position to move`);
    const client = await this.client(stream);
    const range = this.range(partition, await this.partitionProperties(stream, partition));
    const atStart = position <= range.earliest;
    if (!atStart && offsetBefore === '') {
      throw new TributaryError('INTERNAL', `cannot checkpoint ${this.hub(stream)} partition ${partition} at ${position}: the offset of the event before it is unknown`);
    }
    await (await this.checkpointStore()).updateCheckpoint({
      fullyQualifiedNamespace: client.fullyQualifiedNamespace,
      eventHubName: this.hub(stream),
      consumerGroup: this.config.consumerGroup,
      partitionId: partition,
      sequenceNumber: atStart ? range.earliest - 1 : position - 1,
      offset: atStart ? BEFORE_FIRST_OFFSET : offsetBefore,
    });
  }

  async close(): Promise<void> {
    for (const client of this.clients.values()) await client.close();
  }
}

/** A reader's store outside the group: no checkpoints, and ownership that binds no one. */
class DetachedStore implements CheckpointStore {
  async listOwnership(): Promise<PartitionOwnership[]> {
    return [];
  }
  async claimOwnership(ownership: PartitionOwnership[]): Promise<PartitionOwnership[]> {
    return ownership;
  }
  async listCheckpoints(): Promise<Checkpoint[]> {
    return [];
  }
  async updateCheckpoint(): Promise<void> {}
}
