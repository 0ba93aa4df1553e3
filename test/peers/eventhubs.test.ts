/**
 * The Event Hubs AMQP test peer, exercised by the unmodified @azure/event-hubs clients over loopback.
 */
import {
  EventHubConsumerClient,
  EventHubProducerClient,
  earliestEventPosition,
  latestEventPosition,
  type EventPosition,
  type ReceivedEventData,
  type Subscription,
} from '@azure/event-hubs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mapPartitionKeyToId } from '../../src/partition/eventhubs-hash.js';
import { startEventHubsPeer, type EventHubsPeer } from './eventhubs/index.js';

const HUB = 'orders';
let peer: EventHubsPeer;
let clock: number;
const closers: Array<() => Promise<void>> = [];

beforeEach(async () => {
  clock = Date.UTC(2024, 0, 1);
  peer = await startEventHubsPeer({ hubs: { [HUB]: { partitionCount: 4, consumerGroups: ['tributary'] } }, now: () => clock });
});

afterEach(async () => {
  while (closers.length) await closers.pop()!();
  await peer.close();
});

function producer(): EventHubProducerClient {
  const client = new EventHubProducerClient(peer.connectionString(HUB), { retryOptions: { maxRetries: 5, retryDelayInMs: 100 } });
  closers.push(() => client.close());
  return client;
}

function consumer(group = '$default'): EventHubConsumerClient {
  const client = new EventHubConsumerClient(group, peer.connectionString(HUB), { retryOptions: { maxRetries: 5, retryDelayInMs: 100 } });
  closers.push(() => client.close());
  return client;
}

interface Receiving {
  /** Resolves once `count` events arrived; rejects after `timeoutMs`. */
  done: Promise<ReceivedEventData[]>;
  received: ReceivedEventData[];
  errors: Array<Error & { code?: string }>;
}

/** Subscribes to one partition and collects what arrives; the subscription closes after the test. */
function receive(
  client: EventHubConsumerClient,
  partitionId: string,
  startPosition: EventPosition,
  count: number,
  options: { ownerLevel?: number; timeoutMs?: number } = {},
): Receiving {
  const received: ReceivedEventData[] = [];
  const errors: Array<Error & { code?: string }> = [];
  let timer: NodeJS.Timeout | undefined;
  let subscription!: Subscription;
  const done = new Promise<ReceivedEventData[]>((resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`received ${received.length} of ${count} events; errors: ${errors.map((e) => e.message).join('; ')}`)),
      options.timeoutMs ?? 30_000,
    );
    subscription = client.subscribe(
      partitionId,
      {
        processEvents: async (events) => {
          received.push(...events);
          if (received.length >= count) {
            clearTimeout(timer);
            resolve(received);
          }
        },
        processError: async (error) => {
          errors.push(error);
        },
      },
      { startPosition, maxBatchSize: 50, maxWaitTimeInSeconds: 1, ownerLevel: options.ownerLevel },
    );
  });
  closers.push(async () => {
    clearTimeout(timer);
    await subscription.close();
  });
  return { done, received, errors };
}

const bytes = (value: string): Buffer => Buffer.from(value, 'utf8');
const text = (event: ReceivedEventData): string => Buffer.from(event.body as Uint8Array).toString('utf8');

describe('Event Hubs peer', () => {
  it('answers hub and partition properties like the service', async () => {
    const client = consumer();
    const hub = await client.getEventHubProperties();
    expect(hub.name).toBe(HUB);
    expect(hub.partitionIds).toEqual(['0', '1', '2', '3']);

    const empty = await client.getPartitionProperties('2');
    expect(empty).toMatchObject({ partitionId: '2', isEmpty: true, lastEnqueuedSequenceNumber: -1 });

    await producer().sendBatch([{ body: 'a' }, { body: 'b' }], { partitionId: '2' });
    const filled = await client.getPartitionProperties('2');
    expect(filled).toMatchObject({ partitionId: '2', isEmpty: false, beginningSequenceNumber: 0, lastEnqueuedSequenceNumber: 1 });
    expect(filled.lastEnqueuedOffset).toBe(peer.events(HUB, '2')[1]!.offset);
    expect(filled.lastEnqueuedOnUtc.getTime()).toBe(clock);
  });

  it('routes a partition key to the partition the service hash picks, every time', async () => {
    const client = producer();
    const keys = ['device-1', 'device-2', 'customer-42', 'ünïcödé'];
    for (const key of keys) {
      const batch = await client.createBatch({ partitionKey: key });
      expect(batch.tryAdd({ body: bytes(`${key}#1`) })).toBe(true);
      expect(batch.tryAdd({ body: bytes(`${key}#2`) })).toBe(true);
      await client.sendBatch(batch);
      await client.sendBatch([{ body: bytes(`${key}#3`) }], { partitionKey: key });
    }
    for (const key of keys) {
      const partition = String(mapPartitionKeyToId(key, 4));
      const landed = peer.events(HUB, partition).filter((e) => e.partitionKey === key);
      expect(landed.map((e) => e.body.toString())).toEqual([`${key}#1`, `${key}#2`, `${key}#3`]);
    }
    const total = ['0', '1', '2', '3'].reduce((n, p) => n + peer.events(HUB, p).length, 0);
    expect(total).toBe(keys.length * 3);
  });

  it('spreads keyless sends round robin and honours an explicit partition id', async () => {
    const client = producer();
    for (let i = 0; i < 4; i++) await client.sendBatch([{ body: bytes(`rr-${i}`) }]);
    expect(['0', '1', '2', '3'].map((p) => peer.events(HUB, p).length)).toEqual([1, 1, 1, 1]);
    await client.sendBatch([{ body: bytes('x') }, { body: bytes('y') }], { partitionId: '3' });
    expect(peer.events(HUB, '3').map((e) => e.body.toString())).toEqual(['rr-3', 'x', 'y']);
  });

  it('delivers events with the service annotations, partition key and application properties', async () => {
    const client = producer();
    await client.sendBatch(
      [
        { body: 'one', properties: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', n: 1 } },
        { body: 'two', properties: { flag: true } },
      ],
      { partitionKey: 'k1' },
    );
    const partition = String(mapPartitionKeyToId('k1', 4));
    const { done } = receive(consumer(), partition, earliestEventPosition, 2);
    const events = await done;
    expect(events.map(text)).toEqual(['one', 'two']);
    expect(events.map((e) => e.sequenceNumber)).toEqual([0, 1]);
    expect(events.map((e) => e.offset)).toEqual(peer.events(HUB, partition).map((e) => e.offset));
    expect(events[1]!.offset).not.toBe('1');
    expect(events.every((e) => e.partitionKey === 'k1')).toBe(true);
    expect(events[0]!.enqueuedTimeUtc.getTime()).toBe(clock);
    expect(events[0]!.properties).toEqual({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', n: 1 });
    expect(events[1]!.properties).toEqual({ flag: true });
  });

  it('starts at earliest, latest, a sequence number, an offset and an enqueued time', async () => {
    const client = producer();
    await client.sendBatch([{ body: 'e0' }, { body: 'e1' }, { body: 'e2' }], { partitionId: '1' });
    clock += 60_000;
    await client.sendBatch([{ body: 'e3' }, { body: 'e4' }], { partitionId: '1' });
    const stored = peer.events(HUB, '1');

    const earliest = receive(consumer(), '1', earliestEventPosition, 5);
    expect((await earliest.done).map(text)).toEqual(['e0', 'e1', 'e2', 'e3', 'e4']);

    const bySequence = receive(consumer(), '1', { sequenceNumber: 2 }, 2);
    expect((await bySequence.done).map(text)).toEqual(['e3', 'e4']);
    const bySequenceInclusive = receive(consumer(), '1', { sequenceNumber: 2, isInclusive: true }, 3);
    expect((await bySequenceInclusive.done).map(text)).toEqual(['e2', 'e3', 'e4']);

    const byOffset = receive(consumer(), '1', { offset: stored[3]!.offset, isInclusive: true }, 2);
    expect((await byOffset.done).map(text)).toEqual(['e3', 'e4']);

    const byTime = receive(consumer(), '1', { enqueuedOn: new Date(clock - 30_000) }, 2);
    expect((await byTime.done).map(text)).toEqual(['e3', 'e4']);

    // Latest: only what arrives after the link attached.
    const latest = receive(consumer(), '1', latestEventPosition, 1);
    await waitFor(() => peer.activeConsumers().length === 6);
    await client.sendBatch([{ body: 'e5' }], { partitionId: '1' });
    expect((await latest.done).map(text)).toEqual(['e5']);
  });

  it('lets a receiver with an equal or higher owner level take the partition from the current one', async () => {
    await producer().sendBatch([{ body: bytes('a') }], { partitionId: '0' });
    const stolen = (r: Receiving): boolean => r.errors.some((e) => e.code === 'ReceiverDisconnectedError');

    const first = receive(consumer('tributary'), '0', earliestEventPosition, 1, { ownerLevel: 1 });
    await first.done;
    const second = receive(consumer('tributary'), '0', earliestEventPosition, 1, { ownerLevel: 2 });
    await second.done;
    await waitFor(() => stolen(first));
    expect(peer.activeConsumers()).toEqual([{ hub: HUB, consumerGroup: 'tributary', partitionId: '0', ownerLevel: 2, sent: 1 }]);

    // Equal level: the newcomer wins (this is how the load-balanced processor, always at level 0, takes over).
    const third = receive(consumer('tributary'), '0', earliestEventPosition, 1, { ownerLevel: 2 });
    await third.done;
    await waitFor(() => stolen(second));

    // A lower level, or none, is refused while level 2 holds the partition; the holder keeps it.
    const lower = receive(consumer('tributary'), '0', earliestEventPosition, 1, { ownerLevel: 1 });
    const none = receive(consumer('tributary'), '0', earliestEventPosition, 1);
    await waitFor(() => stolen(lower) && stolen(none));
    expect(lower.received).toHaveLength(0);
    expect(none.received).toHaveLength(0);
    expect(stolen(third)).toBe(false);
    expect(peer.activeConsumers().map((c) => c.ownerLevel)).toEqual([2]);

    // Other consumer groups are independent.
    const otherGroup = receive(consumer(), '0', earliestEventPosition, 1);
    await otherGroup.done;
  });

  it('refuses unknown consumer groups and partitions', async () => {
    const unknownGroup = receive(consumer('nope'), '0', earliestEventPosition, 1);
    await waitFor(() => unknownGroup.errors.some((e) => e.code === 'MessagingEntityNotFoundError'));
    expect(unknownGroup.received).toHaveLength(0);
    await expect(consumer().getPartitionProperties('9')).rejects.toThrow(/invalid/);
  });

  it('the consumer recovers without loss after the peer drops its connection or its link', async () => {
    const client = producer();
    const send = (from: number, count: number): Promise<void> =>
      client.sendBatch(Array.from({ length: count }, (_, i) => ({ body: bytes(`m${from + i}`) })), { partitionId: '2' });
    // Sending in the same tick as a drop would race the client noticing it (the SDK then waits out its
    // operation timeout), so each step waits until the consumer has come back.
    const reattached = async (drop: () => number): Promise<void> => {
      const before = peer.stats().consumerAttaches;
      expect(drop()).toBeGreaterThan(0);
      await waitFor(() => peer.stats().consumerAttaches > before);
    };
    await send(0, 10);
    const run = receive(consumer(), '2', earliestEventPosition, 30, { timeoutMs: 60_000 });
    await waitFor(() => peer.activeConsumers().length === 1);
    await reattached(() => peer.dropConnections());
    await send(10, 10);
    await reattached(() => peer.dropLinks({ hub: HUB }));
    await send(20, 5);
    await reattached(() => peer.dropConnections({ abrupt: true }));
    await send(25, 5);
    await waitFor(() => new Set(run.received.map((e) => e.sequenceNumber)).size === 30, 60_000);
    await run.done;
    // At-least-once: a restarted receiver may replay, but every event arrives, in order, with its own body.
    const bySequence = new Map(run.received.map((e) => [e.sequenceNumber, text(e)]));
    expect([...bySequence.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    for (const [sequence, body] of bySequence) expect(body).toBe(`m${sequence}`);
    expect(peer.events(HUB, '2')).toHaveLength(30);
  });

  it('rejects a transfer larger than the advertised max message size', async () => {
    const small = await startEventHubsPeer({ hubs: { [HUB]: { partitionCount: 1 } }, maxMessageSize: 4096 });
    const client = new EventHubProducerClient(small.connectionString(HUB), { retryOptions: { maxRetries: 0 } });
    try {
      const batch = await client.createBatch();
      expect(batch.maxSizeInBytes).toBe(4096);
      expect(batch.tryAdd({ body: Buffer.alloc(8192) })).toBe(false);
      await expect(client.sendBatch([{ body: Buffer.alloc(8192) }])).rejects.toThrow();
      expect(small.events(HUB, '0')).toHaveLength(0);
    } finally {
      await client.close();
      await small.close();
    }
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
