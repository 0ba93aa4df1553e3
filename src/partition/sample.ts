/**
 * The sample the partition-key benchmark works on: events as a producer sent them (body bytes, enqueued time,
 * application properties) together with their decoded fields, in send order across the whole stream.
 *
 * Loaded from an Event Hubs Capture archive (read with the real CaptureSource, so the benchmark sees exactly
 * what the worker would), from a local Avro object container file of stream records, or from events a
 * generator produced in memory.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import avro from 'avsc';
import type { StreamConfig } from '../config/schema.js';
import { TributaryError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { CaptureSource } from '../ingest/capture/source.js';
import { blockData, decodeBlock, readContainer } from '../ingest/capture/container.js';
import { parseCaptureKey } from '../ingest/capture/format.js';
import type { ApplicationProperties, PartitionBatch, PartitionHandler, SourceEvent } from '../core/source.js';
import { BufferedUpload, type Fence, type ObjectInfo, type ObjectStore, type StagedUpload } from '../core/object-store.js';
import { ObjectCheckpointStore } from '../sink/object-checkpoint-store.js';
import { createObjectStore } from '../sink/store-factory.js';
import type { SampleRecord } from './skew.js';

export interface SampleEvent extends SampleRecord {
  readonly body: Uint8Array;
  readonly enqueuedTimeMs: number;
  readonly properties: ApplicationProperties;
}

export interface Sample {
  readonly stream: string;
  /** Where it came from, for the report. */
  readonly source: string;
  readonly events: readonly SampleEvent[];
  /** Events whose body did not decode with the stream's schema: kept (the pipeline dead-letters them), keyless. */
  readonly undecodable: number;
}

/** Decodes event bodies of one stream into plain records (Avro with the stream's schema, or JSON). */
export class BodyDecoder {
  private readonly type: avro.Type | undefined;

  constructor(readonly schemaText: string, private readonly bodyFormat: StreamConfig['bodyFormat']) {
    this.type = bodyFormat === 'json' ? undefined : avro.Type.forSchema(JSON.parse(schemaText) as avro.Schema);
  }

  get avroType(): avro.Type | undefined {
    return this.type;
  }

  /** The record, or undefined when the body does not decode. */
  decode(body: Uint8Array): Record<string, unknown> | undefined {
    try {
      // Confluent framing: magic byte + 4-byte schema id before the Avro body (read with the reader schema here).
      const skip = this.bodyFormat === 'confluent-avro' ? 5 : 0;
      const value: unknown = this.type
        ? this.type.fromBuffer(Buffer.from(body.buffer, body.byteOffset + skip, body.byteLength - skip))
        : JSON.parse(Buffer.from(body).toString('utf8'));
      return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
    } catch {
      // Counted by the caller as undecodable and reported; the pipeline dead-letters the same event.
      return undefined;
    }
  }

  encode(record: unknown): Uint8Array {
    return this.type ? this.type.toBuffer(record) : Buffer.from(JSON.stringify(record), 'utf8');
  }
}

export interface SampleLimits {
  /** Stop after this many events (the sample is held in memory). */
  readonly maxEvents: number;
}

/** Builds a sample from events in send order (a generator's output, or events read elsewhere). */
export function sampleFromEvents(
  stream: string,
  source: string,
  events: Iterable<{ body: Uint8Array; enqueuedTimeMs: number; properties?: ApplicationProperties }>,
  decoder: BodyDecoder,
  limits: SampleLimits,
): Sample {
  const out: SampleEvent[] = [];
  let undecodable = 0;
  for (const event of events) {
    if (out.length >= limits.maxEvents) break;
    const fields = decoder.decode(event.body);
    if (!fields) undecodable++;
    out.push({
      body: event.body,
      bodyBytes: event.body.byteLength,
      fields: fields ?? {},
      enqueuedTimeMs: event.enqueuedTimeMs,
      properties: event.properties ?? {},
    });
  }
  return { stream, source, events: out, undecodable };
}

/**
 * Reads a local Avro object container file. Records of the stream's schema become bodies encoded as the producer
 * would send them; a file of Capture `EventData` records is read as a one-file Capture archive (its bodies as
 * they are). Enqueued times are the file order, 1 ms apart from `baseTimeMs`.
 */
export async function loadSampleFromAvroFile(file: string, stream: string, decoder: BodyDecoder, limits: SampleLimits, baseTimeMs = Date.UTC(2024, 0, 1)): Promise<Sample> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new TributaryError('INPUT_MISSING', `cannot read sample file ${file}: ${errorMessage(error)}`, { cause: error });
  }
  const container = readContainer(bytes, file);
  const writer = avro.Type.forSchema(container.schema);
  const fieldNames = new Set((container.schema as { fields?: Array<{ name: string }> }).fields?.map((f) => f.name) ?? []);
  const isCapture = ['SequenceNumber', 'Offset', 'EnqueuedTimeUtc', 'Body'].every((f) => fieldNames.has(f));
  const reader = decoder.avroType;
  const events: Array<{ body: Uint8Array; enqueuedTimeMs: number }> = [];
  let index = 0;
  outer: for (const block of container.blocks) {
    for (const record of decodeBlock(writer, await blockData(container, block, file), block.count, file)) {
      if (events.length >= limits.maxEvents) break outer;
      let body: Uint8Array;
      if (isCapture) {
        const captured = record as { Body: Buffer | null };
        body = captured.Body ?? new Uint8Array(0);
      } else {
        if (reader && !reader.isValid(record)) {
          throw new TributaryError(
            'INPUT_UNREADABLE',
            `${file}: record ${index} does not match the schema of stream ${stream} (the file's schema is ${writer.name ?? writer.typeName})`,
          );
        }
        body = decoder.encode(record);
      }
      events.push({ body, enqueuedTimeMs: baseTimeMs + index++ });
    }
  }
  return sampleFromEvents(stream, `Avro file ${file}${isCapture ? ' (Capture records)' : ''}`, events, decoder, limits);
}

/**
 * Reads a Capture archive with the worker's own CaptureSource and merges its partitions into one stream in
 * enqueued-time order (the order producers sent in, as far as the archive tells). `root` is the folder (or
 * store) holding `<namespace>/<hub>/<partition>/...`; the hub defaults to the only one present or the one named
 * like the stream.
 */
export async function loadSampleFromCapture(
  store: ObjectStore,
  stream: string,
  decoder: BodyDecoder,
  limits: SampleLimits,
  log: Logger,
  hubHint?: { namespace: string; hub: string },
): Promise<Sample> {
  const { namespace, hub } = hubHint ?? (await findHub(store, stream));
  const scratch = new MemoryStore();
  const source = new CaptureSource({
    store,
    namespace,
    hubs: { [stream]: hub },
    checkpoints: new ObjectCheckpointStore(scratch),
    leases: scratch,
    owner: 'sample',
    batchSize: 4096,
    log,
  });
  const byPartition: SourceEvent[][] = [];
  const collector: PartitionHandler = {
    onAssigned: async () => undefined,
    onBatch: async (batch: PartitionBatch) => {
      let events = byPartition[Number(batch.partition)];
      if (!events) byPartition[Number(batch.partition)] = events = [];
      for (const event of batch.events) events.push(event);
    },
    onRevoked: async () => undefined,
  };
  await source.run(collector, { signal: new AbortController().signal, bounded: true });
  const merged = byPartition.flat().sort((a, b) => a.enqueuedTimeMs - b.enqueuedTimeMs);
  return sampleFromEvents(stream, `Capture archive ${store.location}/${namespace}/${hub}`, merged, decoder, limits);
}

async function findHub(store: ObjectStore, stream: string): Promise<{ namespace: string; hub: string }> {
  const hubs = new Map<string, { namespace: string; hub: string }>();
  for (const object of await store.list('')) {
    const parts = parseCaptureKey(object.key);
    if (parts) hubs.set(`${parts.namespace}/${parts.hub}`, { namespace: parts.namespace, hub: parts.hub });
  }
  const all = [...hubs.values()];
  const named = all.filter((h) => h.hub === stream);
  const chosen = all.length === 1 ? all[0] : named.length === 1 ? named[0] : undefined;
  if (!chosen) {
    throw new TributaryError(
      all.length === 0 ? 'INPUT_MISSING' : 'CONFIG_INVALID',
      all.length === 0
        ? `no Event Hubs Capture files under ${store.location}`
        : `${store.location} holds several hubs (${all.map((h) => `${h.namespace}/${h.hub}`).join(', ')}); none is named "${stream}"`,
    );
  }
  return chosen;
}

/** Local input: a folder is a Capture archive, a file an Avro object container file. */
export async function loadSampleFromPath(input: string, stream: string, decoder: BodyDecoder, limits: SampleLimits, log: Logger): Promise<Sample> {
  let isFolder: boolean;
  try {
    isFolder = (await stat(input)).isDirectory();
  } catch (error) {
    throw new TributaryError('INPUT_MISSING', `sample input ${input} does not exist: ${errorMessage(error)}`, { cause: error });
  }
  if (isFolder) return loadSampleFromCapture(createObjectStore({ kind: 'local', path: path.resolve(input) }), stream, decoder, limits, log);
  return loadSampleFromAvroFile(input, stream, decoder, limits);
}

/** Checkpoints of the one-off Capture read are thrown away. */
class MemoryStore implements ObjectStore {
  readonly location = 'memory';
  private readonly objects = new Map<string, Uint8Array>();

  // copies both ways: the bytes a caller hands over, and those it gets, are its own (ObjectStore)
  async put(key: string, bytes: Uint8Array): Promise<void> {
    this.objects.set(key, bytes.slice());
  }

  async putFenced(key: string, bytes: Uint8Array): Promise<void> {
    this.objects.set(key, bytes.slice());
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    return this.objects.get(key)?.slice();
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    return [...this.objects.entries()]
      .filter(([key]) => key.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, bytes]) => ({ key, size: bytes.byteLength, metadata: {} }));
  }

  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }

  openUpload(key: string, fence: Fence): StagedUpload {
    return new BufferedUpload(this, key, fence);
  }
}
