/**
 * Sends generated events to Event Hubs (one hub per stream) with EventHubProducerClient, as a real producer
 * would. Two routings:
 *
 * - `key` (default): a keyed event is sent with its partition key and the service picks the partition with its
 *   hash (the key also reaches consumers as `x-opt-partition-key`); a keyless event goes to the partition the
 *   generator spread it to. When the generator routed with Event Hubs' hash and the hub has as many partitions,
 *   both agree; disagreements are counted (`misrouted`).
 * - `partition`: every event goes to the generator's partition explicitly (the service then keeps no key).
 *
 * Events of one write() go out in order, in as few batches as the link's max message size allows (a batch has
 * one partition key, so keyed events are grouped by consecutive equal keys). Enqueued times are the service's;
 * application properties (a `traceparent` among them) travel as they are.
 */
import type { EventData, EventDataBatch, EventHubProducerClient } from '@azure/event-hubs';
import type { TokenCredential } from '@azure/identity';
import { TributaryError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { createProducerClient, sdkRetryOptions, type NamespaceConnection } from '../../ingest/eventhubs/client.js';
import { hubPlans, type EventHubsSourceConfig } from '../../ingest/eventhubs/config.js';
import { translateEventHubsError } from '../../ingest/eventhubs/errors.js';
import { mapPartitionKeyToId } from '../../partition/eventhubs-hash.js';
import type { GeneratedEvent, GenTarget } from '../target.js';

export type EventHubsRouting = 'key' | 'partition';

export interface EventHubsTargetOptions {
  /** connection string (namespace level) or fully qualified namespace, as the source config has them */
  connection: NamespaceConnection;
  /** stream -> event hub */
  hubs: Record<string, string>;
  /** the generator's partition count; every hub must have exactly this many partitions */
  partitions: number;
  routing?: EventHubsRouting;
  /** the SDK's retries per send (the source config's clientRetry); exponential from 1 s when not given */
  clientRetry?: EventHubsSourceConfig['clientRetry'];
  log: Logger;
  credential?: TokenCredential;
}

export interface EventHubsTargetStats {
  /** events the service accepted, per hub and partition */
  produced: Record<string, Record<string, number>>;
  /** keyed events the service's hash places in another partition than the generator's */
  misrouted: number;
}

interface Route {
  partitionKey?: string;
  partitionId?: string;
}

export class EventHubsTarget implements GenTarget {
  private readonly produced: Record<string, Record<string, number>> = {};
  private misrouted = 0;

  private constructor(
    private readonly producers: Map<string, EventHubProducerClient>,
    private readonly options: EventHubsTargetOptions,
  ) {}

  /** Opens a producer per hub and checks each hub has `partitions` partitions. */
  static async connect(options: EventHubsTargetOptions): Promise<EventHubsTarget> {
    const producers = new Map<string, EventHubProducerClient>();
    try {
      for (const [stream, hub] of Object.entries(options.hubs)) {
        const retryOptions = sdkRetryOptions(options.clientRetry ?? { maxRetries: 5, delay: 1_000, maxDelay: 30_000, timeout: 60_000 });
        const producer = createProducerClient(options.connection, hub, { retryOptions }, options.credential, 'target');
        producers.set(stream, producer);
        const ids = await step(`reading the partitions of ${hub}`, () => producer.getPartitionIds());
        if (ids.length !== options.partitions) {
          throw new TributaryError(
            'CONFIG_INVALID',
            `event hub "${hub}" (stream ${stream}) has ${ids.length} partitions but the generator spreads events over ${options.partitions}; pass --partitions ${ids.length}`,
          );
        }
      }
    } catch (error) {
      // The open failure is the one to report; a close failure on top is only logged (closeAll does).
      await closeAll(producers, options.log);
      throw error;
    }
    return new EventHubsTarget(producers, options);
  }

  async write(stream: string, partition: string, events: GeneratedEvent[]): Promise<void> {
    const producer = this.producers.get(stream);
    const hub = this.options.hubs[stream];
    if (!producer || hub === undefined) throw new TributaryError('CONFIG_INVALID', `no event hub is configured for stream "${stream}"`);
    let batch: EventDataBatch | undefined;
    let batchRoute: Route | undefined;
    const flush = async (): Promise<void> => {
      if (!batch || batch.count === 0) return;
      const sending = batch;
      await step(`sending to ${hub}`, () => producer.sendBatch(sending));
      const placed = batchRoute!.partitionId ?? String(mapPartitionKeyToId(batchRoute!.partitionKey!, this.options.partitions));
      const counts = (this.produced[hub] ??= {});
      counts[placed] = (counts[placed] ?? 0) + sending.count;
      batch = undefined;
    };
    for (const event of events) {
      const route = this.route(event, partition);
      if (batch && !sameRoute(route, batchRoute!)) await flush();
      const data: EventData = { body: Buffer.from(event.body.buffer, event.body.byteOffset, event.body.byteLength), properties: event.properties };
      if (batch && batch.tryAdd(data)) continue;
      await flush();
      batch = await step(`preparing a batch for ${hub}`, () => producer.createBatch(route));
      batchRoute = route;
      if (!batch.tryAdd(data)) {
        throw new TributaryError('EVENT_TOO_LARGE', `an event of ${event.body.byteLength} bytes does not fit a message to ${hub} (max ${batch.maxSizeInBytes} bytes)`);
      }
    }
    await flush();
  }

  async close(): Promise<void> {
    const failure = await closeAll(this.producers, this.options.log);
    if (failure !== undefined) throw translateEventHubsError(failure, 'event hubs target: closing the producers');
  }

  eventHubsStats(): EventHubsTargetStats {
    return { produced: structuredClone(this.produced), misrouted: this.misrouted };
  }

  private route(event: GeneratedEvent, partition: string): Route {
    if (this.options.routing === 'partition' || event.partitionKey === '') return { partitionId: partition };
    if (String(mapPartitionKeyToId(event.partitionKey, this.options.partitions)) !== partition) this.misrouted++;
    return { partitionKey: event.partitionKey };
  }
}

/** The target for a config whose source is Event Hubs: its namespace, credentials, hubs and SDK retries. */
export function connectEventHubsTargetForSource(
  source: EventHubsSourceConfig,
  options: { partitions: number; log: Logger; routing?: EventHubsRouting; credential?: TokenCredential },
): Promise<EventHubsTarget> {
  return EventHubsTarget.connect({
    connection: { connectionString: source.connectionString, fullyQualifiedNamespace: source.fullyQualifiedNamespace },
    hubs: Object.fromEntries(hubPlans(source).map((plan) => [plan.stream, plan.hub])),
    clientRetry: source.clientRetry,
    ...options,
  });
}

function sameRoute(a: Route, b: Route): boolean {
  return a.partitionKey === b.partitionKey && a.partitionId === b.partitionId;
}

async function step<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw translateEventHubsError(error, `event hubs target: ${what}`);
  }
}

/** Closes every producer; logs and returns the first failure, so one bad close does not leave the rest open. */
async function closeAll(producers: Map<string, EventHubProducerClient>, log: Logger): Promise<unknown> {
  const failures: unknown[] = [];
  for (const producer of producers.values()) {
    await producer.close().catch((error: unknown) => failures.push(error));
  }
  if (failures.length > 0) log.warn({ err: failures[0], failed: failures.length }, 'event hubs producers did not all close cleanly');
  return failures[0];
}
