/**
 * Capture blocks -> events, in the partition's lane: what the Capture source (file-events.ts) does on the main
 * thread for a handler that does not take blocks, here for one batch of blocks handed over unparsed. The hostile
 * cases are decided the same way: a deflate failure or records that cannot be read past some point end the
 * batch with the file and byte offset (`fail`, after the good records before it) or become one dead-lettered
 * event carrying the unreadable bytes (`deadletter`). The source's resume filtering happens here too, since only
 * here are positions known.
 */
import avro from 'avsc';
import type { CaptureBlocks, SourceEvent } from '../../core/source.js';
import { blockDataSync } from './container.js';
import { captureBlockReader, type CaptureBlockReader } from './event-reader.js';
import { corruptBlockError, recordFailureReason, unreadableEvent } from './file-events.js';

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

export function captureBlockEvents(input: CaptureBlocks, state: CaptureReadState, warnings: Array<{ message: string; fields: Record<string, unknown> }>): CaptureBlockOutcome {
  if (input.newPass) state.highest = -1;
  const { name } = input;
  const data = Buffer.from(input.data);
  const readBlock = readerFor(input.schema);
  const out: SourceEvent[] = [];
  const keep = (events: SourceEvent[]): void => {
    for (const event of events) {
      state.previousPosition = event.position;
      const backwards = event.position <= state.highest;
      state.highest = Math.max(state.highest, event.position);
      // below the resume point in order: a redelivery; going backwards past it: delivered, to be dead-lettered
      if (event.position < state.resumeAt && !(backwards && state.highest >= state.resumeAt)) continue;
      out.push(event);
    }
  };
  const unreadable = (start: number, end: number, reason: string, bytes: Buffer): CaptureBlockOutcome | undefined => {
    if (input.onCorruptBlock === 'fail') {
      const error = corruptBlockError(name, start, end, reason);
      return { events: out, failure: { code: 'INPUT_UNREADABLE', message: error.message } };
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
    const { events, failure } = readBlock(records, item.count, { name, fallbackTimeMs: input.windowStartMs, previousPosition: state.previousPosition });
    keep(events);
    if (!failure) continue;
    // The records before the failing one are good; the rest of the block cannot be delimited.
    const stop = unreadable(item.start, item.end, recordFailureReason(input.codec, item.dataStart, item.count, failure), records.subarray(failure.start));
    if (stop) return stop;
  }
  return { events: out };
}
