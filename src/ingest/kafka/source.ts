/**
 * The Kafka source: any Kafka cluster or the Event Hubs Kafka endpoint, through a kafkajs consumer group (one
 * group per deployment, one topic per stream). See group-run.ts for how assignment, backpressure, revocation and
 * commits map onto the PartitionHandler contract.
 */
import type { TokenCredential } from '@azure/identity';
import { Kafka, type Admin, type RetryOptions } from 'kafkajs';
import { TributaryError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { PartitionHandler, RunOptions, Source } from '../../core/source.js';
import { kafkaClientConfig } from './client.js';
import type { KafkaSourceConfig } from './config.js';
import { isAuthenticationError, translateKafkaError } from './errors.js';
import { GroupRun } from './group-run.js';
import type { LaneStats } from './lane.js';

export interface KafkaSourceOptions {
  config: KafkaSourceConfig;
  /** most events handed to one onBatch call (processing.batchSize) */
  batchSize: number;
  log: Logger;
  /** OAUTHBEARER credential; DefaultAzureCredential when not given */
  credential?: TokenCredential;
  /** where sasl.passwordEnv is looked up; process.env when not given */
  env?: Readonly<Record<string, string | undefined>>;
  /** kafkajs's per-operation retry policy; its defaults when not given */
  retry?: RetryOptions;
  /**
   * Bounded runs: per partition, where to stop when that comes before the partition's high-water mark at the start
   * (a range replay's end), so a short range of a long topic is not read to the topic's end. The partition is done
   * once everything below it is processed; nothing at or past it is handed over (a fetch in flight may read a little
   * past it).
   */
  until?: (stream: string, partition: string) => number | undefined;
}

export class KafkaSource implements Source {
  readonly description: string;
  private current: GroupRun | undefined;

  constructor(private readonly options: KafkaSourceOptions) {
    const { config } = options;
    this.description = `kafka ${config.brokers.join(',')} group ${config.groupId} topics ${Object.values(config.topics).join(',')}`;
  }

  /** Per owned partition: queue depth, pause state, positions (for metrics and tests). */
  stats(): LaneStats[] {
    return this.current?.stats() ?? [];
  }

  async run(handler: PartitionHandler, { signal, bounded }: RunOptions): Promise<void> {
    const { config, log } = this.options;
    const kafka = new Kafka(kafkaClientConfig(config, { log, credential: this.options.credential, env: this.options.env, retry: this.options.retry }));
    const streams = new Map(Object.entries(config.topics).map(([stream, topic]) => [topic, stream]));
    const admin = kafka.admin();
    await this.step(`connecting to ${config.brokers.join(',')}`, () => admin.connect());
    try {
      await this.checkTopics(admin);
      const targets = bounded ? await this.step('reading high-water marks', () => highWaterMarks(admin, [...streams.keys()])) : undefined;
      const consumer = kafka.consumer({
        groupId: config.groupId,
        sessionTimeout: config.sessionTimeout,
        rebalanceTimeout: config.rebalanceTimeout,
        heartbeatInterval: config.heartbeatInterval,
        minBytes: config.fetch.minBytes,
        maxBytes: config.fetch.maxBytes,
        maxBytesPerPartition: config.fetch.maxBytesPerPartition,
        maxWaitTimeInMs: config.fetch.maxWait,
        allowAutoTopicCreation: false,
        // Bad credentials do not get better by retrying: let the run fail with the authentication error.
        retry: { ...this.options.retry, restartOnFailure: async (error: Error) => !isAuthenticationError(error) },
      });
      try {
        await this.step(`connecting the consumer of group ${config.groupId}`, () => consumer.connect());
        for (const topic of streams.keys()) {
          await this.step(`subscribing to ${topic}`, () => consumer.subscribe({ topic, fromBeginning: config.startFrom === 'earliest' }));
        }
      } catch (error) {
        await consumer.disconnect().catch((cleanup: unknown) => log.warn({ err: cleanup }, 'kafka consumer did not disconnect cleanly'));
        throw error;
      }
      const run = new GroupRun({
        consumer,
        admin,
        groupId: config.groupId,
        streams,
        startFrom: config.startFrom,
        handler,
        signal,
        targets,
        ...(bounded && this.options.until ? { until: this.options.until } : {}),
        batchSize: this.options.batchSize,
        maxQueuedEvents: config.maxQueuedEventsPerPartition ?? 4 * this.options.batchSize,
        log,
      });
      this.current = run;
      await run.run();
    } finally {
      this.current = undefined;
      await admin.disconnect();
    }
  }

  private async checkTopics(admin: Admin): Promise<void> {
    const existing = new Set(await this.step('listing topics', () => admin.listTopics()));
    for (const [stream, topic] of Object.entries(this.options.config.topics)) {
      if (!existing.has(topic)) {
        throw new TributaryError('INPUT_MISSING', `kafka topic "${topic}" (stream ${stream}) does not exist on ${this.options.config.brokers.join(',')}`);
      }
    }
  }

  private async step<T>(what: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw translateKafkaError(error, what);
    }
  }
}

async function highWaterMarks(admin: Admin, topics: string[]): Promise<Map<string, Map<number, number>>> {
  const targets = new Map<string, Map<number, number>>();
  for (const topic of topics) {
    const offsets = await admin.fetchTopicOffsets(topic);
    targets.set(topic, new Map(offsets.map((o) => [o.partition, Number(o.high)])));
  }
  return targets;
}
