import type { TributaryConfig } from '../config/schema.js';
import type { Logger } from '../core/log.js';
import { ObjectCheckpointStore } from '../sink/object-checkpoint-store.js';
import type { ObjectStore } from '../core/object-store.js';
import { createObjectStore } from '../sink/store-factory.js';
import { localOwnerName } from './capture/ownership.js';
import { CaptureSource } from './capture/source.js';
import { EventHubsSource } from './eventhubs/source.js';
import { KafkaSource } from './kafka/source.js';
import type { Source } from '../core/source.js';

export interface SourceDependencies {
  /** the state store, where sources without a checkpoint protocol of their own keep checkpoints */
  state: ObjectStore;
  log: Logger;
}

/** Builds the configured source. */
export function createSource(config: TributaryConfig, deps: SourceDependencies): Source {
  const source = config.source;
  switch (source.kind) {
    case 'capture':
      return new CaptureSource({
        store: createObjectStore(source.store),
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
      return new KafkaSource({ config: source, batchSize: config.processing.batchSize, log: deps.log.child({ component: 'kafka-source' }) });
    case 'eventhubs':
      return new EventHubsSource({ config: source, log: deps.log.child({ component: 'eventhubs-source' }) });
  }
}
