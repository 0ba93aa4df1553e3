/**
 * The PartitionHandler the sources call: one PartitionDriver (with its PartitionProcessor) per owned (stream,
 * partition) and ownership period, created on assignment (restoring the snapshot) and dropped on revocation.
 *
 * It also keeps what outlives an ownership period: how often each partition has failed in a row. A failed
 * partition is assigned again by its source; the assignment waits a backoff that grows with the failures, and
 * once `maxConsecutiveFailures` is reached it refuses with the last cause, which stops the run. A commit resets
 * the count.
 */
import { TributaryError, isRestartable, partitionFailure } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { backoffDelay, sleep, type RetryPolicy } from '../core/retry.js';
import type { PartitionBatch, PartitionFeed, PartitionHandler, ResumePoint } from '../core/source.js';
import type { DecodePool } from '../ingest/decode/pool.js';
import { stageOf, type PipelineObserver } from './observer.js';
import { InFlightBudget } from './in-flight-budget.js';
import { claimEpoch } from './ownership.js';
import { PartitionDriver } from './partition-driver.js';
import { PartitionProcessor, type ProcessorSettings, type ProcessorStores } from './partition-processor.js';
import type { StreamPlan } from './stream-plan.js';

export interface RouterSettings extends ProcessorSettings {
  inFlightBatches: number;
  /** bytes of events handed over and not yet applied, over all partitions (InFlightBudget) */
  inFlightBytes: number;
  maxConsecutiveFailures: number;
  /** backoff between a partition's failure and its next assignment */
  restartBackoff: RetryPolicy;
  /** names this worker in owner records (host and process) */
  ownerId: string;
}

interface FailureRecord {
  count: number;
  last: unknown;
}

export class PartitionRouter implements PartitionHandler {
  private readonly owned = new Map<string, PartitionDriver>();
  private readonly failures = new Map<string, FailureRecord>();
  /** one for the worker: what sources read ahead is bounded in sum, however many partitions they serve */
  private readonly budget: InFlightBudget;
  /** Capture blocks are read in each partition's lane (see PartitionProcessor) */
  readonly takesCaptureBlocks = true;

  constructor(
    private readonly plans: Map<string, StreamPlan>,
    private readonly settings: RouterSettings,
    private readonly stores: ProcessorStores,
    private readonly pool: DecodePool,
    private readonly observer: PipelineObserver,
    private readonly log: Logger,
    /** the run's shutdown signal: a backoff before a restart ends with it */
    private readonly signal: AbortSignal,
  ) {
    this.budget = new InFlightBudget(settings.inFlightBytes);
  }

  get ownedPartitions(): string[] {
    return [...this.owned.keys()];
  }

  async onAssigned(stream: string, partition: string, feed: PartitionFeed): Promise<ResumePoint> {
    const plan = this.plans.get(stream);
    if (!plan) throw new TributaryError('CONFIG_INVALID', `the source delivered stream "${stream}", which is not configured under streams`);
    const id = key(stream, partition);
    if (this.owned.has(id)) throw new TributaryError('INTERNAL', `partition ${id} was assigned while this worker still owns it`);
    const log = this.log.child({ stream, partition });
    const failed = this.failures.get(id);
    if (failed) {
      if (failed.count >= this.settings.maxConsecutiveFailures) {
        const cause = failed.last instanceof TributaryError && failed.last.cause !== undefined ? failed.last.cause : failed.last;
        throw new TributaryError('STORAGE_PERMANENT', `partition ${id} failed ${failed.count} times in a row; stopping. Last cause: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
      }
      const delayMs = backoffDelay(this.settings.restartBackoff, failed.count, () => 0.5 + Math.random() / 2);
      log.warn({ failures: failed.count, delayMs }, 'restarting the partition from its last snapshot after a failure');
      await sleep(delayMs, this.signal);
    }
    const ownership = new AbortController();
    let processor: PartitionProcessor;
    let resume: ResumePoint;
    let epoch: number;
    try {
      epoch = await claimEpoch(this.stores.state, stream, partition, this.settings.ownerId, { signal: this.signal });
      processor = new PartitionProcessor(plan, partition, this.settings, this.stores, this.pool, this.observer, log, { epoch, signal: ownership.signal });
      resume = await processor.restore();
    } catch (error) {
      // A store fault while restoring counts like a failed batch: the source assigns the partition again.
      const failure = partitionFailure(`restoring partition ${id}`, error);
      this.observer.error?.(stageOf(error, 'snapshot'), failure);
      this.recordFailure(id, failure);
      throw failure;
    }
    const driver = new PartitionDriver(
      stream,
      partition,
      processor,
      feed,
      {
        inFlightBatches: this.settings.inFlightBatches,
        budget: this.budget,
        onCommitted: () => this.failures.delete(id),
        onFailed: (error) => {
          this.observer.error?.(stageOf(error.cause ?? error, 'aggregate'), error);
          this.recordFailure(id, error);
        },
        onBatchStarted: () => this.observer.batchStarted?.(stream, partition),
        onBatchSettled: () => this.observer.batchSettled?.(stream, partition),
      },
      log,
      ownership,
    );
    this.owned.set(id, driver);
    this.observer.partitionAssigned?.(stream, partition);
    log.info({ resumeAt: resume?.position ?? 'source start', epoch }, 'partition assigned');
    return resume;
  }

  onBatch(batch: PartitionBatch): Promise<void> {
    return this.mustOwn(batch.stream, batch.partition).offer(batch);
  }

  onCaughtUp(stream: string, partition: string): Promise<void> {
    this.observer.heartbeat?.();
    return this.mustOwn(stream, partition).caughtUp();
  }

  onReadFailed(stream: string, partition: string, error: unknown): Error {
    const failure = partitionFailure(`reading partition ${key(stream, partition)}`, error);
    this.observer.error?.(stageOf(error, 'source'), failure);
    this.recordFailure(key(stream, partition), failure);
    return failure;
  }

  async onRevoked(stream: string, partition: string, reason: 'lost' | 'shutdown'): Promise<void> {
    const id = key(stream, partition);
    const driver = this.owned.get(id);
    if (!driver) return;
    this.owned.delete(id);
    try {
      await driver.revoke(reason);
    } finally {
      this.observer.partitionReleased?.(stream, partition);
      this.log.info({ stream, partition, reason }, 'partition released');
    }
  }

  /** Writes the open files of partitions that have been idle for `idleMs`, so idle data becomes visible. */
  async flushIdle(idleMs: number): Promise<void> {
    await Promise.all([...this.owned.values()].map((driver) => driver.flushIfIdle(idleMs)));
  }

  private recordFailure(id: string, error: unknown): void {
    if (!isRestartable(error)) return;
    const record = this.failures.get(id) ?? { count: 0, last: undefined };
    record.count++;
    record.last = error;
    this.failures.set(id, record);
  }

  private mustOwn(stream: string, partition: string): PartitionDriver {
    const driver = this.owned.get(key(stream, partition));
    if (!driver) throw new TributaryError('OWNERSHIP_LOST', `partition ${stream}/${partition} is not owned by this worker`);
    return driver;
  }
}

const key = (stream: string, partition: string): string => `${stream}/${partition}`;
