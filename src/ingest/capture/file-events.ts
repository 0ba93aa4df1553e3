/**
 * One Capture file's events, block by block, with the archive's hostile cases decided here:
 * - a zero-length file (a blob being created, or one Capture left empty) and a header-only file (Capture's "empty
 *   files" option) hold no events and are skipped with a log line;
 * - a corrupt block (bad count, size or sync marker, deflate that fails or inflates past MAX_BLOCK_BYTES, records
 *   that do not parse) either fails the partition, with the file and byte offset, before any event after it is
 *   handed over (`fail`), or becomes one event carrying the unreadable bytes, dead-lettered with reason decode,
 *   whose error and properties name the file and byte range (`deadletter`); the records before a failing record
 *   of a block are kept either way.
 */
import { TributaryError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { SourceEvent } from '../../core/source.js';
import { blockData, readContainer, type BlockRecords, type Container, type ContainerBlock, type CorruptRegion } from './container.js';
import { captureBlockReader } from './event-reader.js';

export type CorruptBlockPolicy = 'fail' | 'deadletter';

export interface CaptureFileOptions {
  /** what the file is called in errors and dead letters */
  name: string;
  /** the start of the file's capture window: the enqueued time of events whose own cannot be read */
  windowStartMs: number;
  onCorruptBlock: CorruptBlockPolicy;
  log: Logger;
}

/** Property names of a dead-lettered block: which file and which bytes of it (`start-end`, end exclusive). */
export const CORRUPT_FILE_PROPERTY = 'x-tributary-capture-file';
export const CORRUPT_BYTES_PROPERTY = 'x-tributary-capture-bytes';

/**
 * Parses a file, or undefined when it holds no events (zero-length or header only). Throws for a file that is not
 * a readable Avro container at all (bad magic, header or codec): there is no block to skip to.
 */
export function openCaptureFile(bytes: Uint8Array, options: Pick<CaptureFileOptions, 'name' | 'log'>): Container | undefined {
  if (bytes.byteLength === 0) {
    options.log.info({ file: options.name }, 'skipping a zero-length Capture file');
    return undefined;
  }
  const container = readContainer(bytes, options.name);
  if (container.blocks.length === 0 && container.corrupt.length === 0) {
    options.log.info({ file: options.name, bytes: bytes.byteLength }, 'skipping a Capture file without blocks (header only)');
    return undefined;
  }
  return container;
}

/** The first corrupt block of a file as the error `fail` stops with. */
export function corruptBlockError(name: string, start: number, end: number, reason: string): TributaryError {
  return new TributaryError('INPUT_UNREADABLE', `${name}: corrupt block at byte ${start} (bytes ${start}..${end}): ${reason}; set source.onCorruptBlock: deadletter to dead-letter it and go on`);
}

/**
 * The file's events, one array per block (and one single-event array per corrupt region under `deadletter`).
 * `previousPosition` is the position of the partition's event before this file, which places events whose own
 * position cannot be read.
 */
export async function* captureFileEvents(container: Container, options: CaptureFileOptions, previousPosition?: number): AsyncGenerator<SourceEvent[]> {
  const { name } = options;
  const readBlock = captureBlockReader(container.schema);
  let previous = previousPosition;
  const items: Array<ContainerBlock | CorruptRegion> = [...container.blocks, ...container.corrupt].sort((a, b) => a.start - b.start);
  for (const item of items) {
    if ('reason' in item) {
      const event = unreadable(options, item.start, item.end, item.reason, item.stored, previous);
      yield [event];
      previous = event.position;
      continue;
    }
    let data: Buffer;
    try {
      data = await blockData(container, item, name);
    } catch (error) {
      const event = unreadable(options, item.start, item.end, (error as Error).message.replace(`${name}: `, ''), item.stored, previous);
      yield [event];
      previous = event.position;
      continue;
    }
    const { events, failure } = readBlock(data, item.count, { name, fallbackTimeMs: options.windowStartMs, previousPosition: previous });
    if (events.length > 0) previous = events.at(-1)!.position;
    if (!failure) {
      yield events;
      continue;
    }
    // The records before the failing one are good; the rest of the block cannot be delimited.
    const reason = recordFailureReason(container.codec, item.dataStart, item.count, failure);
    if (options.onCorruptBlock === 'fail') {
      // The good records before it still go first, so the failure is met exactly where the bad bytes are.
      if (events.length > 0) yield events;
      throw corruptBlockError(name, item.start, item.end, reason);
    }
    const event = unreadable(options, item.start, item.end, reason, data.subarray(failure.start), previous);
    yield [...events, event];
    previous = event.position;
  }
}

/** Why a block's records could not be read past `failure`, with the byte in the file (or the inflated block). */
export function recordFailureReason(codec: string, dataStart: number, count: number, failure: NonNullable<BlockRecords['failure']>): string {
  const where = codec === 'null' ? `byte ${dataStart + failure.offset} of the file` : `byte ${failure.offset} of the inflated block`;
  return `record ${failure.record} of ${count} at ${where}: ${failure.message}`;
}

function unreadable(options: CaptureFileOptions, start: number, end: number, reason: string, bytes: Buffer, previous: number | undefined): SourceEvent {
  if (options.onCorruptBlock === 'fail') throw corruptBlockError(options.name, start, end, reason);
  options.log.warn({ file: options.name, start, end, reason }, 'dead-lettering an unreadable Capture block');
  return unreadableEvent(options.name, options.windowStartMs, start, end, reason, bytes, previous);
}

/** The one event an unreadable block (or the unreadable rest of one) becomes under `deadletter`. */
export function unreadableEvent(name: string, windowStartMs: number, start: number, end: number, reason: string, bytes: Buffer, previous: number | undefined): SourceEvent {
  return {
    body: bytes,
    position: previous === undefined ? 0 : previous + 1,
    offset: '',
    enqueuedTimeMs: windowStartMs,
    partitionKey: null,
    properties: { [CORRUPT_FILE_PROPERTY]: name, [CORRUPT_BYTES_PROPERTY]: `${start}-${end}` },
    envelopeError: `unreadable Capture block in ${name} at bytes ${start}..${end}: ${reason}`,
    envelopeReason: 'decode',
  };
}
