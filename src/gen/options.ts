/**
 * Options of the synthetic stream generator, validated with zod like the config so a bad option fails before
 * any file is written, with a message naming it. Durations and sizes take the config's units ("1h", "64MiB").
 */
import { z } from 'zod';
import { describeIssues } from '../config/load.js';
import { byteSize, duration } from '../config/units.js';
import { TributaryError } from '../core/errors.js';

const rate = z.number().min(0).max(1);

export const faultRatesSchema = z.strictObject({
  duplicate: rate.default(0).describe('share of events delivered a second time later in the same partition'),
  outOfOrder: rate.default(0).describe('share of events whose event time lags behind the partition, within the allowed out-of-orderness'),
  late: rate.default(0).describe('share of events beyond the allowed out-of-orderness + lateness'),
  corrupt: rate.default(0).describe('share of events whose body cannot be decoded'),
}).refine((r) => r.duplicate + r.outOfOrder + r.late + r.corrupt <= 1, { message: 'fault rates must add up to at most 1' });

const instant = z.union([
  z.number().int(),
  z.string().refine((text) => !Number.isNaN(Date.parse(text)), 'expected an ISO 8601 time such as 2024-01-01T00:00:00Z'),
]).transform((value) => (typeof value === 'number' ? value : Date.parse(value)));

export const DEFAULT_START = Date.parse('2024-01-01T00:00:00.000Z');

export const genOptionsSchema = z.strictObject({
  events: z.number().int().min(0).max(2 ** 48).default(100_000).describe('logical events per stream (duplicates come on top)'),
  partitions: z.number().int().min(1).max(1024).default(8).describe('partitions per hub'),
  streams: z.array(z.string().min(1)).min(1).optional().describe('streams to generate (keys of `streams` in the config); default all'),
  keyField: z.union([z.string().min(1), z.record(z.string(), z.string().min(1))]).optional()
    .describe('partition-key field overriding the config: one dotted path for every stream, or stream -> path'),
  hash: z.enum(['eventhubs', 'kafka']).default('eventhubs')
    .describe("key -> partition routing: Event Hubs' partition-key hash or Kafka's default partitioner (murmur2)"),
  keys: z.number().int().min(1).max(2 ** 31).default(10_000).describe('distinct partition keys'),
  distribution: z.enum(['uniform', 'zipf']).default('uniform').describe('how often each key occurs'),
  skew: z.number().positive().max(100).default(1.1).describe('Zipf exponent s: P(rank k) ~ 1 / k^s'),
  start: instant.default(DEFAULT_START).describe('enqueued time of the first event (epoch ms or ISO 8601)'),
  span: duration.refine((ms) => ms > 0, 'the span must be positive').default(3_600_000).describe('enqueued-time span the events cover'),
  faults: faultRatesSchema.default({ duplicate: 0, outOfOrder: 0, late: 0, corrupt: 0 }),
  maxDuplicateDistance: z.number().int().min(1).max(100_000).default(32).describe('a duplicate follows its original within this many positions'),
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(42).describe('same seed and options, same bytes'),
  batchSize: z.number().int().min(1).max(1_000_000).default(4096).describe('events per target write'),
  capture: z.strictObject({
    window: duration.refine((ms) => ms >= 1000 && ms % 1000 === 0, 'the capture window must be whole seconds').default(300_000)
      .describe('a file per partition per this much enqueued time (Capture: 1-15 minutes)'),
    maxFileBytes: byteSize.default(64 * 1024 ** 2).describe('a file also rolls after this many bytes of events'),
    codec: z.enum(['deflate', 'null']).default('deflate').describe('Avro block compression; Capture uses deflate'),
  }).default({ window: 300_000, maxFileBytes: 64 * 1024 ** 2, codec: 'deflate' }),
  overwrite: z.boolean().default(false).describe('replace an existing archive of the same hubs'),
});

export type GenOptions = z.infer<typeof genOptionsSchema>;
export type GenOptionsInput = z.input<typeof genOptionsSchema>;

export function parseGenOptions(input: unknown): GenOptions {
  const result = genOptionsSchema.safeParse(input ?? {});
  if (!result.success) throw new TributaryError('CONFIG_INVALID', `invalid generator options:\n${describeIssues(result.error)}`);
  return result.data;
}
