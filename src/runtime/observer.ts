/**
 * What the pipeline reports as it works. The runtime feeds these events to the Prometheus metrics and to the
 * run summary; keeping them behind one interface keeps prom-client out of the processing code.
 */
import { TributaryError } from '../core/errors.js';
import type { DeadLetterReason } from '../sink/dead-letter.js';

/**
 * Where in the pipeline an error surfaced: the `stage` label of tributary_errors_total. A fixed list, so the
 * label stays bounded; `run` is a failure that ended the run and was not reported at a more precise stage.
 */
export const ERROR_STAGES = ['source', 'decode', 'aggregate', 'sink', 'dead_letter', 'checkpoint', 'snapshot', 'ownership', 'run'] as const;
export type ErrorStage = (typeof ERROR_STAGES)[number];

/** The stage a failure belongs to by its code, where the code says more than the place that caught it. */
export function stageOf(error: unknown, fallback: ErrorStage): ErrorStage {
  if (!(error instanceof TributaryError)) return fallback;
  switch (error.code) {
    case 'STORAGE_TRANSIENT':
    case 'STORAGE_PERMANENT':
      return 'sink';
    case 'BROKER_TRANSIENT':
    case 'BROKER_PERMANENT':
    case 'INPUT_UNREADABLE':
      return 'source';
    case 'DECODE_FAILED':
    case 'SCHEMA_MISMATCH':
      return 'decode';
    case 'OWNERSHIP_LOST':
      return 'ownership';
    default:
      return fallback;
  }
}

export interface PipelineObserver {
  eventsIn(stream: string, partition: string, count: number): void;
  duplicates(stream: string, partition: string, count: number): void;
  rowsLanded(table: string, count: number): void;
  fileWritten(table: string, key: string, bytes: number): void;
  deadLettered(stream: string, reason: DeadLetterReason, count: number): void;
  batchProcessed(stream: string, seconds: number): void;
  watermark(stream: string, partition: string, watermarkMs: number): void;
  checkpointed(stream: string, partition: string, position: number): void;
  /** events the source holds beyond what this partition has processed (above 0 is pending work for liveness) */
  lag?(stream: string, partition: string, events: number): void;
  /** ownership ended: per-partition gauges should go, or a stale checkpoint age would alert */
  partitionReleased?(stream: string, partition: string): void;
  /** ownership gained and the partition's state restored: it can process now (readiness) */
  partitionAssigned?(stream: string, partition: string): void;
  /** a batch of the partition entered processing; paired with one batchSettled whether it succeeds or fails */
  batchStarted?(stream: string, partition: string): void;
  batchSettled?(stream: string, partition: string): void;
  /** the source showed it is alive without delivering work (an empty poll, a caught-up report) */
  heartbeat?(): void;
  /**
   * the source finished a round of partition balancing and this worker owns `owned` partitions; 0 means there
   * is nothing for it to own (more replicas than partitions), which readiness accepts
   */
  ownershipSettled?(owned: number): void;
  /**
   * Every failure, once: a transient attempt that will be retried, a retry budget exhausted, a batch or a run
   * that failed. Reporting the same error object again at an outer stage does not count it twice.
   */
  error?(stage: ErrorStage, error: unknown): void;
  /** the dead letters of one cell were written under `key` (a rewrite of the same key replaces the counts) */
  deadLettersWritten?(stream: string, key: string, counts: Partial<Record<DeadLetterReason, number>>): void;
}

/** Totals for the end-of-run summary. */
export class RunTotals implements PipelineObserver {
  eventsRead = 0;
  duplicatesDropped = 0;
  readonly rowsPerTable = new Map<string, number>();
  readonly filesPerTable = new Map<string, Set<string>>();
  readonly deadLettersByReason = new Map<DeadLetterReason, number>();
  bytesWritten = 0;

  eventsIn(_stream: string, _partition: string, count: number): void {
    this.eventsRead += count;
  }
  duplicates(_stream: string, _partition: string, count: number): void {
    this.duplicatesDropped += count;
  }
  rowsLanded(table: string, count: number): void {
    this.rowsPerTable.set(table, (this.rowsPerTable.get(table) ?? 0) + count);
  }
  fileWritten(table: string, key: string, bytes: number): void {
    let files = this.filesPerTable.get(table);
    if (!files) this.filesPerTable.set(table, (files = new Set()));
    files.add(key);
    this.bytesWritten += bytes;
  }
  deadLettered(_stream: string, reason: DeadLetterReason, count: number): void {
    this.deadLettersByReason.set(reason, (this.deadLettersByReason.get(reason) ?? 0) + count);
  }
  batchProcessed(): void {}
  watermark(): void {}
  checkpointed(): void {}
}

export function fanOut(observers: PipelineObserver[]): PipelineObserver {
  return {
    eventsIn: (...a) => observers.forEach((o) => o.eventsIn(...a)),
    duplicates: (...a) => observers.forEach((o) => o.duplicates(...a)),
    rowsLanded: (...a) => observers.forEach((o) => o.rowsLanded(...a)),
    fileWritten: (...a) => observers.forEach((o) => o.fileWritten(...a)),
    deadLettered: (...a) => observers.forEach((o) => o.deadLettered(...a)),
    batchProcessed: (...a) => observers.forEach((o) => o.batchProcessed(...a)),
    watermark: (...a) => observers.forEach((o) => o.watermark(...a)),
    checkpointed: (...a) => observers.forEach((o) => o.checkpointed(...a)),
    partitionReleased: (...a) => observers.forEach((o) => o.partitionReleased?.(...a)),
    lag: (...a) => observers.forEach((o) => o.lag?.(...a)),
    partitionAssigned: (...a) => observers.forEach((o) => o.partitionAssigned?.(...a)),
    batchStarted: (...a) => observers.forEach((o) => o.batchStarted?.(...a)),
    batchSettled: (...a) => observers.forEach((o) => o.batchSettled?.(...a)),
    heartbeat: () => observers.forEach((o) => o.heartbeat?.()),
    ownershipSettled: (...a) => observers.forEach((o) => o.ownershipSettled?.(...a)),
    error: (...a) => observers.forEach((o) => o.error?.(...a)),
    deadLettersWritten: (...a) => observers.forEach((o) => o.deadLettersWritten?.(...a)),
  };
}
