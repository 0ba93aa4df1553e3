/**
 * EventHubsSource against the loopback AMQP peer with the unmodified SDK: assignment and resume, ordered batches,
 * checkpoints, start positions, bounded mode, backpressure, recovery from dropped connections, shutdown and
 * fatal errors. Ownership moving between instances is in eventhubs-scaleout.test.ts.
 */
import { EventHubProducerClient } from '@azure/event-hubs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TributaryError } from '../../src/core/errors.js';
import { LocalCheckpointStore } from '../../src/ingest/eventhubs/local-checkpoint-store.js';
import { EventHubsSource } from '../../src/ingest/eventhubs/source.js';
import type { EventHubsSourceConfigInput } from '../../src/ingest/eventhubs/config.js';
import { startEventHubsPeer, type EventHubsPeer } from '../peers/eventhubs/index.js';
import { RecordingHandler, peerSourceConfig, quietLog, range, tempDir, waitFor, type RecordingOptions } from './eventhubs-support.js';

const FAST_RETRY = { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 50, factor: 2 };
let peer: EventHubsPeer;
let clock: number;
let dir: { path: string; remove: () => Promise<void> };
const cleanup: Array<() => Promise<void>> = [];

beforeEach(async () => {
  clock = Date.UTC(2024, 5, 1);
  peer = await startEventHubsPeer({ hubs: { orders: { partitionCount: 4, consumerGroups: ['tributary'] }, telemetry: { partitionCount: 2, consumerGroups: ['tributary'] } }, now: () => clock });
  dir = await tempDir('tributary-eh-source-');
});

afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
  await peer.close();
  await dir.remove();
});

function source(overrides: Partial<EventHubsSourceConfigInput> = {}): EventHubsSource {
  return new EventHubsSource({ config: peerSourceConfig(peer, dir.path, overrides), log: quietLog, retry: FAST_RETRY });
}

async function runBounded(overrides: Partial<EventHubsSourceConfigInput> = {}, options: RecordingOptions = {}): Promise<RecordingHandler> {
  const handler = new RecordingHandler(options);
  await source(overrides).run(handler, { signal: new AbortController().signal, bounded: true });
  expect(handler.violations).toEqual([]);
  return handler;
}

/** Starts an unbounded run; returns its handler, a stop function and the run's promise. */
function start(overrides: Partial<EventHubsSourceConfigInput> = {}, options: RecordingOptions = {}) {
  const handler = new RecordingHandler(options);
  const controller = new AbortController();
  const run = source(overrides).run(handler, { signal: controller.signal, bounded: false });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    controller.abort();
    await run;
  };
  cleanup.push(stop);
  return { handler, stop, run };
}

function producer(hub = 'orders'): EventHubProducerClient {
  const client = new EventHubProducerClient(peer.namespaceConnectionString(), hub);
  cleanup.push(() => client.close());
  return client;
}

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');
const bodies = (handler: RecordingHandler, key: string): string[] => (handler.events.get(key) ?? []).map((e) => Buffer.from(e.body).toString('utf8'));

describe('EventHubsSource', () => {
  it('hands every event of every partition over once, in order, with its metadata, and checkpoints it', async () => {
    const client = producer();
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    for (let i = 0; i < 40; i++) {
      await client.sendBatch([{ body: bytes(`o${i}`), properties: { traceparent, n: i, flag: i % 2 === 0 } }], { partitionKey: `customer-${i % 7}` });
    }
    await producer('telemetry').sendBatch(range(0, 5).map((i) => ({ body: bytes(`t${i}`) })), { partitionId: '1' });

    const handler = await runBounded({ hubs: { orders: 'orders', telemetry: 'telemetry' } });

    expect(handler.total()).toBe(45);
    for (const p of ['0', '1', '2', '3']) {
      const stored = peer.events('orders', p);
      const got = handler.events.get(`orders/${p}`) ?? [];
      expect(got.map((e) => e.position)).toEqual(stored.map((e) => e.sequenceNumber));
      expect(got.map((e) => e.offset)).toEqual(stored.map((e) => e.offset));
      for (const [i, event] of got.entries()) {
        expect(event.enqueuedTimeMs).toBe(clock);
        expect(event.partitionKey).toBe(stored[i]!.partitionKey);
        expect(event.properties).toEqual({ traceparent, n: stored[i]!.properties.n, flag: stored[i]!.properties.flag });
        expect(Buffer.from(event.body).equals(stored[i]!.body)).toBe(true);
      }
    }
    expect(bodies(handler, 'telemetry/1')).toEqual(['t0', 't1', 't2', 't3', 't4']);
    expect(handler.events.has('telemetry/0')).toBe(false);
    // Every partition with events caught up; a partition that was empty at start has nothing to catch up with.
    expect(handler.caughtUp.sort()).toEqual(
      [...['0', '1', '2', '3'].filter((p) => peer.events('orders', p).length > 0).map((p) => `orders/${p}`), 'telemetry/1'].sort(),
    );
    expect(handler.revoked.every((r) => r.reason === 'shutdown')).toBe(true);
    expect(handler.revoked.map((r) => r.partition).sort()).toEqual(handler.assigned.sort());

    const checkpoints = await new LocalCheckpointStore(dir.path).listCheckpoints('127.0.0.1', 'orders', 'tributary');
    for (const p of ['0', '1', '2', '3']) {
      const last = peer.events('orders', p).at(-1);
      const checkpoint = checkpoints.find((c) => c.partitionId === p);
      if (!last) expect(checkpoint).toBeUndefined();
      else expect(checkpoint).toMatchObject({ sequenceNumber: last.sequenceNumber, offset: last.offset });
    }
  });

  it('resumes a partition at the point onAssigned returns, then after the checkpoint, else at the configured start', async () => {
    await producer().sendBatch(range(0, 10).map((i) => ({ body: bytes(`a${i}`) })), { partitionId: '0' });
    await producer().sendBatch(range(0, 10).map((i) => ({ body: bytes(`b${i}`) })), { partitionId: '1' });

    // A snapshot at position 6 of partition 0: the source starts there, whatever the configured start says.
    const first = await runBounded({ startPosition: 'latest' }, { resume: (_s, p) => (p === '0' ? { position: 6 } : undefined) });
    expect(first.positions('orders/0')).toEqual([6, 7, 8, 9]);
    expect(first.positions('orders/1')).toEqual([]);

    await producer().sendBatch(range(10, 15).map((i) => ({ body: bytes(`a${i}`) })), { partitionId: '0' });
    // No snapshot now: partition 0 resumes right after its checkpoint (9); partition 1 has no checkpoint and
    // starts at the configured earliest.
    const second = await runBounded({ startPosition: 'earliest' });
    expect(second.positions('orders/0')).toEqual(range(10, 15));
    expect(second.positions('orders/1')).toEqual(range(0, 10));

    // A resume point older than the checkpoint wins: the snapshot, not the checkpoint, says what is durable.
    const third = await runBounded({}, { resume: (_s, p) => (p === '0' ? { position: 3 } : undefined) });
    expect(third.positions('orders/0')).toEqual(range(3, 15));
  });

  it('starts where the start position says: latest, an enqueued time, a sequence number, per partition', async () => {
    const client = producer();
    await client.sendBatch(range(0, 5).map((i) => ({ body: bytes(`early${i}`) })), { partitionId: '2' });
    await client.sendBatch(range(0, 5).map((i) => ({ body: bytes(`x${i}`) })), { partitionId: '3' });
    clock += 3_600_000;
    await client.sendBatch(range(0, 3).map((i) => ({ body: bytes(`late${i}`) })), { partitionId: '2' });

    const byTime = await runBounded({
      consumerGroup: 'tributary',
      startPosition: { enqueuedTime: new Date(clock - 1_800_000).toISOString() },
      hubs: { orders: { name: 'orders', partitionStartPositions: { '3': { sequenceNumber: 3 } } } },
    });
    expect(bodies(byTime, 'orders/2')).toEqual(['late0', 'late1', 'late2']);
    expect(bodies(byTime, 'orders/3')).toEqual(['x3', 'x4']);
  });

  it('a live run starting at latest sees only what is sent after it subscribed', async () => {
    await producer().sendBatch([{ body: bytes('before') }], { partitionId: '0' });
    const { handler, stop } = start({ startPosition: 'latest' });
    await waitFor(() => peer.activeConsumers().length === 4, 'four receive links');
    await producer().sendBatch([{ body: bytes('after') }], { partitionId: '0' });
    await waitFor(() => handler.total() === 1, 'the new event');
    await stop();
    expect(bodies(handler, 'orders/0')).toEqual(['after']);
    expect(handler.revoked.map((r) => r.reason)).toEqual(['shutdown', 'shutdown', 'shutdown', 'shutdown']);
    // Shutdown gives the partitions up at once for the next instance.
    const ownership = await new LocalCheckpointStore(dir.path).listOwnership('127.0.0.1', 'orders', 'tributary');
    expect(ownership).toHaveLength(4);
    expect(ownership.every((o) => o.ownerId === '')).toBe(true);
  });

  it('a slow sink stops the partition receiving: the client holds no more than its prefetch', async () => {
    peer.publish('orders', range(0, 500).map((i) => ({ body: `e${i}` })), '0');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { handler, stop } = start({ maxBatchSize: 10, prefetchCount: 20 }, { process: () => gate });
    await waitFor(() => peer.activeConsumers().some((c) => c.partitionId === '0' && c.sent > 0), 'delivery on partition 0');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const sentWhileBlocked = peer.activeConsumers().find((c) => c.partitionId === '0')!.sent;
    expect(sentWhileBlocked).toBeLessThanOrEqual(30);
    release();
    await waitFor(() => handler.positions('orders/0').length === 500, 'all 500 events', 60_000);
    await stop();
    expect(handler.positions('orders/0')).toEqual(range(0, 500));
    expect(Math.max(...handler.batchSizes)).toBeLessThanOrEqual(10);
  });

  it('recovers by itself when the peer drops connections and links, losing nothing', async () => {
    const client = producer();
    const { handler, stop } = start();
    await waitFor(() => peer.activeConsumers().length === 4, 'four receive links');
    for (let round = 0; round < 4; round++) {
      await client.sendBatch(range(0, 25).map((i) => ({ body: bytes(`r${round}-${i}`) })), { partitionId: String(round) });
      const before = peer.stats().consumerAttaches;
      if (round % 2 === 0) peer.dropConnections({ abrupt: round === 2 });
      else peer.dropLinks();
      await waitFor(() => peer.stats().consumerAttaches >= before + 4, 'receivers back');
    }
    await waitFor(() => handler.total() >= 100, 'all 100 events');
    await stop();
    for (const p of ['0', '1', '2', '3']) {
      // At-least-once: a replay after a drop is allowed, a gap is not.
      expect([...new Set(handler.positions(`orders/${p}`))].sort((a, b) => a - b)).toEqual(range(0, 25));
    }
    expect(handler.violations).toEqual([]);
  });

  it('fails the run with the handler\'s permanent error, after revoking what it owned', async () => {
    await producer().sendBatch([{ body: bytes('poison') }], { partitionId: '1' });
    const handler = new RecordingHandler({
      process: async () => {
        throw new TributaryError('STORAGE_PERMANENT', 'the lake refused the write');
      },
    });
    await expect(source().run(handler, { signal: new AbortController().signal, bounded: false })).rejects.toMatchObject({
      code: 'STORAGE_PERMANENT',
    });
    expect(handler.revoked.length).toBe(handler.assigned.length);
  });

  it('restarts a partition whose batch failed with a restartable error, and offers its events again', async () => {
    await producer().sendBatch(range(0, 5).map((i) => ({ body: bytes(`t${i}`) })), { partitionId: '2' });
    let failures = 0;
    const handler = await runBounded({}, {
      process: async () => {
        // what the driver answers when a store fault outlasted the retries: release, restore, read again
        if (failures++ < 2) throw new TributaryError('PARTITION_FAILED', 'the lake is throttling');
      },
    });
    expect(failures).toBeGreaterThan(2);
    expect(handler.positions('orders/2')).toEqual(range(0, 5));
  });

  it('fails the run with AUTHENTICATION_FAILED when the service refuses the token', async () => {
    peer.denyTokens();
    const error = await source({ clientRetry: { maxRetries: 0, delay: '10ms', maxDelay: '10ms', timeout: '5s' } })
      .run(new RecordingHandler(), { signal: new AbortController().signal, bounded: false })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TributaryError);
    expect((error as TributaryError).code).toBe('AUTHENTICATION_FAILED');
    expect((error as TributaryError).retriable).toBe(false);
  });

  it('reports configuration faults as CONFIG_INVALID: an unknown consumer group, a hub-scoped connection string', async () => {
    await producer().sendBatch([{ body: bytes('x') }], { partitionId: '0' });
    await expect(runBounded({ consumerGroup: 'missing' })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    const scoped = `${peer.namespaceConnectionString()};EntityPath=telemetry`;
    const error = await source({ connectionString: scoped }).run(new RecordingHandler(), { signal: new AbortController().signal, bounded: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TributaryError);
    expect((error as TributaryError).code).toBe('CONFIG_INVALID');
    expect((error as TributaryError).message).not.toContain('peer-key');
  });
});
