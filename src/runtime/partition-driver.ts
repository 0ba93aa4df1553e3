/**
 * The one per-partition driver every source adapts to. For one ownership period of one (stream, partition) it
 * owns: ordering (batches are applied one after the other, in the order handed over), the in-flight window
 * (`inFlightBatches`: the next batch decodes while the one before it is applied; awaiting `offer` is the source's
 * backpressure), commit-after-outcome (the source's position moves only after the files and the snapshot below it
 * are written, through the source's PartitionFeed), caught-up and idle flushes, and revocation (waiting for or
 * abandoning the work in flight).
 *
 * The failure rule: the first error in any step fails the driver. Nothing after it runs or commits (a later batch
 * already decoding is dropped), the processor is discarded with it, and the source is told through the rejection
 * of its next call. The partition is then released and assigned again, which restores its last snapshot and
 * re-reads from that position (see PartitionRouter for the backoff and the consecutive-failure limit).
 */
import { TributaryError, abortError, isStop, partitionFailure } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { PartitionBatch, PartitionFeed } from '../core/source.js';
import { inFlightBytesOfBatch, type InFlightBudget } from './in-flight-budget.js';
import type { CommitPoint, PartitionProcessor } from './partition-processor.js';

export interface DriverOptions {
  /** batches handed over and not yet applied, the one being applied included */
  inFlightBatches: number;
  /** bytes handed over and not yet applied, shared by every partition of the worker (see InFlightBudget) */
  budget?: InFlightBudget;
  /** a commit went through: the partition made progress */
  onCommitted: (position: number) => void;
  /** the driver failed (called once, with the classified error) */
  onFailed: (error: TributaryError) => void;
  /** a batch entered the in-flight window / left it, applied or not (the health state's batches in flight) */
  onBatchStarted?: () => void;
  onBatchSettled?: () => void;
}

export class PartitionDriver {
  /** the serialised steps of this partition (apply, commit, flush), each after the one before */
  private tail: Promise<void> = Promise.resolve();
  private inFlight = 0;
  private readonly roomWaiters: Array<() => void> = [];
  private failure: unknown;
  /** whether the source has been told of the failure (a rejection it received) */
  private failureDelivered = false;
  /** something was handed over since the open files were last written */
  private dirty = false;
  lastActivity = Date.now();

  constructor(
    readonly stream: string,
    readonly partition: string,
    private readonly processor: PartitionProcessor,
    private readonly feed: PartitionFeed,
    private readonly options: DriverOptions,
    private readonly log: Logger,
    /** the ownership period's controller (the processor writes under its signal): aborted when the partition is
     * lost or has failed, which stops its decoding, lane work and writes */
    private readonly abort: AbortController,
  ) {}

  get failed(): boolean {
    return this.failure !== undefined;
  }

  /** Hands over a batch; resolves once it is accepted into the in-flight window and the worker's byte budget. */
  async offer(batch: PartitionBatch): Promise<void> {
    this.throwIfFailed();
    while (this.inFlight >= this.options.inFlightBatches) {
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
      this.throwIfFailed();
    }
    // The window slot is taken before the bytes are waited for, so a second offer of this partition cannot pass.
    this.inFlight++;
    const bytes = inFlightBytesOfBatch(batch);
    try {
      await this.options.budget?.acquire(bytes, this.abort.signal);
    } catch (error) {
      this.inFlight--;
      this.roomWaiters.shift()?.();
      this.throwIfFailed();
      throw error;
    }
    if (this.failure !== undefined) {
      this.options.budget?.release(bytes);
      this.inFlight--;
      this.throwIfFailed();
    }
    this.options.onBatchStarted?.();
    this.dirty = true;
    this.lastActivity = Date.now();
    // Decoding starts now, while the batch before is still being applied.
    const decoding = this.processor.decode(batch, this.abort.signal);
    decoding.catch(() => undefined); // surfaces through the step below
    void this.step(async () => {
      const point = await this.processor.apply(await decoding);
      if (point) await this.commit(point);
    }).finally(() => {
      this.options.budget?.release(bytes);
      this.inFlight--;
      this.options.onBatchSettled?.();
      this.roomWaiters.shift()?.();
    });
  }

  /** Everything handed over is applied, then the open files are written (the checkpoint does not move). */
  async caughtUp(): Promise<void> {
    await this.flushIfDirty();
    this.throwIfFailed();
  }

  /** The idle flush: writes the open files when nothing has been handed over for `idleMs`. */
  async flushIfIdle(idleMs: number): Promise<void> {
    if (!this.dirty || this.failed || Date.now() - this.lastActivity < idleMs) return;
    // A failure here is kept for the source's next call (or the revocation), like any other step's.
    await this.flushIfDirty();
  }

  /**
   * Ends the ownership period. 'lost': another owner may be writing this partition already, so work in flight is
   * abandoned and nothing more is written. 'shutdown': work in flight finishes and the open files are written.
   * Rejects with a failure the source has not been told about yet, so none is swallowed.
   */
  async revoke(reason: 'lost' | 'shutdown'): Promise<void> {
    if (reason === 'lost') this.stop(new TributaryError('OWNERSHIP_LOST', `partition ${this.stream}/${this.partition} was assigned to another owner`));
    else await this.flushIfDirty();
    await this.tail;
    try {
      await this.processor.close();
    } catch (error) {
      // The lane's copy of a discarded processor's files only holds memory; the failure that matters is below.
      this.log.warn({ err: error }, 'could not free the partition\'s open files in its lane');
    }
    this.wakeAll();
    if (this.failure !== undefined && !this.failureDelivered && !isStop(this.failure)) {
      this.failureDelivered = true;
      throw this.failure;
    }
  }

  private async flushIfDirty(): Promise<void> {
    if (!this.dirty) return this.tail;
    this.dirty = false;
    return this.step(() => this.processor.flush());
  }

  private async commit(point: CommitPoint): Promise<void> {
    if (this.abort.signal.aborted) throw abortError(this.abort.signal);
    await this.feed.commit(point.position, point.offset, this.abort.signal);
    this.options.onCommitted(point.position);
  }

  /** Runs `operation` after every step before it, unless the driver has failed or stopped by then. */
  private step(operation: () => Promise<void>): Promise<void> {
    const run = this.tail.then(async () => {
      if (this.failure !== undefined) return;
      try {
        await operation();
      } catch (error) {
        this.fail(error);
      }
    });
    this.tail = run;
    return run;
  }

  private fail(error: unknown): void {
    if (this.failure !== undefined) return;
    const failure = partitionFailure(`partition ${this.stream}/${this.partition}`, error);
    this.failure = failure;
    this.options.onFailed(failure);
    if (!isStop(error)) this.log.warn({ err: error }, 'partition failed; its processor is discarded');
    this.abort.abort(error);
    this.wakeAll();
  }

  /** Lost ownership: stop without it counting as a failure of the partition. */
  private stop(reason: TributaryError): void {
    if (this.failure === undefined) this.failure = reason;
    this.abort.abort(reason);
    this.wakeAll();
  }

  private wakeAll(): void {
    for (const wake of this.roomWaiters.splice(0)) wake();
  }

  private throwIfFailed(): void {
    if (this.failure === undefined) return;
    this.failureDelivered = true;
    throw this.failure;
  }
}
