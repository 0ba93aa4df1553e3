/**
 * `tributary reset` on an Event Hubs consumer group (the AMQP peer, checkpoints in the
 * @azure/eventhubs-checkpointstore-blob format on Azurite): run to the end, reset (to a time in the middle, to a
 * position on one partition, by a negative shift, to earliest), rerun after each: the lake and the dead letters are
 * those of the run that was never reset, and the dry run's counts are the events the rerun reads. The moved
 * checkpoints are read back with the SDK's own BlobCheckpointStore. To latest: nothing is replayed.
 */
import { EventHubConsumerClient } from '@azure/event-hubs';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resetGroup } from '../../src/cli/reset.js';
import type { TributaryConfig } from '../../src/config/schema.js';
import type { PipelineObserver } from '../../src/runtime/observer.js';
import { runWorker } from '../../src/runtime/worker.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { startAzurite, type Azurite } from '../support/azurite.js';
import { embeddedConfig } from '../support/embedded-config.js';
import { snapshotLake } from '../support/lake.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';
import { startEventHubsPeer, type EventHubsPeer } from '../peers/eventhubs/index.js';
import { peerWorkerSource, quietLog, sendGenerated } from '../ingest/eventhubs-support.js';

interface Row { stream: string; partition: string; current: number | null; target: number; start: number; state: string; events: number; replayed: number; offsetBefore: string }

describe('tributary reset on an Event Hubs consumer group', () => {
  let peer: EventHubsPeer;
  let azurite: Azurite;
  let ws: Workspace;
  let config: TributaryConfig;
  let wantLake: Map<string, string>;
  let wantDeadLetters: Map<string, string>;
  const container = 'checkpoints';

  /** every dead-letter file, byte for byte */
  const deadLetters = (): Promise<Map<string, string>> => snapshotLake(new LocalObjectStore(ws.file('deadletter')));

  const rerun = async (): Promise<Map<string, number>> => {
    const read = new Map<string, number>();
    const counter = { eventsIn: (stream: string, partition: string, n: number) => read.set(`${stream}/${partition}`, (read.get(`${stream}/${partition}`) ?? 0) + n) } as Partial<PipelineObserver>;
    const noop = () => undefined;
    const observer = new Proxy(counter, { get: (target, key) => (target as Record<string | symbol, unknown>)[key] ?? noop }) as PipelineObserver;
    await runWorker(config, { bounded: true, signal: new AbortController().signal, log: quietLog, observers: [observer] });
    return read;
  };

  const reset = async (args: Record<string, string | boolean>): Promise<Row[]> => JSON.parse(await resetGroup(config, { config: '', json: true, ...args })) as Row[];

  const resetAndRerun = async (args: Record<string, string | boolean>): Promise<Row[]> => {
    const rows = await reset(args);
    expect(rows.length).toBeGreaterThan(0);
    await reset({ ...args, execute: true });
    // the SDK's own blob checkpoint store reads the positions the reset wrote
    const sdk = new BlobCheckpointStore(new ContainerClient(azurite.connectionString, container));
    const client = new EventHubConsumerClient('tributary', peer.namespaceConnectionString(), 'orders');
    const namespace = client.fullyQualifiedNamespace;
    await client.close();
    const checkpoints = await sdk.listCheckpoints(namespace, 'orders', 'tributary');
    for (const row of rows.filter((r) => r.stream === 'orders')) {
      const checkpoint = checkpoints.find((c) => c.partitionId === row.partition)!;
      expect(checkpoint.sequenceNumber, `orders/${row.partition}`).toBe(row.start - 1);
      if (row.start > 0) expect(String(checkpoint.offset)).toBe(peer.events('orders', row.partition)[row.start - 1]!.offset);
    }
    const read = await rerun();
    for (const row of rows) expect(read.get(`${row.stream}/${row.partition}`) ?? 0, `events read by ${row.stream}/${row.partition}`).toBe(row.events);
    expect(await snapshotLake(new LocalObjectStore(ws.file('lake')))).toEqual(wantLake);
    expect(await deadLetters()).toEqual(wantDeadLetters);
    return rows;
  };

  beforeAll(async () => {
    [peer, azurite] = await Promise.all([
      startEventHubsPeer({ hubs: { orders: { partitionCount: 2, consumerGroups: ['tributary'] }, telemetry: { partitionCount: 2, consumerGroups: ['tributary'] } } }),
      startAzurite(),
    ]);
    ws = await createWorkspace('tributary-eh-reset-');
    const base = embeddedConfig(ws);
    ({ config } = await ws.writeConfig({
      ...base,
      source: peerWorkerSource(peer, { connectionString: azurite.connectionString, container }, 500),
      processing: { ...base.processing, rowsPerFile: 400, flushInterval: '1s' },
    }));
    await sendGenerated(peer, config, { events: 3000, partitions: 2, keys: 200, seed: 21, span: '1h', start: Date.UTC(2024, 0, 1), faults: { duplicate: 0.03, outOfOrder: 0.05, late: 0.02, corrupt: 0.01 } });
    await rerun();
    wantLake = await snapshotLake(new LocalObjectStore(ws.file('lake')));
    wantDeadLetters = await deadLetters();
    expect(wantLake.size).toBeGreaterThan(10);
    expect(wantDeadLetters.size).toBeGreaterThan(0);
  }, 300_000);

  afterAll(async () => {
    await peer?.close();
    await azurite?.stop();
    await ws?.cleanup();
  });

  it('to a time in the middle', async () => {
    const events = peer.events('orders', '0');
    const middle = new Date(events[Math.floor(events.length / 2)]!.enqueuedTimeMs).toISOString();
    const rows = await resetAndRerun({ stream: 'orders', toDatetime: middle });
    const p0 = rows.find((r) => r.partition === '0')!;
    expect(p0.target).toBe(events.findIndex((e) => e.enqueuedTimeMs >= Date.parse(middle)));
    for (const row of rows) expect(row.replayed).toBeGreaterThan(0);
  });

  it('to a position on one partition', async () => {
    const rows = await resetAndRerun({ stream: 'orders', partitions: '1', toOffset: '500' });
    expect(rows.map((r) => [r.partition, r.target, r.start])).toEqual([['1', 500, 400]]);
  });

  it('by a negative shift', async () => {
    const rows = await resetAndRerun({ shiftBy: '-700' });
    expect(rows).toHaveLength(4);
    for (const row of rows) expect(row.target).toBe(Math.max(0, row.current! - 700));
  });

  it('to earliest', async () => {
    const rows = await resetAndRerun({ toEarliest: true });
    for (const row of rows) expect([row.target, row.start, row.state]).toEqual([0, 0, 'empty']);
  });

  it('to latest: nothing is replayed', async () => {
    const rows = await resetAndRerun({ toLatest: true });
    for (const row of rows) {
      expect(row.replayed).toBe(0);
      expect(row.start).toBe(row.current);
    }
  });
});
