/**
 * The demo pipeline with every store on blob (Azurite): the Capture archive read from a container, the lake,
 * the dead letters (one prefix per consumer group) and the state. It must land the same rows as the run on
 * local folders, and ride out a storage outage in the middle of the run.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoreConfig } from '../../src/config/schema.js';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/core/log.js';
import { runWorker } from '../../src/runtime/worker.js';
import { countsFromMetadata } from '../../src/sink/dead-letter.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { ObjectCheckpointStore } from '../../src/sink/object-checkpoint-store.js';
import { createObjectStore } from '../../src/sink/store-factory.js';
import { devConnectionString, startAzurite, type Azurite } from '../support/azurite.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';
import { CheckpointGuard, blob, freshBlobRun, STREAMS, demoConfig, rawPositions, readDeadLetters, readLake, writeDemoArchive, type Rows } from './blob-support.js';

const SPEC = { partitions: 3, eventsPerPartition: 900, seed: 7 };

let azurite: Azurite;
let ws: Workspace;
let archiveContainer: string;
const reference = {} as { lake: Map<string, Rows>; deadLetters: Awaited<ReturnType<typeof readDeadLetters>>; checkpoints: unknown[] };

async function run(stores: Parameters<typeof demoConfig>[0]) {
  const config = parseConfig(await demoConfig(stores), 'blob e2e test');
  return runWorker(config, { bounded: true, signal: new AbortController().signal, log: createLogger('silent') });
}

async function checkpointsOf(state: StoreConfig): Promise<unknown[]> {
  const store = new ObjectCheckpointStore(createObjectStore(state));
  return (await Promise.all(STREAMS.map((stream) => store.list(stream)))).flat();
}

let deliveredEvents = 0;

beforeAll(async () => {
  azurite = await startAzurite({ persistent: true });
  ws = await createWorkspace('tributary-blob-e2e-');
  archiveContainer = `capture-${randomBytes(3).toString('hex')}`;
  const local = new LocalObjectStore(ws.file('capture'));
  deliveredEvents = await writeDemoArchive([local, createObjectStore(blob(archiveContainer, azurite.connectionString))], SPEC);

  const localStores = {
    archive: { kind: 'local', path: ws.file('capture') },
    lake: { kind: 'local', path: ws.file('lake') },
    deadLetter: { kind: 'local', path: ws.file('deadletter') },
    state: { kind: 'local', path: ws.file('state') },
  } as const;
  await run(localStores);
  reference.lake = await readLake(createObjectStore(localStores.lake));
  reference.deadLetters = await readDeadLetters(createObjectStore(localStores.deadLetter));
  reference.checkpoints = await checkpointsOf(localStores.state);
});

afterAll(async () => {
  await azurite?.stop();
  await ws?.cleanup();
});

describe('the demo pipeline on blob storage', () => {
  it('lands the same rows, dead letters and checkpoints as the local run', async () => {
    const tag = randomBytes(3).toString('hex');
    const stores = {
      archive: blob(archiveContainer, azurite.connectionString),
      lake: blob(`lake-${tag}`, azurite.connectionString),
      deadLetter: blob(`deadletters-${tag}`, azurite.connectionString, '$Default'),
      state: blob(`state-${tag}`, azurite.connectionString),
    };
    const summary = await run(stores);
    expect(summary.lake).toBe(`${azurite.blobEndpoint}/lake-${tag}`);
    expect(summary.totals.eventsRead).toBe(deliveredEvents);

    // The reference is not trivial: both raw tables and both aggregate tables.
    // (and each aggregation's `_late` table when the archive holds late events)
    const tables = new Set([...reference.lake.keys()].map((key) => key.split('/')[0]!.replace(/_late$/, '')));
    expect(tables).toEqual(new Set(['orders_raw', 'telemetry_raw', 'orders_by_channel_1m', 'telemetry_by_site_1m']));
    const lake = await readLake(createObjectStore(stores.lake));
    expect([...lake.keys()].sort()).toEqual([...reference.lake.keys()].sort());
    for (const [key, rows] of reference.lake) expect(lake.get(key), key).toEqual(rows);
    const positions = rawPositions(lake);
    expect(new Set(positions).size).toBe(positions.length);

    const deadLetterStore = createObjectStore(stores.deadLetter);
    expect(await readDeadLetters(deadLetterStore)).toEqual(reference.deadLetters);
    const counts: Record<string, number> = {};
    for (const info of await deadLetterStore.list('')) {
      for (const [reason, count] of Object.entries(countsFromMetadata(info.metadata))) counts[reason] = (counts[reason] ?? 0) + count;
    }
    expect(Object.keys(counts).sort()).toEqual(['decode', 'late']);
    expect(counts).toEqual(Object.fromEntries([...summary.totals.deadLettersByReason]));

    expect(await checkpointsOf(stores.state)).toEqual(reference.checkpoints);
  });

  it('rides out Azurite stopping in the middle of the run: nothing lost, nothing twice, checkpoint never ahead', async () => {
    const { containers, direct } = freshBlobRun(azurite.connectionString);
    const guard = new CheckpointGuard(reference);
    let lakeUploads = 0;
    let outage: Promise<void> | undefined;
    const proxy: FaultProxy = await startFaultProxy(azurite.port, async (request) => {
      if (request.method !== 'PUT') return { kind: 'forward' };
      if (request.url.includes(`/${containers.lake}/`) && ++lakeUploads === 8) {
        await azurite.suspend();
        outage = new Promise((resolve) => setTimeout(resolve, 2000)).then(() => azurite.resume());
      }
      if (request.url.includes(`/${containers.state}/checkpoints/`)) {
        await outage;
        await guard.check(JSON.parse(request.body.toString('utf8')) as { stream: string; partition: string; nextPosition: number }, direct.lake, direct.deadLetters);
      }
      return { kind: 'forward' };
    });
    try {
      const through = devConnectionString(`http://127.0.0.1:${proxy.port}/devstoreaccount1`);
      await run({
        archive: blob(archiveContainer, through),
        lake: blob(containers.lake, through),
        deadLetter: blob(containers.deadLetters, through, '$Default'),
        state: blob(containers.state, through),
      });
      // The outage was real: requests failed while Azurite was down, and the run retried past them.
      expect(proxy.unreachable).toBeGreaterThan(0);
    } finally {
      await outage;
      await proxy.close();
    }
    expect(outage).toBeDefined();
    expect(guard.checks).toBeGreaterThan(STREAMS.length * SPEC.partitions);
    expect(guard.violations).toEqual([]);

    const lake = await readLake(direct.lake);
    expect([...lake.keys()].sort()).toEqual([...reference.lake.keys()].sort());
    for (const [key, rows] of reference.lake) expect(lake.get(key), key).toEqual(rows);
    expect(rawPositions(lake)).toEqual(rawPositions(reference.lake));
    expect(await readDeadLetters(direct.deadLetters)).toEqual(reference.deadLetters);
    expect(await checkpointsOf(blob(containers.state, azurite.connectionString))).toEqual(reference.checkpoints);
  });
});
