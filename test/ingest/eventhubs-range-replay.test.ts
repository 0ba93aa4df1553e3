/**
 * A range replay of Event Hubs into a second lake (`tributary run --bounded --from --until --lake
 * --consumer-group`), on the AMQP peer with the main run's checkpoints in blob (Azurite): it reads through the
 * group the user names, without the checkpoint store, writes only the range's files, each byte-identical to the
 * main lake's file of that name, and leaves the main group's checkpoints and ownership, and the main state, as
 * they were. Without --consumer-group (or with the main run's group) it is refused, naming the option.
 */
import { EventHubConsumerClient } from '@azure/event-hubs';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TributaryConfig } from '../../src/config/schema.js';
import { runWorker } from '../../src/runtime/worker.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { runRange } from '../../src/state/range-replay.js';
import type { PipelineObserver } from '../../src/runtime/observer.js';
import { startEventHubsPeer, type EventHubsPeer } from '../peers/eventhubs/index.js';
import type { ConsumerInfo } from '../peers/eventhubs/index.js';
import { startAzurite, type Azurite } from '../support/azurite.js';
import { runCli } from '../support/cli.js';
import { embeddedConfig } from '../support/embedded-config.js';
import { snapshotLake } from '../support/lake.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';
import { peerWorkerSource, quietLog, sendGenerated } from './eventhubs-support.js';

const CELL = 200;
const HUBS = ['orders', 'telemetry'];
const PARTITIONS = ['0', '1'];
const container = 'checkpoints';

const cellOf = (key: string): number => Number(/-pos(\d{16})/.exec(key)![1]);
const partitionOf = (key: string): string => /\/partition=(\d+)\//.exec(key)![1]!;
const isRaw = (key: string): boolean => /^[a-z]+_raw\//.test(key);

describe('range replay of Event Hubs into a second lake, through a consumer group of its own', () => {
  let peer: EventHubsPeer;
  let azurite: Azurite;
  let ws: Workspace;
  let configFile: string;
  let config: TributaryConfig;
  let namespace: string;
  let mainLake: Map<string, string>;
  let mainDeadLetters: Map<string, string>;
  let mainState: Map<string, string>;
  let mainGroup: string;

  /** every checkpoint and ownership record of a group, as the SDK's own blob checkpoint store reads them */
  const groupRecords = async (group: string): Promise<string> => {
    const sdk = new BlobCheckpointStore(new ContainerClient(azurite.connectionString, container));
    const records = [];
    for (const hub of HUBS) {
      records.push({ hub, checkpoints: await sdk.listCheckpoints(namespace, hub, group), ownership: await sdk.listOwnership(namespace, hub, group) });
    }
    return JSON.stringify(records);
  };

  /** the main group's checkpoints and ownership, and the main state, are as the main run left them */
  const untouched = async (): Promise<void> => {
    expect(await groupRecords('tributary'), 'the main group').toBe(mainGroup);
    expect(await groupRecords('replay'), 'nothing recorded for the replay group').toBe(JSON.stringify(HUBS.map((hub) => ({ hub, checkpoints: [], ownership: [] }))));
    expect(await snapshotLake(new LocalObjectStore(ws.file('state'))), 'the main state is not written').toEqual(mainState);
  };

  /** the raw files the range [from, until) covers, per partition, from the peer's own log (cells rounded out) */
  const wantRaw = (bounds: (hub: string, partition: string) => { from: number; until: number }): string[] =>
    [...mainLake.keys()]
      .filter((key) => isRaw(key))
      .filter((key) => {
        const { from, until } = bounds(key.split('_raw/')[0]!, partitionOf(key));
        return cellOf(key) >= Math.floor(from / CELL) * CELL && cellOf(key) < Math.ceil(until / CELL) * CELL;
      })
      .sort();

  beforeAll(async () => {
    [peer, azurite] = await Promise.all([
      startEventHubsPeer({ hubs: { orders: { partitionCount: 2, consumerGroups: ['tributary', 'replay'] }, telemetry: { partitionCount: 2, consumerGroups: ['tributary', 'replay'] } } }),
      startAzurite(),
    ]);
    ws = await createWorkspace('tributary-eh-range-');
    const base = embeddedConfig(ws);
    ({ file: configFile, config } = await ws.writeConfig({
      ...base,
      source: peerWorkerSource(peer, { connectionString: azurite.connectionString, container }, 300),
      processing: { ...base.processing, rowsPerFile: CELL, flushInterval: '1s' },
    }));
    await sendGenerated(peer, config, { events: 3000, partitions: 2, keys: 200, seed: 33, span: '1h', start: Date.UTC(2024, 0, 1), faults: { duplicate: 0.03, outOfOrder: 0.05, late: 0.02, corrupt: 0.01 } });
    const client = new EventHubConsumerClient('tributary', peer.namespaceConnectionString(), 'orders');
    namespace = client.fullyQualifiedNamespace;
    await client.close();
    await runWorker(config, { bounded: true, signal: new AbortController().signal, log: quietLog });
    mainLake = await snapshotLake(new LocalObjectStore(ws.file('lake')));
    mainDeadLetters = await snapshotLake(new LocalObjectStore(ws.file('deadletter')));
    mainState = await snapshotLake(new LocalObjectStore(ws.file('state')));
    mainGroup = await groupRecords('tributary');
    // the main run checkpointed every partition: "unchanged" below compares something
    for (const hub of HUBS) expect((await new BlobCheckpointStore(new ContainerClient(azurite.connectionString, container)).listCheckpoints(namespace, hub, 'tributary')).length).toBe(2);
    for (const hub of HUBS) for (const p of PARTITIONS) expect(peer.events(hub, p).length, `${hub}/${p}`).toBeGreaterThan(3 * CELL);
  }, 300_000);

  afterAll(async () => {
    await peer?.close();
    await azurite?.stop();
    await ws?.cleanup();
  });

  it('by sequence numbers: the cells of the range, each as in the main lake, and its dead letters', async () => {
    // the receive links open while the replay processes batches: only the replay group's, with no owner level
    const links: ConsumerInfo[] = [];
    const read = new Map<string, number>();
    const noop = (): undefined => undefined;
    const seen: Partial<PipelineObserver> = {
      batchStarted: () => links.push(...peer.activeConsumers()),
      eventsIn: (stream, partition, n) => read.set(`${stream}/${partition}`, (read.get(`${stream}/${partition}`) ?? 0) + n),
    };
    const watch = new Proxy(seen, {
      get: (target, key) => (target as Record<string | symbol, unknown>)[key] ?? noop,
    }) as PipelineObserver;
    const summary = await runRange(config, { from: '250', until: '520', lake: ws.file('lake2'), deadLetter: ws.file('dl2'), consumerGroup: 'replay', signal: new AbortController().signal, log: quietLog, observers: [watch] });
    expect(links.length).toBeGreaterThan(0);
    expect(new Set(links.map((l) => `${l.consumerGroup} ${String(l.ownerLevel)}`))).toEqual(new Set(['replay undefined']));
    // each partition started at its snapshot of position 200 (the newest at or before 250) and ended at 600
    expect(Object.fromEntries(read)).toEqual(Object.fromEntries(HUBS.flatMap((hub) => PARTITIONS.map((p) => [`${hub}/${p}`, 400]))));
    const lake2 = await snapshotLake(new LocalObjectStore(ws.file('lake2')));
    expect([...lake2.keys()].sort()).toEqual(summary.copied.filter((k) => !k.endsWith('.jsonl')).sort());
    for (const [key, bytes] of lake2) expect(mainLake.get(key), key).toBe(bytes);
    const want = wantRaw(() => ({ from: 250, until: 520 }));
    // cells 200, 400 of 2 hubs x 2 partitions
    expect(want.length).toBe(8);
    expect([...lake2.keys()].filter(isRaw).sort()).toEqual(want);
    const dl2 = await snapshotLake(new LocalObjectStore(ws.file('dl2')));
    const wantDl = [...mainDeadLetters.keys()].filter((k) => cellOf(k) >= 200 && cellOf(k) < 600).sort();
    expect(wantDl.length).toBeGreaterThan(0);
    expect([...dl2.keys()].sort()).toEqual(wantDl);
    for (const key of wantDl) expect(dl2.get(key), key).toBe(mainDeadLetters.get(key));
    await untouched();
  });

  it('by enqueued times: per partition from the first event enqueued at or after --from to the one before --until', async () => {
    const orders0 = peer.events('orders', '0');
    const fromMs = orders0[Math.floor(orders0.length / 3)]!.enqueuedTimeMs;
    const untilMs = orders0[Math.floor((2 * orders0.length) / 3)]!.enqueuedTimeMs;
    // the model: each partition's positions for the times, from the peer's log
    const at = (hub: string, partition: string, ms: number): number => {
      const events = peer.events(hub, partition);
      const index = events.findIndex((e) => e.enqueuedTimeMs >= ms);
      return index === -1 ? events.length : index;
    };
    const want = wantRaw((hub, partition) => ({ from: at(hub, partition, fromMs), until: at(hub, partition, untilMs) }));
    expect(want.length).toBeGreaterThan(0);
    await runRange(config, {
      from: new Date(fromMs).toISOString(),
      until: new Date(untilMs).toISOString(),
      lake: ws.file('lake3'),
      consumerGroup: 'replay',
      signal: new AbortController().signal,
      log: quietLog,
    });
    const lake3 = await snapshotLake(new LocalObjectStore(ws.file('lake3')));
    expect([...lake3.keys()].filter(isRaw).sort()).toEqual(want);
    for (const [key, bytes] of lake3) expect(mainLake.get(key), key).toBe(bytes);
    await untouched();
  });

  it('is refused without --consumer-group, or with the main group, naming the option', async () => {
    const options = { from: '0', until: '100', lake: ws.file('lake4'), signal: new AbortController().signal, log: quietLog };
    await expect(runRange(config, options)).rejects.toThrow(/--consumer-group: an Event Hubs range replay reads through a consumer group of its own/);
    await expect(runRange(config, { ...options, consumerGroup: 'Tributary' })).rejects.toThrow(/--consumer-group: "Tributary" is the main run's group/);
    const cli = await runCli(['run', '--config', configFile, '--bounded', '--from', '0', '--until', '100', '--lake', ws.file('lake4'), '--quiet']);
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toContain('--consumer-group');
    expect(await snapshotLake(new LocalObjectStore(ws.file('lake4')))).toEqual(new Map());
    await untouched();
  });
});
