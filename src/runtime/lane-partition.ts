/**
 * The data side of one owned partition, resident in its lane (the worker thread the partition is pinned to): the
 * event-time gate (dedup, lateness), the aggregators, the open cell (its raw file's row groups and its dead
 * letters) and Parquet encoding. It is pure computation: it never touches a store. Per batch it returns what the
 * main thread must do, in order: files to write, aggregate files to delete, the snapshot to write and the commit
 * point, plus counts for the metrics. The main thread (PartitionProcessor) performs those steps with the owner's
 * fenced writes and sequences the commit protocol of DESIGN.md:
 *
 *   positions are cut into cells [k*N, (k+1)*N); a raw file (and the cell's dead letters) covers one cell, an
 *   aggregate file one event-time span of windows. When the first event of a new cell arrives, the previous cell
 *   is complete, so: 1. write the files whose content changed, 2. write the state snapshot taken at the new cell's
 *   start X, 3. let the source advance its checkpoint to X.
 *
 * One object lives per ownership period (stream, partition, incarnation). A failed step anywhere discards it:
 * the partition is assigned again and a new object starts from the last snapshot, so nothing here needs undoing.
 */
import { EventTimeGate, type GateOptions } from '../aggregate/event-time-gate.js';
import { createAggregator, restoreAggregator } from '../aggregate/aggregators.js';
import type { Aggregator, AggregationSpec } from '../aggregate/window-aggregator.js';
import { SNAPSHOT_VERSION, gateSnapshotSince, type PartitionSnapshot } from '../aggregate/snapshot.js';
import type { ApplicationProperties, CaptureBlockEdges, CaptureBlocks, SourceEvent } from '../core/source.js';
import { DecodeStatus, type DecodeResult, type DecodeTask, type StreamDecodeSpec } from '../ingest/decode/task.js';
import { deadLetterRecord, encodeDeadLetters, type DeadLetterReason, type DeadLetterRecord } from '../sink/dead-letter.js';
import { aggregateFileKey, deadLetterKey, hourOf, rawFileKey } from '../sink/lake-layout.js';
import { aggregateTable, lateFiles } from '../sink/aggregate-files.js';
import { encodeParquet, encodeRowGroup, type EncodedRowGroup } from '../sink/parquet.js';
import type { TableData, TableSchema } from '../core/table.js';
import { ColumnBuilder, columnValues, stringAt, stringOrNullAt, utf8ColumnOf, type BatchColumn } from '../core/column-builder.js';
import { Utf8Interner } from '../core/utf8-interner.js';
import { captureBlockColumns, captureScratch, type CaptureColumns, type CaptureReadState } from '../ingest/capture/lane-blocks.js';

/** What the lane needs of a stream's plan and the processing settings (plain data: it is cloned into the lane). */
export interface LanePlan {
  stream: string;
  partition: string;
  decode: StreamDecodeSpec;
  raw: TableSchema;
  propertyColumns: string[];
  aggregations: Array<{ spec: AggregationSpec; schema: TableSchema; lateSchema: TableSchema }>;
  rowsPerFile: number;
  rowGroupRows: number;
  maxFileBytes: number;
  gate: GateOptions;
  fingerprint: string;
}

/**
 * A batch of events read by the main thread (Kafka, Event Hubs), packed: bodies back to back in one buffer and
 * the coordinates in typed arrays or arrays of text, all moved or copied once per batch.
 */
export interface PackedEvents {
  kind: 'events';
  bodies: ArrayBuffer;
  /** n + 1 offsets into `bodies` */
  offsets: Uint32Array;
  positions: Float64Array;
  enqueuedTimes: Float64Array;
  serviceOffsets: string[];
  partitionKeys: Array<string | null>;
  /** one array per configured property column */
  propertyColumns: Array<Array<string | null>>;
  /** every event's application properties as one JSON array ('' when none has any): read only for dead letters */
  properties: string;
  /** [event index, error, reason] of events whose envelope the source could not read */
  envelopeErrors: Array<[number, string, 'schema' | 'decode']>;
  /** Confluent schema id -> writer schema JSON, for the ids this batch uses */
  writerSchemas?: Record<number, string>;
}

/** A batch of Capture container blocks, parsed here. */
export interface CaptureInput {
  kind: 'capture';
  blocks: CaptureBlocks;
}

export type LaneInput = PackedEvents | CaptureInput;

export type LaneStep =
  | { kind: 'put'; store: 'lake' | 'deadLetters'; table: string; key: string; bytes: Uint8Array; rows: number; metadata?: Record<string, string> }
  /** a sealed row group of the open raw part `key`: staged in the lake (not visible) and no longer held here */
  | { kind: 'stage'; key: string; group: EncodedRowGroup }
  /** the raw part `key` becomes visible: its staged groups, then `open` (the rows not in a sealed group); `final`
   * when the part is complete (else a flush: it stays open for more groups and a later commit) */
  | { kind: 'commitRaw'; table: string; key: string; rows: number; open: EncodedRowGroup | undefined; final: boolean }
  | { kind: 'delete'; key: string }
  | { kind: 'snapshot'; snapshot: PartitionSnapshot };

export interface LaneOutcome {
  /** in order: a cell's files, then its snapshot; the main thread performs them one after the other */
  steps: LaneStep[];
  /** the last cell boundary passed: every position below it is done once the steps are */
  commit?: { position: number; offset: string };
  applied: number;
  duplicates: number;
  deadLettered: Partial<Record<DeadLetterReason, number>>;
  watermark: number;
  nextPosition: number;
  /** log lines for the main thread (the lane has no logger) */
  warnings: Array<{ message: string; fields: Record<string, unknown> }>;
  /** a Capture batch: the edges of the blocks read in one pass (the source's index takes its files' edges from them) */
  captureEdges?: CaptureBlockEdges[];
  /** the batch could not be read past some point (a corrupt Capture block under onCorruptBlock: fail): the steps
   * for what came before it are still to be performed, then the partition fails with this */
  failure?: { code: 'INPUT_UNREADABLE'; message: string };
}

/** Decodes a batch; `reuse` holds builders it may empty and fill again (see decodeBatch in ingest/decode/worker.ts). */
export type DecodeFunction = (task: DecodeTask, enqueuedTimes?: Float64Array, reuse?: ColumnBuilder[]) => DecodeResult;

interface OpenCell {
  start: number;
  /** the enqueued hour of the open part's rows (every row of a raw file lies in the hour its path names) */
  partHourMs: number;
  part: number;
  rows: number;
  bodyBytes: number;
  deadLetters: DeadLetterRecord[];
  /** the open part's rows not in a sealed row group yet, one builder per raw column (sealed groups go to the main
   * thread): numbers in typed arrays, strings as UTF-8 bytes gathered from the batch's columns */
  tail: ColumnBuilder[];
  tailRows: number;
}

/** One batch's events, column-major, whatever the source (Capture builds the same shape in lane-blocks.ts). */
type Columnar = CaptureColumns & { writerSchemas?: Record<number, string> };

const REASON_BY_STATUS: Record<number, DeadLetterReason> = {
  [DecodeStatus.Decode]: 'decode',
  [DecodeStatus.Schema]: 'schema',
  [DecodeStatus.Oversize]: 'oversize',
};

export class LanePartition {
  private gate: EventTimeGate;
  private aggregators: Aggregator[];
  private cell: OpenCell | undefined;
  /** the body decoder's column builders, emptied and refilled per batch (shared by the lane's partitions of the stream) */
  private readonly decodeBuilders: ColumnBuilder[];
  /** the last completed cell's tail buffers, for the next cell */
  private spareTail: ColumnBuilder[] | undefined;
  /** the end of the dedup entries this lane's last snapshot carried (the next one carries only those after it) */
  private dedupSentEnd: number | undefined;
  /** every position below this has been processed by this owner (skip redeliveries) */
  private nextPosition = 0;
  private lastOffset = '';
  /** the row of the batch being applied whose offset is the last one, until `resolveLastOffset` */
  private lastOffsetRow = -1;
  /** aggregate spans whose fired rows changed since they were last written */
  private readonly dirtySpans: Array<Set<number>>;
  /** what reading Capture blocks carries from one batch to the next */
  private readonly capture: CaptureReadState;
  /** body columns the aggregators read (group keys and measures), as JS values per batch */
  private readonly aggregateColumns: number[];
  /** per string column the aggregators read: its values as one string per distinct value */
  private readonly interners = new Map<number, Utf8Interner>();
  /** the partition id's UTF-8, for the _partition column */
  private readonly partitionBytes: Buffer;
  /**
   * Rows accepted into the open cell but not yet copied into its tail: (event index, decoded row) of the batch
   * being applied. They are copied in runs (most of a batch is accepted in order) whenever the tail is read or
   * sealed and at the end of the batch, while the batch's columns are still there.
   */
  private pendingEvents = new Int32Array(1024);
  private pendingRows = new Int32Array(1024);
  private pendingCount = 0;
  private current: { events: Columnar; columns: readonly BatchColumn[]; positions: BatchColumn; enqueuedTimes: BatchColumn } | undefined;
  /** per batch */
  private steps: LaneStep[] = [];
  private deadLettered: Partial<Record<DeadLetterReason, number>> = {};

  constructor(
    private readonly plan: LanePlan,
    private readonly decode: DecodeFunction,
    snapshot: PartitionSnapshot | undefined,
  ) {
    this.dirtySpans = plan.aggregations.map(() => new Set());
    this.aggregateColumns = [...new Set(plan.aggregations.flatMap((a) => [...a.spec.groupColumns, ...a.spec.measures.map((m) => m.column).filter((c) => c >= 0)]))];
    this.partitionBytes = Buffer.from(plan.partition, 'utf8');
    this.decodeBuilders = laneDecodeBuilders(plan.stream);
    if (snapshot) {
      this.gate = EventTimeGate.restore(plan.gate, snapshot.gate);
      this.aggregators = plan.aggregations.map((a) => {
        const saved = snapshot.aggregators[a.spec.name];
        return saved ? restoreAggregator(a.spec, saved) : createAggregator(a.spec);
      });
      this.nextPosition = snapshot.position;
      this.lastOffset = snapshot.offsetBefore;
    } else {
      this.gate = new EventTimeGate(plan.gate);
      this.aggregators = plan.aggregations.map((a) => createAggregator(a.spec));
    }
    this.capture = { resumeAt: snapshot?.position ?? 0, previousPosition: undefined, highest: -1 };
  }

  /** The ordered half of a batch: parse (Capture), decode, dedup, lateness, windows, files, snapshots. */
  batch(input: LaneInput): LaneOutcome {
    const warnings: LaneOutcome['warnings'] = [];
    let failure: LaneOutcome['failure'];
    let captureEdges: CaptureBlockEdges[] | undefined;
    let events: Columnar;
    if (input.kind === 'capture') {
      const read = captureBlockColumns(input.blocks, this.capture, warnings, this.plan.propertyColumns, this.nextPosition, LANE_CAPTURE_SCRATCH);
      failure = read.failure;
      events = read.columns;
      captureEdges = read.edges;
    } else {
      events = fromPacked(input);
    }
    const outcome = this.apply(events);
    return { ...outcome, warnings, ...(captureEdges ? { captureEdges } : {}), ...(failure ? { failure } : {}) };
  }

  /**
   * Writes everything known so far (the open cell and every aggregate span, open windows included) without
   * moving the checkpoint: used when the source has caught up and by the idle flush. A later, complete write
   * replaces these files under the same names.
   */
  flush(): LaneStep[] {
    this.steps = [];
    if (this.cell) this.writeCell(this.cell, false);
    for (let a = 0; a < this.aggregators.length; a++) {
      const aggregator = this.aggregators[a]!;
      for (const span of aggregator.spans()) this.writeSpan(a, span, true);
    }
    return this.takeSteps();
  }

  private apply(events: Columnar): Omit<LaneOutcome, 'warnings'> {
    this.steps = [];
    this.deadLettered = {};
    let commit: LaneOutcome['commit'];
    let duplicates = 0;
    let applied = 0;
    // the decoder's builders are the lane's for this stream, refilled every batch: nothing here keeps a batch's columns
    const decoded = events.count > 0 ? this.decode({ spec: this.plan.decode, bodies: bodiesBuffer(events.bodies), offsets: events.starts, ends: events.ends, ...(events.writerSchemas ? { writerSchemas: events.writerSchemas } : {}) }, events.enqueuedTimes, this.decodeBuilders) : undefined;
    if (decoded) {
      const aggregateColumns = this.aggregatorColumns(decoded.columns);
      this.current = { events, columns: decoded.columns, positions: { kind: 'float64', values: events.positions }, enqueuedTimes: { kind: 'float64', values: events.enqueuedTimes } };
      let ok = 0;
      const errors = new Map(decoded.errors);
      const timeFromSource = this.plan.decode.eventTimePath.length === 0;
      const { positions } = events;
      const idColumn = decoded.idColumn;
      for (let i = 0; i < events.count; i++) {
        const position = positions[i]!;
        const status = decoded.status[i]!;
        const row = status === DecodeStatus.Ok ? ok++ : -1;
        // A position that goes backwards inside one delivery is not a redelivery: the source broke its order. It is
        // dead-lettered into the open cell, so a replay from the same snapshot puts it in the same file.
        if (i > 0 && position <= positions[i - 1]! && position < this.nextPosition) {
          if (!this.cell) this.cell = this.openCell(this.cellStartOf(this.nextPosition), events.enqueuedTimes[i]!);
          this.deadLetter(events, i, 'schema', `position ${position} goes backwards (after ${positions[i - 1]!})`);
          continue;
        }
        // decoded ahead while the batch before was applied, or redelivered: skip what was covered already
        if (position < this.nextPosition) continue;
        applied++;
        const cellStart = this.cellStartOf(position);
        if (!this.cell || this.cell.start !== cellStart) {
          if (this.cell) {
            this.resolveLastOffset();
            this.commitCell(cellStart);
            commit = { position: cellStart, offset: this.lastOffset };
          }
          this.cell = this.openCell(cellStart, events.enqueuedTimes[i]!);
        }
        const envelope = events.envelope.get(i);
        if (envelope !== undefined) {
          // the source could not read the event's envelope (or its bytes at all): its body is not decoded
          this.deadLetter(events, i, envelope.reason, envelope.error);
        } else if (status !== DecodeStatus.Ok) {
          this.deadLetter(events, i, REASON_BY_STATUS[status]!, errors.get(i) ?? 'unknown decode failure');
        } else {
          const enqueued = events.enqueuedTimes[i]!;
          const eventTime = timeFromSource ? enqueued : decoded.eventTimes[row]!;
          const id = decoded.ids[row]!;
          const verdict = id === '' && idColumn ? this.gate.admitUtf8(idColumn.bytes, idColumn.offsets[row]!, idColumn.offsets[row + 1]!, eventTime) : this.gate.admit(id, eventTime);
          if (verdict === 'accept') {
            // a raw part holds one enqueued hour: the first row of another hour starts a new part
            if (this.cell.rows > 0 && hourOf(enqueued) !== this.cell.partHourMs) this.rollPart();
            this.accept(events, i, aggregateColumns, row, eventTime);
            if (this.cell.bodyBytes >= this.plan.maxFileBytes) this.rollPart();
          } else if (verdict === 'late') {
            this.deadLetter(events, i, 'late', `event time ${new Date(eventTime).toISOString()} is behind the watermark ${new Date(this.gate.watermark).toISOString()} by more than the allowed lateness`);
            for (const aggregator of this.aggregators) aggregator.late(eventTime, aggregateColumns, row);
          } else duplicates++;
        }
        this.nextPosition = position + 1;
        this.lastOffsetRow = i;
      }
      this.resolveLastOffset();
      if (this.cell) this.copyPending(this.cell);
      this.current = undefined;
      this.advanceWindows();
    }
    return {
      steps: this.takeSteps(),
      ...(commit ? { commit } : {}),
      applied,
      duplicates,
      deadLettered: this.deadLettered,
      watermark: this.gate.watermark,
      nextPosition: this.nextPosition,
    };
  }

  /** `lastOffset` as the text of the batch's row that set it last (made once per batch or commit, not per event) */
  private resolveLastOffset(): void {
    if (this.lastOffsetRow < 0) return;
    this.lastOffset = stringAt(this.current!.events.serviceOffsets, this.lastOffsetRow);
    this.lastOffsetRow = -1;
  }

  private takeSteps(): LaneStep[] {
    const steps = this.steps;
    this.steps = [];
    return steps;
  }

  private cellStartOf(position: number): number {
    return Math.floor(position / this.plan.rowsPerFile) * this.plan.rowsPerFile;
  }

  private openCell(start: number, firstEnqueuedMs: number): OpenCell {
    const tail = this.spareTail ?? this.emptyTail();
    this.spareTail = undefined;
    return { start, partHourMs: hourOf(firstEnqueuedMs), part: 0, rows: 0, bodyBytes: 0, deadLetters: [], tail, tailRows: 0 };
  }

  /**
   * The tail emptied for the next rows, its buffers kept: a sealed group is encoded (copied) before this, and
   * reusing the buffers spares the lane a heap's worth of new ones per row group (what drives its major GCs).
   */
  private static emptied(tail: ColumnBuilder[]): ColumnBuilder[] {
    for (const builder of tail) builder.truncate(0);
    return tail;
  }

  private emptyTail(): ColumnBuilder[] {
    const capacity = Math.min(this.plan.rowGroupRows, 4096);
    return this.plan.raw.columns.map((c) => new ColumnBuilder(c.type, capacity));
  }

  /**
   * The batch's columns the aggregators read, as they index them (`columns[c][row]`): numbers stay in their typed
   * array where the batch has no null there, strings (group keys) are one string per distinct value.
   */
  private aggregatorColumns(columns: readonly BatchColumn[]): ArrayLike<unknown>[] {
    const out: ArrayLike<unknown>[] = columns.map(() => EMPTY_COLUMN);
    for (const c of this.aggregateColumns) {
      const column = columns[c]!;
      if (column.kind === 'utf8') {
        let interner = this.interners.get(c);
        if (!interner) this.interners.set(c, (interner = new Utf8Interner()));
        out[c] = interner.values(column);
      } else out[c] = column.kind !== 'values' && (column.validity === undefined || !column.validity.includes(0)) ? column.values : columnValues(column);
    }
    return out;
  }

  /** Lands the event in the open raw file (sealing full row groups) and in the aggregates. */
  private accept(events: Columnar, i: number, aggregateColumns: readonly ArrayLike<unknown>[], row: number, eventTime: number): void {
    const cell = this.cell!;
    if (cell.rows === 0) cell.partHourMs = hourOf(events.enqueuedTimes[i]!);
    if (this.pendingCount === this.pendingEvents.length) {
      const events = new Int32Array(this.pendingCount * 2);
      events.set(this.pendingEvents);
      this.pendingEvents = events;
      const rows = new Int32Array(this.pendingCount * 2);
      rows.set(this.pendingRows);
      this.pendingRows = rows;
    }
    this.pendingEvents[this.pendingCount] = i;
    this.pendingRows[this.pendingCount++] = row;
    cell.rows++;
    if (++cell.tailRows === this.plan.rowGroupRows) {
      this.copyPending(cell);
      this.steps.push({ kind: 'stage', key: this.rawKey(cell), group: encodeRowGroup(tailTable(this.plan.raw, cell.tail)) });
      cell.tail = LanePartition.emptied(cell.tail);
      cell.tailRows = 0;
    }
    cell.bodyBytes += events.ends[i]! - events.starts[i]!;
    for (const aggregator of this.aggregators) aggregator.add(eventTime, aggregateColumns, row);
  }

  /** Copies the pending rows into the cell's tail: body columns by runs of decoded rows, then the metadata. */
  private copyPending(cell: OpenCell): void {
    const count = this.pendingCount;
    if (count === 0) return;
    this.pendingCount = 0;
    const { events, columns, positions, enqueuedTimes } = this.current!;
    const tail = cell.tail;
    const rows = this.pendingRows;
    const indexes = this.pendingEvents;
    const body = columns.length;
    for (let c = 0; c < body; c++) tail[c]!.gatherRows(columns[c]!, rows, count);
    tail[body]!.appendRepeated(this.partitionBytes, count);
    tail[body + 1]!.gatherRows(positions, indexes, count);
    tail[body + 2]!.gatherRows(events.serviceOffsets, indexes, count);
    tail[body + 3]!.gatherRows(enqueuedTimes, indexes, count);
    tail[body + 4]!.gatherRows(events.partitionKeys, indexes, count);
    for (let p = 0; p < events.propertyColumns.length; p++) tail[body + 5 + p]!.gatherRows(events.propertyColumns[p]!, indexes, count);
  }

  /** A cell whose bodies outgrow maxFileBytes continues in a new part; where it splits depends only on the data. */
  private rollPart(): void {
    const cell = this.cell!;
    this.writeRawPart(cell, true);
    cell.part++;
    cell.rows = 0;
    cell.bodyBytes = 0;
    cell.tail = LanePartition.emptied(cell.tail);
    cell.tailRows = 0;
  }

  private deadLetter(events: Columnar, i: number, reason: DeadLetterReason, error: string): void {
    const event: SourceEvent = {
      body: events.bodies.subarray(events.starts[i]!, events.ends[i]!),
      position: events.positions[i]!,
      offset: stringAt(events.serviceOffsets, i),
      enqueuedTimeMs: events.enqueuedTimes[i]!,
      partitionKey: stringOrNullAt(events.partitionKeys, i),
      properties: events.properties(i),
    };
    this.cell!.deadLetters.push(deadLetterRecord(this.plan.stream, this.plan.partition, event, reason, error));
    this.deadLettered[reason] = (this.deadLettered[reason] ?? 0) + 1;
  }

  private advanceWindows(): void {
    const watermark = this.gate.watermark;
    this.aggregators.forEach((aggregator, a) => {
      const { changed } = aggregator.advance(watermark);
      for (const span of changed) this.dirtySpans[a]!.add(span);
    });
  }

  /** Steps 1 and 2 of the commit protocol for the cell that just completed (the main thread does step 3). */
  private commitCell(nextCellStart: number): void {
    const cell = this.cell!;
    this.writeCell(cell, true);
    for (const aggregator of this.aggregators) aggregator.clearLate();
    this.advanceWindows();
    for (let a = 0; a < this.aggregators.length; a++) {
      const aggregator = this.aggregators[a]!;
      const complete = new Set(aggregator.advance(this.gate.watermark).complete);
      for (const span of this.dirtySpans[a]!) this.writeSpan(a, span, false);
      this.dirtySpans[a]!.clear();
      for (const span of complete) aggregator.forget(span);
    }
    const snapshot: PartitionSnapshot = {
      version: SNAPSHOT_VERSION,
      stream: this.plan.stream,
      partition: this.plan.partition,
      fingerprint: this.plan.fingerprint,
      position: nextCellStart,
      offsetBefore: this.lastOffset,
      gate: this.gate.snapshot(),
      aggregators: structuredClone(Object.fromEntries(this.aggregators.map((a) => [a.spec.name, a.snapshot()]))),
    };
    // Copied now: the rest of the batch goes on changing the state the snapshot's values refer to. The dedup
    // entries are views into the set's larger buffers: only the entries added since this lane's previous snapshot
    // are copied (all of them for its first), into buffers of their own that move to the main thread; the store
    // holds the others already (every step before this one was performed, or the lane would have been dropped),
    // so what crosses follows what changed, not the size of the set.
    const seen = snapshot.gate.seen;
    snapshot.gate = gateSnapshotSince(snapshot.gate, this.dedupSentEnd);
    this.dedupSentEnd = seen.first + seen.times.length;
    this.steps.push({ kind: 'snapshot', snapshot });
    // its rows are encoded (writeCell): the next cell fills the same buffers
    this.spareTail = LanePartition.emptied(cell.tail);
    this.cell = undefined;
  }

  /** The cell's files as they stand; `final` when the cell is complete (else a flush, and the raw part stays open). */
  private writeCell(cell: OpenCell, final: boolean): void {
    if (cell.rows > 0) this.writeRawPart(cell, final);
    if (cell.deadLetters.length > 0) {
      const { bytes, metadata } = encodeDeadLetters(cell.deadLetters);
      const key = deadLetterKey(this.plan.stream, this.plan.partition, cell.start);
      this.steps.push({ kind: 'put', store: 'deadLetters', table: '', key, bytes, rows: cell.deadLetters.length, metadata });
    }
    for (let a = 0; a < this.aggregators.length; a++) {
      const plan = this.plan.aggregations[a]!;
      for (const file of lateFiles(plan.lateSchema, plan.spec.groupColumns.length, this.plan.partition, cell.start, this.aggregators[a]!.lateRows())) {
        this.steps.push({ kind: 'put', store: 'lake', table: plan.lateSchema.name, key: file.key, bytes: encodeParquet(file.table), rows: file.rows });
      }
    }
  }

  /** The open part as it stands: its staged row groups plus the tail, which stays open for more rows. */
  private writeRawPart(cell: OpenCell, final: boolean): void {
    this.copyPending(cell);
    const open = cell.tailRows > 0 ? encodeRowGroup(tailTable(this.plan.raw, cell.tail)) : undefined;
    this.steps.push({ kind: 'commitRaw', table: this.plan.raw.name, key: this.rawKey(cell), rows: cell.rows, open, final });
  }

  private rawKey(cell: OpenCell): string {
    return rawFileKey(this.plan.raw.name, this.plan.partition, cell.start, cell.part, cell.partHourMs);
  }

  private writeSpan(aggregation: number, span: number, includeOpen: boolean): void {
    const plan = this.plan.aggregations[aggregation]!;
    const rows = this.aggregators[aggregation]!.rowsOf(span, includeOpen);
    const key = aggregateFileKey(plan.schema.name, this.plan.partition, span);
    if (rows.length === 0) {
      // every row it held moved to an earlier span (sessions that merged); a file written by a flush goes
      this.steps.push({ kind: 'delete', key });
      return;
    }
    const table = aggregateTable(plan.schema, plan.spec.groupColumns.length, plan.spec.windowMs, this.plan.partition, rows);
    this.steps.push({ kind: 'put', store: 'lake', table: plan.schema.name, key, bytes: encodeParquet(table), rows: rows.length });
  }
}

const EMPTY_COLUMN: ArrayLike<unknown> = [];

/**
 * Where a Capture batch is read into (its blocks inflated back to back, its coordinates and envelope text): one
 * per lane (this module is loaded once per worker thread), reused by every partition's batches. A batch is
 * applied synchronously and nothing keeps its columns past it (the cell copies its rows, dead letters their
 * bodies), so the next batch may overwrite them.
 */
const LANE_CAPTURE_SCRATCH = captureScratch();

/** The decoder's builders per stream, one set per lane for the same reason (and refilled per batch, whoever's). */
const LANE_DECODE_BUILDERS = new Map<string, ColumnBuilder[]>();

function laneDecodeBuilders(stream: string): ColumnBuilder[] {
  let builders = LANE_DECODE_BUILDERS.get(stream);
  if (!builders) LANE_DECODE_BUILDERS.set(stream, (builders = []));
  return builders;
}

/** The open part's tail as a table: typed columns where the kind has a typed form, JS values for the rest. */
function tailTable(schema: TableSchema, tail: readonly ColumnBuilder[]): TableData {
  const columns: unknown[][] = [];
  const typed: TableData['typed'] = [];
  for (const builder of tail) {
    const column = builder.column();
    if (column.kind === 'values') {
      columns.push(column.values);
      typed.push(undefined);
    } else {
      columns.push([]);
      typed.push(column);
    }
  }
  return { schema, columns, typed };
}

function fromPacked(input: PackedEvents): Columnar {
  const count = input.offsets.length - 1;
  let parsed: ApplicationProperties[] | undefined;
  const properties = (i: number): ApplicationProperties => {
    if (input.properties === '') return {};
    parsed ??= JSON.parse(input.properties) as ApplicationProperties[];
    return parsed[i] ?? {};
  };
  return {
    count,
    bodies: Buffer.from(input.bodies),
    starts: input.offsets.subarray(0, count),
    ends: input.offsets.subarray(1),
    positions: input.positions,
    enqueuedTimes: input.enqueuedTimes,
    serviceOffsets: utf8ColumnOf(input.serviceOffsets),
    partitionKeys: utf8ColumnOf(input.partitionKeys),
    propertyColumns: input.propertyColumns.map(utf8ColumnOf),
    properties,
    envelope: new Map(input.envelopeErrors.map(([i, error, reason]) => [i, { error, reason }])),
    ...(input.writerSchemas ? { writerSchemas: input.writerSchemas } : {}),
  };
}

/**
 * The ArrayBuffer the decoder reads: the bodies' own when they start it (the spans index from its start; bytes
 * past the bodies are never read), else a copy.
 */
function bodiesBuffer(bodies: Buffer): ArrayBuffer {
  if (bodies.byteOffset === 0 && bodies.buffer instanceof ArrayBuffer) return bodies.buffer;
  return bodies.buffer.slice(bodies.byteOffset, bodies.byteOffset + bodies.byteLength) as ArrayBuffer;
}
