/**
 * Prometheus metrics of the worker, one method per internal event (STYLE.md, after vector's internal events).
 * The registry is a parameter, never prom-client's global one, so tests and embedded runs each get their own.
 *
 * Names are `tributary_<name>_<unit>` (`_total` for counters, `_timestamp_seconds` for points in time). Every
 * label has a bounded set of values: streams and tables come from config, partitions from the source (at most a
 * few dozen per hub), dead-letter reasons and error types from fixed lists.
 */
import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';
import { TributaryError, isStop, type ErrorCode } from '../core/errors.js';
import type { ErrorStage, PipelineObserver } from '../runtime/observer.js';
import type { DeadLetterReason } from '../sink/dead-letter.js';
import { packageVersion } from './build-info.js';

export type { ErrorStage } from '../runtime/observer.js';

/** The `error_type` label: a TributaryError's code in snake case, or `unclassified` for anything else. */
export type ErrorType = Lowercase<ErrorCode> | 'unclassified';

export interface TributaryMetricsOptions {
  /** Also register prom-client's process and Node.js runtime metrics (process_*, nodejs_*) in the registry. */
  processMetrics?: boolean;
  /** Clock for the checkpoint timestamp; injectable for tests. */
  now?: () => number;
  /** The `version` label of tributary_build_info; default the package.json version. */
  version?: string;
}

/**
 * prom-client's defaults that `promtool check metrics` rejects: gauges named `_total` (a suffix reserved for
 * counters). Each is the sum over the `type` label of the gauge of the same name without `_total`, which stays
 * (`sum(nodejs_active_handles)` gives the same number).
 */
export const DROPPED_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;

/** Every metric name this class registers, for alert rules and dashboards to check against. */
export const METRIC_NAMES = {
  eventsIn: 'tributary_events_in_total',
  duplicates: 'tributary_duplicates_dropped_total',
  rowsLanded: 'tributary_rows_landed_total',
  filesWritten: 'tributary_files_written_total',
  bytesWritten: 'tributary_file_bytes_written_total',
  deadLetters: 'tributary_dead_letters_total',
  batchLatency: 'tributary_batch_latency_seconds',
  watermark: 'tributary_watermark_timestamp_seconds',
  checkpointPosition: 'tributary_checkpoint_position',
  checkpointTime: 'tributary_checkpoint_timestamp_seconds',
  consumerLag: 'tributary_consumer_lag_events',
  errors: 'tributary_errors_total',
  deadLettersPending: 'tributary_dead_letters_pending',
  buildInfo: 'tributary_build_info',
} as const;

/** Seconds; a batch is thousands of events, from a few milliseconds to tens of seconds behind a slow sink. */
const BATCH_LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

type PartitionLabels = 'stream' | 'partition';

export class TributaryMetrics implements PipelineObserver {
  private readonly eventsInTotal: Counter<PartitionLabels>;
  private readonly duplicatesTotal: Counter<PartitionLabels>;
  private readonly rowsLandedTotal: Counter<'table'>;
  private readonly filesWrittenTotal: Counter<'table'>;
  private readonly bytesWrittenTotal: Counter<'table'>;
  private readonly deadLettersTotal: Counter<'stream' | 'reason'>;
  private readonly batchLatency: Histogram<'stream'>;
  private readonly watermarkSeconds: Gauge<PartitionLabels>;
  private readonly checkpointPosition: Gauge<PartitionLabels>;
  private readonly checkpointSeconds: Gauge<PartitionLabels>;
  private readonly consumerLag: Gauge<PartitionLabels>;
  private readonly errorsTotal: Counter<'stage' | 'error_type'>;
  private readonly deadLettersPending: Gauge<'stream' | 'reason'>;
  private readonly now: () => number;
  /** errors already counted, so an error reported again where it surfaces next is counted once */
  private readonly counted = new WeakSet<object>();
  /** dead-letter counts per written object key, so a rewritten cell replaces its counts instead of adding */
  private readonly deadLetterObjects = new Map<string, { stream: string; counts: Partial<Record<DeadLetterReason, number>> }>();

  constructor(registry: Registry, options: TributaryMetricsOptions = {}) {
    const registers = [registry];
    const partitionLabels = ['stream', 'partition'] as const;
    this.now = options.now ?? Date.now;
    this.eventsInTotal = new Counter({
      name: METRIC_NAMES.eventsIn,
      help: 'Events read from the source, per stream and partition (redeliveries included).',
      labelNames: partitionLabels,
      registers,
    });
    this.duplicatesTotal = new Counter({
      name: METRIC_NAMES.duplicates,
      help: 'Events dropped as duplicates of an event id already seen in the partition.',
      labelNames: partitionLabels,
      registers,
    });
    this.rowsLandedTotal = new Counter({
      name: METRIC_NAMES.rowsLanded,
      help: 'Rows added to the lake, per table.',
      labelNames: ['table'],
      registers,
    });
    this.filesWrittenTotal = new Counter({
      name: METRIC_NAMES.filesWritten,
      help: 'Parquet file writes, per table (a file still filling is rewritten whole under its name, and each write counts).',
      labelNames: ['table'],
      registers,
    });
    this.bytesWrittenTotal = new Counter({
      name: METRIC_NAMES.bytesWritten,
      help: 'Bytes of Parquet written, per table.',
      labelNames: ['table'],
      registers,
    });
    this.deadLettersTotal = new Counter({
      name: METRIC_NAMES.deadLetters,
      help: 'Events sent to the dead-letter stream, per stream and reason (decode, schema, late, sink, oversize).',
      labelNames: ['stream', 'reason'],
      registers,
    });
    this.batchLatency = new Histogram({
      name: METRIC_NAMES.batchLatency,
      help: 'Time to process one source batch (decode, aggregate, write), per stream.',
      labelNames: ['stream'],
      buckets: BATCH_LATENCY_BUCKETS,
      registers,
    });
    this.watermarkSeconds = new Gauge({
      name: METRIC_NAMES.watermark,
      help: 'Event-time watermark of the partition, seconds since the epoch.',
      labelNames: partitionLabels,
      registers,
    });
    this.checkpointPosition = new Gauge({
      name: METRIC_NAMES.checkpointPosition,
      help: 'Source position the partition is checkpointed at (Event Hubs sequence number, Kafka offset).',
      labelNames: partitionLabels,
      registers,
    });
    this.checkpointSeconds = new Gauge({
      name: METRIC_NAMES.checkpointTime,
      help: 'Wall-clock time of the partition\'s last checkpoint, seconds since the epoch.',
      labelNames: partitionLabels,
      registers,
    });
    this.consumerLag = new Gauge({
      name: METRIC_NAMES.consumerLag,
      help: 'Events in the partition past the last one read (source end position minus read position).',
      labelNames: partitionLabels,
      registers,
    });
    this.errorsTotal = new Counter({
      name: METRIC_NAMES.errors,
      help: 'Errors per pipeline stage and error type; transient ones are retried, so this counts attempts that failed.',
      labelNames: ['stage', 'error_type'],
      registers,
    });
    this.deadLettersPending = new Gauge({
      name: METRIC_NAMES.deadLettersPending,
      help: 'Dead letters this worker wrote to the dead-letter store since it started, per stream and reason (a rewritten cell counts once); they wait there until replayed.',
      labelNames: ['stream', 'reason'],
      registers,
    });
    new Gauge({
      name: METRIC_NAMES.buildInfo,
      help: 'Always 1; the labels say which Tributary version runs on which Node.js version.',
      labelNames: ['version', 'node'],
      registers,
    }).set({ version: options.version ?? packageVersion(), node: process.version }, 1);
    if (options.processMetrics) {
      collectDefaultMetrics({ register: registry });
      for (const name of DROPPED_DEFAULT_METRICS) registry.removeSingleMetric(name);
    }
  }

  eventsIn(stream: string, partition: string, count: number): void {
    this.eventsInTotal.inc({ stream, partition }, count);
  }

  duplicates(stream: string, partition: string, count: number): void {
    this.duplicatesTotal.inc({ stream, partition }, count);
  }

  rowsLanded(table: string, count: number): void {
    this.rowsLandedTotal.inc({ table }, count);
  }

  fileWritten(table: string, _key: string, bytes: number): void {
    this.filesWrittenTotal.inc({ table });
    this.bytesWrittenTotal.inc({ table }, bytes);
  }

  deadLettered(stream: string, reason: DeadLetterReason, count: number): void {
    this.deadLettersTotal.inc({ stream, reason }, count);
  }

  batchProcessed(stream: string, seconds: number): void {
    this.batchLatency.observe({ stream }, seconds);
  }

  /** A partition's watermark is -Infinity until its first event; no sample is better than a fake one. */
  watermark(stream: string, partition: string, watermarkMs: number): void {
    if (Number.isFinite(watermarkMs)) this.watermarkSeconds.set({ stream, partition }, watermarkMs / 1000);
  }

  checkpointed(stream: string, partition: string, position: number): void {
    this.checkpointPosition.set({ stream, partition }, position);
    this.checkpointSeconds.set({ stream, partition }, this.now() / 1000);
  }

  lag(stream: string, partition: string, events: number): void {
    this.consumerLag.set({ stream, partition }, events);
  }

  /**
   * Every failure goes through here (the runtime calls it where a failure first surfaces). The same error object
   * reported again further out (a store's exhausted retry, then the batch, then the run) counts once, at the
   * first, most precise stage. A wrapper is a new object and counts: a store's exhausted retries, then the
   * partition failing with them (partition_failed), are two events. Stops are not failures and do not count: an
   * abort is shutdown doing its job, a lost partition is another owner taking over.
   */
  error(stage: ErrorStage, error: unknown): void {
    if (isStop(error)) return;
    if (typeof error === 'object' && error !== null) {
      if (this.counted.has(error)) return;
      this.counted.add(error);
    }
    this.errorsTotal.inc({ stage, error_type: errorType(error) });
  }

  deadLettersWritten(stream: string, key: string, counts: Partial<Record<DeadLetterReason, number>>): void {
    const previous = this.deadLetterObjects.get(key)?.counts ?? {};
    this.deadLetterObjects.set(key, { stream, counts });
    for (const reason of new Set([...Object.keys(previous), ...Object.keys(counts)]) as Set<DeadLetterReason>) {
      const change = (counts[reason] ?? 0) - (previous[reason] ?? 0);
      if (change !== 0) this.deadLettersPending.inc({ stream, reason }, change);
    }
  }

  /**
   * The partition moved to another worker (or this one stopped): its gauges go, or the old owner would keep
   * reporting a frozen checkpoint time and trip the checkpoint-age alert for a partition that is fine.
   */
  partitionReleased(stream: string, partition: string): void {
    for (const gauge of [this.watermarkSeconds, this.checkpointPosition, this.checkpointSeconds, this.consumerLag]) {
      gauge.remove({ stream, partition });
    }
  }
}

export function errorType(error: unknown): ErrorType {
  return error instanceof TributaryError ? (error.code.toLowerCase() as Lowercase<ErrorCode>) : 'unclassified';
}
