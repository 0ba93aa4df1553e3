/**
 * The PartitionHandler the sources call: one PartitionProcessor per owned (stream, partition), created on
 * assignment (restoring its snapshot) and dropped on revocation. Operations on one partition are serialised so an
 * idle flush never interleaves with a batch.
 */
import { TributaryError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { DecodePool } from '../ingest/decode/pool.js';
import type { BatchOutcome, PartitionBatch, PartitionHandler, ResumePoint } from '../core/source.js';
import { stageOf, type PipelineObserver } from './observer.js';
import { PartitionProcessor, type ProcessorSettings, type ProcessorStores } from './partition-processor.js';
import type { StreamPlan } from './stream-plan.js';

interface Owned {
  processor: PartitionProcessor;
  /** tail of the serialised operations on this partition */
  tail: Promise<unknown>;
  lastActivity: number;
  flushedSinceActivity: boolean;
}

export class PartitionRouter implements PartitionHandler {
  private readonly owned = new Map<string, Owned>();

  constructor(
    private readonly plans: Map<string, StreamPlan>,
    private readonly settings: ProcessorSettings,
    private readonly stores: ProcessorStores,
    private readonly pool: DecodePool,
    private readonly observer: PipelineObserver,
    private readonly log: Logger,
  ) {}

  get ownedPartitions(): string[] {
    return [...this.owned.keys()];
  }

  async onAssigned(stream: string, partition: string): Promise<ResumePoint> {
    const plan = this.plans.get(stream);
    if (!plan) throw new TributaryError('CONFIG_INVALID', `the source delivered stream "${stream}", which is not configured under streams`);
    const processor = new PartitionProcessor(plan, partition, this.settings, this.stores, this.pool, this.observer, this.log.child({ stream, partition }));
    const resume = await processor.restore().catch((error: unknown) => {
      this.observer.error?.(stageOf(error, 'snapshot'), error);
      throw error;
    });
    this.owned.set(key(stream, partition), { processor, tail: Promise.resolve(), lastActivity: Date.now(), flushedSinceActivity: true });
    this.observer.partitionAssigned?.(stream, partition);
    this.log.info({ stream, partition, resumeAt: resume?.position ?? 'source start' }, 'partition assigned');
    return resume;
  }

  onBatch(batch: PartitionBatch, signal: AbortSignal): Promise<BatchOutcome> {
    const owned = this.mustOwn(batch.stream, batch.partition);
    owned.lastActivity = Date.now();
    owned.flushedSinceActivity = false;
    if (batch.events.length === 0) this.observer.heartbeat?.();
    this.observer.batchStarted?.(batch.stream, batch.partition);
    // Decoding starts now, even while an earlier batch of this partition is still being applied.
    const decoding = owned.processor.decode(batch, signal);
    decoding.catch(() => undefined); // surfaces through the apply below
    return this.serialise(owned, async () => owned.processor.apply(await decoding))
      .catch((error: unknown) => {
        this.observer.error?.(stageOf(error, 'aggregate'), error);
        throw error;
      })
      .finally(() => this.observer.batchSettled?.(batch.stream, batch.partition));
  }

  async onCaughtUp(stream: string, partition: string): Promise<BatchOutcome> {
    const owned = this.mustOwn(stream, partition);
    this.observer.heartbeat?.();
    // A polling source reports catching up again and again; rewrite only when something arrived since.
    if (owned.flushedSinceActivity) return {};
    await this.serialise(owned, () => owned.processor.flush()).catch((error: unknown) => {
      this.observer.error?.(stageOf(error, 'sink'), error);
      throw error;
    });
    owned.flushedSinceActivity = true;
    return {};
  }

  async onRevoked(stream: string, partition: string, reason: 'lost' | 'shutdown'): Promise<void> {
    const owned = this.owned.get(key(stream, partition));
    if (!owned) return;
    this.owned.delete(key(stream, partition));
    // A partition we lost may already be written by its new owner: writing our partial files now could replace
    // its newer ones. On shutdown we still own it, so leaving complete-so-far files behind is safe.
    if (reason === 'shutdown' && !owned.flushedSinceActivity) {
      await this.serialise(owned, () => owned.processor.flush()).catch((error: unknown) => {
        this.observer.error?.(stageOf(error, 'sink'), error);
        throw error;
      });
    }
    await this.serialise(owned, () => owned.processor.close());
    this.observer.partitionReleased?.(stream, partition);
    this.log.info({ stream, partition, reason }, 'partition released');
  }

  /** Rewrites the open files of partitions that have been idle for `idleMs`, so idle data becomes visible. */
  async flushIdle(idleMs: number): Promise<void> {
    const now = Date.now();
    for (const owned of this.owned.values()) {
      if (owned.flushedSinceActivity || now - owned.lastActivity < idleMs) continue;
      await this.serialise(owned, () => owned.processor.flush());
      owned.flushedSinceActivity = true;
    }
  }

  private mustOwn(stream: string, partition: string): Owned {
    const owned = this.owned.get(key(stream, partition));
    if (!owned) throw new TributaryError('OWNERSHIP_LOST', `partition ${stream}/${partition} is not owned by this worker`);
    return owned;
  }

  private serialise<T>(owned: Owned, operation: () => Promise<T>): Promise<T> {
    const run = owned.tail.then(operation, operation);
    owned.tail = run.catch(() => undefined);
    return run;
  }
}

const key = (stream: string, partition: string): string => `${stream}/${partition}`;
