/**
 * Unmodified kafkajs clients (producer, consumer, admin) doing their real work against the Kafka peer.
 */
import { describe, expect, it, vi } from 'vitest';
import { Kafka, logLevel, type Consumer, type EachBatchPayload, type KafkaConfig } from 'kafkajs';
import { type KafkaPeer, type KafkaPeerOptions } from './kafka/index.js';
import { kafkaPeerPerTest } from './kafka/fixture.js';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

const peers = kafkaPeerPerTest();
const cleanups = peers.cleanups;

async function startPeer(options: KafkaPeerOptions = {}): Promise<KafkaPeer> {
  return peers.start(options);
}

function client(target: KafkaPeer, extra: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({
    clientId: 'peer-test',
    brokers: target.brokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 50 },
    ...extra,
  });
}

async function connected<T extends { connect(): Promise<void>; disconnect(): Promise<void> }>(thing: T): Promise<T> {
  await thing.connect();
  cleanups.push(() => thing.disconnect());
  return thing;
}

interface Received {
  partition: number;
  offset: string;
  key: string | null;
  value: string;
  traceparent: string | undefined;
}

/** Runs a consumer that records every message; resolves with the records once `count` have arrived. */
function consumeAll(consumer: Consumer, count: number): Promise<Received[]> {
  const received: Received[] = [];
  return new Promise((resolve, reject) => {
    consumer
      .run({
        eachMessage: async ({ partition, message }) => {
          received.push({
            partition,
            offset: message.offset,
            key: message.key?.toString() ?? null,
            value: message.value!.toString(),
            traceparent: message.headers?.traceparent?.toString(),
          });
          if (received.length === count) resolve(received);
        },
      })
      .catch(reject);
  });
}

describe('kafkajs against the peer', () => {
  it('round-trips produced messages to a consumer group exactly once, with keys and headers', async () => {
    const target = await startPeer();
    const kafka = client(target);
    const admin = await connected(kafka.admin());
    await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 4 }] });

    const producer = await connected(kafka.producer());
    const sent = Array.from({ length: 200 }, (_, i) => ({ key: `customer-${i % 17}`, value: `order-${i}`, headers: { traceparent: `00-${i}` } }));
    for (let i = 0; i < sent.length; i += 50) await producer.send({ topic: 'orders', messages: sent.slice(i, i + 50) });

    const consumer = await connected(kafka.consumer({ groupId: 'round-trip', maxWaitTimeInMs: 100 }));
    await consumer.subscribe({ topic: 'orders', fromBeginning: true });
    const received = await consumeAll(consumer, sent.length);

    expect(received.map((r) => r.value).sort()).toEqual(sent.map((m) => m.value).sort());
    for (const record of received) {
      const index = Number(record.value.slice('order-'.length));
      expect(record.key).toBe(`customer-${index % 17}`);
      expect(record.traceparent).toBe(`00-${index}`);
    }
    // kafkajs's default partitioner is key-based: one key, one partition.
    const partitionsByKey = new Map<string, Set<number>>();
    for (const record of received) partitionsByKey.set(record.key!, (partitionsByKey.get(record.key!) ?? new Set()).add(record.partition));
    expect([...partitionsByKey.values()].every((partitions) => partitions.size === 1)).toBe(true);
    // Offsets inside each partition are dense and in order.
    for (let partition = 0; partition < 4; partition++) {
      const offsets = received.filter((r) => r.partition === partition).map((r) => Number(r.offset));
      expect(offsets).toEqual(offsets.map((_, i) => i));
    }
    expect(target.highWatermarks('orders').reduce((a, b) => a + b, 0)).toBe(sent.length);
  });

  it('serves admin createTopics, fetchTopicOffsets, setOffsets, resetOffsets, fetchOffsets and describeGroups', async () => {
    const target = await startPeer();
    const kafka = client(target);
    const admin = await connected(kafka.admin());
    expect(await admin.createTopics({ topics: [{ topic: 'telemetry', numPartitions: 3 }] })).toBe(true);
    expect(await admin.createTopics({ topics: [{ topic: 'telemetry', numPartitions: 3 }] })).toBe(false);
    expect((await admin.listTopics()).sort()).toEqual(['telemetry']);

    const producer = await connected(kafka.producer());
    for (let partition = 0; partition < 3; partition++) {
      await producer.send({ topic: 'telemetry', messages: Array.from({ length: partition + 2 }, (_, i) => ({ partition, value: `v${i}`, timestamp: String(1_000 * (i + 1)) })) });
    }
    const offsets = await admin.fetchTopicOffsets('telemetry');
    expect(offsets.map((o) => [o.partition, o.low, o.high]).sort()).toEqual([
      [0, '0', '2'],
      [1, '0', '3'],
      [2, '0', '4'],
    ]);
    const byTime = await admin.fetchTopicOffsetsByTimestamp('telemetry', 2_500);
    expect(byTime.map((o) => [o.partition, o.offset]).sort()).toEqual([
      [0, '2'],
      [1, '2'],
      [2, '2'],
    ]);

    await admin.setOffsets({ groupId: 'replay', topic: 'telemetry', partitions: [{ partition: 0, offset: '1' }, { partition: 2, offset: '3' }] });
    const committed = await admin.fetchOffsets({ groupId: 'replay', topics: ['telemetry'] });
    expect(committed[0]!.partitions.map((p) => [p.partition, p.offset]).sort()).toEqual([
      [0, '1'],
      [1, '-1'],
      [2, '3'],
    ]);
    // kafkajs commits the "earliest" sentinel itself (-2), and a consumer resolves it with ListOffsets.
    await admin.resetOffsets({ groupId: 'replay', topic: 'telemetry', earliest: true });
    const reset = await admin.fetchOffsets({ groupId: 'replay', topics: ['telemetry'] });
    expect(reset[0]!.partitions.map((p) => [p.partition, p.offset]).sort()).toEqual([
      [0, '-2'],
      [1, '-2'],
      [2, '-2'],
    ]);

    // kafkajs resolves a negative committed offset with the subscription's fromBeginning, not the sentinel.
    const consumer = await connected(kafka.consumer({ groupId: 'replay', maxWaitTimeInMs: 100 }));
    await consumer.subscribe({ topic: 'telemetry', fromBeginning: true });
    const received = await consumeAll(consumer, 9);
    expect(received).toHaveLength(9);
    const { groups } = await admin.describeGroups(['replay']);
    expect(groups[0]).toMatchObject({ groupId: 'replay', state: 'Stable', protocolType: 'consumer', protocol: 'RoundRobinAssigner' });
    expect(groups[0]!.members).toHaveLength(1);
    expect(groups[0]!.members[0]!.memberAssignment.length).toBeGreaterThan(0);
    // A running group cannot have its offsets moved.
    await expect(admin.setOffsets({ groupId: 'replay', topic: 'telemetry', partitions: [{ partition: 0, offset: '0' }] })).rejects.toThrow(/no running instances/);
  });

  it('rebalances a group of two: partitions split between the members, and return to the survivor when one leaves', async () => {
    const target = await startPeer();
    const kafka = client(target);
    const admin = await connected(kafka.admin());
    await admin.createTopics({ topics: [{ topic: 'events', numPartitions: 6 }] });

    const assignments = new Map<string, number[]>();
    const start = async (name: string): Promise<Consumer> => {
      const consumer = kafka.consumer({ groupId: 'pair', heartbeatInterval: 100, maxWaitTimeInMs: 100 });
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => assignments.set(name, payload.memberAssignment.events ?? []));
      await consumer.connect();
      await consumer.subscribe({ topic: 'events' });
      await consumer.run({ eachBatch: async (_: EachBatchPayload) => undefined });
      return consumer;
    };

    const first = await start('first');
    cleanups.push(() => first.disconnect());
    await vi.waitFor(() => expect(assignments.get('first')).toHaveLength(6), { timeout: 10_000 });

    const second = await start('second');
    await vi.waitFor(
      () => {
        expect(assignments.get('first')).toHaveLength(3);
        expect(assignments.get('second')).toHaveLength(3);
      },
      { timeout: 15_000 },
    );
    expect([...assignments.get('first')!, ...assignments.get('second')!].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    const description = target.describeGroup('pair');
    expect(description.members).toHaveLength(2);

    await second.disconnect();
    await vi.waitFor(() => expect(assignments.get('first')).toHaveLength(6), { timeout: 15_000 });
    expect(target.describeGroup('pair').members).toHaveLength(1);
  });

  it('keeps working when the broker drops every connection', async () => {
    const target = await startPeer();
    const kafka = client(target);
    const producer = await connected(kafka.producer());
    await producer.send({ topic: 'blips', messages: [{ value: 'before' }] });
    const consumer = await connected(kafka.consumer({ groupId: 'blips', maxWaitTimeInMs: 100 }));
    await consumer.subscribe({ topic: 'blips', fromBeginning: true });
    const received = consumeAll(consumer, 2);
    await vi.waitFor(() => expect(target.committedOffsets('blips').get('blips')?.get(0)?.offset).toBe(1), { timeout: 10_000 });

    target.dropConnections();
    await producer.send({ topic: 'blips', messages: [{ value: 'after' }] });
    expect((await received).map((r) => r.value)).toEqual(['before', 'after']);
  });
});

describe('SASL PLAIN (Event Hubs Kafka endpoint style credentials)', () => {
  const connectionString = 'Endpoint=sb://peer.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=c2VjcmV0';

  it('authenticates producer, consumer and admin with $ConnectionString', async () => {
    const target = await startPeer({ sasl: { username: '$ConnectionString', password: connectionString } });
    const kafka = client(target, { sasl: { mechanism: 'plain', username: '$ConnectionString', password: connectionString } });
    const admin = await connected(kafka.admin());
    await admin.createTopics({ topics: [{ topic: 'secure', numPartitions: 2 }] });
    const producer = await connected(kafka.producer());
    await producer.send({ topic: 'secure', messages: [{ key: 'a', value: '1' }, { key: 'b', value: '2' }] });
    const consumer = await connected(kafka.consumer({ groupId: 'secure', maxWaitTimeInMs: 100 }));
    await consumer.subscribe({ topic: 'secure', fromBeginning: true });
    expect((await consumeAll(consumer, 2)).map((r) => r.value).sort()).toEqual(['1', '2']);
  });

  it('fails fast with a clear authentication error on a wrong password', async () => {
    const target = await startPeer({ sasl: { username: '$ConnectionString', password: connectionString } });
    const kafka = client(target, { sasl: { mechanism: 'plain', username: '$ConnectionString', password: 'wrong' } });
    const admin = kafka.admin();
    const failure = await admin.connect().then(
      () => undefined,
      (error: unknown) => error,
    );
    await admin.disconnect();
    expect(failure).toMatchObject({ name: 'KafkaJSSASLAuthenticationError' });
    expect((failure as Error).message).toMatch(/Authentication failed: Invalid username or password/);
  });
});
