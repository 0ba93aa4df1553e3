/**
 * Sends generated events to Kafka topics (one per stream) with kafkajs, as a real producer would: keyed events go
 * where kafkajs's default partitioner puts them (murmur2 of the key modulo the partition count, the Java client's
 * choice too), keyless ones to the partition the generator spread them to. The record timestamp is the event's
 * enqueued time and the properties travel as headers (`traceparent` included).
 *
 * The generator's partition for a keyed event is its own routing; when it routes with `kafkaPartitionForKey`
 * the two agree and each generator partition lands in one Kafka partition in order. Disagreements are counted
 * (`misrouted`), so a report can say when Kafka's placement differs from the generator's plan.
 */
import { Kafka, Partitioners, type Admin, type Message, type Producer } from 'kafkajs';
import { TributaryError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { kafkaClientConfig, type KafkaClientDependencies } from '../../ingest/kafka/client.js';
import type { KafkaSourceConfig } from '../../ingest/kafka/config.js';
import { translateKafkaError } from '../../ingest/kafka/errors.js';
import { kafkaPartitionForKey } from '../../partition/kafka-murmur2.js';
import type { GeneratedEvent, GenTarget } from '../target.js';

export interface KafkaTargetOptions {
  /** brokers, TLS, SASL and topics as the Kafka source reads them */
  source: KafkaSourceConfig;
  /** partitions per topic: missing topics are created with this many; existing ones must have as many */
  partitions: number;
  log: Logger;
  /** bytes of bodies per produce request; Event Hubs takes at most 1 MB per request */
  maxRequestBytes?: number;
  clientDependencies?: Omit<KafkaClientDependencies, 'log'>;
}

export interface KafkaTargetStats {
  /** records acknowledged, per topic and partition */
  produced: Record<string, Record<string, number>>;
  /** keyed events kafkajs placed in another partition than the generator's */
  misrouted: number;
}

const DEFAULT_MAX_REQUEST_BYTES = 900 * 1024;
/** Per-record overhead inside a record batch (varints, attributes, header framing), for request sizing. */
const RECORD_OVERHEAD_BYTES = 64;

export class KafkaTarget implements GenTarget {
  private readonly produced: Record<string, Record<string, number>> = {};
  private misrouted = 0;

  private constructor(
    private readonly producer: Producer,
    private readonly options: KafkaTargetOptions,
  ) {}

  /** Connects, creates missing topics with `partitions` partitions and checks existing ones match. */
  static async connect(options: KafkaTargetOptions): Promise<KafkaTarget> {
    const kafka = new Kafka(kafkaClientConfig(options.source, { ...options.clientDependencies, log: options.log }));
    const admin = kafka.admin();
    await step(`connecting to ${options.source.brokers.join(',')}`, () => admin.connect());
    try {
      await ensureTopics(admin, Object.values(options.source.topics), options.partitions, options.log, options.source.requestTimeout);
    } finally {
      await admin.disconnect();
    }
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
    await step('connecting the producer', () => producer.connect());
    return new KafkaTarget(producer, options);
  }

  async write(stream: string, partition: string, events: GeneratedEvent[]): Promise<void> {
    const topic = this.options.source.topics[stream];
    if (topic === undefined) throw new TributaryError('CONFIG_INVALID', `source.topics has no topic for stream "${stream}"`);
    const limit = this.options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
    let chunk: Message[] = [];
    let bytes = 0;
    for (const event of events) {
      const message = this.toMessage(event, Number(partition));
      const size = recordSize(event);
      if (chunk.length > 0 && bytes + size > limit) {
        await this.send(topic, chunk);
        chunk = [];
        bytes = 0;
      }
      chunk.push(message);
      bytes += size;
    }
    if (chunk.length > 0) await this.send(topic, chunk);
  }

  async close(): Promise<void> {
    await step('disconnecting the producer', () => this.producer.disconnect());
  }

  kafkaStats(): KafkaTargetStats {
    return { produced: structuredClone(this.produced), misrouted: this.misrouted };
  }

  private toMessage(event: GeneratedEvent, partition: number): Message {
    const message: Message = {
      value: Buffer.from(event.body.buffer, event.body.byteOffset, event.body.byteLength),
      timestamp: String(event.enqueuedTimeMs),
      headers: event.properties,
    };
    if (event.partitionKey === '') {
      message.partition = partition;
    } else {
      message.key = event.partitionKey;
      if (kafkaPartitionForKey(event.partitionKey, this.options.partitions) !== partition) this.misrouted++;
    }
    return message;
  }

  private async send(topic: string, messages: Message[]): Promise<void> {
    const results = await step(`producing to ${topic}`, () => this.producer.send({ topic, messages, acks: -1 }));
    const counts = (this.produced[topic] ??= {});
    // kafkajs reports one base offset per partition; the records per partition come from the placement itself.
    const perPartition = new Map<number, number>();
    for (const message of messages) {
      const placed = message.partition ?? kafkaPartitionForKey(message.key as string, this.options.partitions);
      perPartition.set(placed, (perPartition.get(placed) ?? 0) + 1);
    }
    for (const result of results) {
      if (result.errorCode !== 0) throw new TributaryError('BROKER_PERMANENT', `kafka: producing to ${topic}/${result.partition}: error code ${result.errorCode}`);
    }
    for (const [placed, count] of perPartition) counts[String(placed)] = (counts[String(placed)] ?? 0) + count;
  }
}

function recordSize(event: GeneratedEvent): number {
  let size = RECORD_OVERHEAD_BYTES + event.body.byteLength + event.partitionKey.length;
  for (const name in event.properties) size += name.length + event.properties[name]!.length;
  return size;
}

async function ensureTopics(admin: Admin, topics: string[], partitions: number, log: Logger, deadlineMs: number): Promise<void> {
  const existing = new Set(await step('listing topics', () => admin.listTopics()));
  const missing = topics.filter((topic) => !existing.has(topic));
  if (missing.length > 0) {
    await step(`creating topics ${missing.join(', ')}`, () =>
      admin.createTopics({ topics: missing.map((topic) => ({ topic, numPartitions: partitions })), waitForLeaders: false }),
    );
    await step(`waiting for the leaders of ${missing.join(', ')}`, () => waitForLeaders(admin, missing, deadlineMs));
    log.info({ topics: missing, partitions }, 'created kafka topics');
  }
  const present = topics.filter((topic) => existing.has(topic));
  if (present.length === 0) return;
  const metadata = await step('reading topic metadata', () => admin.fetchTopicMetadata({ topics: present }));
  for (const topic of metadata.topics) {
    if (topic.partitions.length !== partitions) {
      throw new TributaryError(
        'CONFIG_INVALID',
        `kafka topic "${topic.name}" has ${topic.partitions.length} partitions; generate with --partitions ${topic.partitions.length} so keys land where the generator plans them`,
      );
    }
  }
}

/**
 * Waits until every partition of new topics has a leader. kafkajs's own `waitForLeaders` retries only
 * LEADER_NOT_AVAILABLE, but a KRaft broker of Kafka 4.x answers UNKNOWN_TOPIC_OR_PARTITION for a moment after
 * CreateTopics returns (its metadata image lags the controller); both are retriable, so both are waited out.
 */
async function waitForLeaders(admin: Admin, topics: string[], deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (let delay = 50; ; delay = Math.min(delay * 2, 1_000)) {
    try {
      const metadata = await admin.fetchTopicMetadata({ topics });
      if (metadata.topics.every((topic) => topic.partitions.length > 0 && topic.partitions.every((p) => p.leader >= 0))) return;
    } catch (error) {
      if ((error as { retriable?: unknown }).retriable !== true || Date.now() + delay > deadline) throw error;
    }
    if (Date.now() + delay > deadline) throw new TributaryError('BROKER_TRANSIENT', `no leader for every partition of ${topics.join(', ')} within ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

async function step<T>(what: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw translateKafkaError(error, what);
  }
}
