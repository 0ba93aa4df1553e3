/**
 * Capture blocks -> events, in the partition's lane: what the Capture source (file-events.ts) does on the main
 * thread for a handler that does not take blocks, here for one batch of blocks handed over unparsed. The hostile
 * cases are decided the same way: a deflate failure or records that cannot be read past some point end the
 * batch with the file and byte offset (`fail`, after the good records before it) or become one dead-lettered
 * event carrying the unreadable bytes (`deadletter`). The source's resume filtering happens here too, since only
 * here are positions known.
 *
 * Plainly good blocks are read in one pass (onepass-reader.ts): for the lane (`captureBlockColumns`) into columns
 * whose bodies are spans of the inflated blocks, with no object per event; every other block by the avsc-based
 * reader, which decides the hostile cases.
 */
import avro from 'avsc';
import { propertyText, type ApplicationProperties, type CaptureBlockEdges, type CaptureBlocks, type CaptureEdge, type SourceEvent } from '../../core/source.js';
import { BlockInflater, blockDataSync, reserve, type InflateTarget } from './container.js';
import { captureBlockReader, type CaptureBlockReader } from './event-reader.js';
import { corruptBlockError, recordFailureReason, unreadableEvent } from './file-events.js';
import { offsetText, onePassReader, partitionKeyText, type EnvelopeColumns, type OnePassReader } from './onepass-reader.js';
import { ColumnBuilder, grown } from '../../core/column-builder.js';
import type { Utf8Column } from '../../core/table.js';

/** What reading carries from one batch of a partition to the next (one ownership period). */
export interface CaptureReadState {
  /** events below it were done before this ownership period, except those whose position goes backwards */
  resumeAt: number;
  /** the position of the last event read, which places events whose own position cannot be read */
  previousPosition: number | undefined;
  /** the highest position read in this pass over the files */
  highest: number;
}

export interface CaptureBlockOutcome {
  events: SourceEvent[];
  failure?: { code: 'INPUT_UNREADABLE'; message: string };
}

const readers = new Map<string, CaptureBlockReader>();

function readerFor(schema: string): CaptureBlockReader {
  let reader = readers.get(schema);
  if (!reader) {
    reader = captureBlockReader(JSON.parse(schema) as avro.Schema);
    readers.set(schema, reader);
  }
  return reader;
}

const onePassReaders = new Map<string, OnePassReader | undefined>();

/** Columns sized up front for at most this many events (a batch is a few thousand); more grow by doubling. */
const MAX_PRESIZED_EVENTS = 1 << 16;


function onePassFor(schema: string): OnePassReader | undefined {
  if (!onePassReaders.has(schema)) onePassReaders.set(schema, onePassReader(JSON.parse(schema) as avro.Schema));
  return onePassReaders.get(schema);
}

/** Where a batch's events go as they are read (after the resume filter). */
interface BatchSink {
  /** an event the avsc-based reader made, or the one event of an unreadable region */
  event(event: SourceEvent): void;
  /** record `i` of a block the one-pass reader read; spans are into `records` */
  record(records: Buffer, block: EnvelopeColumns, i: number): void;
}

/**
 * Reads a batch into `sink`. A block goes through the one-pass reader when it is plainly good; any other block
 * (and any schema not of Capture's shape) through the avsc-based reader, which decides every hostile case.
 */
function readBatch(
  input: CaptureBlocks,
  state: CaptureReadState,
  warnings: Array<{ message: string; fields: Record<string, unknown> }>,
  sink: BatchSink,
  onePass: OnePassReader | undefined,
  lane: { edges?: CaptureBlockEdges[]; inflate?: (stored: Buffer, blockStart: number) => Buffer } = {},
): CaptureBlockOutcome['failure'] {
  const { edges } = lane;
  if (input.newPass) state.highest = -1;
  const { name } = input;
  const data = Buffer.from(input.data);
  const readBlock = readerFor(input.schema);
  // below the resume point in order: a redelivery; going backwards past it: delivered, to be dead-lettered
  const admit = (position: number): boolean => {
    state.previousPosition = position;
    const backwards = position <= state.highest;
    state.highest = Math.max(state.highest, position);
    return !(position < state.resumeAt && !(backwards && state.highest >= state.resumeAt));
  };
  const keep = (events: SourceEvent[]): void => {
    for (const event of events) if (admit(event.position)) sink.event(event);
  };
  const unreadable = (start: number, end: number, reason: string, bytes: Buffer): CaptureBlockOutcome['failure'] => {
    if (input.onCorruptBlock === 'fail') {
      const error = corruptBlockError(name, start, end, reason);
      return { code: 'INPUT_UNREADABLE', message: error.message };
    }
    warnings.push({ message: 'dead-lettering an unreadable Capture block', fields: { file: name, start, end, reason } });
    keep([unreadableEvent(name, input.windowStartMs, start, end, reason, bytes, state.previousPosition)]);
    return undefined;
  };
  for (const item of input.items) {
    const stored = data.subarray(item.from, item.to);
    if ('reason' in item) {
      const stop = unreadable(item.start, item.end, item.reason, stored);
      if (stop) return stop;
      continue;
    }
    let records: Buffer;
    try {
      records = lane.inflate ? lane.inflate(stored, item.start) : blockDataSync(input.codec, stored, item.start, name);
    } catch (error) {
      const stop = unreadable(item.start, item.end, (error as Error).message.replace(`${name}: `, ''), stored);
      if (stop) return stop;
      continue;
    }
    const block = onePass?.read(records, item.count);
    if (block) {
      if (edges && block.count > 0) edges.push({ start: item.start, first: edgeOf(records, block, 0), last: edgeOf(records, block, block.count - 1) });
      for (let i = 0; i < block.count; i++) if (admit(block.positions[i]!)) sink.record(records, block, i);
      continue;
    }
    const { events, failure } = readBlock(records, item.count, { name, fallbackTimeMs: input.windowStartMs, previousPosition: state.previousPosition });
    keep(events);
    if (!failure) continue;
    // The records before the failing one are good; the rest of the block cannot be delimited.
    const stop = unreadable(item.start, item.end, recordFailureReason(input.codec, item.dataStart, item.count, failure), records.subarray(failure.start));
    if (stop) return stop;
  }
  return undefined;
}

function edgeOf(records: Buffer, block: EnvelopeColumns, i: number): CaptureEdge {
  return { position: block.positions[i]!, enqueuedTimeMs: block.enqueuedTimes[i]!, offset: offsetText(records, block, i) };
}

/**
 * The batch's events as SourceEvents (what the source's own reader hands any other handler). `oracle` reads every
 * block with the avsc-based reader only: the reference the one-pass reader is tested against.
 */
export function captureBlockEvents(input: CaptureBlocks, state: CaptureReadState, warnings: Array<{ message: string; fields: Record<string, unknown> }>, options: { oracle?: boolean } = {}): CaptureBlockOutcome {
  const out: SourceEvent[] = [];
  const onePass = options.oracle ? undefined : onePassFor(input.schema);
  const failure = readBatch(input, state, warnings, {
    event: (event) => out.push(event),
    record: (records, block, i) => {
      out.push({
        body: records.subarray(block.bodyStarts[i]!, block.bodyEnds[i]!),
        position: block.positions[i]!,
        offset: offsetText(records, block, i),
        enqueuedTimeMs: block.enqueuedTimes[i]!,
        partitionKey: partitionKeyText(records, block, i),
        properties: onePass!.properties(records, block.propertyStarts[i]!, block.propertyEnds[i]!),
      });
    },
  }, onePass);
  return failure ? { events: out, failure } : { events: out };
}

/** One batch's events, column-major: bodies are spans into `bodies`, decoded in place. */
export interface CaptureColumns {
  count: number;
  bodies: Buffer;
  starts: Uint32Array;
  ends: Uint32Array;
  positions: Float64Array;
  enqueuedTimes: Float64Array;
  serviceOffsets: Utf8Column;
  partitionKeys: Utf8Column;
  /** one array per configured property column */
  propertyColumns: Utf8Column[];
  /** decoded on demand (dead letters) */
  properties: (i: number) => ApplicationProperties;
  envelope: Map<number, { error: string; reason: 'schema' | 'decode' }>;
}

/** One per lane (this module is loaded once per worker thread): its zlib state is reused by every block. */
const LANE_INFLATER = new BlockInflater();

/**
 * What a lane lends every Capture batch it reads (one batch at a time), emptied and refilled per batch: the
 * inflated bodies, the per-event coordinates and the envelope's text columns. The batch's columns are views of
 * them, valid until the next batch; what outlives a batch is copied out of it first (the cell's rows, dead
 * letters). Allocated per batch instead, they were most of the bytes a lane allocated (and grew, copying) per
 * long run (bench/NOTES.md).
 */
export interface CaptureScratch {
  bodies: InflateTarget;
  starts: Uint32Array;
  ends: Uint32Array;
  propertyStarts: Uint32Array;
  propertyEnds: Uint32Array;
  positions: Float64Array;
  enqueuedTimes: Float64Array;
  /** service offsets, partition keys, then one per property column */
  text: ColumnBuilder[];
}

export function captureScratch(): CaptureScratch {
  return { bodies: { buffer: Buffer.alloc(0) }, starts: new Uint32Array(0), ends: new Uint32Array(0), propertyStarts: new Uint32Array(0), propertyEnds: new Uint32Array(0), positions: new Float64Array(0), enqueuedTimes: new Float64Array(0), text: [] };
}

/**
 * The batch for the lane, without an object per event: the blocks are inflated back to back into one buffer (the
 * lent `scratch`'s) and each body is a span of it; `edges` are the blocks' first and last records, for the index. Events below `nextPosition` (redelivered) are dropped, except one whose position
 * goes backwards, which is kept so that it is dead-lettered instead of lost silently.
 */
export function captureBlockColumns(
  input: CaptureBlocks,
  state: CaptureReadState,
  warnings: Array<{ message: string; fields: Record<string, unknown> }>,
  propertyNames: readonly string[],
  nextPosition: number,
  scratch: CaptureScratch = captureScratch(),
): { columns: CaptureColumns; edges: CaptureBlockEdges[]; failure?: CaptureBlockOutcome['failure'] } {
  const onePass = onePassFor(input.schema);
  // The batch's bodies: its blocks inflated back to back into `target`, and anything else (stored blocks, events
  // of unreadable regions) copied after them, so each body is a span of one buffer.
  const target = scratch.bodies;
  let end = 0;
  const inflate = (stored: Buffer, blockStart: number): Buffer => {
    if (input.codec !== 'deflate') return stored;
    const bytes = LANE_INFLATER.inflateInto(stored, target, end, blockStart, input.name);
    const records = target.buffer.subarray(end, end + bytes);
    end += bytes;
    return records;
  };
  let lastChunk: Buffer | undefined;
  let lastBase = 0;
  // a block yields at most its count of events (an unreadable region one): typed columns of that size, grown
  // should a block's count (from its header) understate it, and never sized by a count larger than a batch
  let expected = 0;
  for (const item of input.items) expected += 'reason' in item ? 1 : item.count + 1;
  const presized = Math.max(16, Math.min(expected, MAX_PRESIZED_EVENTS));
  if (scratch.starts.length < presized) {
    scratch.starts = new Uint32Array(presized);
    scratch.ends = new Uint32Array(presized);
    scratch.propertyStarts = new Uint32Array(presized);
    scratch.propertyEnds = new Uint32Array(presized);
    scratch.positions = new Float64Array(presized);
    scratch.enqueuedTimes = new Float64Array(presized);
  }
  let capacity = scratch.starts.length;
  let { starts, ends, propertyStarts, propertyEnds, positions, enqueuedTimes } = scratch;
  // text as UTF-8 bytes copied from the records (no string per event); the lane gathers them into its cell
  const text = (k: number): ColumnBuilder => {
    const kept = scratch.text[k];
    if (kept === undefined) return (scratch.text[k] = new ColumnBuilder('string', presized));
    kept.truncate(0);
    return kept;
  };
  const serviceOffsets = text(0);
  const partitionKeys = text(1);
  let count = 0;
  const next = (): number => {
    if (count === capacity) {
      capacity *= 2;
      scratch.starts = starts = grown(starts, capacity);
      scratch.ends = ends = grown(ends, capacity);
      scratch.propertyStarts = propertyStarts = grown(propertyStarts, capacity);
      scratch.propertyEnds = propertyEnds = grown(propertyEnds, capacity);
      scratch.positions = positions = grown(positions, capacity);
      scratch.enqueuedTimes = enqueuedTimes = grown(enqueuedTimes, capacity);
    }
    return count++;
  };
  const propertyColumns = propertyNames.map((_, p) => text(2 + p));
  const propertyKeys = propertyNames.map((name) => Buffer.from(name, 'utf8'));
  const objects = new Map<number, ApplicationProperties>();
  const envelope = new Map<number, { error: string; reason: 'schema' | 'decode' }>();
  let candidates = 0;
  let previous = 0;
  const wanted = (position: number): boolean => {
    const take = position >= nextPosition || (candidates > 0 && position <= previous);
    candidates++;
    previous = position;
    return take;
  };
  /** where `chunk` starts in `target`: an inflated block is there already, other bytes are copied there */
  const base = (chunk: Buffer): number => {
    if (chunk === lastChunk) return lastBase;
    lastChunk = chunk;
    if (chunk.buffer === target.buffer.buffer) {
      lastBase = chunk.byteOffset - target.buffer.byteOffset;
    } else {
      reserve(target, end, chunk.length);
      lastBase = end;
      end += chunk.copy(target.buffer, end);
    }
    return lastBase;
  };
  const edges: CaptureBlockEdges[] = [];
  const failure = readBatch(input, state, warnings, {
    event: (event) => {
      if (!wanted(event.position)) return;
      const at = base(Buffer.from(event.body.buffer, event.body.byteOffset, event.body.byteLength));
      const i = next();
      starts[i] = at;
      ends[i] = at + event.body.byteLength;
      positions[i] = event.position;
      enqueuedTimes[i] = event.enqueuedTimeMs;
      serviceOffsets.appendString(event.offset);
      if (event.partitionKey === null) partitionKeys.appendNull();
      else partitionKeys.appendString(event.partitionKey);
      objects.set(i, event.properties);
      for (let p = 0; p < propertyNames.length; p++) {
        const text = propertyText(event.properties, propertyNames[p]!);
        if (text === null) propertyColumns[p]!.appendNull();
        else propertyColumns[p]!.appendString(text);
      }
      if (event.envelopeError !== undefined) envelope.set(i, { error: event.envelopeError, reason: event.envelopeReason ?? 'schema' });
    },
    record: (records, block, r) => {
      if (!wanted(block.positions[r]!)) return;
      const at = base(records);
      const i = next();
      starts[i] = at + block.bodyStarts[r]!;
      ends[i] = at + block.bodyEnds[r]!;
      propertyStarts[i] = at + block.propertyStarts[r]!;
      propertyEnds[i] = at + block.propertyEnds[r]!;
      positions[i] = block.positions[r]!;
      enqueuedTimes[i] = block.enqueuedTimes[r]!;
      serviceOffsets.appendValidUtf8(records, block.offsetStarts[r]!, block.offsetEnds[r]!);
      const keyStart = block.keyStarts[r]!;
      if (keyStart < 0) partitionKeys.appendNull();
      else partitionKeys.appendUtf8(records, keyStart, block.keyEnds[r]!);
      if (propertyNames.length > 0) {
        onePass!.appendProperties(records, block.propertyStarts[r]!, block.propertyEnds[r]!, propertyKeys, propertyColumns);
      }
    },
  }, onePass, { edges, inflate });
  const bodies = target.buffer.subarray(0, end);
  const columns: CaptureColumns = {
    count,
    bodies,
    starts: starts.subarray(0, count),
    ends: ends.subarray(0, count),
    positions: positions.subarray(0, count),
    enqueuedTimes: enqueuedTimes.subarray(0, count),
    serviceOffsets: serviceOffsets.column() as Utf8Column,
    partitionKeys: partitionKeys.column() as Utf8Column,
    propertyColumns: propertyColumns.map((column) => column.column() as Utf8Column),
    properties: (i) => objects.get(i) ?? onePass!.properties(bodies, propertyStarts[i]!, propertyEnds[i]!),
    envelope,
  };
  return failure ? { columns, edges, failure } : { columns, edges };
}
