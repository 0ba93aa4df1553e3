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
import type { ApplicationProperties, CaptureBlocks, SourceEvent } from '../../core/source.js';
import { blockDataSync } from './container.js';
import { captureBlockReader, type CaptureBlockReader } from './event-reader.js';
import { corruptBlockError, recordFailureReason, unreadableEvent } from './file-events.js';
import { onePassReader, type EnvelopeColumns, type OnePassReader } from './onepass-reader.js';

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
function readBatch(input: CaptureBlocks, state: CaptureReadState, warnings: Array<{ message: string; fields: Record<string, unknown> }>, sink: BatchSink, onePass: OnePassReader | undefined): CaptureBlockOutcome['failure'] {
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
      records = blockDataSync(input.codec, stored, item.start, name);
    } catch (error) {
      const stop = unreadable(item.start, item.end, (error as Error).message.replace(`${name}: `, ''), stored);
      if (stop) return stop;
      continue;
    }
    const block = onePass?.read(records, item.count);
    if (block) {
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
        offset: block.offsets[i]!,
        enqueuedTimeMs: block.enqueuedTimes[i]!,
        partitionKey: block.partitionKeys[i]!,
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
  serviceOffsets: string[];
  partitionKeys: Array<string | null>;
  /** one array per configured property column */
  propertyColumns: Array<Array<string | null>>;
  /** decoded on demand (dead letters) */
  properties: (i: number) => ApplicationProperties;
  envelope: Map<number, { error: string; reason: 'schema' | 'decode' }>;
}

/**
 * The batch for the lane, without an object per event: the blocks' inflated bytes are joined once per batch and
 * each body is a span into them. Events below `nextPosition` (redelivered) are dropped, except one whose position
 * goes backwards, which is kept so that it is dead-lettered instead of lost silently.
 */
export function captureBlockColumns(input: CaptureBlocks, state: CaptureReadState, warnings: Array<{ message: string; fields: Record<string, unknown> }>, propertyNames: readonly string[], nextPosition: number): { columns: CaptureColumns; failure?: CaptureBlockOutcome['failure'] } {
  const onePass = onePassFor(input.schema);
  const chunks: Buffer[] = [];
  let total = 0;
  let lastChunk: Buffer | undefined;
  let lastBase = 0;
  const starts: number[] = [];
  const ends: number[] = [];
  const propertyStarts: number[] = [];
  const propertyEnds: number[] = [];
  const positions: number[] = [];
  const enqueuedTimes: number[] = [];
  const serviceOffsets: string[] = [];
  const partitionKeys: Array<string | null> = [];
  const propertyColumns = propertyNames.map(() => [] as Array<string | null>);
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
  const base = (chunk: Buffer): number => {
    if (chunk !== lastChunk) {
      chunks.push(chunk);
      lastChunk = chunk;
      lastBase = total;
      total += chunk.length;
    }
    return lastBase;
  };
  const columnsOf = (properties: ApplicationProperties): void => {
    for (let p = 0; p < propertyNames.length; p++) {
      const value = properties[propertyNames[p]!];
      propertyColumns[p]!.push(value === undefined || value === null ? null : String(value));
    }
  };
  const failure = readBatch(input, state, warnings, {
    event: (event) => {
      if (!wanted(event.position)) return;
      const at = base(Buffer.from(event.body.buffer, event.body.byteOffset, event.body.byteLength));
      const i = positions.length;
      starts.push(at);
      ends.push(at + event.body.byteLength);
      propertyStarts.push(0);
      propertyEnds.push(0);
      positions.push(event.position);
      enqueuedTimes.push(event.enqueuedTimeMs);
      serviceOffsets.push(event.offset);
      partitionKeys.push(event.partitionKey);
      objects.set(i, event.properties);
      columnsOf(event.properties);
      if (event.envelopeError !== undefined) envelope.set(i, { error: event.envelopeError, reason: event.envelopeReason ?? 'schema' });
    },
    record: (records, block, i) => {
      if (!wanted(block.positions[i]!)) return;
      const at = base(records);
      starts.push(at + block.bodyStarts[i]!);
      ends.push(at + block.bodyEnds[i]!);
      propertyStarts.push(at + block.propertyStarts[i]!);
      propertyEnds.push(at + block.propertyEnds[i]!);
      positions.push(block.positions[i]!);
      enqueuedTimes.push(block.enqueuedTimes[i]!);
      serviceOffsets.push(block.offsets[i]!);
      partitionKeys.push(block.partitionKeys[i]!);
      if (propertyNames.length > 0) columnsOf(onePass!.properties(records, block.propertyStarts[i]!, block.propertyEnds[i]!));
    },
  }, onePass);
  const bodies = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
  const columns: CaptureColumns = {
    count: positions.length,
    bodies,
    starts: Uint32Array.from(starts),
    ends: Uint32Array.from(ends),
    positions: Float64Array.from(positions),
    enqueuedTimes: Float64Array.from(enqueuedTimes),
    serviceOffsets,
    partitionKeys,
    propertyColumns,
    properties: (i) => objects.get(i) ?? onePass!.properties(bodies, propertyStarts[i]!, propertyEnds[i]!),
    envelope,
  };
  return failure ? { columns, failure } : { columns };
}
