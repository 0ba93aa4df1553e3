/**
 * The one configuration file, validated with zod before any work starts. Every object is strict (unknown keys
 * are errors, so a typo never silently falls back to a default), and every field says what it is for.
 */
import { z } from 'zod';
import { byteSize, duration, positiveDuration } from './units.js';
import { kafkaSourceSchema } from '../ingest/kafka/config.js';
import { eventHubsSourceSchema } from '../ingest/eventhubs/config.js';

/** A moment as an ISO 8601 date or date-time (UTC unless it says otherwise), or epoch milliseconds. */
const instant = z.union([
  z.number().int(),
  z.string().refine((text) => !Number.isNaN(Date.parse(text)), 'expected an ISO 8601 date such as "1970-01-01" or "2200-01-01T00:00:00Z"'),
]).transform((value) => (typeof value === 'number' ? value : Date.parse(/[zZ]|[+-]\d{2}:?\d{2}$|^\d{4}-\d{2}-\d{2}$/.test(value) ? value : `${value}Z`)));

const identifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an identifier (letters, digits, _)');

const localStoreFields = {
  kind: z.literal('local'),
  path: z.string().min(1).describe('folder on the local file system'),
};
const blobStoreFields = {
  kind: z.literal('blob'),
  container: z.string().min(3).describe('blob container name'),
  prefix: z.string().default('').describe('key prefix inside the container'),
  connectionString: z.string().optional().describe('storage connection string (or use accountUrl + Entra ID)'),
  accountUrl: z.url().optional().describe('https://<account>.blob.core.windows.net, authenticated with DefaultAzureCredential'),
};
const oneBlobCredential = (s: { connectionString?: string | undefined; accountUrl?: string | undefined }): boolean =>
  Boolean(s.connectionString) !== Boolean(s.accountUrl);
const oneBlobCredentialError = { message: 'set exactly one of connectionString or accountUrl', path: ['connectionString'] };

export const storeSchema = z.discriminatedUnion('kind', [
  z.strictObject(localStoreFields),
  z.strictObject(blobStoreFields).refine(oneBlobCredential, oneBlobCredentialError),
]);
export type StoreConfig = z.infer<typeof storeSchema>;

export const snapshotRetentionSchema = z.strictObject({
  count: z.number().int().min(1).default(48)
    .describe('snapshots kept per partition, one per committed cell boundary: a replay can start with exact state at any of them'),
  age: duration.default(7 * 86_400_000)
    .describe('snapshots written longer ago than this are deleted (the newest one is always kept)'),
}).describe('how much snapshot history "tributary reset" can go back to with exact state');

// Optional rather than defaulted, so configs built in code need not spell it out; absent means the defaults.
const snapshotRetentionField = snapshotRetentionSchema.optional();

/** The state store: a store plus how long its snapshot history is kept. */
export const stateStoreSchema = z.discriminatedUnion('kind', [
  z.strictObject({ ...localStoreFields, snapshotRetention: snapshotRetentionField }),
  z.strictObject({ ...blobStoreFields, snapshotRetention: snapshotRetentionField }).refine(oneBlobCredential, oneBlobCredentialError),
]);

export const streamSchema = z.strictObject({
  schema: z.string().min(1).describe('path of the Avro schema (.avsc) of the event bodies'),
  bodyFormat: z.enum(['avro', 'json', 'confluent-avro']).default('avro')
    .describe('how event bodies are encoded: raw Avro, JSON, or Confluent wire format (magic byte + schema id + Avro)'),
  schemaRegistry: z.strictObject({
    url: z.url().describe('Confluent-compatible schema registry base URL'),
    username: z.string().optional(),
    password: z.string().optional(),
  }).optional().describe('where confluent-avro writer schemas are looked up by id'),
  writerSchemas: z.record(z.string().regex(/^\d+$/, 'expected a schema id'), z.string()).optional()
    .describe('confluent-avro writer schemas known in advance: schema id -> .avsc file'),
  eventId: z.string().min(1).describe('field holding the event id used for deduplication'),
  eventTime: z.string().min(1).describe('field holding the event time (timestamp-millis or ISO string), or _enqueued_time to use the source\'s enqueued time'),
  partitionKey: z.string().min(1).optional().describe('field used as partition key when generating or sending'),
  propertyColumns: z.array(z.string()).default(['traceparent']).describe('application properties landed as raw-table columns'),
  table: identifier.optional().describe('raw table name; defaults to <stream>_raw'),
}).refine((s) => s.bodyFormat !== 'confluent-avro' || s.schemaRegistry !== undefined || s.writerSchemas !== undefined, {
  message: 'confluent-avro bodies need schemaRegistry or writerSchemas',
  path: ['bodyFormat'],
});
export type StreamConfig = z.infer<typeof streamSchema>;

const measureSchema = z.strictObject({
  fn: z.enum(['count', 'sum', 'min', 'max', 'mean']),
  field: z.string().min(1).optional().describe('input field; required for all but count (count without a field counts rows, with one its non-null values)'),
  as: identifier.optional().describe('output column name; defaults to <fn>_<field>'),
}).refine((m) => m.fn === 'count' || m.field !== undefined, { message: 'field is required for this fn', path: ['field'] });

export const aggregationSchema = z.strictObject({
  name: identifier.describe('output table name'),
  stream: z.string().min(1).describe('input stream (a key of streams)'),
  groupBy: z.array(z.string().min(1)).default([]).describe('group-by fields (dotted paths allowed)'),
  window: z.discriminatedUnion('kind', [
    z.strictObject({
      kind: z.literal('tumbling'),
      size: duration.refine((ms) => ms > 0, 'window size must be positive'),
    }),
    z.strictObject({
      kind: z.literal('hopping'),
      size: duration.refine((ms) => ms > 0, 'window size must be positive'),
      hop: duration.refine((ms) => ms > 0, 'hop must be positive').describe('distance between window starts'),
    }).refine((w) => w.size % w.hop === 0 && w.size > w.hop, { message: 'size must be a multiple of hop, and larger', path: ['hop'] }),
    z.strictObject({
      kind: z.literal('session'),
      gap: duration.refine((ms) => ms > 0, 'gap must be positive').describe('a session closes after this long without events of its group (exclusive: events exactly `gap` apart are two sessions)'),
    }),
  ]).describe('tumbling: back-to-back windows; hopping: windows of `size` starting every `hop` (an event counts in size/hop of them); session: per group, events less than `gap` apart'),
  measures: z.array(measureSchema).min(1),
});
export type AggregationConfig = z.infer<typeof aggregationSchema>;

export const captureSourceSchema = z.strictObject({
  kind: z.literal('capture'),
  store: storeSchema.describe('where the Capture archive lives'),
  namespace: z.string().min(1).describe('Event Hubs namespace folder of the archive'),
  hubs: z
    .record(z.string(), z.string().min(1))
    .refine((h) => Object.keys(h).length > 0, 'map at least one stream to a hub folder, e.g. { orders: orders }')
    .describe('stream name -> hub folder name'),
  leaseTtl: duration.default(30_000)
    .describe('instances sharing an archive (and its state store) lease its partitions; a lease not renewed for this long is taken over'),
  onCorruptBlock: z.enum(['fail', 'deadletter']).default('fail').describe(
    'a container block that cannot be read (bad sync marker, block size or deflate data, or records that do not parse): ' +
      'fail = stop the partition with the file and byte offset before anything past the block is written; ' +
      'deadletter = write the unreadable bytes as one dead letter (reason decode; error and properties name the file and byte range) and go on',
  ),
});

export const sourceSchema = z.discriminatedUnion('kind', [captureSourceSchema, kafkaSourceSchema, eventHubsSourceSchema]);
export type SourceConfig = z.infer<typeof sourceSchema>;

export const processingSchema = z.strictObject({
  allowedOutOfOrderness: duration.default(30_000).describe('watermark = max event time - this'),
  allowedLateness: duration.default(0).describe('how long after the watermark passes a window it still accepts events'),
  dedupRetention: duration.default(3_600_000).describe('how far behind the watermark event ids are remembered'),
  dedupMaxIds: z.number().int().min(1).max(1_000_000_000).default(2_000_000)
    .describe('at most this many event ids are remembered per partition (about 26 B each in memory, 16 B in a snapshot): past it the oldest acceptance is forgotten first, so dedup covers the shorter of dedupRetention and the last dedupMaxIds accepted events'),
  rowsPerFile: z.number().int().positive().default(200_000).describe('positions per raw-file cell'),
  rowGroupRows: z.number().int().positive().default(32_768).describe('rows per Parquet row group in raw files; groups are encoded as they fill'),
  maxFileBytes: byteSize.default(128 * 1024 ** 2).describe('a cell rolls to a new part file past this many body bytes'),
  aggregateFileSpan: positiveDuration.default(3_600_000).describe('event-time span of window starts per aggregate file; must divide one hour, so each file lies in one date=/hour= folder'),
  flushInterval: duration.default(60_000).describe('idle partitions rewrite their open files this often'),
  maxEventBytes: byteSize.default(1024 ** 2).describe('larger event bodies are dead-lettered'),
  decodeThreads: z.number().int().min(1).max(64).default(2).describe('worker threads decoding Avro'),
  batchSize: z.number().int().positive().default(8192).describe('events per decode task'),
  inFlightBatches: z.number().int().min(1).max(16).default(2)
    .describe('batches of one partition handed over and not yet applied: the next one decodes while one is applied'),
  inFlightBytes: byteSize.default(64 * 1024 ** 2)
    .describe('bytes of events (bodies plus ~256 B each) handed over by the source and not yet applied, summed over all partitions of the worker: past it the source waits instead of reading ahead (one batch larger than this still goes when nothing else is in flight)'),
  maxConsecutiveFailures: z.number().int().min(1).default(5)
    .describe('a partition that fails this many times in a row (each time restored from its snapshot and re-read) stops the run'),
  eventTimeRange: z.strictObject({
    min: instant.default(0).describe('earliest accepted event time'),
    max: instant.default(Date.UTC(2200, 0, 1)).describe('latest accepted event time'),
  }).refine((r) => !(r.min >= r.max), { message: 'min must be before max', path: ['max'] })
    .default({ min: 0, max: Date.UTC(2200, 0, 1) })
    .describe('events whose time (body field, or enqueued time for _enqueued_time streams) is outside [min, max] are dead-lettered with reason schema before they reach the watermark; dates are UTC'),
});

export const retrySchema = z.strictObject({
  initialDelay: duration.default(200).describe('first backoff after a transient storage fault; doubles per attempt, with jitter'),
  maxDelay: duration.default(15_000).describe('longest single backoff'),
  budget: duration.default(120_000).describe('a storage operation is retried for this long before it fails (the default rides out a 60 s outage)'),
});
export type RetryConfig = z.infer<typeof retrySchema>;

export const configSchema = z.strictObject({
  streams: z.record(identifier, streamSchema).refine((s) => Object.keys(s).length > 0, 'at least one stream is required'),
  source: sourceSchema,
  aggregations: z.array(aggregationSchema).default([]),
  processing: processingSchema.default(processingSchema.parse({})),
  lake: storeSchema.default({ kind: 'local', path: 'data/lake' }),
  deadLetter: storeSchema.default({ kind: 'local', path: 'data/deadletter' }),
  state: stateStoreSchema.default({ kind: 'local', path: 'data/state' })
    .describe('snapshots and checkpoints'),
  retry: retrySchema.default(retrySchema.parse({})).describe('the one retry policy of every storage operation (lake, dead letters, state)'),
  metrics: z.strictObject({
    port: z.number().int().min(0).max(65535).default(9464).describe('0 = any free port'),
    host: z.string().default('127.0.0.1'),
    enabled: z.boolean().default(true),
  }).default({ port: 9464, host: '127.0.0.1', enabled: true }),
  health: z.strictObject({
    livenessTimeout: duration.refine((ms) => ms > 0, 'livenessTimeout must be positive').default(300_000)
      .describe('/healthz fails (and Kubernetes restarts the worker) when work is pending (a batch in flight, or events waiting in an owned partition) and for this long no batch finished, no transient fault was retried and the source gave no sign of life; longer than the slowest single store request (60 s) plus its backoff'),
  }).default({ livenessTimeout: 300_000 }).describe('the liveness and readiness probes'),
  shutdown: z.strictObject({
    drainDeadline: duration.refine((ms) => ms > 0, 'drainDeadline must be positive').default(25_000)
      .describe('after SIGTERM/SIGINT, in-flight work gets this long to be written; then the stores stop retrying, the run stops without committing it and exits 1 naming what was still in flight (if anything ignores the stop, the process exits anyway a tenth of this later). Keep 1.1 x this below the pod\'s terminationGracePeriodSeconds (30 s by default) so the worker, not SIGKILL, decides how it ends'),
  }).default({ drainDeadline: 25_000 }).describe('how the worker stops'),
}).superRefine((config, ctx) => {
  config.aggregations.forEach((aggregation, index) => {
    if (!(aggregation.stream in config.streams)) {
      ctx.addIssue({
        code: 'custom',
        path: ['aggregations', index, 'stream'],
        message: `unknown stream "${aggregation.stream}"; expected one of: ${Object.keys(config.streams).join(', ')}`,
      });
    }
  });
  // A hub or topic for a stream that is not configured would be read by nothing (or fail mid-run).
  const mapping = config.source.kind === 'kafka' ? { field: 'topics', streams: config.source.topics } : { field: 'hubs', streams: config.source.hubs };
  for (const stream of Object.keys(mapping.streams)) {
    if (!(stream in config.streams)) {
      ctx.addIssue({
        code: 'custom',
        path: ['source', mapping.field, stream],
        message: `unknown stream "${stream}"; expected one of: ${Object.keys(config.streams).join(', ')}`,
      });
    }
  }
  const names = new Set<string>();
  config.aggregations.forEach((aggregation, index) => {
    if (names.has(aggregation.name)) {
      ctx.addIssue({ code: 'custom', path: ['aggregations', index, 'name'], message: `duplicate table name "${aggregation.name}"` });
    }
    names.add(aggregation.name);
  });
});

export type TributaryConfig = z.infer<typeof configSchema>;
export type TributaryConfigInput = z.input<typeof configSchema>;
