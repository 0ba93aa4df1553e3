/**
 * The failure path under storage faults, in process with the real pipeline (Capture archive, decode lanes, local
 * stores). A fault-free run counts every store operation; then, for each operation in turn (a seeded sample when
 * there are many), a run is made with a fault injected there:
 *
 * - transient, once: the retry layer rides it out; the lake and the dead letters are byte-identical;
 * - transient, in a burst that outlasts the retry budget: the partition fails, its processor is discarded, it is
 *   restored from its snapshot and read again; the lake and dead letters are byte-identical;
 * - permanent: the run stops with the fault; no checkpoint has passed data that is not written (every raw file of
 *   a cell below a partition's checkpoint is there with its final bytes); a clean rerun gives the identical lake.
 *
 * Batches are small and two are in flight, so faults also hit a batch while the next one is being decoded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import type { TributaryConfig } from '../../src/config/schema.js';
import { generateArchive } from '../../src/gen/archive.js';
import { runWorker } from '../../src/runtime/worker.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { ObjectCheckpointStore } from '../../src/sink/object-checkpoint-store.js';
import { FaultyStore, OperationCounter, type FaultKind } from '../support/faulty-store.js';
import { readDeadLetters, snapshotLake } from '../support/lake.js';
import { seeded } from '../support/random.js';
import { REPO_ROOT, createWorkspace, type Workspace } from '../support/workspace.js';
import path from 'node:path';

const log = createLogger('silent');
const ROWS_PER_FILE = 100;

function config(ws: Workspace, archive: string, run: string) {
  return {
    streams: { orders: { schema: path.join(REPO_ROOT, 'examples/schemas/orders.avsc'), eventId: 'orderId', eventTime: 'createdAt', partitionKey: 'customerId' } },
    source: { kind: 'capture' as const, store: { kind: 'local' as const, path: archive }, namespace: 'test', hubs: { orders: 'orders' } },
    aggregations: [
      { name: 'orders_1m', stream: 'orders', groupBy: ['channel'], window: { kind: 'tumbling' as const, size: '1m' }, measures: [{ fn: 'count' as const }, { fn: 'sum' as const, field: 'totalAmount' }] },
      { name: 'orders_hop', stream: 'orders', groupBy: [], window: { kind: 'hopping' as const, size: '4m', hop: '2m' }, measures: [{ fn: 'count' as const }] },
    ],
    processing: { allowedOutOfOrderness: '20s', rowsPerFile: ROWS_PER_FILE, aggregateFileSpan: '10m', decodeThreads: 1, batchSize: 40, inFlightBatches: 2, maxConsecutiveFailures: 100 },
    retry: { initialDelay: '1ms', maxDelay: '4ms', budget: '40ms' },
    lake: { kind: 'local' as const, path: ws.file(run, 'lake') },
    deadLetter: { kind: 'local' as const, path: ws.file(run, 'deadletter') },
    state: { kind: 'local' as const, path: ws.file(run, 'state') },
    metrics: { enabled: false },
  };
}

interface Outcome {
  error: unknown;
  /** snapshot reads: one per partition assignment, so more than one per partition means a restart */
  restores: number;
  lake: Map<string, string>;
  deadLetters: string[];
  checkpoints: Map<string, number>;
  /** every store operation in the order made, as `role operation key` */
  operations: string[];
}

describe('storage faults at every store operation', () => {
  let ws: Workspace;
  let archive: string;
  let baseline: Outcome;
  let operations = 0;
  let runs = 0;

  const run = async (name: string, faultAt: (n: number) => FaultKind | undefined): Promise<Outcome> => {
    const setup = await ws.writeConfig(config(ws, archive, name), `${name}.yaml`);
    const counter = new OperationCounter();
    let error: unknown;
    try {
      await runWorker(setup.config as TributaryConfig, {
        bounded: true,
        signal: new AbortController().signal,
        log,
        wrapStore: (role, store) => new FaultyStore(store, role, counter, { faultAt }),
      });
    } catch (caught) {
      error = caught;
    }
    if (name === 'baseline') operations = counter.count;
    runs++;
    return read(name, error, counter.log);
  };

  const read = async (name: string, error: unknown, operations: string[]): Promise<Outcome> => {
    const restores = operations.filter((op) => op.startsWith('state get snapshots/')).length;
    const checkpoints = new Map<string, number>();
    for (const checkpoint of await new ObjectCheckpointStore(new LocalObjectStore(ws.file(name, 'state'))).list('orders')) {
      checkpoints.set(checkpoint.partition, checkpoint.nextPosition);
    }
    const deadLetters = (await readDeadLetters(new LocalObjectStore(ws.file(name, 'deadletter'))))
      .map((record) => JSON.stringify(record))
      .sort();
    return { error, restores, lake: await snapshotLake(new LocalObjectStore(ws.file(name, 'lake'))), deadLetters, checkpoints, operations };
  };

  /** Every raw file of a cell that lies wholly below its partition's checkpoint is there, with its final bytes. */
  const expectCheckpointsBehindTheLake = (outcome: Outcome): void => {
    for (const [key, bytes] of baseline.lake) {
      const cell = /-p(\d+)-pos(\d+)-/.exec(key);
      if (!cell || !key.startsWith('orders_raw/')) continue;
      const checkpoint = outcome.checkpoints.get(cell[1]!) ?? 0;
      if (Number(cell[2]) + ROWS_PER_FILE <= checkpoint) expect(outcome.lake.get(key), `${key} is below the checkpoint ${checkpoint}`).toBe(bytes);
    }
  };

  const sample = (count: number, seed: number): number[] => {
    if (operations <= count) return Array.from({ length: operations }, (_, i) => i);
    const random = seeded(seed);
    return [...new Set(Array.from({ length: count }, () => Math.floor(random() * operations)))].sort((a, b) => a - b);
  };

  beforeAll(async () => {
    ws = await createWorkspace('tributary-faults-');
    archive = ws.file('capture');
    const setup = await ws.writeConfig(config(ws, archive, 'gen'), 'gen.yaml');
    await generateArchive(setup.config, { events: 900, partitions: 2, keys: 60, span: '40m', faults: { duplicate: 0.03, outOfOrder: 0.05, late: 0.03, corrupt: 0.02 }, seed: 31 });
    baseline = await run('baseline', () => undefined);
    if (baseline.error) throw baseline.error;
  }, 120_000);

  afterAll(async () => {
    await ws?.cleanup();
  });

  it('the fault-free run writes a lake, dead letters and checkpoints to compare with', () => {
    expect(operations).toBeGreaterThan(50);
    expect([...baseline.lake.keys()].filter((k) => k.startsWith('orders_raw/')).length).toBeGreaterThan(6);
    expect(baseline.deadLetters.length).toBeGreaterThan(5);
    expect([...baseline.checkpoints.values()].every((p) => p > 0)).toBe(true);
  });

  it('a transient fault at any one operation is retried: identical lake and dead letters', async () => {
    for (const k of sample(40, 1)) {
      const outcome = await run(`transient-${k}`, (n) => (n === k ? 'transient' : undefined));
      expect(outcome.error, `fault at operation ${k}`).toBeUndefined();
      expect(outcome.lake, `fault at operation ${k}`).toEqual(baseline.lake);
      expect(outcome.deadLetters, `fault at operation ${k}`).toEqual(baseline.deadLetters);
    }
  }, 600_000);

  it('a transient outage longer than the retry budget restarts the partition from its snapshot: identical lake', async () => {
    let restarted = 0;
    let startupStops = 0;
    let archiveRestarts = 0;
    for (const k of sample(20, 2)) {
      // From operation k on, everything fails for 250 ms: longer than the 40 ms retry budget, however fast the
      // machine retries, so a partition that hits it must restart from its snapshot.
      let outageFrom: number | undefined;
      const outcome = await run(`outage-${k}`, (n) => {
        if (n === k) outageFrom = Date.now();
        return outageFrom !== undefined && Date.now() - outageFrom < 250 ? 'transient' : undefined;
      });
      if (outcome.error !== undefined && !outcome.operations.slice(0, k + 1).some((op) => op.startsWith('state get snapshots/'))) {
        // Before any partition is assigned (listing and indexing the archive) there is nothing to restart: the
        // run stops with the storage fault, and a rerun once storage is back gives the identical lake.
        expect(outcome.error, `outage from operation ${k}`).toMatchObject({ code: 'STORAGE_TRANSIENT' });
        startupStops++;
        const rerun = await run(`outage-${k}`, () => undefined);
        expect(rerun.error, `rerun after an outage at start-up (operation ${k})`).toBeUndefined();
        expect(rerun.lake, `rerun after an outage at start-up (operation ${k})`).toEqual(baseline.lake);
        continue;
      }
      expect(outcome.error, `outage from operation ${k}`).toBeUndefined();
      expect(outcome.lake, `outage from operation ${k}`).toEqual(baseline.lake);
      expect(outcome.deadLetters, `outage from operation ${k}`).toEqual(baseline.deadLetters);
      if (outcome.restores > baseline.restores) {
        restarted++;
        if (outcome.operations[k]!.startsWith('archive get')) archiveRestarts++;
      }
    }
    // most outages hit a partition mid-run, which only a restart from the snapshot gets through; archive reads
    // included (an outage while a partition reads its files restarts the partition, not the run)
    expect(restarted).toBeGreaterThan(5);
    expect(startupStops).toBeLessThan(restarted);
    expect(archiveRestarts).toBeGreaterThan(0);
  }, 600_000);

  it('a permanent fault stops the run with no checkpoint past unwritten data; a clean rerun gives the identical lake', async () => {
    let tolerated = 0;
    for (const k of sample(20, 3)) {
      const name = `permanent-${k}`;
      const failed = await run(name, (n) => (n === k ? 'permanent' : undefined));
      if (failed.error === undefined) {
        // A few operations may fail without harm (a lease release: the lease expires by itself); then nothing
        // may be missing either.
        expect(failed.lake, `permanent fault at ${k}, tolerated`).toEqual(baseline.lake);
        expect(failed.deadLetters, `permanent fault at ${k}, tolerated`).toEqual(baseline.deadLetters);
        tolerated++;
        continue;
      }
      expect(failed.error, `permanent fault at operation ${k}`).toMatchObject({ code: 'STORAGE_PERMANENT' });
      expectCheckpointsBehindTheLake(failed);
      const rerun = await run(name, () => undefined);
      expect(rerun.error, `rerun after a permanent fault at ${k}`).toBeUndefined();
      expect(rerun.lake, `rerun after a permanent fault at ${k}`).toEqual(baseline.lake);
      expect(rerun.deadLetters, `rerun after a permanent fault at ${k}`).toEqual(baseline.deadLetters);
    }
    expect(runs).toBeGreaterThan(30);
    // most operations are not optional (the optional ones: the archive index cache, lease releases)
    expect(tolerated).toBeLessThan(10);
  }, 600_000);
});
