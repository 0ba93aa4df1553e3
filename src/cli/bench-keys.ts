/**
 * `tributary bench keys`: compare candidate partition keys on a sample of events before the hub is created.
 *
 *   tributary bench keys --config tributary.yaml --input data/capture --keys customerId,channel,none \
 *     --partitions 4,8,32 --out bench/keys/
 */
import path from 'node:path';
import { Option, type Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { byteSize } from '../config/units.js';
import { TributaryError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { runKeyBenchmark, type SampleInput } from '../partition/bench-keys.js';
import { parseGenInput } from '../partition/gen-sample.js';
import type { PartitionHash } from '../partition/key-candidate.js';
import { renderTerminal } from '../partition/report.js';
import { EVENT_HUBS_STANDARD_LIMIT, type PartitionLimit } from '../partition/skew.js';
import { packageRoot } from './version.js';

/** Where reports go by default: git ignores bench/out/, so a run never leaves tracked files modified. */
export const DEFAULT_OUT_DIR = 'bench/out/keys';
/** The committed example the README links, rewritten only with --update-example. */
export const EXAMPLE_DIR = 'bench/keys';

/** --out, else the committed example (in the repository, wherever the command runs) with --update-example, else bench/out/keys. */
export function outputDir(options: Pick<BenchKeysCommandOptions, 'out' | 'updateExample'>): string {
  if (options.out !== undefined) return options.out;
  if (options.updateExample) return path.join(packageRoot() ?? '.', EXAMPLE_DIR);
  return DEFAULT_OUT_DIR;
}

export interface BenchKeysCommandOptions {
  config: string;
  input: string;
  keys: string;
  partitions: string;
  out?: string;
  updateExample?: boolean;
  stream?: string;
  hash: string;
  limitEvents: string;
  limitBytes: string;
  maxEvents: string;
  measurePartitions?: string;
  offeredLoad: string;
  batchSize?: string;
  title?: string;
  quiet?: boolean;
}

const positiveInt = (flag: string, text: string): number => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new TributaryError('CONFIG_INVALID', `${flag}: "${text}" is not a positive integer`);
  return value;
};

const nonNegativeInt = (flag: string, text: string): number => {
  const value = /^\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value)) throw new TributaryError('CONFIG_INVALID', `${flag}: "${text}" is not an integer >= 0`);
  return value;
};

const positiveNumber = (flag: string, text: string): number => {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new TributaryError('CONFIG_INVALID', `${flag}: "${text}" is not a positive number`);
  return value;
};

export function parseInput(text: string): SampleInput {
  if (text === 'source') return { kind: 'configured-source' };
  if (text === 'gen' || text.startsWith('gen:')) return { kind: 'gen', settings: parseGenInput(text) };
  return { kind: 'path', path: text };
}

function parseLimit(options: BenchKeysCommandOptions): PartitionLimit {
  const eventsPerSecond = positiveNumber('--limit-events', options.limitEvents);
  const parsed = byteSize.safeParse(/^\d+$/.test(options.limitBytes) ? Number(options.limitBytes) : options.limitBytes);
  if (!parsed.success) throw new TributaryError('CONFIG_INVALID', `--limit-bytes: "${options.limitBytes}" is not a size such as 1MiB`);
  const isDefault = eventsPerSecond === EVENT_HUBS_STANDARD_LIMIT.eventsPerSecond && parsed.data === EVENT_HUBS_STANDARD_LIMIT.bytesPerSecond;
  return isDefault
    ? EVENT_HUBS_STANDARD_LIMIT
    : { eventsPerSecond, bytesPerSecond: parsed.data, label: `custom (${eventsPerSecond} events/s, ${parsed.data} bytes/s per partition)` };
}

/** The command line as typed, for the report's "Regenerate" section. */
function commandLine(options: BenchKeysCommandOptions): string {
  const parts = ['tributary bench keys', `--config ${options.config}`, `--input ${options.input}`, `--keys ${options.keys}`, `--partitions ${options.partitions}`];
  if (options.stream) parts.push(`--stream ${options.stream}`);
  if (options.hash !== 'eventhubs') parts.push(`--hash ${options.hash}`);
  if (options.measurePartitions !== undefined) parts.push(`--measure-partitions ${options.measurePartitions}`);
  if (options.out) parts.push(`--out ${options.out}`);
  if (options.updateExample) parts.push('--update-example');
  return parts.join(' ');
}

export async function benchKeysFromCli(options: BenchKeysCommandOptions): Promise<string> {
  if (options.hash !== 'eventhubs' && options.hash !== 'kafka') {
    throw new TributaryError('CONFIG_INVALID', `--hash: "${options.hash}" is not one of eventhubs, kafka`);
  }
  const config = await loadConfig(options.config);
  const log = createLogger(process.env.TRIBUTARY_LOG_LEVEL || (options.quiet ? 'warn' : 'info'));
  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals): void => controller.abort(new Error(`received ${signal}`));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    const { report, files } = await runKeyBenchmark({
      config,
      input: parseInput(options.input),
      keys: options.keys,
      partitionCounts: options.partitions.split(',').filter((p) => p.trim() !== '').map((p) => positiveInt('--partitions', p.trim())),
      ...(options.stream ? { stream: options.stream } : {}),
      hash: options.hash as PartitionHash,
      limit: parseLimit(options),
      maxEvents: positiveInt('--max-events', options.maxEvents),
      ...(options.measurePartitions !== undefined ? { measurePartitions: nonNegativeInt('--measure-partitions', options.measurePartitions) } : {}),
      offeredLoad: positiveNumber('--offered-load', options.offeredLoad),
      ...(options.batchSize ? { batchSize: positiveInt('--batch-size', options.batchSize) } : {}),
      outDir: outputDir(options),
      ...(options.title ? { title: options.title } : {}),
      command: commandLine(options),
      signal: controller.signal,
      log,
      ...(options.quiet ? {} : { onProgress: (line: string) => process.stderr.write(`${line}\n`) }),
    });
    const written = files.length > 0 ? `\nwrote ${files.join(', ')}\n` : '';
    return `${renderTerminal(report)}${written}`;
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}

/** Adds `bench keys` to the program (creating the `bench` group if no other benchmark created it). */
export function registerBenchKeysCommand(program: Command): void {
  const bench = program.commands.find((c) => c.name() === 'bench') ?? program.command('bench').description('benchmarks');
  bench
    .command('keys')
    .description('compare candidate partition keys on a sample: skew, ordering, aggregation alignment, throughput ceiling, and a measured run')
    .requiredOption('-c, --config <file>', 'YAML config file (streams, schemas, aggregations)')
    .requiredOption('-i, --input <input>', 'sample: a Capture archive folder, an Avro object container file, "source" (the configured Capture source), or "gen[:events=50000,keys=50000,distribution=zipf,skew=0.8,seed=42]" (the synthetic generator)')
    .requiredOption('-k, --keys <list>', 'candidate keys, comma-separated: a field, fields joined by "+", or "none" (round-robin)')
    .option('-p, --partitions <list>', 'partition counts, comma-separated', '4,8,32')
    .addOption(new Option('-o, --out <dir>', `write report.md, load-per-partition.svg and report.json here (default: ${DEFAULT_OUT_DIR}/, which git ignores)`))
    .addOption(new Option('--update-example', `write the committed example in ${EXAMPLE_DIR}/ instead (the report the README links)`).conflicts('out'))
    .option('-s, --stream <name>', 'stream of the sample (default: the first configured stream)')
    .option('--hash <kind>', 'key -> partition mapping: eventhubs (service hash) or kafka (murmur2 default partitioner)', 'eventhubs')
    .option('--limit-events <n>', 'per-partition ingress limit in events/s (default: Event Hubs Standard)', String(EVENT_HUBS_STANDARD_LIMIT.eventsPerSecond))
    .option('--limit-bytes <size>', 'per-partition ingress limit in bytes/s, e.g. 1MiB (default: Event Hubs Standard)', '1MiB')
    .option('--max-events <n>', 'read at most this many events into the sample', '200000')
    .option('--measure-partitions <n>', 'partition count of the measured run; 0 = arithmetic only (default: the largest of --partitions)')
    .option('--offered-load <x>', 'measured run: arrivals per round as a share of balanced capacity', '0.8')
    .option('--batch-size <n>', 'measured run: events per partition per round (default: sized so the sample spans ~20 rounds)')
    .option('--title <text>', 'report title')
    .option('-q, --quiet', 'no progress lines', false)
    .action(async (opts: BenchKeysCommandOptions) => {
      process.stdout.write(await benchKeysFromCli(opts));
    });
}
