/**
 * An Event Hubs owner that stalls past its ownership while holding a batch (issue 9, "Fenced owners"): two
 * in-process workers, A and B, share one hub of the AMQP peer, one consumer group, one checkpoint folder and one
 * lake and state folder. A's first raw-file upload of each partition is held on the wire (a store wrapper that
 * does not let go, even when A's partition is revoked: a request already sent). B joins, takes one of A's
 * partitions, re-reads it and writes the same file and the next one. Then A's held upload is let go: the store
 * must refuse it (OWNERSHIP_LOST, A's epoch is older than B's), and the lake both workers leave must be byte for
 * byte the lake one clean worker writes from the same events.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TributaryConfig, TributaryConfigInput } from '../../src/config/schema.js';
import { TributaryError } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/log.js';
import type { Fence, ObjectStore, StagedUpload, StoreCallOptions } from '../../src/core/object-store.js';
import type { PartitionBatch, PartitionHandler } from '../../src/core/source.js';
import { generateStreams } from '../../src/gen/generate.js';
import { parseGenOptions } from '../../src/gen/options.js';
import { EventHubsTarget } from '../../src/gen/targets/eventhubs.js';
import { runWorker } from '../../src/runtime/worker.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { startEventHubsPeer, type EventHubsPeer } from '../peers/eventhubs/index.js';
import { lakeTable, queryDuckDb } from '../support/duckdb.js';
import { readDeadLetters, snapshotLake } from '../support/lake.js';
import { REPO_ROOT, createWorkspace, type Workspace } from '../support/workspace.js';

const PARTITIONS = ['0', '1'];
const EVENTS = 600;
const log = createLogger(process.env.TRIBUTARY_TEST_LOG_LEVEL ?? 'silent');
const RAW_FILE = /\/orders_raw-p(\d+)-pos\d+-part\d+\.parquet$/;

function workerConfig(peer: EventHubsPeer, ws: Workspace, identifier: string): TributaryConfigInput {
  return {
    streams: {
      orders: { schema: path.join(REPO_ROOT, 'examples/schemas/orders.avsc'), eventId: 'orderId', eventTime: 'createdAt', partitionKey: 'customerId' },
    },
    source: {
      kind: 'eventhubs',
      connectionString: peer.namespaceConnectionString(),
      consumerGroup: 'tributary',
      hubs: { orders: 'orders' },
      checkpointStore: { kind: 'local', path: ws.file('checkpoints') },
      maxWaitTime: '200ms',
      maxBatchSize: 50,
      // balanced: a newcomer takes exactly its fair share (one of A's two partitions), one claim at a time
      loadBalancing: { strategy: 'balanced', updateInterval: '300ms', ownershipExpiration: '20s' },
      clientRetry: { maxRetries: 5, delay: '100ms', maxDelay: '1s', timeout: '10s' },
      identifier,
    },
    aggregations: [
      { name: 'orders_by_channel_1m', stream: 'orders', groupBy: ['channel'], window: { kind: 'tumbling', size: '1m' }, measures: [{ fn: 'count' }] },
    ],
    // Files are cut by rowsPerFile and at the end only (no idle flush inside the test), so the two runs' files
    // are comparable with the clean run's.
    processing: { allowedOutOfOrderness: '30s', allowedLateness: '0s', rowsPerFile: 100, flushInterval: '1h', decodeThreads: 1, batchSize: 50 },
    lake: { kind: 'local', path: ws.file('lake') },
    deadLetter: { kind: 'local', path: ws.file('deadletter') },
    state: { kind: 'local', path: ws.file('state') },
    metrics: { enabled: false },
  };
}

/** A deferred the test settles. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

function until(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (condition()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for: ${what}`));
      setTimeout(check, 25);
    };
    check();
  });
}

interface HeldWrite {
  key: string;
  /** settles with the store's answer once the write is let go */
  outcome: Promise<unknown>;
}

/**
 * Lake wrapper for worker A: the first raw-file write of each partition is held until `release` opens, whatever
 * the caller's signal says (the request is on the wire), then handed to the real store.
 */
class StallingLake implements ObjectStore {
  readonly location: string;
  readonly held = new Map<string, HeldWrite>();

  constructor(
    private readonly inner: ObjectStore,
    private readonly release: Promise<void>,
  ) {
    this.location = inner.location;
  }

  put(key: string, bytes: Uint8Array, metadata?: Record<string, string>, options?: StoreCallOptions): Promise<void> {
    return this.hold(key, () => this.inner.put(key, bytes, metadata, options));
  }

  putFenced(key: string, bytes: Uint8Array, metadata: Record<string, string>, fence: Fence, options?: StoreCallOptions): Promise<void> {
    return this.hold(key, () => this.inner.putFenced(key, bytes, metadata, fence, options));
  }

  get(key: string, options?: StoreCallOptions): ReturnType<ObjectStore['get']> {
    return this.inner.get(key, options);
  }

  list(prefix: string, options?: StoreCallOptions): ReturnType<ObjectStore['list']> {
    return this.inner.list(prefix, options);
  }

  delete(key: string, options?: StoreCallOptions): Promise<void> {
    return this.inner.delete(key, options);
  }

  /** An upload's commit is its write: held like a put. */
  openUpload(key: string, fence: Fence): StagedUpload {
    const upload = this.inner.openUpload(key, fence);
    return { ...bind(upload), commit: (tail, metadata, options) => this.hold(key, () => upload.commit(tail, metadata, options)) };
  }

  private hold(key: string, write: () => Promise<void>): Promise<void> {
    const partition = RAW_FILE.exec(key)?.[1];
    if (partition === undefined || this.held.has(partition)) return write();
    const result = this.release.then(write);
    // the outcome is kept apart (settled, never unhandled), the caller gets the store's own answer
    this.held.set(partition, { key, outcome: result.then(() => 'written', (error: unknown) => error) });
    return result;
  }
}

/** Lake wrapper for worker B: records which raw files it wrote (successfully), in order. */
class RecordingLake extends StallingLake {
  readonly written: Array<{ partition: string; key: string }> = [];

  constructor(inner: ObjectStore) {
    super(inner, Promise.resolve());
  }

  override async putFenced(key: string, bytes: Uint8Array, metadata: Record<string, string>, fence: Fence, options?: StoreCallOptions): Promise<void> {
    await super.putFenced(key, bytes, metadata, fence, options);
    const partition = RAW_FILE.exec(key)?.[1];
    if (partition !== undefined) this.written.push({ partition, key });
  }

  override openUpload(key: string, fence: Fence): StagedUpload {
    const upload = super.openUpload(key, fence);
    return {
      ...bind(upload),
      commit: async (tail, metadata, options) => {
        await upload.commit(tail, metadata, options);
        const partition = RAW_FILE.exec(key)?.[1];
        if (partition !== undefined) this.written.push({ partition, key });
      },
    };
  }
}

function bind(upload: StagedUpload): StagedUpload {
  return {
    key: upload.key,
    stage: (part, bytes, options) => upload.stage(part, bytes, options),
    commit: (tail, metadata, options) => upload.commit(tail, metadata, options),
    abort: (options) => upload.abort(options),
  };
}

/**
 * Watches what a worker's handler gets: the highest position handed over per partition (shared by both workers)
 * and the worker's own revocations.
 */
function watchBatches(highest: Map<string, number>, revoked: Array<[string, 'lost' | 'shutdown']> = []): (handler: PartitionHandler) => PartitionHandler {
  return (handler) => ({
    onAssigned: (stream, partition, feed) => handler.onAssigned(stream, partition, feed),
    onBatch: async (batch: PartitionBatch) => {
      await handler.onBatch(batch);
      const last = batch.events.at(-1)!.position;
      highest.set(batch.partition, Math.max(highest.get(batch.partition) ?? -1, last));
    },
    onCaughtUp: (stream, partition) => handler.onCaughtUp?.(stream, partition) ?? Promise.resolve(),
    onRevoked: (stream, partition, reason) => {
      revoked.push([partition, reason]);
      return handler.onRevoked(stream, partition, reason);
    },
  });
}

describe('an Event Hubs owner that stalls past its ownership while holding a batch', () => {
  let peer: EventHubsPeer;
  let shared: Workspace;
  let clean: Workspace;

  beforeAll(async () => {
    peer = await startEventHubsPeer({ hubs: { orders: { partitionCount: PARTITIONS.length, consumerGroups: ['tributary'] } } });
    shared = await createWorkspace('tributary-stalled-owner-');
    clean = await createWorkspace('tributary-stalled-clean-');
    const { config } = await clean.writeConfig(workerConfig(peer, clean, 'clean'));
    const target = await EventHubsTarget.connect({
      connection: { connectionString: peer.namespaceConnectionString() },
      hubs: { orders: 'orders' },
      partitions: PARTITIONS.length,
      clientRetry: { maxRetries: 3, delay: 100, maxDelay: 1000, timeout: 10_000 },
      log,
    });
    try {
      await generateStreams(config, parseGenOptions({ events: EVENTS, partitions: PARTITIONS.length, keys: 50, seed: 9, span: '20m', start: Date.UTC(2024, 0, 1) }), target);
    } finally {
      await target.close();
    }
  }, 120_000);

  afterAll(async () => {
    await peer?.close();
    await shared?.cleanup();
    await clean?.cleanup();
  });

  it("refuses the stale owner's write and leaves the lake a clean run writes", async () => {
    const lastPosition = new Map(PARTITIONS.map((p) => [p, peer.events('orders', p).length - 1]));
    for (const last of lastPosition.values()) expect(last).toBeGreaterThan(200); // room for B to write further

    const configA: TributaryConfig = (await shared.writeConfig(workerConfig(peer, shared, 'worker-a'), 'a.yaml')).config;
    const configB: TributaryConfig = (await shared.writeConfig(workerConfig(peer, shared, 'worker-b'), 'b.yaml')).config;
    const released = gate();
    let lakeA: StallingLake | undefined;
    let lakeB: RecordingLake | undefined;
    const highest = new Map<string, number>();
    const revokedA: Array<[string, 'lost' | 'shutdown']> = [];
    const stopA = new AbortController();
    const stopB = new AbortController();

    // A alone: it takes both partitions and stalls on the first raw file of each.
    const runA = runWorker(configA, {
      bounded: false,
      signal: stopA.signal,
      log,
      wrapStore: (role, store) => (role === 'lake' ? (lakeA = new StallingLake(store, released.promise)) : store),
      wrapHandler: watchBatches(highest, revokedA),
    });
    let runB: Promise<unknown> | undefined;
    let taken = '';
    try {
      await until(() => lakeA !== undefined && lakeA.held.size === PARTITIONS.length, 'A holds a raw-file write of every partition');

      // B joins, takes one partition and writes past the file A holds.
      runB = runWorker(configB, {
        bounded: false,
        signal: stopB.signal,
        log,
        wrapStore: (role, store) => (role === 'lake' ? (lakeB = new RecordingLake(store)) : store),
        wrapHandler: watchBatches(highest),
      });
      await until(() => (lakeB?.written.length ?? 0) > 0, 'B writes a raw file');
      taken = lakeB!.written[0]!.partition;
      const stale = lakeA!.held.get(taken)!;
      await until(
        () => lakeB!.written.some((w) => w.key === stale.key) && lakeB!.written.some((w) => w.partition === taken && w.key > stale.key),
        `B writes ${stale.key} and a later file of partition ${taken}`,
      );

      // A's held upload goes through now: the store refuses it, A's epoch being older than B's.
      released.open();
      const refused = await stale.outcome;
      expect(refused).toBeInstanceOf(TributaryError);
      expect((refused as TributaryError).code).toBe('OWNERSHIP_LOST');
      // A's other held write lands if A kept that partition, and is refused the same way if B took it too (the
      // load balancer may move both while A stalls).
      const kept = PARTITIONS.find((p) => p !== taken)!;
      const keptOutcome = await lakeA!.held.get(kept)!.outcome;
      if (lakeB!.written.some((w) => w.partition === kept)) expect((keptOutcome as TributaryError).code).toBe('OWNERSHIP_LOST');
      else expect(keptOutcome).toBe('written');

      await until(() => PARTITIONS.every((p) => highest.get(p) === lastPosition.get(p)), 'every event handed over');
    } finally {
      // Both at once, so neither takes the other's partitions on the way out.
      released.open();
      stopA.abort();
      stopB.abort();
      await Promise.allSettled([runA, runB]);
    }
    // Neither worker failed: losing a partition (and a refused stale write) is not a fault.
    await runA;
    await runB;
    // A was told it lost the partition B took (so it wrote nothing more for it), not that it was shutting down.
    expect(revokedA.find(([partition]) => partition === taken)).toEqual([taken, 'lost']);

    // One clean worker on the same events, from scratch: the reference lake.
    const { config: cleanConfig } = await clean.writeConfig(workerConfig(peer, clean, 'clean'));
    await runWorker(cleanConfig, { bounded: true, signal: new AbortController().signal, log });

    const sharedLake = new LocalObjectStore(shared.file('lake'));
    const cleanLake = new LocalObjectStore(clean.file('lake'));
    const expected = await snapshotLake(cleanLake);
    const actual = await snapshotLake(sharedLake);
    expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [key, bytes] of expected) expect(actual.get(key), key).toBe(bytes);
    // And it is complete: every produced event once in the raw table, as DuckDB reads it.
    const { rows } = await queryDuckDb(`SELECT count(*) AS n, count(DISTINCT orderId) AS ids FROM ${lakeTable(shared.file('lake'), 'orders_raw')}`, { types: false });
    expect(rows).toEqual([{ n: EVENTS, ids: EVENTS }]);
    expect(await readDeadLetters(new LocalObjectStore(shared.file('deadletter')))).toEqual([]);
  });
});
