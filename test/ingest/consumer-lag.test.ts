/**
 * Consumer lag (tributary_consumer_lag_events, which the lag alert reads) comes from what the source knows lies
 * beyond the processed position: Kafka's high watermark, Event Hubs' last enqueued sequence number, the last record
 * of a Capture archive. With a
 * backlog it starts above zero and reaches zero once the partition has caught up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/core/log.js';
import { runWorker } from '../../src/runtime/worker.js';
import type { PipelineObserver } from '../../src/runtime/observer.js';
import { EventHubsSource } from '../../src/ingest/eventhubs/source.js';
import { startEventHubsPeer } from '../peers/eventhubs/index.js';
import { describeKafka } from '../brokers/kafka/index.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';
import { embeddedConfig } from '../support/embedded-config.js';
import { generateArchive } from '../../src/gen/archive.js';
import { connectProducer, deploymentConfig, orderMessage, orderType, orderValue } from './kafka-e2e-support.js';
import { peerSourceConfig } from './eventhubs-support.js';

const noop = (): void => undefined;
function lagRecorder(): { observer: PipelineObserver; lags: Map<string, number[]> } {
  const lags = new Map<string, number[]>();
  const observer: PipelineObserver = {
    eventsIn: noop, duplicates: noop, rowsLanded: noop, fileWritten: noop, deadLettered: noop, batchProcessed: noop, watermark: noop, checkpointed: noop,
    lag: (stream, partition, events) => {
      const key = `${stream}/${partition}`;
      lags.set(key, [...(lags.get(key) ?? []), events]);
    },
  };
  return { observer, lags };
}

describeKafka('consumer lag', (broker) => {
  let ws: Workspace | undefined;
  afterEach(async () => {
    await ws?.cleanup();
    ws = undefined;
  });

  it('is reported from Kafka high watermarks, from the backlog down to zero', async () => {
    ws = await createWorkspace();
    const kafka = broker();
    const topic = kafka.uniqueName('orders');
    await kafka.createTopic(topic, 2);
    const producer = await connectProducer(kafka);
    const type = await orderType();
    for (const partition of [0, 1]) {
      await producer.send({ topic, messages: Array.from({ length: 600 }, (_, i) => orderMessage(type, partition, i).message) });
    }
    await producer.disconnect();
    const config = parseConfig(deploymentConfig(kafka, ws, { topic, groupId: kafka.uniqueName('lag'), rowsPerFile: 1000, batchSize: 100 }), 'test');
    const { observer, lags } = lagRecorder();
    await runWorker(config, { bounded: true, signal: new AbortController().signal, log: createLogger('silent'), observers: [observer] });
    expect(await kafka.highWatermarks(topic)).toEqual([600, 600]);
    for (const partition of ['0', '1']) {
      const seen = lags.get(`orders/${partition}`) ?? [];
      expect(Math.max(...seen)).toBeGreaterThanOrEqual(400);
      expect(seen.at(-1)).toBe(0);
    }
  });
});

describe('consumer lag', () => {
  const stops: Array<() => Promise<void>> = [];
  let ws: Workspace | undefined;
  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
    await ws?.cleanup();
  });

  it('is reported from Event Hubs\' last enqueued sequence numbers', async () => {
    ws = await createWorkspace();
    const peer = await startEventHubsPeer({ hubs: { orders: { partitionCount: 1, consumerGroups: ['tributary'] } } });
    stops.push(() => peer.close());
    const type = await orderType();
    peer.publish('orders', Array.from({ length: 500 }, (_, i) => ({ body: type.toBuffer(orderValue(0, i)) })), '0');
    const base = deploymentConfig({ brokers: ['127.0.0.1:1'] }, ws, { topic: 'unused', groupId: 'unused', rowsPerFile: 1000, batchSize: 100 });
    const config = parseConfig({ ...base, source: { kind: 'capture', store: { kind: 'local', path: ws.file('none') }, namespace: 'x', hubs: { orders: 'orders' } } }, 'test');
    const { observer, lags } = lagRecorder();
    const source = new EventHubsSource({ config: peerSourceConfig(peer, ws.file('checkpoints')), log: createLogger('silent') });
    await runWorker(config, { bounded: true, signal: new AbortController().signal, log: createLogger('silent'), observers: [observer], source });
    const seen = lags.get('orders/0') ?? [];
    expect(Math.max(...seen)).toBeGreaterThan(0);
    expect(seen.at(-1)).toBe(0);
  });

  it('is reported for a Capture archive from the last record of each partition\'s last file', async () => {
    ws = await createWorkspace();
    const { config } = await ws.writeConfig({ ...embeddedConfig(ws), processing: { ...embeddedConfig(ws).processing, batchSize: 200 } });
    await generateArchive(config, { events: 3000, partitions: 2, seed: 21 });
    const { observer, lags } = lagRecorder();
    await runWorker(config, { bounded: true, signal: new AbortController().signal, log: createLogger('silent'), observers: [observer] });
    for (const partition of ['0', '1']) {
      const seen = lags.get(`orders/${partition}`) ?? [];
      expect(Math.max(...seen)).toBeGreaterThan(1000);
      expect(seen.at(-1)).toBe(0);
    }
  });
});
