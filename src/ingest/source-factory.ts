import type { StoreConfig, TributaryConfig } from '../config/schema.js';
import type { Logger } from '../core/log.js';
import { ObjectCheckpointStore } from '../sink/object-checkpoint-store.js';
import type { ObjectStore } from '../core/object-store.js';
import { configuredStore } from '../sink/store-factory.js';
import { localOwnerName } from './capture/ownership.js';
import { CaptureSource } from './capture/source.js';
import { hubPlans } from './eventhubs/config.js';
import type { PartitionHandler, RunOptions, Source } from '../core/source.js';

export interface SourceDependencies {
  /** the state store, where sources without a checkpoint protocol of their own keep checkpoints */
  state: ObjectStore;
  log: Logger;
  /**
   * Opens the store the archive is read from. The worker passes its own, so archive reads get the configured
   * retry budget, the shutdown signal and the error metric like every other store call; by default the store as
   * configured, with the configured retry policy.
   */
  openStore?: (config: StoreConfig) => ObjectStore;
  /** bounded runs: per partition, where reading stops if that comes first (a range replay's end; Kafka reads no further) */
  until?: (stream: string, partition: string) => number | undefined;
}

/**
 * Builds the configured source. The Kafka and Event Hubs sources (and their SDKs, ~0.3 s and ~15 MiB each) are
 * imported when the source runs, so a process loads only the client its config uses.
 */
export function createSource(config: TributaryConfig, deps: SourceDependencies): Source {
  const source = config.source;
  switch (source.kind) {
    case 'capture':
      return new CaptureSource({
        store: deps.openStore?.(source.store) ?? configuredStore(config, source.store, { logger: deps.log }),
        namespace: source.namespace,
        hubs: source.hubs,
        checkpoints: new ObjectCheckpointStore(deps.state),
        leases: deps.state,
        owner: localOwnerName(),
        leaseTtlMs: source.leaseTtl,
        batchSize: config.processing.batchSize,
        onCorruptBlock: source.onCorruptBlock,
        log: deps.log.child({ component: 'capture-source' }),
        indexCache: deps.state,
      });
    case 'kafka':
      return lazySource(`kafka ${source.brokers.join(',')} group ${source.groupId} topics ${Object.values(source.topics).join(',')}`, async () => {
        const { KafkaSource } = await import('./kafka/source.js');
        return new KafkaSource({ config: source, batchSize: config.processing.batchSize, log: deps.log.child({ component: 'kafka-source' }), ...(deps.until ? { until: deps.until } : {}) });
      });
    case 'eventhubs': {
      const namespace = source.fullyQualifiedNamespace ?? /Endpoint=sb:\/\/([^/;]+)/i.exec(source.connectionString ?? '')?.[1] ?? '?';
      const hubs = hubPlans(source).map((p) => p.hub).join(',');
      return lazySource(`eventhubs ${namespace} group ${source.consumerGroup} hubs ${hubs}`, async () => {
        const { EventHubsSource } = await import('./eventhubs/source.js');
        return new EventHubsSource({ config: source, log: deps.log.child({ component: 'eventhubs-source' }) });
      });
    }
  }
}

/** A source whose module is imported at `run`; its description is the loaded source's from then on. */
function lazySource(description: string, load: () => Promise<Source>): Source {
  let loaded: Source | undefined;
  return {
    get description() {
      return loaded?.description ?? description;
    },
    async run(handler: PartitionHandler, options: RunOptions) {
      loaded ??= await load();
      return loaded.run(handler, options);
    },
  };
}
