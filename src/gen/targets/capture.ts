/**
 * Writes generated events as an Event Hubs Capture archive: Avro object container files of
 * `Microsoft.ServiceBus.Messaging.EventData` records under Capture's path layout, one folder per hub and
 * partition, one file per capture window (5 minutes of enqueued time by default) or per `maxFileBytes` of
 * events, whichever comes first — what Capture does with its time and size windows.
 *
 * Per partition, sequence numbers start at 0 and grow by one, offsets grow by each event's size, and files are
 * named so that their lexical order is their sequence order. Every choice (roll points, names, sync markers)
 * is a function of the events and the seed, so the same input gives byte-identical files.
 *
 * Memory: only the open file of each partition is buffered (the object store takes whole objects, which is
 * what makes a put atomic); it is bounded by the window and by `maxFileBytes`.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { deflateRaw } from 'node:zlib';
import avro from 'avsc';
import { TributaryError, errorMessage } from '../../core/errors.js';
import { CAPTURE_SCHEMA, captureKey, type CaptureRecord } from '../../ingest/capture/format.js';
import type { ObjectStore } from '../../core/object-store.js';
import type { GeneratedEvent, GenTarget, TargetStats } from '../target.js';

export type CaptureCodec = 'deflate' | 'null';

export interface CaptureTargetOptions {
  store: ObjectStore;
  namespace: string;
  /** stream name -> hub folder */
  hubs: Record<string, string>;
  /** capture time window in ms of enqueued time (Capture's default: 5 minutes) */
  windowMs?: number;
  /** a file rolls once the events in it add up to this many bytes (measured as offsets grow) */
  maxFileBytes?: number;
  /** Capture writes deflate */
  codec?: CaptureCodec;
  /** Avro block size before compression */
  blockSize?: number;
  /** mixed into the files' sync markers so reruns are byte-identical */
  seed?: number;
}

/** Bytes an event adds to the partition's offset: body, key and properties plus a fixed framing overhead. */
const FRAMING_BYTES = 56;

export function eventSize(event: GeneratedEvent): number {
  let size = FRAMING_BYTES + event.body.byteLength + event.partitionKey.length;
  for (const name in event.properties) size += name.length + event.properties[name]!.length;
  return size;
}

export class CaptureTarget implements GenTarget {
  private readonly partitions = new Map<string, PartitionArchive>();
  private readonly totals: TargetStats = { files: 0, bytes: 0, byStream: {} };
  private readonly windowMs: number;
  private readonly maxFileBytes: number;

  constructor(private readonly options: CaptureTargetOptions) {
    this.windowMs = options.windowMs ?? 300_000;
    this.maxFileBytes = options.maxFileBytes ?? 64 * 1024 ** 2;
    if (!(this.windowMs >= 1000) || this.windowMs % 1000 !== 0) throw new RangeError(`capture window must be whole seconds, got ${this.windowMs} ms`);
    if (!(this.maxFileBytes > 0)) throw new RangeError(`maxFileBytes must be positive, got ${this.maxFileBytes}`);
  }

  async write(stream: string, partition: string, events: GeneratedEvent[]): Promise<void> {
    const id = `${stream}\u0000${partition}`;
    let archive = this.partitions.get(id);
    if (!archive) {
      const hub = this.options.hubs[stream];
      if (hub === undefined) throw new TributaryError('CONFIG_INVALID', `source.hubs has no hub for stream "${stream}"`);
      archive = new PartitionArchive(hub, partition, this.options, this.windowMs, this.maxFileBytes, (bytes) => this.count(stream, bytes));
      this.partitions.set(id, archive);
    }
    await archive.append(events);
  }

  async close(): Promise<void> {
    for (const archive of this.partitions.values()) await archive.close();
  }

  stats(): TargetStats {
    return structuredClone(this.totals);
  }

  private count(stream: string, bytes: number): void {
    const entry = (this.totals.byStream[stream] ??= { files: 0, bytes: 0 });
    entry.files++;
    entry.bytes += bytes;
    this.totals.files++;
    this.totals.bytes += bytes;
  }
}

class PartitionArchive {
  private sequence = 0;
  private offset = 0;
  private file: OpenFile | undefined;
  private lastWindow = Number.NaN;
  private lastNameMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly hub: string,
    private readonly partition: string,
    private readonly options: CaptureTargetOptions,
    private readonly windowMs: number,
    private readonly maxFileBytes: number,
    private readonly onFile: (bytes: number) => void,
  ) {}

  async append(events: GeneratedEvent[]): Promise<void> {
    for (const event of events) {
      const window = Math.floor(event.enqueuedTimeMs / this.windowMs);
      if (this.file && (window !== this.file.window || this.file.eventBytes >= this.maxFileBytes)) await this.finish();
      if (!this.file) this.file = this.open(window, event.enqueuedTimeMs);
      const size = eventSize(event);
      const drained = this.file.encoder.write(this.record(event));
      this.file.eventBytes += size;
      this.offset += size;
      this.sequence++;
      if (!drained) await once(this.file.encoder, 'drain');
    }
  }

  async close(): Promise<void> {
    if (this.file) await this.finish();
  }

  private record(event: GeneratedEvent): CaptureRecord {
    const offset = String(this.offset);
    const system: CaptureRecord['SystemProperties'] = {
      'x-opt-sequence-number': { long: this.sequence },
      'x-opt-offset': { string: offset },
      'x-opt-enqueued-time': { long: event.enqueuedTimeMs },
    };
    if (event.partitionKey !== '') system['x-opt-partition-key'] = { string: event.partitionKey };
    const properties: CaptureRecord['Properties'] = {};
    for (const name in event.properties) properties[name] = { string: event.properties[name]! };
    return {
      SequenceNumber: this.sequence,
      Offset: offset,
      EnqueuedTimeUtc: new Date(event.enqueuedTimeMs).toISOString(),
      SystemProperties: system,
      Properties: properties,
      Body: Buffer.isBuffer(event.body) ? event.body : Buffer.from(event.body.buffer, event.body.byteOffset, event.body.byteLength),
    };
  }

  /**
   * The first file of a window is named by the window's start, as Capture names it; a file rolled inside a
   * window by size is named by its first event's second. Names never repeat and only grow.
   */
  private open(window: number, firstEnqueuedMs: number): OpenFile {
    const candidate = window !== this.lastWindow ? window * this.windowMs : Math.floor(firstEnqueuedMs / 1000) * 1000;
    const nameMs = Math.max(candidate, this.lastNameMs + 1000);
    this.lastWindow = window;
    this.lastNameMs = nameMs;
    const key = captureKey({ namespace: this.options.namespace, hub: this.hub, partition: this.partition, windowStart: new Date(nameMs) });
    return new OpenFile(key, window, this.options);
  }

  private async finish(): Promise<void> {
    const file = this.file!;
    this.file = undefined;
    const bytes = await file.end();
    try {
      await this.options.store.put(file.key, bytes);
    } catch (error) {
      throw error instanceof TributaryError
        ? error
        : new TributaryError('STORAGE_PERMANENT', `cannot write capture file ${file.key}: ${errorMessage(error)}`, { cause: error });
    }
    this.onFile(bytes.byteLength);
  }
}

// zlib's default 16 KiB output chunks cost a callback each; one block's output fits in a few larger ones.
const DEFLATE_OPTIONS = { chunkSize: 128 * 1024 };
const CODECS = {
  null: (buffer: Buffer, callback: (error: Error | null, result?: Buffer) => void) => callback(null, buffer),
  deflate: (buffer: Buffer, callback: (error: Error | null, result?: Buffer) => void) => deflateRaw(buffer, DEFLATE_OPTIONS, callback),
};

class OpenFile {
  readonly encoder: avro.streams.BlockEncoder;
  eventBytes = 0;
  private readonly chunks: Buffer[] = [];
  private failure: Error | undefined;

  constructor(readonly key: string, readonly window: number, options: CaptureTargetOptions) {
    const syncMarker = createHash('sha256').update(`${options.seed ?? 0}\u0000${key}`).digest().subarray(0, 16);
    // Given the schema object (not a Type), avsc writes it verbatim into the header, as Capture does.
    this.encoder = new avro.streams.BlockEncoder(CAPTURE_SCHEMA as unknown as avro.Schema, {
      codec: options.codec ?? 'deflate',
      codecs: CODECS,
      blockSize: options.blockSize ?? 256 * 1024,
      syncMarker,
      writeHeader: true,
    });
    this.encoder.on('data', (chunk: Buffer) => this.chunks.push(chunk));
    // Kept until end() reports it: an encoding or compression failure fails the file, not the process.
    this.encoder.on('error', (error: Error) => {
      this.failure ??= error;
    });
  }

  async end(): Promise<Buffer> {
    if (this.failure) throw this.failure;
    const ended = new Promise<void>((resolve, reject) => {
      this.encoder.once('end', resolve);
      this.encoder.once('error', reject);
    });
    this.encoder.end();
    await ended;
    return Buffer.concat(this.chunks);
  }
}
