/**
 * The Event Hubs source: one consumer group, one event hub per stream, each read by an EventHubConsumerClient
 * subscription (stream-consumer.ts) whose partitions are balanced across the running instances through the
 * checkpoint store's ownership records.
 */
import type { CheckpointStore } from '@azure/event-hubs';
import type { TokenCredential } from '@azure/identity';
import type { TributaryError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { RetryPolicy } from '../../core/retry.js';
import type { PartitionHandler, RunOptions, Source } from '../../core/source.js';
import { openCheckpointStore } from './checkpoint-stores.js';
import { hubPlans, type EventHubsSourceConfig } from './config.js';
import { StreamConsumer } from './stream-consumer.js';

export interface EventHubsSourceOptions {
  config: EventHubsSourceConfig;
  log: Logger;
  /** Entra ID credential for fullyQualifiedNamespace / accountUrl; DefaultAzureCredential when not given */
  credential?: TokenCredential;
  /** backoff for handler, checkpoint and startup retries; core/retry's default when not given */
  retry?: RetryPolicy;
  /**
   * Read without the checkpoint store (a range replay through a group of its own): no ownership records, no owner
   * level, no checkpoint read or written; every partition is read by this process.
   */
  detached?: boolean;
  /** bounded mode: per stream and partition, the position to stop before (a range replay's end) */
  until?: (stream: string, partition: string) => number | undefined;
}

export class EventHubsSource implements Source {
  readonly description: string;

  constructor(private readonly options: EventHubsSourceOptions) {
    const { config } = options;
    const namespace = config.fullyQualifiedNamespace ?? /Endpoint=sb:\/\/([^/;]+)/i.exec(config.connectionString ?? '')?.[1] ?? '?';
    const hubs = hubPlans(config).map((p) => p.hub).join(',');
    this.description = `eventhubs ${namespace} group ${config.consumerGroup} hubs ${hubs}`;
  }

  async run(handler: PartitionHandler, { signal, bounded }: RunOptions): Promise<void> {
    const { config, log, credential } = this.options;
    let store: CheckpointStore | undefined;
    if (this.options.detached) log.info({ consumerGroup: config.consumerGroup }, 'event hubs: reading without a checkpoint store');
    else {
      const opened = await openCheckpointStore(config.checkpointStore, credential);
      store = opened.store;
      log.info({ checkpoints: opened.location }, 'event hubs checkpoint store');
    }
    const { until } = this.options;
    const stop = new AbortController();
    const onAbort = (): void => stop.abort(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    let fatal: TributaryError | undefined;
    try {
      await Promise.all(
        hubPlans(config).map((plan) =>
          new StreamConsumer({
            plan,
            config,
            store,
            handler,
            bounded,
            until: until ? (partition) => until(plan.stream, partition) : undefined,
            signal: stop.signal,
            onFatal: (error) => {
              fatal ??= error;
              stop.abort(error);
            },
            log,
            credential,
            retry: this.options.retry,
          }).run(),
        ),
      );
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    if (fatal) throw fatal;
  }
}
