/**
 * `tributary gen`: write the config's streams as a synthetic Event Hubs Capture archive where its capture
 * source reads them. Progress goes to stderr, the summary to stdout (`--json` for a machine-readable one).
 *
 *   tributary gen --config examples/tributary.yaml --events 500000 --partitions 8 --distribution zipf --skew 0.8 \
 *     --duplicates 0.01 --out-of-order 0.01 --late 0.005 --corrupt 0.002 --seed 42 --overwrite
 */
import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { TributaryError } from '../core/errors.js';
import { generateArchive, type ArchiveSummary, type GenerateArchiveOptions } from '../gen/archive.js';
import { FAULT_KINDS } from '../gen/stream-generator.js';
import { LocalObjectStore } from '../sink/local-object-store.js';
import type { TributaryConfig } from '../config/schema.js';
import { createLogger } from '../core/log.js';
import { generateStreams, type GenerateHooks } from '../gen/generate.js';
import { parseGenOptions } from '../gen/options.js';
import type { GenTarget } from '../gen/target.js';
import { connectEventHubsTargetForSource } from '../gen/targets/eventhubs.js';
import { KafkaTarget } from '../gen/targets/kafka.js';
import { hubPlans } from '../ingest/eventhubs/config.js';
import { checkStreams } from './options.js';
import { Progress, defaultProgressMode, generationProgress } from './progress.js';

export interface GenCommandOptions {
  config: string;
  events: string;
  partitions: string;
  keyField?: string;
  distribution: string;
  skew: string;
  keys: string;
  hash: string;
  span: string;
  start: string;
  duplicates: string;
  outOfOrder: string;
  late: string;
  corrupt: string;
  seed: string;
  streams?: string;
  maxDuplicateDistance?: string;
  window: string;
  maxFileSize: string;
  codec: string;
  out?: string;
  overwrite: boolean;
  json: boolean;
  quiet: boolean;
}

function number(flag: string, text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) throw new TributaryError('CONFIG_INVALID', `${flag}: "${text}" is not a number`);
  return value;
}

/** `customerId` (every stream) or `orders=customerId,telemetry=siteId` (per stream). */
export function parseKeyField(text: string): string | Record<string, string> {
  if (!text.includes('=')) return text;
  const perStream: Record<string, string> = {};
  for (const pair of text.split(',').filter((p) => p.trim() !== '')) {
    const [stream, field, ...rest] = pair.split('=').map((s) => s.trim());
    if (!stream || !field || rest.length > 0) throw new TributaryError('CONFIG_INVALID', `--key-field: "${pair}" is not <stream>=<field>`);
    perStream[stream] = field;
  }
  return perStream;
}

/** Sizes and durations stay text so the config's units apply ("64MiB", "1h"); bare numbers are bytes / ms. */
const unit = (text: string): string | number => (/^\d+$/.test(text) ? Number(text) : text);

export function genOptionsFromCli(options: GenCommandOptions): Omit<GenerateArchiveOptions, 'store' | 'signal'> {
  return {
    events: number('--events', options.events),
    partitions: number('--partitions', options.partitions),
    ...(options.keyField !== undefined ? { keyField: parseKeyField(options.keyField) } : {}),
    distribution: options.distribution as 'uniform' | 'zipf',
    skew: number('--skew', options.skew),
    keys: number('--keys', options.keys),
    hash: options.hash as 'eventhubs' | 'kafka',
    span: unit(options.span),
    start: /^-?\d+$/.test(options.start) ? Number(options.start) : options.start,
    faults: {
      duplicate: number('--duplicates', options.duplicates),
      outOfOrder: number('--out-of-order', options.outOfOrder),
      late: number('--late', options.late),
      corrupt: number('--corrupt', options.corrupt),
    },
    seed: number('--seed', options.seed),
    ...(options.streams !== undefined ? { streams: options.streams.split(',').map((s) => s.trim()).filter((s) => s !== '') } : {}),
    ...(options.maxDuplicateDistance !== undefined ? { maxDuplicateDistance: number('--max-duplicate-distance', options.maxDuplicateDistance) } : {}),
    capture: { window: unit(options.window), maxFileBytes: unit(options.maxFileSize), codec: options.codec as 'deflate' | 'null' },
    overwrite: options.overwrite,
  };
}

export async function genFromCli(options: GenCommandOptions): Promise<ArchiveSummary> {
  const config = await loadConfig(options.config);
  const cliOptions = genOptionsFromCli(options);
  if (cliOptions.streams) checkStreams(config, cliOptions.streams, '--streams');
  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals): void => controller.abort(new Error(`received ${signal}`));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const progress = new Progress({ mode: defaultProgressMode(options.quiet) });
  const streams = cliOptions.streams ?? Object.keys(config.streams);
  const onProgress = generationProgress(progress, 'generating', streams, cliOptions.events ?? 0);
  try {
    const source = config.source;
    if (options.out !== undefined || source.kind === 'capture') {
      return await generateArchive(
        config,
        { ...genOptionsFromCli(options), ...(options.out !== undefined ? { store: new LocalObjectStore(options.out) } : {}), signal: controller.signal },
        onProgress,
      );
    }
    return await sendToBroker(config, options, { onProgress, signal: controller.signal });
  } finally {
    progress.end();
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}

/**
 * With an Event Hubs or Kafka source (and no --out), gen sends the streams to the hubs or topics that source
 * reads: Event Hubs by partition key through the producer client, Kafka through kafkajs's default partitioner.
 */
async function sendToBroker(config: TributaryConfig, options: GenCommandOptions, hooks: GenerateHooks): Promise<ArchiveSummary> {
  const source = config.source;
  const cliOptions = genOptionsFromCli(options);
  // Kafka places keyed records with murmur2; plan partitions the same way unless told otherwise.
  if (source.kind === 'kafka' && options.hash === 'eventhubs') cliOptions.hash = 'kafka';
  const parsed = parseGenOptions(cliOptions);
  const log = createLogger(process.env.TRIBUTARY_LOG_LEVEL || (options.quiet ? 'warn' : 'info'));
  let target: GenTarget;
  let location: string;
  let hubs: Record<string, string>;
  if (source.kind === 'eventhubs') {
    target = await connectEventHubsTargetForSource(source, { partitions: parsed.partitions, log });
    location = `event hubs ${source.fullyQualifiedNamespace ?? 'namespace of the connection string'}`;
    hubs = Object.fromEntries(hubPlans(source).map((plan) => [plan.stream, plan.hub]));
  } else if (source.kind === 'kafka') {
    target = await KafkaTarget.connect({ source, partitions: parsed.partitions, log });
    location = `kafka ${source.brokers.join(',')}`;
    hubs = source.topics;
  } else {
    throw new TributaryError('INTERNAL', `no broker target for source kind ${source.kind}`);
  }
  try {
    const report = await generateStreams(config, parsed, target, hooks);
    return { ...report, output: target.stats?.(), location, namespace: '', hubs };
  } finally {
    await target.close();
  }
}

const fmt = (n: number): string => n.toLocaleString('en-US');

function megabytes(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

export function formatGenSummary(summary: ArchiveSummary): string {
  const header = ['stream', 'hub', 'key field', 'events', 'delivered', 'duplicate', 'out-of-order', 'late', 'corrupt', 'files', 'size'];
  const rows = summary.streams.map((s) => {
    const output = summary.output?.byStream[s.stream];
    return [
      s.stream,
      summary.hubs[s.stream] ?? '',
      s.keyField ?? '(round-robin)',
      fmt(s.logicalEvents),
      fmt(s.deliveredEvents),
      ...FAULT_KINDS.map((kind) => fmt(s.faults[kind])),
      fmt(output?.files ?? 0),
      megabytes(output?.bytes ?? 0),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const seconds = summary.elapsedMs / 1000;
  const lines = [
    summary.namespace === '' ? `Sent to ${summary.location} (seed ${summary.seed})` : `Capture archive: ${summary.location}/${summary.namespace} (seed ${summary.seed})`,
    line(header),
    ...rows.map(line),
    '',
    'delivered events per partition:',
    ...summary.streams.map((s) => `  ${s.stream}: ${Object.entries(s.partitions).map(([p, n]) => `${p}=${fmt(n)}`).join(' ')}`),
    '',
    `total: ${fmt(summary.totals.logicalEvents)} events, ${fmt(summary.totals.deliveredEvents)} delivered, ` +
      `${fmt(summary.output?.files ?? 0)} files, ${megabytes(summary.output?.bytes ?? 0)} in ${seconds.toFixed(1)} s ` +
      `(${fmt(Math.round(summary.totals.deliveredEvents / Math.max(seconds, 1e-3)))} events/s)`,
  ];
  return lines.join('\n');
}

export function registerGenCommand(program: Command): void {
  program
    .command('gen')
    .description('generate the configured streams: a Capture archive (capture source, or --out), or sent to the Event Hubs / Kafka source')
    .option('-c, --config <file>', 'YAML config file', 'examples/tributary.yaml')
    .option('--events <n>', 'logical events per stream (duplicates come on top)', '100000')
    .option('--partitions <n>', 'partitions per hub', '8')
    .option('--key-field <field>', 'partition-key field: <path> for every stream, or <stream>=<path>,... (default: streams.<s>.partitionKey)')
    .option('--distribution <kind>', 'key distribution: uniform | zipf', 'uniform')
    .option('--skew <s>', 'Zipf exponent (P(rank k) ~ 1/k^s)', '1.1')
    .option('--keys <n>', 'distinct partition keys', '10000')
    .option('--hash <kind>', "key -> partition routing: eventhubs (Event Hubs' hash) | kafka (murmur2)", 'eventhubs')
    .option('--span <duration>', 'enqueued-time span of the events', '1h')
    .option('--start <time>', 'time of the first event (ISO 8601 or epoch ms)', '2024-01-01T00:00:00Z')
    .option('--duplicates <rate>', 'share of events delivered twice', '0.01')
    .option('--out-of-order <rate>', 'share of events behind their partition, within the allowed out-of-orderness', '0.01')
    .option('--late <rate>', 'share of events beyond the allowed out-of-orderness + lateness', '0.005')
    .option('--corrupt <rate>', 'share of events whose body cannot be decoded', '0.002')
    .option('--max-duplicate-distance <n>', 'a duplicate follows its original within this many positions')
    .option('--seed <n>', 'same seed and options, same bytes', '42')
    .option('--streams <list>', 'comma-separated streams to generate (default: all)')
    .option('--window <duration>', 'capture time window per file', '5m')
    .option('--max-file-size <size>', 'capture size window per file', '64MiB')
    .option('--codec <codec>', 'Avro block codec: deflate | null', 'deflate')
    .option('--out <dir>', 'write into this local folder instead of source.store')
    .option('--overwrite', 'replace an existing archive of the same hubs', false)
    .option('--json', 'print the summary as JSON', false)
    .option('-q, --quiet', 'no progress lines', false)
    .action(async (opts: GenCommandOptions) => {
      const summary = await genFromCli(opts);
      process.stdout.write(opts.json ? `${JSON.stringify(summary, null, 2)}\n` : `${formatGenSummary(summary)}\n`);
    });
}
