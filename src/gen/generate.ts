/**
 * Drives the stream generators into any target (Capture archive, Event Hubs, Kafka): one stream after the
 * other, events batched per partition in delivery order, each batch awaited so a slow target slows the
 * generator instead of growing a queue. Knows nothing about any particular schema: field names come from the
 * config (or the key-field option) and everything else from the Avro schema.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { StreamConfig, TributaryConfig } from '../config/schema.js';
import { TributaryError, abortError, errorMessage } from '../core/errors.js';
import { mapPartitionKeyToId } from '../partition/eventhubs-hash.js';
import { kafkaPartitionForKey } from '../partition/kafka-murmur2.js';
import { ENQUEUED_TIME } from '../runtime/stream-plan.js';
import { createBodyCodec } from './body.js';
import { createKeySampler } from './key-distribution.js';
import type { GenOptions } from './options.js';
import { Prng } from './prng.js';
import { FAULT_KINDS, emptyFaultCounts, generateStreamEvents, type FaultCounts } from './stream-generator.js';
import type { GeneratedEvent, GenTarget, TargetStats } from './target.js';
import { compileRecordGenerator, type FieldOverride } from './values.js';

export interface GenProgress {
  stream: string;
  /** logical events generated so far in this stream */
  generated: number;
  /** logical events this stream will have */
  total: number;
  /** deliveries (including duplicates) so far, over all streams */
  delivered: number;
}

export interface StreamGenSummary {
  stream: string;
  keyField: string | undefined;
  logicalEvents: number;
  /** events written, duplicates included */
  deliveredEvents: number;
  /** deliveries per partition id */
  partitions: Record<string, number>;
  faults: FaultCounts;
  firstEnqueuedMs: number | undefined;
  lastEnqueuedMs: number | undefined;
}

export interface GenSummary {
  seed: number;
  streams: StreamGenSummary[];
  totals: { logicalEvents: number; deliveredEvents: number; faults: FaultCounts };
  /** files and bytes, for targets that write files */
  output: TargetStats | undefined;
  elapsedMs: number;
}

export interface GenerateHooks {
  onProgress?: ((progress: GenProgress) => void) | undefined;
  signal?: AbortSignal | undefined;
}

const PROGRESS_EVERY = 50_000;

/** Checks every stream's fields against its schema before any event is written. */
export async function prepareStreams(config: TributaryConfig, options: GenOptions): Promise<PreparedStream[]> {
  const names = options.streams ?? Object.keys(config.streams);
  const prepared: PreparedStream[] = [];
  for (const stream of names) {
    const streamConfig = config.streams[stream];
    if (!streamConfig) {
      throw new TributaryError('CONFIG_INVALID', `streams: unknown stream "${stream}"; expected one of: ${Object.keys(config.streams).join(', ')}`);
    }
    let schema: unknown;
    try {
      schema = JSON.parse(await readFile(streamConfig.schema, 'utf8'));
    } catch (error) {
      throw new TributaryError('CONFIG_INVALID', `streams.${stream}.schema: cannot load Avro schema ${streamConfig.schema}: ${errorMessage(error)}`, { cause: error });
    }
    const keyOption = typeof options.keyField === 'string' ? options.keyField : options.keyField?.[stream];
    const keyField = keyOption ?? streamConfig.partitionKey;
    const overrides: FieldOverride[] = [{ kind: 'eventId', path: streamConfig.eventId, configPath: `streams.${stream}.eventId` }];
    if (streamConfig.eventTime !== ENQUEUED_TIME) {
      overrides.push({ kind: 'eventTime', path: streamConfig.eventTime, configPath: `streams.${stream}.eventTime` });
    } else if (options.faults.outOfOrder > 0 || options.faults.late > 0) {
      // The broker's enqueued time never goes back, so such a stream has nothing to be out of order or late.
      throw new TributaryError(
        'CONFIG_INVALID',
        `streams.${stream}.eventTime is ${ENQUEUED_TIME}: its events cannot be out of order or late; set the out-of-order and late rates to 0 or leave the stream out`,
      );
    }
    if (keyField !== undefined) {
      const configPath = keyOption !== undefined ? `keyField (${stream})` : `streams.${stream}.partitionKey`;
      if (keyField === streamConfig.eventId || keyField === streamConfig.eventTime) {
        throw new TributaryError('CONFIG_INVALID', `${configPath}: "${keyField}" is already the event id or event time field`);
      }
      overrides.push({ kind: 'partitionKey', path: keyField, configPath });
    }
    const salt = new Prng(options.seed, `${stream}/key-salt`).uint32();
    const records = compileRecordGenerator(schema, { overrides, origin: `${streamConfig.schema} (stream ${stream})`, salt });
    const schemaId = streamConfig.bodyFormat === 'confluent-avro' ? confluentSchemaId(stream, streamConfig) : undefined;
    prepared.push({ stream, keyField, records, codec: createBodyCodec(streamConfig.bodyFormat, records.type, schemaId) });
  }
  const faults = options.faults;
  if (faults.outOfOrder > 0 && config.processing.allowedOutOfOrderness < 2) {
    throw new TributaryError(
      'CONFIG_INVALID',
      'faults.outOfOrder: needs processing.allowedOutOfOrderness of at least 2 ms (below that, an event behind the partition is late)',
    );
  }
  return prepared;
}

/** The id Confluent-framed bodies carry: the `writerSchemas` entry naming the stream's own schema file. */
function confluentSchemaId(stream: string, streamConfig: StreamConfig): number {
  const entries = Object.entries(streamConfig.writerSchemas ?? {});
  const own = entries.find(([, file]) => path.resolve(file) === path.resolve(streamConfig.schema)) ?? (entries.length === 1 ? entries[0] : undefined);
  if (!own) {
    throw new TributaryError(
      'CONFIG_INVALID',
      `streams.${stream}.writerSchemas: generating confluent-avro bodies needs the schema id of ${streamConfig.schema}; list it there`,
    );
  }
  return Number(own[0]);
}

export interface PreparedStream {
  stream: string;
  keyField: string | undefined;
  records: ReturnType<typeof compileRecordGenerator>;
  codec: ReturnType<typeof createBodyCodec>;
}

export async function generateStreams(
  config: TributaryConfig,
  options: GenOptions,
  target: GenTarget,
  hooks: GenerateHooks = {},
  prepared?: PreparedStream[],
): Promise<Omit<GenSummary, 'output'>> {
  const started = performance.now();
  const streams = prepared ?? (await prepareStreams(config, options));
  const summaries: StreamGenSummary[] = [];
  let delivered = 0;
  const keys = createKeySampler(options.keys, options.distribution === 'zipf' ? { kind: 'zipf', skew: options.skew } : { kind: 'uniform' });
  for (const { stream, keyField, records, codec } of streams) {
    const summary: StreamGenSummary = {
      stream,
      keyField,
      logicalEvents: options.events,
      deliveredEvents: 0,
      partitions: {},
      faults: emptyFaultCounts(),
      firstEnqueuedMs: undefined,
      lastEnqueuedMs: undefined,
    };
    const perPartition = new Array<number>(options.partitions).fill(0);
    const batches: GeneratedEvent[][] = Array.from({ length: options.partitions }, () => []);
    const events = generateStreamEvents({
      stream,
      records,
      codec,
      keyed: keyField !== undefined,
      keys,
      route: options.hash === 'kafka' ? (key) => kafkaPartitionForKey(key, options.partitions) : (key) => mapPartitionKeyToId(key, options.partitions),
      partitions: options.partitions,
      events: options.events,
      startMs: options.start,
      spanMs: options.span,
      faults: options.faults,
      allowedOutOfOrdernessMs: config.processing.allowedOutOfOrderness,
      allowedLatenessMs: config.processing.allowedLateness,
      maxDuplicateDistance: options.maxDuplicateDistance,
      seed: options.seed,
    });
    // Writes of different partitions overlap (a Capture file compresses while the next partition's batch is
    // built); writes of one partition stay in order. At most one write per partition is in flight.
    const inFlight = new Map<number, Promise<void>>();
    let failure: { error: unknown } | undefined;
    const send = async (partition: number, batch: GeneratedEvent[]): Promise<void> => {
      await inFlight.get(partition);
      if (failure) throw failure.error;
      if (hooks.signal?.aborted) throw abortError(hooks.signal);
      inFlight.set(
        partition,
        target.write(stream, String(partition), batch).catch((error: unknown) => {
          // Recorded here, rethrown by the next send or the final drain, so no write failure goes unreported.
          failure ??= { error };
        }),
      );
    };
    let generated = 0;
    for (const delivery of events) {
      const { partition, event, fault } = delivery;
      if (fault !== 'duplicate') {
        generated++;
        if (generated % PROGRESS_EVERY === 0) {
          if (hooks.signal?.aborted) throw abortError(hooks.signal);
          hooks.onProgress?.({ stream, generated, total: options.events, delivered });
        }
      }
      if (fault) summary.faults[fault]++;
      perPartition[partition]!++;
      delivered++;
      summary.firstEnqueuedMs = Math.min(summary.firstEnqueuedMs ?? event.enqueuedTimeMs, event.enqueuedTimeMs);
      summary.lastEnqueuedMs = Math.max(summary.lastEnqueuedMs ?? event.enqueuedTimeMs, event.enqueuedTimeMs);
      const batch = batches[partition]!;
      batch.push(event);
      if (batch.length >= options.batchSize) {
        batches[partition] = [];
        await send(partition, batch);
      }
    }
    for (let partition = 0; partition < options.partitions; partition++) {
      const batch = batches[partition]!;
      if (batch.length > 0) await send(partition, batch);
      summary.partitions[String(partition)] = perPartition[partition]!;
    }
    await Promise.all(inFlight.values());
    if (failure) throw failure.error;
    summary.deliveredEvents = perPartition.reduce((a, b) => a + b, 0);
    hooks.onProgress?.({ stream, generated, total: options.events, delivered });
    summaries.push(summary);
  }
  const faults = emptyFaultCounts();
  for (const summary of summaries) for (const kind of FAULT_KINDS) faults[kind] += summary.faults[kind];
  return {
    seed: options.seed,
    streams: summaries,
    totals: {
      logicalEvents: summaries.reduce((n, s) => n + s.logicalEvents, 0),
      deliveredEvents: summaries.reduce((n, s) => n + s.deliveredEvents, 0),
      faults,
    },
    elapsedMs: performance.now() - started,
  };
}
