/**
 * Wires the stages together for one worker process: stores, stream plans, the decode pool, the configured source
 * and the partition router, plus progress reporting and the idle flush. Shutdown runs in the order STYLE.md asks
 * for: stop reading (the signal), let in-flight batches finish, flush, release partitions, drain the pool.
 */
import os from 'node:os';
import type { StoreConfig, TributaryConfig } from '../config/schema.js';
import type { ObjectStore } from '../core/object-store.js';
import { retryPolicyFromConfig } from '../core/retry.js';
import type { Logger } from '../core/log.js';
import { DecodePool } from '../ingest/decode/pool.js';
import { createSource } from '../ingest/source-factory.js';
import type { PartitionHandler, Source } from '../core/source.js';
import { RetryingObjectStore } from '../sink/retrying-store.js';
import { createObjectStore } from '../sink/store-factory.js';
import { RunTotals, fanOut, stageOf, type ErrorStage, type PipelineObserver } from './observer.js';
import { SnapshotStore, snapshotRetention } from '../state/snapshot-store.js';
import { PartitionRouter } from './partition-router.js';
import { processorSettings } from './partition-processor.js';
import { loadStreamPlans } from './stream-plan.js';

export interface WorkerOptions {
  bounded: boolean;
  signal: AbortSignal;
  log: Logger;
  /** extra observers (metrics) */
  observers?: PipelineObserver[];
  /** replace the configured source (tests, benchmarks) */
  source?: Source;
  /**
   * wraps the configured source, made here with the run's stores (the archive through the same store wrapper as
   * the others: shutdown signal, error metric, `wrapStore`); range replay cuts it at the range's end
   */
  wrapSource?: (source: Source) => Source;
  /** passed to the configured source: per partition, where a bounded run stops reading (see SourceDependencies) */
  until?: (stream: string, partition: string) => number | undefined;
  /** readiness for /readyz: true once the source runs */
  onReady?: () => void;
  /**
   * Ends what `signal` lets finish: aborted when the drain deadline after a shutdown has passed, it stops store
   * retries and requests in flight, so the run ends without moving a checkpoint past unwritten data.
   */
  hardStop?: AbortSignal;
  /** wraps each store the run uses (tests inject faults here) */
  wrapStore?: (role: 'archive' | 'lake' | 'deadLetters' | 'state', store: ObjectStore) => ObjectStore;
  /** wraps the handler the source calls (progress reporting watches assignments and busy partitions) */
  wrapHandler?: (handler: PartitionHandler) => PartitionHandler;
}

const STORE_STAGES: Record<'archive' | 'lake' | 'deadLetters' | 'state', ErrorStage> = { archive: 'source', lake: 'sink', deadLetters: 'dead_letter', state: 'snapshot' };

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
  const totals = new RunTotals();
  const observer = fanOut([totals, ...(options.observers ?? [])]);
  const storeOptions = { ...(options.hardStop ? { signal: options.hardStop } : {}), logger: log, retry: retryPolicyFromConfig(config.retry) };
  const open = (role: keyof typeof STORE_STAGES, storeConfig: StoreConfig): ObjectStore => {
    // every failed attempt of a blob request counts in tributary_errors_total, at the store's stage
    const raw = createObjectStore(storeConfig, { ...storeOptions, onFailure: (error) => observer.error?.(STORE_STAGES[role], error) });
    const store = options.wrapStore?.(role, raw) ?? raw;
    // Blob stores retry inside, per request; a folder gets the same policy around each operation.
    return storeConfig.kind === 'local' ? new RetryingObjectStore(store, storeOptions.retry, log, options.hardStop) : store;
  };
  const state = open('state', config.state);
  const stores = {
    lake: open('lake', config.lake),
    deadLetters: open('deadLetters', config.deadLetter),
    state,
    snapshots: new SnapshotStore(state, snapshotRetention(config.state.snapshotRetention)),
  };
  const configured = (): Source => createSource(config, { state: stores.state, log, openStore: (archive) => open('archive', archive), ...(options.until ? { until: options.until } : {}) });
  const source = options.source ?? (options.wrapSource ? options.wrapSource(configured()) : configured());
  const pool = new DecodePool(config.processing.decodeThreads);
  const processing = config.processing;
  const router = new PartitionRouter(
    plans,
    {
      ...processorSettings(processing),
      inFlightBatches: processing.inFlightBatches,
      inFlightBytes: processing.inFlightBytes,
      maxConsecutiveFailures: processing.maxConsecutiveFailures,
      restartBackoff: retryPolicyFromConfig(config.retry),
      ownerId: `${os.hostname()}/${process.pid}`,
    },
    stores,
    pool,
    observer,
    log,
    signal,
  );
  const started = Date.now();
  const idleFlush = options.bounded
    ? undefined
    : setInterval(() => {
        router.flushIdle(processing.flushInterval).catch((error: unknown) => {
          observer.error?.(stageOf(error, 'sink'), error);
          log.error({ err: error }, 'idle flush failed');
        });
      }, Math.max(1000, Math.floor(processing.flushInterval / 4)));
  log.info({ source: source.description, lake: stores.lake.location, bounded: options.bounded }, 'worker starting');
  try {
    options.onReady?.();
    await source.run(options.wrapHandler ? options.wrapHandler(router) : router, { signal, bounded: options.bounded });
  } catch (error) {
    observer.error?.(stageOf(error, 'run'), error);
    throw error;
  } finally {
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
