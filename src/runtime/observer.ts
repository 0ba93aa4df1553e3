/**
 * What the pipeline reports as it works. The runtime feeds these events to the Prometheus metrics and to the
 * run summary; keeping them behind one interface keeps prom-client out of the processing code.
 */
import type { DeadLetterReason } from '../sink/dead-letter.js';

export interface PipelineObserver {
  eventsIn(stream: string, partition: string, count: number): void;
  duplicates(stream: string, partition: string, count: number): void;
  rowsLanded(table: string, count: number): void;
  fileWritten(table: string, key: string, bytes: number): void;
  deadLettered(stream: string, reason: DeadLetterReason, count: number): void;
  batchProcessed(stream: string, seconds: number): void;
  watermark(stream: string, partition: string, watermarkMs: number): void;
  checkpointed(stream: string, partition: string, position: number): void;
  /** events the source holds beyond what this partition has processed */
  lag?(stream: string, partition: string, events: number): void;
  /** ownership ended: per-partition gauges should go, or a stale checkpoint age would alert */
  partitionReleased?(stream: string, partition: string): void;
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
  };
}
