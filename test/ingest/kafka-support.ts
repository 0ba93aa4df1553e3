/**
 * Shared pieces of the Kafka source tests: the real broker's config for the source, a producer, and a
 * PartitionHandler that records what the source hands it and commits every `commitEvery` positions, like the
 * partition processor's cells.
 */
import { Kafka, type Message, type Producer } from 'kafkajs';
import { createLogger } from '../../src/core/log.js';
import { kafkaSourceSchema, type KafkaSourceConfig } from '../../src/ingest/kafka/config.js';
import { KafkaSource, type KafkaSourceOptions } from '../../src/ingest/kafka/source.js';
import type { PartitionBatch, PartitionFeed, PartitionHandler, ResumePoint, SourceEvent } from '../../src/core/source.js';
import type { KafkaBroker } from '../brokers/kafka/index.js';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

export const log = createLogger('silent');

/** The source on `topic` (as stream `orders`) of the broker's PLAINTEXT listener; `extra` overrides any key. */
export function sourceConfig(broker: KafkaBroker, topic: string, extra: Record<string, unknown> = {}): KafkaSourceConfig {
  return kafkaSourceSchema.parse({
    kind: 'kafka',
    brokers: broker.brokers,
    topics: { orders: topic },
    groupId: 'tributary',
    sessionTimeout: '6s',
    heartbeatInterval: '200ms',
    fetch: { maxWait: '100ms' },
    ...extra,
  });
}

export function source(config: KafkaSourceConfig, extra: Partial<KafkaSourceOptions> = {}): KafkaSource {
  return new KafkaSource({ config, batchSize: 50, log, retry: { retries: 3, initialRetryTime: 50 }, ...extra });
}

export async function producerFor(broker: KafkaBroker, cleanups: Array<() => Promise<void>>): Promise<Producer> {
  const producer = new Kafka(broker.clientConfig('plaintext', { clientId: 'test-producer' })).producer();
  await producer.connect();
  cleanups.push(() => producer.disconnect());
  return producer;
}

export const T0 = Date.UTC(2026, 0, 1);

/** `count` messages for a partition, each with key, timestamp and a traceparent header. */
export function messages(partition: number, count: number, from = 0): Message[] {
  return Array.from({ length: count }, (_, i) => ({
    partition,
    key: `key-${partition}-${from + i}`,
    value: `p${partition}-${from + i}`,
    timestamp: String(T0 + (from + i) * 1000),
    headers: { traceparent: `00-${partition}-${from + i}-01` },
  }));
}

type Revocation = [stream: string, partition: string, reason: 'lost' | 'shutdown'];

export class RecordingHandler implements PartitionHandler {
  readonly events = new Map<string, SourceEvent[]>();
  readonly assigned: string[] = [];
  readonly revoked: Revocation[] = [];
  readonly caughtUp: string[] = [];
  readonly resume = new Map<string, number>();
  /** called before each batch is recorded; may wait (a slow sink) */
  beforeBatch: (batch: PartitionBatch, signal: AbortSignal) => Promise<void> = async () => undefined;
  private readonly committed = new Map<string, number>();
  private readonly feeds = new Map<string, PartitionFeed>();
  private readonly ownership = new Map<string, AbortController>();

  constructor(private readonly commitEvery = 10) {}

  async onAssigned(stream: string, partition: string, feed: PartitionFeed): Promise<ResumePoint> {
    this.assigned.push(`${stream}/${partition}`);
    this.feeds.set(`${stream}/${partition}`, feed);
    this.ownership.set(`${stream}/${partition}`, new AbortController());
    const position = this.resume.get(`${stream}/${partition}`);
    return position === undefined ? undefined : { position };
  }

  async onBatch(batch: PartitionBatch): Promise<void> {
    const key = `${batch.stream}/${batch.partition}`;
    const signal = this.ownership.get(key)?.signal ?? AbortSignal.abort();
    await this.beforeBatch(batch, signal);
    const seen = this.events.get(key) ?? [];
    seen.push(...batch.events);
    this.events.set(key, seen);
    const next = batch.events[batch.events.length - 1]!.position + 1;
    const boundary = Math.floor(next / this.commitEvery) * this.commitEvery;
    if (boundary > (this.committed.get(key) ?? 0)) {
      this.committed.set(key, boundary);
      await this.feeds.get(key)!.commit(boundary, String(boundary - 1), signal);
    }
  }

  async onRevoked(stream: string, partition: string, reason: 'lost' | 'shutdown'): Promise<void> {
    if (reason === 'lost') this.ownership.get(`${stream}/${partition}`)?.abort(new Error(`${stream}/${partition} lost`));
    this.revoked.push([stream, partition, reason]);
  }

  async onCaughtUp(stream: string, partition: string): Promise<void> {
    this.caughtUp.push(`${stream}/${partition}`);
  }

  positions(key: string): number[] {
    return (this.events.get(key) ?? []).map((e) => e.position);
  }

  /** Partitions assigned more often than revoked: the ones this handler owns now. */
  owned(): string[] {
    const times = (key: string) => this.revoked.filter(([stream, partition]) => `${stream}/${partition}` === key).length;
    return [...new Set(this.assigned)].filter((key) => this.assigned.filter((k) => k === key).length > times(key)).sort();
  }
}
