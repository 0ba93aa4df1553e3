/**
 * Wires the stages together for one worker process: stores, stream plans, the decode pool, the configured source
 * and the partition router, plus progress reporting and the idle flush. Shutdown runs in the order STYLE.md asks
 * for: stop reading (the signal), let in-flight batches finish, flush, release partitions, drain the pool.
 */
import type { TributaryConfig } from '../config/schema.js';
import type { Logger } from '../core/log.js';
import { DecodePool } from '../ingest/decode/pool.js';
import { createSource } from '../ingest/source-factory.js';
import type { Source } from '../core/source.js';
import { createObjectStore } from '../sink/store-factory.js';
import { SnapshotStore, snapshotRetention } from '../state/snapshot-store.js';
import { RunTotals, fanOut, type PipelineObserver } from './observer.js';
import { PartitionRouter } from './partition-router.js';
import { loadStreamPlans } from './stream-plan.js';

export interface WorkerOptions {
  bounded: boolean;
  signal: AbortSignal;
  log: Logger;
  /** extra observers (metrics) */
  observers?: PipelineObserver[];
  /** called every `progressIntervalMs` with the running totals */
  onProgress?: (totals: RunTotals, elapsedMs: number) => void;
  progressIntervalMs?: number;
  /** replace the configured source (tests, benchmarks) */
  source?: Source;
  /** readiness for /readyz: true once the source runs */
  onReady?: () => void;
}

export interface RunSummary {
  totals: RunTotals;
  elapsedMs: number;
  lake: string;
  deadLetters: string;
  source: string;
}

export async function runWorker(config: TributaryConfig, options: WorkerOptions): Promise<RunSummary> {
  const { log, signal } = options;
  const plans = await loadStreamPlans(config);
  const state = createObjectStore(config.state);
  const stores = {
    lake: createObjectStore(config.lake),
    deadLetters: createObjectStore(config.deadLetter),
    state,
    snapshots: new SnapshotStore(state, snapshotRetention(config.state.snapshotRetention)),
  };
  const source = options.source ?? createSource(config, { state: stores.state, log });
  const totals = new RunTotals();
  const observer = fanOut([totals, ...(options.observers ?? [])]);
  const pool = new DecodePool(config.processing.decodeThreads);
  const processing = config.processing;
  const router = new PartitionRouter(
    plans,
    {
      rowsPerFile: processing.rowsPerFile,
      rowGroupRows: processing.rowGroupRows,
      maxFileBytes: processing.maxFileBytes,
      gate: {
        allowedOutOfOrdernessMs: processing.allowedOutOfOrderness,
        allowedLatenessMs: processing.allowedLateness,
        dedupRetentionMs: processing.dedupRetention,
      },
    },
    stores,
    pool,
    observer,
    log,
  );
  const started = Date.now();
  const progress = options.onProgress
    ? setInterval(() => options.onProgress!(totals, Date.now() - started), options.progressIntervalMs ?? 2000)
    : undefined;
  const idleFlush = options.bounded
    ? undefined
    : setInterval(() => {
        router.flushIdle(processing.flushInterval).catch((error: unknown) => log.error({ err: error }, 'idle flush failed'));
      }, Math.max(1000, Math.floor(processing.flushInterval / 4)));
  log.info({ source: source.description, lake: stores.lake.location, bounded: options.bounded }, 'worker starting');
  try {
    options.onReady?.();
    await source.run(router, { signal, bounded: options.bounded });
  } finally {
    if (progress) clearInterval(progress);
    if (idleFlush) clearInterval(idleFlush);
    await pool.close();
  }
  return {
    totals,
    elapsedMs: Date.now() - started,
    lake: stores.lake.location,
    deadLetters: stores.deadLetters.location,
    source: source.description,
  };
}
