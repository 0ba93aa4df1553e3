/**
 * Processes one partition of one stream and runs the commit protocol of DESIGN.md:
 *
 *   positions are cut into cells [k*N, (k+1)*N); a raw file (and the cell's dead letters) covers one cell, an
 *   aggregate file one event-time span of windows. When the first event of a new cell arrives, the previous cell
 *   is complete, so: 1. write the files whose content changed, 2. write the state snapshot taken at the new cell's
 *   start X, 3. let the source advance its checkpoint to X.
 *
 * The checkpoint therefore never passes the start of the open cell, and a restart (crash, rebalance, replay)
 * resumes at X with the state as it was at X and rewrites the same names with the same bytes.
 *
 * A partition lives in one lane: the data side (gate, dedup, aggregators, the open cell, dead letters, Parquet) is
 * a LanePartition in the worker thread the partition is pinned to (runtime/lane-partition.ts). This main-thread
 * half packs batches (or passes Capture blocks through unparsed), hands them to the lane, and performs what the
 * lane returns in order: files, then the snapshot, then (through the driver) the checkpoint, every write fenced
 * by the owner's epoch and its abort signal. Nothing per event crosses the thread boundary as an object.
 */
import type { GateOptions } from '../aggregate/event-time-gate.js';
import { SNAPSHOT_VERSION, type PartitionSnapshot } from '../aggregate/snapshot.js';
import { SnapshotStore } from '../state/snapshot-store.js';
import { propertyText, type PartitionBatch, type ResumePoint, type SourceEvent } from '../core/source.js';
import { packBodies, type DecodePool } from '../ingest/decode/pool.js';
import { countsFromMetadata, type DeadLetterReason } from '../sink/dead-letter.js';
import type { LaneInput, LanePlan, LaneStep, PackedEvents } from './lane-partition.js';
import { StagedParquetFile } from '../sink/staged-parquet.js';
import { releaseBytes } from '../core/release-bytes.js';
import { TributaryError, abortError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { ObjectStore } from '../core/object-store.js';
import type { PipelineObserver } from './observer.js';
import type { StreamPlan } from './stream-plan.js';
import type { TributaryConfig } from '../config/schema.js';

export interface ProcessorStores {
  lake: ObjectStore;
  deadLetters: ObjectStore;
  state: ObjectStore;
  /** the snapshot history in `state`, with the configured retention (default retention when absent) */
  snapshots?: SnapshotStore;
}

/** This owner's ownership period: its epoch fences every write (see ownership.ts); the signal ends its work. */
export interface Ownership {
  epoch: number;
  signal: AbortSignal;
}

export interface ProcessorSettings {
  rowsPerFile: number;
  /** rows per Parquet row group of raw files */
  rowGroupRows: number;
  maxFileBytes: number;
  gate: GateOptions;
}

/** Every position below `position` is durably done (files and snapshot written); `offset` is the service offset
 * of the last event below it. */
export interface CommitPoint {
  position: number;
  offset: string;
}

export interface DecodedBatch {
  /** what goes to the lane: undefined when every event was a redelivery */
  input: LaneInput | undefined;
  endPosition: number | undefined;
  started: number;
  signal: AbortSignal;
  onCaptureEdges?: PartitionBatch['onCaptureEdges'];
}

let processorIncarnation = 0;

/** A worker's processor settings from its config's processing section. */
export function processorSettings(processing: TributaryConfig['processing']): ProcessorSettings {
  return {
    rowsPerFile: processing.rowsPerFile,
    rowGroupRows: processing.rowGroupRows,
    maxFileBytes: processing.maxFileBytes,
    gate: {
      allowedOutOfOrdernessMs: processing.allowedOutOfOrderness,
      allowedLatenessMs: processing.allowedLateness,
      dedupRetentionMs: processing.dedupRetention,
      dedupMaxIds: processing.dedupMaxIds,
    },
  };
}

/** What a partition's lane is told of its stream and the settings (plain data: it is cloned into the lane). */
export function lanePlanFor(plan: StreamPlan, partition: string, settings: ProcessorSettings): LanePlan {
  return {
    stream: plan.stream,
    partition,
    decode: plan.decode,
    raw: plan.raw,
    propertyColumns: plan.propertyColumns,
    aggregations: plan.aggregations.map((a) => ({ spec: a.spec, schema: a.schema, lateSchema: a.lateSchema })),
    rowsPerFile: settings.rowsPerFile,
    rowGroupRows: settings.rowGroupRows,
    maxFileBytes: settings.maxFileBytes,
    gate: settings.gate,
    fingerprint: settingsFingerprint(plan, settings),
  };
}

export function settingsFingerprint(plan: StreamPlan, settings: ProcessorSettings): string {
  return JSON.stringify({
    rowsPerFile: settings.rowsPerFile,
    rowGroupRows: settings.rowGroupRows,
    maxFileBytes: settings.maxFileBytes,
    gate: settings.gate,
    aggregations: plan.aggregations.map((a) => a.spec),
    raw: plan.raw.name,
  });
}

export class PartitionProcessor {
  /** the lane's last word on where this owner stands: every position below it has been processed (skip
   * redeliveries before packing them; the lane checks again) */
  private nextPosition = 0;
  /** rows each file held when this process last wrote it, so the totals count rows, not rewrites */
  private readonly writtenRows = new Map<string, number>();
  private readonly fingerprint: string;
  private readonly lane: number;
  /** names this owner's partition object in the lane (an earlier owner's of the same partition may still be there) */
  private readonly laneId: string;
  private opened = false;
  private readonly snapshots: SnapshotStore;
  /** open raw parts, staged in the lake one sealed row group at a time (only their footer metadata is held) */
  private readonly rawParts = new Map<string, StagedParquetFile>();

  constructor(
    private readonly plan: StreamPlan,
    readonly partition: string,
    private readonly settings: ProcessorSettings,
    private readonly stores: ProcessorStores,
    private readonly pool: DecodePool,
    private readonly observer: PipelineObserver,
    private readonly log: Logger,
    private readonly ownership: Ownership,
  ) {
    this.fingerprint = settingsFingerprint(plan, settings);
    this.lane = pool.laneFor(plan.stream, partition);
    this.laneId = `${plan.stream}/${partition}/${++processorIncarnation}`;
    this.snapshots = stores.snapshots ?? new SnapshotStore(stores.state);
  }

  /** Restores the last snapshot, if any, into the partition's lane and says where the source must resume. */
  async restore(): Promise<ResumePoint> {
    const snapshot = await this.snapshots.latestAtOrBefore(this.plan.stream, this.partition, undefined, { signal: this.ownership.signal });
    if (snapshot && (snapshot.version !== SNAPSHOT_VERSION || snapshot.fingerprint !== this.fingerprint)) {
      throw new TributaryError(
        'CONFIG_INVALID',
        `the state snapshot of ${this.plan.stream}/${this.partition} was taken with other processing settings (rowsPerFile, maxFileBytes, watermark, aggregations); forget the old state with "tributary reset --forget-all --lake --execute" (the next run replays from the start and rewrites the lake under the same names)`,
      );
    }
    await this.open(snapshot);
    if (!snapshot) return undefined;
    this.nextPosition = snapshot.position;
    this.log.info({ position: snapshot.position }, 'restored snapshot'); // stream and partition come with the child logger
    return { position: snapshot.position };
  }

  /**
   * The main thread's half of a batch, which may run ahead of `apply` for the batch before: drop redeliveries and
   * pack the rest into one buffer (Capture blocks go as they are: the lane reads them).
   */
  async decode(batch: PartitionBatch, signal: AbortSignal): Promise<DecodedBatch> {
    const started = performance.now();
    if (batch.capture) return { input: { kind: 'capture', blocks: batch.capture }, endPosition: batch.endPosition, started, signal, ...(batch.onCaptureEdges ? { onCaptureEdges: batch.onCaptureEdges } : {}) };
    // Redelivered events are dropped here; one whose position goes backwards inside the batch is kept, so it is
    // dead-lettered instead of lost silently.
    const events = batch.events.filter((e, i) => e.position >= this.nextPosition || (i > 0 && e.position <= batch.events[i - 1]!.position));
    if (events.length === 0) return { input: undefined, endPosition: batch.endPosition, started, signal };
    const writerSchemas = await this.plan.writerSchemas?.forBatch(events, signal);
    return { input: packEvents(events, this.plan.propertyColumns, writerSchemas), endPosition: batch.endPosition, started, signal };
  }

  /** The ordered half: the lane decides (dedup, lateness, windows, files); the steps it returns are performed here. */
  async apply({ input, endPosition, started, onCaptureEdges }: DecodedBatch): Promise<CommitPoint | undefined> {
    if (!input) return undefined;
    if (!this.opened) await this.open(undefined);
    const outcome = await this.pool.partitionBatch(this.lane, this.laneId, input);
    if (outcome.captureEdges && onCaptureEdges) onCaptureEdges(outcome.captureEdges);
    this.nextPosition = outcome.nextPosition;
    for (const warning of outcome.warnings) this.log.warn(warning.fields, warning.message);
    for (const [reason, count] of Object.entries(outcome.deadLettered)) this.observer.deadLettered(this.plan.stream, reason as DeadLetterReason, count);
    await this.perform(outcome.steps);
    if (outcome.failure) throw new TributaryError(outcome.failure.code, outcome.failure.message);
    if (endPosition !== undefined) this.observer.lag?.(this.plan.stream, this.partition, Math.max(0, endPosition + 1 - this.nextPosition));
    this.observer.eventsIn(this.plan.stream, this.partition, outcome.applied);
    if (outcome.duplicates) this.observer.duplicates(this.plan.stream, this.partition, outcome.duplicates);
    this.observer.watermark(this.plan.stream, this.partition, outcome.watermark);
    this.observer.batchProcessed(this.plan.stream, (performance.now() - started) / 1000);
    return outcome.commit;
  }

  /**
   * Writes everything known so far (the open cell and every aggregate span, open windows included) without
   * moving the checkpoint: used when the source has caught up and by the idle flush. A later, complete write
   * replaces these files under the same names.
   */
  async flush(): Promise<void> {
    if (!this.opened) return;
    await this.perform(await this.pool.flushPartition(this.lane, this.laneId));
  }

  /** Ownership ended: free what the lane holds for this partition, and drop raw parts staged and not complete. */
  async close(): Promise<void> {
    const parts = [...this.rawParts.values()];
    this.rawParts.clear();
    const aborts = await Promise.allSettled(parts.map((part) => part.abort()));
    if (this.opened) {
      this.opened = false;
      await this.pool.closePartition(this.lane, this.laneId);
    }
    const failed = aborts.find((a): a is PromiseRejectedResult => a.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async open(snapshot: PartitionSnapshot | undefined): Promise<void> {
    await this.pool.openPartition(this.lane, { id: this.laneId, plan: lanePlanFor(this.plan, this.partition, this.settings), snapshot: snapshot ?? null });
    this.opened = true;
  }


  /** The lane's steps, one after the other: a cell's files, then its snapshot (the driver commits after). */
  private async perform(steps: LaneStep[]): Promise<void> {
    for (const step of steps) {
      switch (step.kind) {
        case 'put':
          if (step.store === 'deadLetters') {
            await this.write(this.stores.deadLetters, step.key, step.bytes, step.metadata);
            this.observer.deadLettersWritten?.(this.plan.stream, step.key, countsFromMetadata(step.metadata ?? {}));
          } else await this.putFile(step.table, step.key, step.bytes, step.rows);
          releaseBytes(step.bytes);
          break;
        case 'stage':
          if (this.ownership.signal.aborted) throw abortError(this.ownership.signal);
          await this.rawPart(step.key).addGroup(step.group, { signal: this.ownership.signal });
          releaseBytes(step.group.bytes);
          break;
        case 'commitRaw': {
          if (this.ownership.signal.aborted) throw abortError(this.ownership.signal);
          const part = this.rawPart(step.key);
          const bytes = await part.commit(step.open, {}, { signal: this.ownership.signal, keepOpen: !step.final });
          if (step.final) this.rawParts.delete(step.key);
          if (step.open) releaseBytes(step.open.bytes);
          this.landed(step.table, step.key, bytes, step.rows);
          break;
        }
        case 'delete':
          if (this.ownership.signal.aborted) throw abortError(this.ownership.signal);
          await this.stores.lake.delete(step.key, { signal: this.ownership.signal });
          break;
        case 'snapshot':
          if (this.ownership.signal.aborted) throw abortError(this.ownership.signal);
          await this.snapshots.write(step.snapshot, { epoch: this.ownership.epoch }, { signal: this.ownership.signal });
          this.observer.checkpointed(this.plan.stream, this.partition, step.snapshot.position);
          break;
      }
    }
  }

  /** Every write of this owner: refused once its partition has moved on (the signal, then the store's epoch check). */
  private async write(store: ObjectStore, key: string, bytes: Uint8Array, metadata: Record<string, string> = {}): Promise<void> {
    if (this.ownership.signal.aborted) throw abortError(this.ownership.signal);
    await store.putFenced(key, bytes, metadata, { epoch: this.ownership.epoch }, { signal: this.ownership.signal });
  }

  /** The staged upload of an open raw part, opened (no I/O) under this owner's epoch when first needed. */
  private rawPart(key: string): StagedParquetFile {
    let part = this.rawParts.get(key);
    if (!part) {
      part = new StagedParquetFile(this.stores.lake.openUpload(key, { epoch: this.ownership.epoch }), this.plan.raw);
      this.rawParts.set(key, part);
    }
    return part;
  }

  private async putFile(table: string, key: string, bytes: Uint8Array, rows: number): Promise<void> {
    await this.write(this.stores.lake, key, bytes);
    this.landed(table, key, bytes.byteLength, rows);
  }

  private landed(table: string, key: string, bytes: number, rows: number): void {
    const before = this.writtenRows.get(key) ?? 0;
    this.writtenRows.set(key, rows);
    if (rows !== before) this.observer.rowsLanded(table, rows - before);
    this.observer.fileWritten(table, key, bytes);
  }
}

/** A batch's events packed for the lane: bodies in one buffer, coordinates in typed arrays and arrays of text. */
export function packEvents(events: readonly SourceEvent[], propertyNames: readonly string[], writerSchemas: Record<number, string> | undefined): PackedEvents {
  const n = events.length;
  const positions = new Float64Array(n);
  const enqueuedTimes = new Float64Array(n);
  const serviceOffsets: string[] = new Array(n);
  const partitionKeys: Array<string | null> = new Array(n);
  const propertyColumns = propertyNames.map(() => new Array<string | null>(n));
  const envelopeErrors: PackedEvents['envelopeErrors'] = [];
  let anyProperties = false;
  for (let i = 0; i < n; i++) {
    const event = events[i]!;
    positions[i] = event.position;
    enqueuedTimes[i] = event.enqueuedTimeMs;
    serviceOffsets[i] = event.offset;
    partitionKeys[i] = event.partitionKey;
    for (let p = 0; p < propertyNames.length; p++) propertyColumns[p]![i] = propertyText(event.properties, propertyNames[p]!);
    if (!anyProperties) for (const _ in event.properties) anyProperties = true;
    if (event.envelopeError !== undefined) envelopeErrors.push([i, event.envelopeError, event.envelopeReason ?? 'schema']);
  }
  const { bodies, offsets } = packBodies(events);
  return {
    kind: 'events',
    bodies,
    offsets,
    positions,
    enqueuedTimes,
    serviceOffsets,
    partitionKeys,
    propertyColumns,
    // whole property maps travel as one text, read in the lane only for dead letters
    properties: anyProperties ? JSON.stringify(events.map((e) => e.properties)) : '',
    envelopeErrors,
    ...(writerSchemas ? { writerSchemas } : {}),
  };
}
