/**
 * The one conformance suite (test/support/source-conformance.ts) against the three sources: a Capture archive
 * in a local folder, the Event Hubs AMQP peer with a local checkpoint store, and the real Kafka broker (the run's
 * shared broker, one topic and group per test).
 */
import { Kafka } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { indexArchive } from '../../src/ingest/capture/archive-index.js';
import { CaptureSource } from '../../src/ingest/capture/source.js';
import { captureKey } from '../../src/ingest/capture/format.js';
import { EventHubsSource } from '../../src/ingest/eventhubs/source.js';
import { LocalCheckpointStore } from '../../src/ingest/eventhubs/local-checkpoint-store.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { ObjectCheckpointStore } from '../../src/sink/object-checkpoint-store.js';
import { describeKafka } from '../brokers/kafka/index.js';
import { startEventHubsPeer } from '../peers/eventhubs/index.js';
import { captureFile, captureRecord } from '../support/poison.js';
import { STREAM, describeSourceConformance, type ConformanceFixture } from '../support/source-conformance.js';
import { peerSourceConfig, quietLog, tempDir } from './eventhubs-support.js';
import { messages, source as kafkaSource, sourceConfig as kafkaSourceConfig } from './kafka-support.js';

const PARTITIONS = ['0', '1', '2'];
const BATCH = 5;
const T0 = Date.UTC(2026, 0, 1);
const log = createLogger(process.env.TRIBUTARY_TEST_LOG_LEVEL ?? 'silent');

async function captureFixture(): Promise<ConformanceFixture & { archive: LocalObjectStore }> {
  const dir = await tempDir('tributary-conformance-capture-');
  const archive = new LocalObjectStore(`${dir.path}/capture`);
  const state = new LocalObjectStore(`${dir.path}/state`);
  const next = PARTITIONS.map(() => 0);
  let window = 0;
  return {
    archive,
    partitions: PARTITIONS,
    async produce(counts) {
      // Files of up to 8 events, one capture window (a minute) each, so a partition spans several files.
      for (const [i, partition] of PARTITIONS.entries()) {
        let left = counts[i] ?? 0;
        while (left > 0) {
          const n = Math.min(8, left);
          const records = Array.from({ length: n }, (_, k) => {
            const position = next[i]! + k;
            return captureRecord(position, T0 + position * 1000, Buffer.from(`p${partition}-${position}`));
          });
          const key = captureKey({ namespace: 'ns', hub: 'orders', partition, windowStart: new Date(T0 + window++ * 60_000) });
          await archive.put(key, captureFile({ blocks: [{ records: records.slice(0, 4) }, { records: records.slice(4) }].filter((b) => b.records.length > 0) }));
          next[i]! += n;
          left -= n;
        }
      }
    },
    source: () =>
      new CaptureSource({
        store: archive,
        namespace: 'ns',
        hubs: { [STREAM]: 'orders' },
        checkpoints: new ObjectCheckpointStore(state),
        leases: state,
        owner: 'conformance',
        batchSize: BATCH,
        pollIntervalMs: 100,
        log,
        indexCache: state,
      }),
    async committed() {
      const list = await new ObjectCheckpointStore(state).list(STREAM);
      return new Map(list.map((c) => [c.partition, c.nextPosition]));
    },
    cleanup: () => dir.remove(),
  };
}

describeSourceConformance('Capture archive', captureFixture);

describe('the Capture fixture', () => {
  it('writes the events it is asked for, contiguous per partition and spread over several files', async () => {
    const fixture = await captureFixture();
    try {
      await fixture.produce([3, 9, 17]);
      await fixture.produce([0, 2, 1]);
      const index = await indexArchive({ store: fixture.archive, namespace: 'ns', hubs: { [STREAM]: 'orders' } }, undefined);
      const files = PARTITIONS.map((p) => index.get(STREAM)?.get(p) ?? []);
      expect(files.map((f) => f.reduce((sum, file) => sum + file.count, 0))).toEqual([3, 11, 18]);
      expect(files.map((f) => f.length)).toEqual([1, 3, 4]);
      expect(files[2]!.map((f) => [f.first?.position, f.last?.position])).toEqual([[0, 7], [8, 15], [16, 16], [17, 17]]);
    } finally {
      await fixture.cleanup();
    }
  });
});

describeSourceConformance('Event Hubs (AMQP peer)', async (): Promise<ConformanceFixture> => {
  const peer = await startEventHubsPeer({ hubs: { orders: { partitionCount: PARTITIONS.length, consumerGroups: ['tributary'] } } });
  const dir = await tempDir('tributary-conformance-eh-');
  const next = PARTITIONS.map(() => 0);
  return {
    partitions: PARTITIONS,
    async produce(counts) {
      for (const [i, partition] of PARTITIONS.entries()) {
        const n = counts[i] ?? 0;
        peer.publish('orders', Array.from({ length: n }, (_, k) => ({ body: `p${partition}-${next[i]! + k}` })), partition);
        next[i]! += n;
      }
    },
    source: () =>
      new EventHubsSource({
        config: peerSourceConfig(peer, dir.path, { maxBatchSize: BATCH }),
        log: quietLog,
        retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 50, factor: 2 },
      }),
    async committed() {
      const list = await new LocalCheckpointStore(dir.path).listCheckpoints(peer.host, 'orders', 'tributary');
      // The checkpoint holds the last done sequence number: the next position is the one after it.
      return new Map(list.map((c) => [c.partitionId, c.sequenceNumber + 1]));
    },
    async cleanup() {
      await peer.close();
      await dir.remove();
    },
  };
});

describeKafka('source conformance', (kafka) => {
  describeSourceConformance('Kafka', async (): Promise<ConformanceFixture> => {
    const broker = kafka();
    const topic = broker.uniqueName('conformance');
    const groupId = broker.uniqueName('tributary');
    await broker.createTopic(topic, PARTITIONS.length);
    const producer = new Kafka(broker.clientConfig('plaintext', { clientId: 'conformance-producer' })).producer();
    await producer.connect();
    const next = PARTITIONS.map(() => 0);
    return {
      partitions: PARTITIONS,
      async produce(counts) {
        for (const [i] of PARTITIONS.entries()) {
          const n = counts[i] ?? 0;
          if (n > 0) await producer.send({ topic, messages: messages(i, n, next[i]) });
          next[i]! += n;
        }
      },
      source: () => kafkaSource(kafkaSourceConfig(broker, topic, { groupId }), { batchSize: BATCH }),
      async committed() {
        // the group's committed offsets, as admin.fetchOffsets reports them
        const offsets = await broker.committedOffsets(groupId, topic);
        return new Map([...offsets].map(([partition, offset]) => [String(partition), offset]));
      },
      cleanup: () => producer.disconnect(),
    };
  });
});
