/**
 * `tributary replay-deadletters`: after the cause is fixed (a schema, a size limit, a producer), send dead-lettered
 * events back through the pipeline. Each record's original bytes, partition key, enqueued time and properties are
 * re-emitted, in their original partition and position order, to the configured Event Hubs or Kafka source, or
 * written as a new Capture archive (--out) for a capture-source run. They then get new positions; ids already
 * landed are still deduplicated within the dedup retention.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { TributaryConfig } from '../config/schema.js';
import { TributaryError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import type { GenTarget, GeneratedEvent } from '../gen/target.js';
import { CaptureTarget } from '../gen/targets/capture.js';
import { connectEventHubsTargetForSource } from '../gen/targets/eventhubs.js';
import { KafkaTarget } from '../gen/targets/kafka.js';
import { DEAD_LETTER_REASONS, decodeDeadLetters, type DeadLetterReason, type DeadLetterRecord } from '../sink/dead-letter.js';
import { LocalObjectStore } from '../sink/local-object-store.js';
import { configuredStore } from '../sink/store-factory.js';
import { checkStreams, parseReasons, reasonList } from './options.js';

export interface ReplayOptions {
  config: string;
  stream?: string;
  /** comma-separated text (validated here) or reasons already parsed */
  reason?: string | readonly DeadLetterReason[];
  out?: string;
  namespace: string;
}

export async function replayDeadLetters(options: ReplayOptions): Promise<{ replayed: Map<string, number> }> {
  const config = await loadConfig(options.config);
  const reasons = typeof options.reason === 'string' ? parseReasons(options.reason) : options.reason;
  if (options.stream !== undefined) checkStreams(config, [options.stream]);
  const streams = options.stream ? [options.stream] : Object.keys(config.streams);
  const store = configuredStore(config, config.deadLetter);
  const byStreamPartition = new Map<string, DeadLetterRecord[]>();
  for (const stream of streams) {
    for (const object of await store.list(`${stream}/`)) {
      for (const record of decodeDeadLetters((await store.get(object.key)) ?? new Uint8Array())) {
        if (reasons && !reasons.includes(record.reason)) continue;
        const key = `${record.stream}\u0000${record.partition}`;
        byStreamPartition.set(key, [...(byStreamPartition.get(key) ?? []), record]);
      }
    }
  }
  const partitions = Math.max(1, ...[...byStreamPartition.values()].map((records) => Number(records[0]!.partition) + 1));
  const target = await openTarget(config, streams, options, partitions);
  const replayed = new Map<string, number>();
  try {
    for (const [key, records] of byStreamPartition) {
      const [stream, partition] = key.split('\u0000') as [string, string];
      records.sort((a, b) => a.position - b.position);
      const events: GeneratedEvent[] = records.map((record) => ({
        body: Buffer.from(record.body, 'base64'),
        partitionKey: record.partitionKey ?? '',
        enqueuedTimeMs: Date.parse(record.enqueuedTime),
        properties: Object.fromEntries(Object.entries(record.properties).map(([name, value]) => [name, String(value)])),
      }));
      await target.write(stream, partition, events);
      replayed.set(stream, (replayed.get(stream) ?? 0) + events.length);
    }
  } finally {
    await target.close();
  }
  return { replayed };
}

async function openTarget(config: TributaryConfig, streams: string[], options: ReplayOptions, partitions: number): Promise<GenTarget> {
  const source = config.source;
  if (options.out !== undefined) {
    return new CaptureTarget({ store: new LocalObjectStore(options.out), namespace: options.namespace, hubs: Object.fromEntries(streams.map((s) => [s, s])) });
  }
  const log = createLogger();
  if (source.kind === 'eventhubs') return connectEventHubsTargetForSource(source, { partitions, log, routing: 'partition' });
  if (source.kind === 'kafka') return KafkaTarget.connect({ source, partitions, log });
  throw new TributaryError('CONFIG_INVALID', 'a capture source cannot be written to: pass --out <folder> to write the dead letters as a new Capture archive');
}

export function registerReplayDeadLettersCommand(program: Command): void {
  program
    .command('replay-deadletters')
    .description('send dead-lettered events back through the pipeline (to the Event Hubs / Kafka source, or --out as a Capture archive)')
    .requiredOption('-c, --config <file>', 'YAML config file')
    .option('--stream <name>', 'only this stream')
    .option('--reason <list>', `only these reasons, comma-separated (${DEAD_LETTER_REASONS.join(', ')})`, reasonList)
    .option('--out <dir>', 'write a Capture archive into this folder instead of sending to the source')
    .option('--namespace <name>', 'Capture namespace folder for --out', 'replay')
    .action(async (opts: ReplayOptions) => {
      const { replayed } = await replayDeadLetters(opts);
      for (const [stream, count] of replayed) process.stdout.write(`${stream}: ${count} dead letters replayed\n`);
      if (replayed.size === 0) process.stdout.write('no dead letters matched\n');
    });
}
