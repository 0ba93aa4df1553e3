/**
 * Config of the Event Hubs source (AMQP, `@azure/event-hubs`): one namespace, one consumer group per deployment,
 * one hub per stream, partitions shared between running instances through a checkpoint store that also holds
 * partition ownership (the SDK's load balancing).
 */
import { z } from 'zod';
import { duration } from '../../config/units.js';

const inclusive = z.boolean().default(true).describe('start at this event (true) or right after it (false)');

/** Where a partition starts when there is neither a snapshot nor a checkpoint. */
export const startPositionSchema = z.union([
  z.enum(['earliest', 'latest']),
  z.strictObject({
    enqueuedTime: z.iso.datetime({ offset: true }).describe('ISO time: events enqueued after it'),
  }),
  z.strictObject({
    sequenceNumber: z.number().int().nonnegative().describe('a sequence number of the partition'),
    inclusive,
  }),
  z.strictObject({
    offset: z.string().regex(/^\d+$/, 'expected the decimal offset the service reported').describe('a service offset of the partition'),
    inclusive,
  }),
]);
export type StartPositionConfig = z.infer<typeof startPositionSchema>;

const hubSchema = z.union([
  z.string().min(1),
  z.strictObject({
    name: z.string().min(1).describe('the event hub'),
    startPosition: startPositionSchema.optional().describe('overrides source.startPosition for this hub'),
    partitionStartPositions: z
      .record(z.string().regex(/^\d+$/, 'expected a partition id'), startPositionSchema)
      .default({})
      .describe('partition id -> start position, overriding the hub\'s'),
  }),
]);

export const checkpointStoreSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('blob'),
    container: z.string().min(3).describe('blob container holding ownership and checkpoints (the @azure/eventhubs-checkpointstore-blob layout KEDA reads)'),
    connectionString: z.string().min(1).optional().describe('storage connection string (or use accountUrl + Entra ID)'),
    accountUrl: z.url().optional().describe('https://<account>.blob.core.windows.net, authenticated with DefaultAzureCredential'),
    createContainer: z.boolean().default(false).describe('create the container when it does not exist'),
  }).refine((s) => Boolean(s.connectionString) !== Boolean(s.accountUrl), {
    message: 'set exactly one of connectionString or accountUrl',
    path: ['connectionString'],
  }),
  z.strictObject({
    kind: z.literal('local'),
    path: z.string().min(1).describe('folder for ownership and checkpoint files; one worker instance only'),
  }),
]);
export type CheckpointStoreConfig = z.infer<typeof checkpointStoreSchema>;

const loadBalancingDefaults = { strategy: 'balanced' as const, updateInterval: 10_000, ownershipExpiration: 60_000 };

export const eventHubsSourceSchema = z
  .strictObject({
    kind: z.literal('eventhubs'),
    connectionString: z
      .string()
      .min(1)
      .optional()
      .describe('namespace connection string (Endpoint=sb://...;SharedAccessKeyName=...;SharedAccessKey=...), or use fullyQualifiedNamespace'),
    fullyQualifiedNamespace: z
      .string()
      .regex(/^[A-Za-z0-9.-]+$/, 'expected a host name such as <namespace>.servicebus.windows.net')
      .optional()
      .describe('<namespace>.servicebus.windows.net, authenticated with DefaultAzureCredential'),
    consumerGroup: z.string().min(1).describe('consumer group, one per deployment'),
    hubs: z
      .record(z.string(), hubSchema)
      .refine((h) => Object.keys(h).length > 0, 'map at least one stream to an event hub')
      .describe('stream name -> event hub name (or { name, startPosition, partitionStartPositions })'),
    checkpointStore: checkpointStoreSchema.describe('partition ownership and checkpoints'),
    startPosition: startPositionSchema.default('earliest').describe('where a partition starts without snapshot or checkpoint'),
    maxBatchSize: z.number().int().positive().max(10_000).default(1000).describe('most events handed over per batch'),
    maxWaitTime: duration
      .refine((ms) => ms >= 100, 'maxWaitTime must be at least 100ms')
      .default(5_000)
      .describe('how long an idle partition waits for events before the SDK reports an empty batch'),
    prefetchCount: z.number().int().positive().optional().describe('events buffered per partition ahead of processing (default: 3 x maxBatchSize)'),
    loadBalancing: z
      .strictObject({
        strategy: z.enum(['balanced', 'greedy']).default('balanced').describe('balanced claims one partition per interval, greedy all it is due at once'),
        updateInterval: duration.refine((ms) => ms >= 100, 'updateInterval must be at least 100ms').default(10_000).describe('how often ownership is renewed and rebalanced'),
        ownershipExpiration: duration.default(60_000).describe('ownership not renewed for this long may be claimed by another instance'),
      })
      .refine((l) => l.ownershipExpiration > l.updateInterval, {
        message: 'ownershipExpiration must be longer than updateInterval',
        path: ['ownershipExpiration'],
      })
      .default(loadBalancingDefaults),
    clientRetry: z
      .strictObject({
        maxRetries: z.number().int().min(0).max(100).default(5).describe('retries of one SDK operation (connect, receive, management call)'),
        delay: duration.default(1_000).describe('first delay; doubles per retry (exponential backoff)'),
        maxDelay: duration.default(30_000).describe('longest delay between retries'),
        timeout: duration.refine((ms) => ms >= 1_000, 'timeout must be at least 1s').default(60_000).describe('time limit of one attempt'),
      })
      .default({ maxRetries: 5, delay: 1_000, maxDelay: 30_000, timeout: 60_000 })
      .describe('the SDK\'s own retries; its defaults (30s fixed delay) would stall a partition for half a minute after every detach'),
    identifier: z.string().min(1).optional().describe('owner id of this instance in the ownership records (default: <hostname>-<pid>)'),
  })
  .refine((s) => Boolean(s.connectionString) !== Boolean(s.fullyQualifiedNamespace), {
    message: 'set exactly one of connectionString or fullyQualifiedNamespace',
    path: ['connectionString'],
  });
export type EventHubsSourceConfig = z.infer<typeof eventHubsSourceSchema>;
export type EventHubsSourceConfigInput = z.input<typeof eventHubsSourceSchema>;

export interface HubPlan {
  stream: string;
  hub: string;
  startPosition: StartPositionConfig;
  partitionStartPositions: Record<string, StartPositionConfig>;
}

/** One entry per stream, the shorthand `stream: hub` expanded and the source-wide start position applied. */
export function hubPlans(config: EventHubsSourceConfig): HubPlan[] {
  return Object.entries(config.hubs).map(([stream, hub]) =>
    typeof hub === 'string'
      ? { stream, hub, startPosition: config.startPosition, partitionStartPositions: {} }
      : {
          stream,
          hub: hub.name,
          startPosition: hub.startPosition ?? config.startPosition,
          partitionStartPositions: hub.partitionStartPositions,
        },
  );
}
