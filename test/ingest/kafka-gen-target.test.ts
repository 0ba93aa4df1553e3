/**
 * The Kafka generator target against a real broker (automatic topic creation off, as on Event Hubs): placement by
 * kafkajs's default partitioner, timestamps and headers, topic creation and checks, request splitting (counted
 * in the broker's own log segments), and a whole generator run read back by the Kafka source.
 */
import { afterEach, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { generateStreams } from '../../src/gen/generate.js';
import { parseGenOptions } from '../../src/gen/options.js';
import type { GeneratedEvent } from '../../src/gen/target.js';
import { KafkaTarget } from '../../src/gen/targets/kafka.js';
import { kafkaPartitionForKey } from '../../src/partition/kafka-murmur2.js';
import { describeKafka, type KafkaBroker } from '../brokers/kafka/index.js';
import { RecordingHandler, log, source, sourceConfig } from './kafka-support.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function target(broker: KafkaBroker, topic: string, partitions: number, extra: { maxRequestBytes?: number } = {}): Promise<KafkaTarget> {
  const connected = await KafkaTarget.connect({ source: sourceConfig(broker, topic), partitions, log, ...extra });
  cleanups.push(() => connected.close());
  return connected;
}

function event(key: string, i: number): GeneratedEvent {
  return { body: Buffer.from(`body-${key}-${i}`), partitionKey: key, enqueuedTimeMs: 1_700_000_000_000 + i, properties: { traceparent: `00-${i}` } };
}

async function readBack(broker: KafkaBroker, topic: string): Promise<RecordingHandler> {
  const handler = new RecordingHandler(1_000_000);
  await source(sourceConfig(broker, topic, { groupId: broker.uniqueName('read') })).run(handler, { signal: new AbortController().signal, bounded: true });
  return handler;
}

describeKafka('KafkaTarget', (kafka) => {
  it('creates the topic and places keyed events by the default partitioner, keyless ones where the generator put them', async () => {
    const broker = kafka();
    const topic = broker.uniqueName('orders');
    const gen = await target(broker, topic, 4);
    const keys = ['customer-1', 'customer-2', 'customer-3', 'customer-42', 'ü-key'];
    for (const key of keys) {
      await gen.write('orders', String(kafkaPartitionForKey(key, 4)), [0, 1, 2].map((i) => event(key, i)));
    }
    await gen.write('orders', '2', [event('', 7), event('', 8)]);
    expect(await broker.highWatermarks(topic)).toHaveLength(4);

    const handler = await readBack(broker, topic);
    for (const key of keys) {
      const partition = kafkaPartitionForKey(key, 4);
      const records = handler.events.get(`orders/${partition}`)!.filter((e) => e.partitionKey === key);
      expect(records.map((e) => Buffer.from(e.body).toString())).toEqual([0, 1, 2].map((i) => `body-${key}-${i}`));
      expect(records.map((e) => e.enqueuedTimeMs)).toEqual([0, 1, 2].map((i) => 1_700_000_000_000 + i));
      expect(records[1]!.properties).toEqual({ traceparent: '00-1' });
    }
    const keyless = handler.events.get('orders/2')!.filter((e) => e.partitionKey === null);
    expect(keyless.map((e) => Buffer.from(e.body).toString())).toEqual(['body--7', 'body--8']);
    expect(gen.kafkaStats().misrouted).toBe(0);
    const produced = gen.kafkaStats().produced[topic]!;
    expect(Object.values(produced).reduce((a, b) => a + b, 0)).toBe(17);
  });

  it('counts keyed events the generator planned for another partition than Kafka puts them', async () => {
    const broker = kafka();
    const topic = broker.uniqueName('orders');
    const gen = await target(broker, topic, 4);
    const key = 'customer-1';
    const wrong = (kafkaPartitionForKey(key, 4) + 1) % 4;
    await gen.write('orders', String(wrong), [event(key, 0)]);
    expect(gen.kafkaStats().misrouted).toBe(1);
    expect((await broker.highWatermarks(topic))[kafkaPartitionForKey(key, 4)]).toBe(1);
  });

  it('splits a large write into requests below the size limit', async () => {
    const broker = kafka();
    const topic = broker.uniqueName('orders');
    const gen = await target(broker, topic, 1, { maxRequestBytes: 2_000 });
    await gen.write('orders', '0', Array.from({ length: 100 }, (_, i) => ({ ...event('', i), body: Buffer.alloc(100, i) })));
    // Each request became its own record batch in the broker's log segment; all records arrive, in order.
    expect((await broker.batchCounts(topic))[0]).toBeGreaterThanOrEqual(8);
    const handler = await readBack(broker, topic);
    expect(handler.positions('orders/0')).toEqual([...Array(100).keys()]);
    expect(handler.events.get('orders/0')!.map((e) => e.body[0])).toEqual([...Array(100).keys()]);
  });

  it('refuses a topic whose partition count differs from the generator\'s', async () => {
    const broker = kafka();
    const topic = broker.uniqueName('orders');
    await broker.createTopic(topic, 3);
    await expect(KafkaTarget.connect({ source: sourceConfig(broker, topic), partitions: 8, log })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('--partitions 3'),
    });
  });

  it('takes a whole generator run, faults included, and the Kafka source reads every delivery back', async () => {
    const broker = kafka();
    const topic = broker.uniqueName('orders');
    const config = parseConfig(
      {
        streams: {
          orders: { schema: 'examples/schemas/orders.avsc', eventId: 'orderId', eventTime: 'createdAt', partitionKey: 'customerId' },
        },
        source: { kind: 'kafka', brokers: broker.brokers, topics: { orders: topic }, groupId: 'gen' },
      },
      'test',
    );
    const options = parseGenOptions({ events: 2_000, partitions: 4, keys: 50, faults: { duplicate: 0.02, corrupt: 0.01 }, batchSize: 256 });
    const gen = await target(broker, topic, 4);
    const summary = await generateStreams(config, options, gen);
    const handler = await readBack(broker, topic);
    const received = [...handler.events.values()].reduce((n, events) => n + events.length, 0);
    expect(received).toBe(summary.streams[0]!.deliveredEvents);
    expect(summary.streams[0]!.deliveredEvents).toBeGreaterThan(2_000);
  });
});
