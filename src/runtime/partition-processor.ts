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
 */
import { EventTimeGate, type GateOptions } from '../aggregate/event-time-gate.js';
import { createAggregator, restoreAggregator } from '../aggregate/aggregators.js';
import type { Aggregator } from '../aggregate/window-aggregator.js';
import { SNAPSHOT_VERSION, type PartitionSnapshot } from '../aggregate/snapshot.js';
import { SnapshotStore } from '../state/snapshot-store.js';
import { TributaryError, abortError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { DecodePool } from '../ingest/decode/pool.js';
import { DecodeStatus, type DecodeResult } from '../ingest/decode/task.js';
import type { PartitionBatch, ResumePoint, SourceEvent } from '../core/source.js';
import { countsFromMetadata, deadLetterRecord, encodeDeadLetters, type DeadLetterReason, type DeadLetterRecord } from '../sink/dead-letter.js';
import { aggregateFileKey, deadLetterKey, hourOf, rawFileKey } from '../sink/lake-layout.js';
import { aggregateTable, lateFiles } from '../sink/aggregate-files.js';
import type { ObjectStore } from '../core/object-store.js';
import type { TableSchema } from '../sink/table.js';
import type { PipelineObserver } from './observer.js';
import type { StreamPlan } from './stream-plan.js';

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
  events: SourceEvent[];
  endPosition: number | undefined;
  decoded: DecodeResult | undefined;
  /** the lane holds this batch's rows until they are appended or released */
  batchId: number;
  started: number;
  signal: AbortSignal;
}

interface OpenCell {
  start: number;
  /** the enqueued hour of the open part's rows (every row of a raw file lies in the hour its path names) */
  partHourMs: number;
  part: number;
  /** the open raw file in the partition's lane */
  fileId: string;
  rows: number;
  bodyBytes: number;
  deadLetters: DeadLetterRecord[];
}

let processorIncarnation = 0;

const REASON_BY_STATUS: Record<number, DeadLetterReason> = {
  [DecodeStatus.Decode]: 'decode',
  [DecodeStatus.Schema]: 'schema',
  [DecodeStatus.Oversize]: 'oversize',
};

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
  private gate: EventTimeGate;
  private aggregators: Aggregator[];
  private cell: OpenCell | undefined;
  /** every position below this has been processed by this owner (skip redeliveries) */
  private nextPosition = 0;
  private lastOffset = '';
  /** aggregate spans whose fired rows changed since they were last written */
  private readonly dirtySpans: Array<Set<number>>;
  /** rows each file held when this process last wrote it, so the totals count rows, not rewrites */
  private readonly writtenRows = new Map<string, number>();
  private readonly fingerprint: string;
  private readonly lane: number;
  /** distinguishes this owner's files in the lane from an earlier owner's of the same partition */
  private readonly incarnation = ++processorIncarnation;
  /** Ok rows of the batch being applied that land in the open file, not yet sent to the lane */
  private pendingRows: number[] = [];
  /** the lane's id of the batch being applied, whose rows `pendingRows` index */
  private batchId = 0;
  /**
   * This partition's stateful lane operations (append, release, read, drop a file), chained so each is sent once
   * the one before it has finished: piscina does not promise to run one thread's queue in submission order.
   * Appends and releases are not awaited by the batch loop, so a partition does not wait behind other partitions'
   * decoding and encoding in the lane; a failure is kept and thrown at this partition's next step.
   */
  private laneChain: Promise<unknown> = Promise.resolve();
  private laneFailure: unknown;
  /** body columns the main thread needs back from decoding: aggregation inputs */
  private readonly returnColumns: number[];
  private readonly snapshots: SnapshotStore;

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
    this.gate = new EventTimeGate(settings.gate);
    this.aggregators = plan.aggregations.map((a) => createAggregator(a.spec));
    this.dirtySpans = plan.aggregations.map(() => new Set());
    this.fingerprint = settingsFingerprint(plan, settings);
    this.lane = pool.laneFor(plan.stream, partition);
    this.snapshots = stores.snapshots ?? new SnapshotStore(stores.state);
    this.returnColumns = [...new Set(plan.aggregations.flatMap((a) => [...a.spec.groupColumns, ...a.spec.measures.map((m) => m.column)]))].filter((c) => c >= 0);
  }

  /** Restores the last snapshot, if any, and says where the source must resume. */
  async restore(): Promise<ResumePoint> {
    const snapshot = await this.snapshots.latestAtOrBefore(this.plan.stream, this.partition, undefined, { signal: this.ownership.signal });
    if (!snapshot) return undefined;
    if (snapshot.version !== SNAPSHOT_VERSION || snapshot.fingerprint !== this.fingerprint) {
      throw new TributaryError(
        'CONFIG_INVALID',
        `the state snapshot of ${this.plan.stream}/${this.partition} was taken with other processing settings (rowsPerFile, maxFileBytes, watermark, aggregations); forget the old state with "tributary reset --forget-all --lake --execute" (the next run replays from the start and rewrites the lake under the same names)`,
      );
    }
    this.gate = EventTimeGate.restore(this.settings.gate, snapshot.gate);
    this.aggregators = this.plan.aggregations.map((a) => {
      const saved = snapshot.aggregators[a.spec.name];
      return saved ? restoreAggregator(a.spec, saved) : createAggregator(a.spec);
    });
    this.nextPosition = snapshot.position;
    this.lastOffset = snapshot.offsetBefore;
    this.log.info({ position: snapshot.position }, 'restored snapshot'); // stream and partition come with the child logger
    return { position: snapshot.position };
  }

  /**
   * The stateless half of a batch: decoding on the pool. It may run ahead of `apply` for the batch before, so
   * the next batch decodes while this one is applied.
   */
  async decode(batch: PartitionBatch, signal: AbortSignal): Promise<DecodedBatch> {
    const started = performance.now();
    // Redelivered events are dropped here; one whose position goes backwards inside the batch is kept, so apply
    // dead-letters it instead of losing it silently.
    const events = batch.events.filter((e, i) => e.position >= this.nextPosition || (i > 0 && e.position <= batch.events[i - 1]!.position));
    if (events.length === 0) return { events, endPosition: batch.endPosition, decoded: undefined, batchId: 0, started, signal };
    const writerSchemas = await this.plan.writerSchemas?.forBatch(events, signal);
    const { batchId, result } = await this.pool.decodeInLane(
      this.lane,
      this.plan.decode,
      events,
      { partition: this.partition, propertyColumns: this.plan.propertyColumns },
      this.returnColumns,
      writerSchemas,
    );
    return { events, endPosition: batch.endPosition, decoded: result, batchId, started, signal };
  }

  /** The ordered half: dedup, lateness, windows, files and the commit protocol, one batch after the other. */
  async apply({ events, endPosition, decoded, batchId, started }: DecodedBatch): Promise<CommitPoint | undefined> {
    if (!decoded) return undefined;
    try {
      this.throwLaneFailure();
      const outcome = await this.applyDecoded(events, decoded, batchId, started);
      if (endPosition !== undefined) this.observer.lag?.(this.plan.stream, this.partition, Math.max(0, endPosition + 1 - this.nextPosition));
      return outcome;
    } finally {
      this.pendingRows = [];
      this.inLane(() => this.pool.releaseBatch(this.lane, batchId));
    }
  }

  private inLane(operation: () => Promise<unknown>): void {
    this.inLaneAwaited(operation).catch((error: unknown) => {
      this.laneFailure ??= error;
    });
  }

  private inLaneAwaited<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.laneChain.then(operation);
    this.laneChain = run.catch(() => undefined);
    return run;
  }

  private throwLaneFailure(): void {
    if (this.laneFailure !== undefined) throw this.laneFailure;
  }

  private async applyDecoded(events: SourceEvent[], decoded: DecodeResult, batchId: number, started: number): Promise<CommitPoint | undefined> {
    this.batchId = batchId;
    let commitBelow: CommitPoint | undefined;
    let ok = 0;
    let duplicates = 0;
    let applied = 0;
    const errors = new Map(decoded.errors);
    const timeFromSource = this.plan.decode.eventTimePath.length === 0;
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      const status = decoded.status[i]!;
      const row = status === DecodeStatus.Ok ? ok++ : -1;
      // A position that goes backwards inside one delivery is not a redelivery: the source broke its order. It is
      // dead-lettered into the open cell, so a replay from the same snapshot puts it in the same file.
      if (i > 0 && event.position <= events[i - 1]!.position && event.position < this.nextPosition) {
        if (!this.cell) this.cell = this.openCell(this.cellStartOf(this.nextPosition), event);
        this.deadLetter(event, 'schema', `position ${event.position} goes backwards (after ${events[i - 1]!.position})`);
        continue;
      }
      // decoded ahead while the batch before was applied, or redelivered: skip what was covered already
      if (event.position < this.nextPosition) continue;
      applied++;
      const cellStart = this.cellStartOf(event.position);
      if (!this.cell || this.cell.start !== cellStart) {
        if (this.cell) {
          await this.sendPendingRows();
          await this.commitCell(cellStart);
          commitBelow = { position: cellStart, offset: this.lastOffset };
        }
        this.cell = this.openCell(cellStart, event);
      }
      if (event.envelopeError !== undefined) {
        // the source could not read the event's envelope (or its bytes at all): its body is not decoded
        this.deadLetter(event, event.envelopeReason ?? 'schema', event.envelopeError);
      } else if (status !== DecodeStatus.Ok) {
        const error = errors.get(i) ?? 'unknown decode failure';
        this.deadLetter(event, REASON_BY_STATUS[status]!, error);
      } else {
        const eventTime = timeFromSource ? event.enqueuedTimeMs : decoded.eventTimes[row]!;
        const verdict = this.gate.admit(decoded.ids[row]!, eventTime);
        if (verdict === 'accept') {
          // a raw part holds one enqueued hour: the first row of another hour starts a new part
          if (this.cell.rows > 0 && hourOf(event.enqueuedTimeMs) !== this.cell.partHourMs) await this.rollPart();
          this.accept(event, decoded.columns, row, eventTime);
          if (this.cell.bodyBytes >= this.settings.maxFileBytes) await this.rollPart();
        } else if (verdict === 'late') {
          this.deadLetter(event, 'late', `event time ${new Date(eventTime).toISOString()} is behind the watermark ${new Date(this.gate.watermark).toISOString()} by more than the allowed lateness`);
          for (const aggregator of this.aggregators) aggregator.late(eventTime, decoded.columns, row);
        } else duplicates++;
      }
      this.nextPosition = event.position + 1;
      this.lastOffset = event.offset;
    }
    await this.sendPendingRows();
    this.advanceWindows();
    this.observer.eventsIn(this.plan.stream, this.partition, applied);
    if (duplicates) this.observer.duplicates(this.plan.stream, this.partition, duplicates);
    this.observer.watermark(this.plan.stream, this.partition, this.gate.watermark);
    this.observer.batchProcessed(this.plan.stream, (performance.now() - started) / 1000);
    return commitBelow;
  }

  /**
   * Writes everything known so far (the open cell and every aggregate span, open windows included) without
   * moving the checkpoint: used when the source has caught up and by the idle flush. A later, complete write
   * replaces these files under the same names.
   */
  async flush(): Promise<void> {
    if (this.cell) await this.writeCell(this.cell);
    for (let a = 0; a < this.aggregators.length; a++) {
      const aggregator = this.aggregators[a]!;
      for (const span of aggregator.spans()) await this.writeSpan(a, span, true);
    }
  }

  /** Ownership ended: free what the lane holds for this partition. */
  async close(): Promise<void> {
    if (this.cell) {
      const fileId = this.cell.fileId;
      await this.inLaneAwaited(() => this.pool.dropFile(this.lane, fileId));
    }
    this.cell = undefined;
  }

  private cellStartOf(position: number): number {
    return Math.floor(position / this.settings.rowsPerFile) * this.settings.rowsPerFile;
  }

  private openCell(start: number, first: SourceEvent): OpenCell {
    return { start, partHourMs: hourOf(first.enqueuedTimeMs), part: 0, fileId: this.fileId(start, 0), rows: 0, bodyBytes: 0, deadLetters: [] };
  }

  private fileId(cellStart: number, part: number): string {
    return `${this.plan.stream}/${this.partition}/${this.incarnation}/${cellStart}/${part}`;
  }

  /** Hands the rows accepted so far in this batch to the lane's open file. */
  private async sendPendingRows(): Promise<void> {
    if (this.pendingRows.length === 0) return;
    const rows = Int32Array.from(this.pendingRows);
    this.pendingRows = [];
    const task = { batchId: this.batchId, fileId: this.cell!.fileId, schema: this.plan.raw, rowGroupRows: this.settings.rowGroupRows, rows };
    this.inLane(() => this.pool.appendRows(this.lane, [task]));
  }

  /** Lands the event in the raw file (its row stays in the lane) and in the aggregates. */
  private accept(event: SourceEvent, columns: readonly unknown[][], row: number, eventTime: number): void {
    const cell = this.cell!;
    if (cell.rows === 0) cell.partHourMs = hourOf(event.enqueuedTimeMs);
    this.pendingRows.push(row);
    cell.rows++;
    cell.bodyBytes += event.body.byteLength;
    for (const aggregator of this.aggregators) aggregator.add(eventTime, columns, row);
  }

  /** A cell whose bodies outgrow maxFileBytes continues in a new part; where it splits depends only on the data. */
  private async rollPart(): Promise<void> {
    const cell = this.cell!;
    await this.sendPendingRows();
    await this.writeRawPart(cell);
    const fileId = cell.fileId;
    this.inLane(() => this.pool.dropFile(this.lane, fileId));
    cell.part++;
    cell.fileId = this.fileId(cell.start, cell.part);
    cell.rows = 0;
    cell.bodyBytes = 0;
  }

  private deadLetter(event: SourceEvent, reason: DeadLetterReason, error: string): void {
    this.cell!.deadLetters.push(deadLetterRecord(this.plan.stream, this.partition, event, reason, error));
    this.observer.deadLettered(this.plan.stream, reason, 1);
  }

  private advanceWindows(): void {
    const watermark = this.gate.watermark;
    this.aggregators.forEach((aggregator, a) => {
      const { changed } = aggregator.advance(watermark);
      for (const span of changed) this.dirtySpans[a]!.add(span);
    });
  }

  /** Steps 1-3 of the commit protocol for the cell that just completed. */
  private async commitCell(nextCellStart: number): Promise<void> {
    const cell = this.cell!;
    await this.writeCell(cell);
    for (const aggregator of this.aggregators) aggregator.clearLate();
    const fileId = cell.fileId;
    this.advanceWindows();
    for (let a = 0; a < this.aggregators.length; a++) {
      const aggregator = this.aggregators[a]!;
      const watermark = this.gate.watermark;
      const complete = new Set(aggregator.advance(watermark).complete);
      for (const span of this.dirtySpans[a]!) await this.writeSpan(a, span, false);
      this.dirtySpans[a]!.clear();
      for (const span of complete) aggregator.forget(span);
    }
    const snapshot: PartitionSnapshot = {
      version: SNAPSHOT_VERSION,
      stream: this.plan.stream,
      partition: this.partition,
      fingerprint: this.fingerprint,
      position: nextCellStart,
      offsetBefore: this.lastOffset,
      gate: this.gate.snapshot(),
      aggregators: Object.fromEntries(this.aggregators.map((a) => [a.spec.name, a.snapshot()])),
    };
    if (this.ownership.signal.aborted) throw abortError(this.ownership.signal);
    await this.snapshots.write(snapshot, { epoch: this.ownership.epoch }, { signal: this.ownership.signal });
    // Only now, with the files and the snapshot written, does the lane let go of the cell's rows.
    this.inLane(() => this.pool.dropFile(this.lane, fileId));
    this.observer.checkpointed(this.plan.stream, this.partition, nextCellStart);
  }

  private async writeCell(cell: OpenCell): Promise<void> {
    if (cell.rows > 0) await this.writeRawPart(cell);
    if (cell.deadLetters.length > 0) {
      const { bytes, metadata } = encodeDeadLetters(cell.deadLetters);
      const key = deadLetterKey(this.plan.stream, this.partition, cell.start);
      await this.write(this.stores.deadLetters, key, bytes, metadata);
      this.observer.deadLettersWritten?.(this.plan.stream, key, countsFromMetadata(metadata));
    }
    for (let a = 0; a < this.aggregators.length; a++) {
      const plan = this.plan.aggregations[a]!;
      for (const file of lateFiles(plan.lateSchema, plan.spec.groupColumns.length, this.partition, cell.start, this.aggregators[a]!.lateRows())) {
        await this.putFile(plan.lateSchema.name, file.key, await this.pool.encode(file.table), file.rows);
      }
    }
  }

  private async writeRawPart(cell: OpenCell): Promise<void> {
    const key = rawFileKey(this.plan.raw.name, this.partition, cell.start, cell.part, cell.partHourMs);
    const fileId = cell.fileId;
    const bytes = await this.inLaneAwaited(() => this.pool.fileBytes(this.lane, fileId));
    this.throwLaneFailure();
    if (!bytes) throw new TributaryError('INTERNAL', `the decode lane lost the open file ${cell.fileId} (${cell.rows} rows)`);
    await this.putFile(this.plan.raw.name, key, bytes, cell.rows);
  }

  private async writeSpan(aggregation: number, span: number, includeOpen: boolean): Promise<void> {
    const plan = this.plan.aggregations[aggregation]!;
    const rows = this.aggregators[aggregation]!.rowsOf(span, includeOpen);
    const key = aggregateFileKey(plan.schema.name, this.partition, span);
    if (rows.length === 0) {
      // every row it held moved to an earlier span (sessions that merged); a file written by a flush goes
      if (this.ownership.signal.aborted) throw abortError(this.ownership.signal);
      await this.stores.lake.delete(key, { signal: this.ownership.signal });
      return;
    }
    const table = aggregateTable(plan.schema, plan.spec.groupColumns.length, plan.spec.windowMs, this.partition, rows);
    await this.putFile(plan.schema.name, key, await this.pool.encode(table), rows.length);
  }

  /** Every write of this owner: refused once its partition has moved on (the signal, then the store's epoch check). */
  private async write(store: ObjectStore, key: string, bytes: Uint8Array, metadata: Record<string, string> = {}): Promise<void> {
    if (this.ownership.signal.aborted) throw abortError(this.ownership.signal);
    await store.putFenced(key, bytes, metadata, { epoch: this.ownership.epoch }, { signal: this.ownership.signal });
  }

  private async putFile(table: string, key: string, bytes: Uint8Array, rows: number): Promise<void> {
    await this.write(this.stores.lake, key, bytes);
    const before = this.writtenRows.get(key) ?? 0;
    this.writtenRows.set(key, rows);
    if (rows !== before) this.observer.rowsLanded(table, rows - before);
    this.observer.fileWritten(table, key, bytes.byteLength);
  }
}
