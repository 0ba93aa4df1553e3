/**
 * The Kafka source against a real Kafka broker, with kafkajs doing the real group work and the broker's group
 * coordinator deciding membership.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Kafka } from 'kafkajs';
import { TributaryError } from '../../src/core/errors.js';
import type { KafkaSourceConfig } from '../../src/ingest/kafka/config.js';
import { describeKafka, type KafkaBroker } from '../brokers/kafka/index.js';
import { RecordingHandler, T0, messages, producerFor, source, sourceConfig } from './kafka-support.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Scenario {
  broker: KafkaBroker;
  topic: string;
  groupId: string;
  /** the source config on this scenario's topic and group; `extra` overrides any key */
  config(extra?: Record<string, unknown>): KafkaSourceConfig;
}

/** A fresh topic with `partitions` partitions and a group id of its own on the (shared) broker. */
async function scenario(broker: KafkaBroker, partitions = 3): Promise<Scenario> {
  const topic = broker.uniqueName('orders');
  const groupId = broker.uniqueName('tributary');
  await broker.createTopic(topic, partitions);
  return { broker, topic, groupId, config: (extra = {}) => sourceConfig(broker, topic, { groupId, ...extra }) };
}

/** Runs a source until `signal` aborts; the returned promise settles when run() does. */
function runInBackground(run: (signal: AbortSignal) => Promise<void>): { stop: () => Promise<void>; settled: Promise<void> } {
  const controller = new AbortController();
  const settled = run(controller.signal);
  const stop = async (): Promise<void> => {
    controller.abort();
    await settled;
  };
  cleanups.push(async () => {
    controller.abort();
    await settled.catch(() => undefined);
  });
  return { stop, settled };
}

describeKafka('KafkaSource', (kafka) => {
describe('bounded', () => {
  it('delivers every record once, in order per partition, with offset, key, timestamp and headers, then commits', async () => {
    const { broker, topic, groupId, config } = await scenario(kafka());
    const producer = await producerFor(broker, cleanups);
    for (const partition of [0, 1, 2]) {
      await producer.send({ topic, messages: messages(partition, 20 + partition * 7) });
      await producer.send({ topic, messages: messages(partition, 5, 20 + partition * 7) });
    }
    const handler = new RecordingHandler(10);
    await source(config()).run(handler, { signal: new AbortController().signal, bounded: true });

    for (const partition of [0, 1, 2]) {
      const key = `orders/${partition}`;
      const count = 25 + partition * 7;
      expect(handler.positions(key)).toEqual([...Array(count).keys()]);
      const events = handler.events.get(key)!;
      expect(events[3]).toEqual({
        body: Buffer.from(`p${partition}-3`),
        position: 3,
        offset: '3',
        enqueuedTimeMs: T0 + 3000,
        partitionKey: `key-${partition}-3`,
        properties: { traceparent: `00-${partition}-3-01` },
      });
      // Committed below the last boundary the handler reported, never beyond what it made durable.
      expect((await broker.committedOffsets(groupId, topic)).get(partition)).toBe(Math.floor(count / 10) * 10);
    }
    expect(handler.caughtUp.sort()).toEqual(['orders/0', 'orders/1', 'orders/2']);
    expect(handler.revoked.sort()).toEqual([
      ['orders', '0', 'shutdown'],
      ['orders', '1', 'shutdown'],
      ['orders', '2', 'shutdown'],
    ]);
    expect((await broker.describeGroup(groupId)).members).toEqual([]);
  });

  it('resumes at the snapshot position, else at the committed offset, else at startFrom', async () => {
    const { broker, topic, groupId, config } = await scenario(kafka());
    const producer = await producerFor(broker, cleanups);
    for (const partition of [0, 1, 2]) await producer.send({ topic, messages: messages(partition, 30) });

    // A first run commits partition 1 up to 20 (the handler commits every 20 positions) and stops early.
    const first = new RecordingHandler(20);
    const controller = new AbortController();
    first.beforeBatch = async (batch, signal) => {
      if (batch.partition === '1') return;
      // Held until the partition is lost or the run stops; then abandoned (never recorded, never committed).
      await new Promise<never>((_, reject) => {
        for (const s of [signal, controller.signal]) s.addEventListener('abort', () => reject(s.reason), { once: true });
      });
    };
    const running = source(config(), { batchSize: 20 }).run(first, {
      signal: controller.signal,
      bounded: false,
    });
    await vi.waitFor(async () => expect((await broker.committedOffsets(groupId, topic)).get(1)).toBe(20), { timeout: 20_000 });
    controller.abort();
    // The held batches fail at shutdown; whether the run reports that is not what this test is about.
    await running.catch(() => undefined);

    const second = new RecordingHandler(1000);
    second.resume.set('orders/0', 12);
    await source(config({ startFrom: { timestamp: new Date(T0 + 25_000).toISOString() } })).run(second, {
      signal: new AbortController().signal,
      bounded: true,
    });
    expect(second.positions('orders/0')).toEqual([...Array(18).keys()].map((i) => i + 12)); // snapshot
    expect(second.positions('orders/1')).toEqual([...Array(10).keys()].map((i) => i + 20)); // committed offset
    expect(second.positions('orders/2')).toEqual([25, 26, 27, 28, 29]); // startFrom timestamp
  });

  it('starts at the end with startFrom latest and catches up at once', async () => {
    const { broker, topic, groupId, config } = await scenario(kafka());
    const producer = await producerFor(broker, cleanups);
    await producer.send({ topic, messages: messages(0, 10) });
    const handler = new RecordingHandler();
    await source(config({ startFrom: 'latest' })).run(handler, { signal: new AbortController().signal, bounded: true });
    expect(handler.events.size).toBe(0);
    expect(handler.caughtUp.sort()).toEqual(['orders/0', 'orders/1', 'orders/2']);
  });

  it('fails with INPUT_MISSING for a topic that does not exist, naming it', async () => {
    const { broker, topic, groupId, config } = await scenario(kafka());
    const missing = broker.uniqueName('nope');
    const failure = source(config({ topics: { orders: missing } })).run(new RecordingHandler(), {
      signal: new AbortController().signal,
      bounded: true,
    });
    await expect(failure).rejects.toMatchObject({ code: 'INPUT_MISSING', message: expect.stringContaining(`"${missing}"`) });
  });

  it('fails naming the records the broker deleted before they were read, instead of waiting for them', async () => {
    const { broker, topic, groupId, config } = await scenario(kafka(), 1);
    const producer = await producerFor(broker, cleanups);
    await producer.send({ topic, messages: messages(0, 30) });
    // what retention does to records older than retention.ms: the partition's log now starts at 20
    await (await broker.admin()).deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '20' }] });
    const handler = new RecordingHandler();
    handler.resume.set('orders/0', 10); // a snapshot from before the deletion
    const failure = source(config()).run(handler, { signal: new AbortController().signal, bounded: true });
    await expect(failure).rejects.toMatchObject({ code: 'BROKER_PERMANENT', message: expect.stringContaining(`records 10..19 of ${topic}/0 were deleted by the broker`) });
    await expect(failure).rejects.toMatchObject({ message: expect.stringContaining(`group ${groupId}`) });
    expect(handler.positions('orders/0')).toEqual([]);
  });

  it('a member whose first assignment is empty waits for the partitions instead of ending, and reads them to its own targets', async () => {
    const { broker, topic, groupId, config } = await scenario(kafka(), 1);
    const producer = await producerFor(broker, cleanups);
    await producer.send({ topic, messages: messages(0, 10) });
    // kafkajs's round-robin assignor sorts members by id, which starts with the client id: "a-..." gets partition 0
    const first = new RecordingHandler(10);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    first.beforeBatch = () => released;
    const firstRun = source(config({ clientId: 'a-first' })).run(first, { signal: new AbortController().signal, bounded: true });
    await vi.waitFor(() => expect(first.assigned).toEqual(['orders/0']), { timeout: 30_000, interval: 100 });
    // produced after the first member read its targets (10) and before the second reads its own (15)
    await producer.send({ topic, messages: messages(0, 5, 10) });
    const second = new RecordingHandler(10);
    let secondEnded = false;
    const secondRun = source(config({ clientId: 'b-second' }))
      .run(second, { signal: new AbortController().signal, bounded: true })
      .finally(() => (secondEnded = true));
    await vi.waitFor(async () => {
      const group = await broker.describeGroup(groupId);
      expect([group.state, group.members.length]).toEqual(['Stable', 2]);
    }, { timeout: 30_000, interval: 100 });
    expect(second.assigned).toEqual([]);
    expect(secondEnded).toBe(false);
    release();
    await firstRun;
    // at least to its target (what it had fetched beyond it meanwhile is handed over too), committed at the cell (10)
    expect(first.positions('orders/0').slice(0, 10)).toEqual([...Array(10).keys()]);
    // the first member left; the second gets the partition at the first's commit and reads it to its own target, 15
    await secondRun;
    expect(second.positions('orders/0')).toEqual([10, 11, 12, 13, 14]);
    expect((await broker.committedOffsets(groupId, topic)).get(0)).toBe(10);
  });

  it('stops on a handler failure: the run rejects with it and owned partitions are released', async () => {
    const { broker, topic, groupId, config } = await scenario(kafka());
    const producer = await producerFor(broker, cleanups);
    for (const partition of [0, 1, 2]) await producer.send({ topic, messages: messages(partition, 5) });
    const handler = new RecordingHandler();
    handler.beforeBatch = async (batch) => {
      if (batch.partition === '2') throw new TributaryError('STORAGE_PERMANENT', 'the lake refused the write');
    };
    await expect(source(config()).run(handler, { signal: new AbortController().signal, bounded: true })).rejects.toMatchObject({
      code: 'STORAGE_PERMANENT',
    });
    expect(handler.revoked.map(([, , reason]) => reason)).toEqual(['shutdown', 'shutdown', 'shutdown']);
    expect((await broker.describeGroup(groupId)).members).toEqual([]);
  });

  it('finishes on a topic written in transactions, whose partitions end in commit and abort markers (offsets that are not records)', { timeout: 60_000 }, async () => {
    const { broker, topic, config } = await scenario(kafka());
    const producer = new Kafka(broker.clientConfig('plaintext', { clientId: 'test-tx-producer' })).producer({ transactionalId: broker.uniqueName('tx'), idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    const inTransaction = async (send: Array<{ partition: number; count: number; from: number }>, outcome: 'commit' | 'abort') => {
      const transaction = await producer.transaction();
      for (const { partition, count, from } of send) await transaction.send({ topic, messages: messages(partition, count, from) });
      await (outcome === 'commit' ? transaction.commit() : transaction.abort());
    };
    // partition 0: two committed transactions (each ends in a commit marker); partition 1: one committed, then one
    // aborted (its records and its abort marker are the partition's end); partition 2: one committed transaction
    await inTransaction([{ partition: 0, count: 7, from: 0 }, { partition: 1, count: 5, from: 0 }], 'commit');
    await inTransaction([{ partition: 0, count: 4, from: 7 }, { partition: 2, count: 3, from: 0 }], 'commit');
    await inTransaction([{ partition: 1, count: 6, from: 5 }], 'abort');
    const handler = new RecordingHandler(10);
    await source(config()).run(handler, { signal: new AbortController().signal, bounded: true });

    // the records of committed transactions, each once and in order; the markers and aborted records are not events
    expect(handler.positions('orders/0')).toEqual([0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11]);
    expect(handler.positions('orders/1')).toEqual([0, 1, 2, 3, 4]);
    expect(handler.positions('orders/2')).toEqual([0, 1, 2]);
    expect(handler.events.get('orders/0')!.map((e) => e.body.toString())).toEqual(['p0-0', 'p0-1', 'p0-2', 'p0-3', 'p0-4', 'p0-5', 'p0-6', 'p0-7', 'p0-8', 'p0-9', 'p0-10']);
    expect(handler.caughtUp.sort()).toEqual(['orders/0', 'orders/1', 'orders/2']);
  });

  it("with until (a range replay's end), hands over nothing at or past each partition's end and stops fetching there", async () => {
    const { broker, topic, config } = await scenario(kafka());
    const producer = await producerFor(broker, cleanups);
    // 30 record batches per partition, and fetches of about one batch: reading to the end would take 30 fetches
    for (let from = 0; from < 300; from += 10) for (const partition of [0, 1, 2]) await producer.send({ topic, messages: messages(partition, 10, from) });
    const ends: Record<string, number> = { '0': 37, '1': 1000, '2': 0 };
    const handler = new RecordingHandler(10);
    const kafkaSource = source(config({ fetch: { maxWait: '100ms', maxBytesPerPartition: 256 } }), { until: (stream, partition) => (stream === 'orders' ? ends[partition] : undefined) });
    const fetchedTo = new Map<number, number>();
    handler.beforeBatch = async () => {
      for (const lane of kafkaSource.stats()) fetchedTo.set(lane.partition, Math.max(fetchedTo.get(lane.partition) ?? 0, lane.nextFetchOffset));
    };
    await kafkaSource.run(handler, { signal: new AbortController().signal, bounded: true });

    expect(handler.positions('orders/0')).toEqual([...Array(37).keys()]);
    // an end past the high-water mark reads to the high-water mark, as a plain bounded run does
    expect(handler.positions('orders/1')).toEqual([...Array(300).keys()]);
    // an end at the start: nothing to read, and the partition is done at once
    expect(handler.positions('orders/2')).toEqual([]);
    expect(handler.caughtUp.sort()).toEqual(['orders/0', 'orders/1', 'orders/2']);
    // partition 0 stopped fetching near its end (a fetch in flight may add a batch or two), not at 300
    expect(fetchedTo.get(0)).toBeGreaterThanOrEqual(37);
    expect(fetchedTo.get(0)).toBeLessThan(100);
  });
});

describe('group membership', () => {
  it('splits partitions between two instances; the first loses what the second gains and leaves the rest for the new owner', async () => {
    const { broker, topic, config } = await scenario(kafka(), 4);
    const producer = await producerFor(broker, cleanups);
    for (const partition of [0, 1, 2, 3]) await producer.send({ topic, messages: messages(partition, 25) });

    const first = new RecordingHandler(10);
    const a = runInBackground((signal) => source(config()).run(first, { signal, bounded: false }));
    await vi.waitFor(() => expect(first.owned()).toHaveLength(4), { timeout: 10_000 });
    await vi.waitFor(() => expect([0, 1, 2, 3].every((p) => first.positions(`orders/${p}`).length === 25)).toBe(true), { timeout: 10_000 });

    const second = new RecordingHandler(10);
    const b = runInBackground((signal) => source(config()).run(second, { signal, bounded: false }));
    await vi.waitFor(
      () => {
        expect(first.owned()).toHaveLength(2);
        expect(second.owned()).toHaveLength(2);
      },
      { timeout: 15_000 },
    );
    expect([...first.owned(), ...second.owned()].sort()).toEqual(['orders/0', 'orders/1', 'orders/2', 'orders/3']);
    expect(first.revoked.every(([, , reason]) => reason === 'lost')).toBe(true);
    // The new owner starts where the old one last committed (positions 20..24 were never committed).
    await vi.waitFor(() => {
      for (const key of second.owned()) expect(second.positions(key)).toEqual([20, 21, 22, 23, 24]);
    });

    for (const partition of [0, 1, 2, 3]) await producer.send({ topic, messages: messages(partition, 5, 25) });
    await vi.waitFor(
      () => {
        for (const [handler, keys] of [
          [first, first.owned()],
          [second, second.owned()],
        ] as const) {
          for (const key of keys) expect(handler.positions(key).at(-1)).toBe(29);
        }
      },
      { timeout: 10_000 },
    );
    // Nothing beyond the new owner's own positions came to the old one after the revocation.
    for (const key of second.owned()) expect(first.positions(key).at(-1)).toBe(24);

    await b.stop();
    await vi.waitFor(() => expect(first.owned()).toHaveLength(4), { timeout: 15_000 });
    await a.stop();
    expect(first.owned()).toEqual([]);
    expect(second.revoked.filter(([, , reason]) => reason === 'shutdown')).toHaveLength(2);
  });

  it('keeps its membership through a batch that outlasts the session timeout', async () => {
    const { broker, topic, groupId, config } = await scenario(kafka(), 1);
    const producer = await producerFor(broker, cleanups);
    await producer.send({ topic, messages: messages(0, 10) });
    const handler = new RecordingHandler();
    let slow = true;
    handler.beforeBatch = async () => {
      if (!slow) return;
      slow = false;
      await new Promise((resolve) => setTimeout(resolve, 3_000));
    };
    const run = runInBackground((signal) =>
      source(config({ sessionTimeout: '1s', heartbeatInterval: '100ms' })).run(handler, { signal, bounded: false }),
    );
    await vi.waitFor(() => expect(handler.assigned).toEqual(['orders/0']), { timeout: 10_000 });
    await vi.waitFor(() => expect(handler.positions('orders/0')).toHaveLength(10), { timeout: 15_000 });
    // The coordinator formed the group once and never again: no eviction, no rebalance (its own log says so).
    expect(await broker.groupGenerations(groupId)).toEqual([{ generation: 1, members: 1 }]);
    expect((await broker.describeGroup(groupId)).state).toBe('Stable');
    expect(handler.revoked).toEqual([]);
    await run.stop();
  });

  it('pauses a partition whose handler is behind and resumes it when the lane drains', async () => {
    const { broker, topic, config } = await scenario(kafka(), 2);
    const producer = await producerFor(broker, cleanups);
    for (let i = 0; i < 20; i++) await producer.send({ topic, messages: messages(0, 10, i * 10) });
    await producer.send({ topic, messages: messages(1, 10) });

    const handler = new RecordingHandler(1000);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    handler.beforeBatch = async (batch) => {
      if (batch.partition === '0') await gate;
    };
    const kafkaSource = source(config({ maxQueuedEventsPerPartition: 30, fetch: { maxWait: '50ms', maxBytesPerPartition: 1024 } }), {
      batchSize: 10,
    });
    const run = runInBackground((signal) => kafkaSource.run(handler, { signal, bounded: false }));
    // The other partition is not held up by the slow one.
    await vi.waitFor(() => expect(handler.positions('orders/1')).toHaveLength(10), { timeout: 10_000 });
    await vi.waitFor(() => expect(kafkaSource.stats().find((s) => s.partition === 0)?.paused).toBe(true), { timeout: 10_000 });
    const paused = kafkaSource.stats().find((s) => s.partition === 0)!;
    // Fetching stopped well short of the 200 records: the queue is bounded by the limit plus one fetch.
    expect(paused.nextFetchOffset).toBeLessThan(100);
    expect(paused.queuedEvents).toBeLessThan(100);

    release();
    await vi.waitFor(() => expect(handler.positions('orders/0')).toEqual([...Array(200).keys()]), { timeout: 15_000 });
    expect(kafkaSource.stats().find((s) => s.partition === 0)?.paused).toBe(false);
    await run.stop();
  });
});

describe('SASL PLAIN (Event Hubs Kafka endpoint credentials)', () => {
  it('reads with $ConnectionString and the connection string taken from the environment', async () => {
    const { broker, topic, config } = await scenario(kafka(), 1);
    const producer = new Kafka(broker.clientConfig('saslPlain')).producer();
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    await producer.send({ topic, messages: messages(0, 7) });

    const handler = new RecordingHandler();
    const sasl = config(broker.sourceFields('saslPlain', { passwordEnv: 'TEST_EVENTHUBS_CONNECTION' }));
    await source(sasl, { env: { TEST_EVENTHUBS_CONNECTION: broker.listeners.saslPlain.password } }).run(handler, { signal: new AbortController().signal, bounded: true });
    expect(handler.positions('orders/0')).toEqual([...Array(7).keys()]);
  });

  it('fails with AUTHENTICATION_FAILED, not a hang, on a wrong password', async () => {
    const { broker, config } = await scenario(kafka(), 1);
    const wrong = config({
      brokers: broker.listeners.saslPlain.brokers,
      sasl: { mechanism: 'plain', username: '$ConnectionString', password: 'Endpoint=sb://tributary-test.servicebus.windows.net/;SharedAccessKey=wrong' },
    });
    const failure = await source(wrong)
      .run(new RecordingHandler(), { signal: new AbortController().signal, bounded: true })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(failure).toBeInstanceOf(TributaryError);
    expect(failure).toMatchObject({ code: 'AUTHENTICATION_FAILED', retriable: false });
    expect((failure as Error).message).toMatch(/Invalid username or password/);
    expect((failure as Error).message).not.toContain('wrong');
  });
});
});
