/**
 * `tributary reset`: move a consumer group's positions, and the state with them, modelled on
 * `kafka-consumer-groups.sh --reset-offsets`. A dry run by default: one row per stream and partition with the
 * current position, the target, where the replay really starts and why, the events it reads and the lake files it
 * rewrites. `--execute` applies it. `--forget-all` keeps the old behaviour: forget every snapshot and checkpoint
 * (and with --lake the streams' tables), for a replay from the start after a change of file layout.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { TributaryConfig } from '../config/schema.js';
import { checkStreams } from './options.js';
import { TributaryError, errorMessage } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import type { ObjectStore } from '../core/object-store.js';
import { CapturePositions } from '../ingest/capture/positions.js';
import { EventHubsPositions } from '../ingest/eventhubs/positions.js';
import { loadStreamPlans } from '../runtime/stream-plan.js';
import { ObjectCheckpointStore } from '../sink/object-checkpoint-store.js';
import { configuredStore } from '../sink/store-factory.js';
import { executeReset, planReset, type ResetRow, type ResetTarget } from '../state/reset-plan.js';
import { SnapshotStore, snapshotRetention } from '../state/snapshot-store.js';
import type { SourcePositions } from '../state/source-positions.js';

export interface ResetOptions {
  config: string;
  stream?: string;
  partitions?: string;
  toEarliest?: boolean;
  toLatest?: boolean;
  toDatetime?: string;
  toOffset?: string;
  shiftBy?: string;
  byDuration?: string;
  dryRun?: boolean;
  execute?: boolean;
  json?: boolean;
  freshState?: boolean;
  forgetAll?: boolean;
  lake?: boolean;
  yes?: boolean;
}

export function registerResetCommand(program: Command): void {
  program
    .command('reset')
    .description('move the consumer group (and the state with it) to replay history; a dry run unless --execute')
    .requiredOption('-c, --config <file>', 'YAML config file')
    .option('--stream <name>', 'only this stream')
    .option('--partitions <list>', 'only these partitions, comma-separated (0,3,5)')
    .option('--to-earliest', 'to the first event the source holds')
    .option('--to-latest', 'to the end of each partition (nothing is replayed)')
    .option('--to-datetime <iso>', 'to the first event enqueued at or after this time (ISO 8601)')
    .option('--to-offset <n>', 'to this position (sequence number / Kafka offset)')
    .option('--shift-by <n>', 'by this many positions from the current one (negative: back)')
    .option('--by-duration <iso-duration>', 'to the first event enqueued at or after now minus this ISO 8601 duration (PT1H, P1DT12H)')
    .option('--dry-run', 'show what would happen (the default)')
    .option('--execute', 'apply it')
    .option('--json', 'print the rows as a JSON array')
    .option('--fresh-state', "a target older than the retained snapshots starts at the source's start with empty state (instead of the oldest retained snapshot)")
    .option('--forget-all', 'forget every snapshot and checkpoint instead: the next run replays from the source start')
    .option('--lake', "with --forget-all: also delete the streams' tables and dead letters (needed when rowsPerFile, maxFileBytes or aggregateFileSpan changed)")
    .option('--yes', 'with --forget-all: the same as --execute')
    .action(async (opts: ResetOptions) => {
      const config = await loadConfig(opts.config);
      if (opts.dryRun && opts.execute) throw new TributaryError('CONFIG_INVALID', '--dry-run and --execute: choose one');
      if (opts.stream !== undefined) checkStreams(config, [opts.stream]);
      if (opts.forgetAll) return forgetAll(config, opts);
      const output = await resetGroup(config, opts);
      process.stdout.write(output);
    });
}

/** Plans (and with --execute applies) a reset; returns what to print. */
export async function resetGroup(config: TributaryConfig, opts: ResetOptions, nowMs = Date.now()): Promise<string> {
  if (opts.stream !== undefined) checkStreams(config, [opts.stream]);
  const target = parseTarget(opts, nowMs);
  const plans = await loadStreamPlans(config);
  const streams = opts.stream ? [opts.stream] : Object.keys(config.streams);
  const partitions = opts.partitions?.split(',').map((p) => p.trim());
  if (partitions?.some((p) => !/^\d+$/.test(p))) throw new TributaryError('CONFIG_INVALID', `--partitions: expected partition numbers separated by commas, got "${opts.partitions}"`);
  const state = configuredStore(config, config.state);
  const snapshots = new SnapshotStore(state, snapshotRetention(config.state.snapshotRetention));
  const positions = await sourcePositions(config, state);
  try {
    const rows = await planReset({
      plans,
      streams,
      partitions,
      target,
      freshState: Boolean(opts.freshState),
      positions,
      snapshots,
      lake: configuredStore(config, config.lake),
      deadLetters: configuredStore(config, config.deadLetter),
      processing: config.processing,
    });
    if (opts.execute) await executeReset(rows, positions, snapshots);
    if (opts.json) return `${JSON.stringify(rows, null, 2)}\n`;
    // A dry run on a live Kafka group says now what --execute would refuse.
    const refusal = opts.execute || !positions.refuseIfActive ? undefined : await positions.refuseIfActive().then(() => undefined, (error: unknown) => errorMessage(error));
    return formatRows(rows, positions, Boolean(opts.execute)) + (refusal ? `--execute would be refused now: ${refusal}\n` : '');
  } finally {
    await positions.close?.();
  }
}

async function sourcePositions(config: TributaryConfig, state: ObjectStore): Promise<SourcePositions> {
  const source = config.source;
  switch (source.kind) {
    case 'capture':
      return new CapturePositions({ store: configuredStore(config, source.store), namespace: source.namespace, hubs: source.hubs }, new ObjectCheckpointStore(state), state);
    case 'eventhubs':
      return new EventHubsPositions(source);
    case 'kafka': {
      // kafkajs loads only for a Kafka config, as the source does
      const { KafkaPositions } = await import('../ingest/kafka/positions.js');
      return new KafkaPositions(source, { log: createLogger('warn') });
    }
  }
}

function parseTarget(opts: ResetOptions, nowMs: number): ResetTarget {
  const given = (['toEarliest', 'toLatest', 'toDatetime', 'toOffset', 'shiftBy', 'byDuration'] as const).filter((k) => opts[k] !== undefined);
  if (given.length !== 1) {
    throw new TributaryError('CONFIG_INVALID', `reset needs exactly one of --to-earliest, --to-latest, --to-datetime, --to-offset, --shift-by, --by-duration (or --forget-all)${given.length > 1 ? `; got ${given.length}` : ''}`);
  }
  if (opts.toEarliest) return { kind: 'earliest' };
  if (opts.toLatest) return { kind: 'latest' };
  if (opts.toDatetime !== undefined) {
    const timeMs = Date.parse(opts.toDatetime);
    if (!/^\d{4}-\d{2}-\d{2}/.test(opts.toDatetime) || Number.isNaN(timeMs)) throw new TributaryError('CONFIG_INVALID', `--to-datetime: expected an ISO 8601 time such as 2026-01-01T12:00:00Z, got "${opts.toDatetime}"`);
    return { kind: 'datetime', timeMs };
  }
  if (opts.toOffset !== undefined) {
    if (!/^\d+$/.test(opts.toOffset)) throw new TributaryError('CONFIG_INVALID', `--to-offset: expected a non-negative integer, got "${opts.toOffset}"`);
    return { kind: 'offset', position: Number(opts.toOffset) };
  }
  if (opts.shiftBy !== undefined) {
    if (!/^[+-]?\d+$/.test(opts.shiftBy)) throw new TributaryError('CONFIG_INVALID', `--shift-by: expected an integer such as -1000, got "${opts.shiftBy}"`);
    return { kind: 'shift', by: Number(opts.shiftBy) };
  }
  return { kind: 'duration', ms: parseIsoDuration(opts.byDuration!), nowMs };
}

/** ISO 8601 durations as Kafka's tool takes them: PnDTnHnMnS (weeks and days included; no months or years). */
export function parseIsoDuration(text: string): number {
  const match = /^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(text);
  if (!match || text === 'P' || text.endsWith('T')) throw new TributaryError('CONFIG_INVALID', `--by-duration: expected an ISO 8601 duration such as PT1H or P1DT12H, got "${text}"`);
  const [, w, d, h, m, s] = match.map((v) => Number(v ?? 0));
  return Math.round((((w! * 7 + d!) * 24 + h!) * 60 + m!) * 60_000 + s! * 1000);
}

function formatRows(rows: ResetRow[], positions: SourcePositions, executed: boolean): string {
  const lines = [`${executed ? 'reset' : 'dry run (nothing changed; --execute applies it)'}: ${positions.description}`];
  if (positions.counting) lines.push(`(${positions.counting})`);
  lines.push(['STREAM', 'PARTITION', 'CURRENT', 'TARGET', 'START', 'EVENTS', 'REPLAYED', 'FILES'].join('\t'));
  for (const row of rows) {
    lines.push([row.stream, row.partition, row.current ?? '-', row.target, row.start, row.events, row.replayed, row.files.length].join('\t'));
  }
  for (const row of rows) {
    lines.push(`${row.stream}/${row.partition}: starts at ${row.start} with ${row.state === 'empty' ? 'empty state' : 'the snapshot of that position'}: ${row.why}`);
    for (const file of row.files) lines.push(`  rewrites ${file}`);
    for (const file of row.lessHistory) lines.push(`  rewritten from less history than it had: ${file}`);
  }
  return `${lines.join('\n')}\n`;
}

async function forgetAll(config: TributaryConfig, opts: ResetOptions): Promise<void> {
  const apply = Boolean(opts.execute || opts.yes);
  const plans = await loadStreamPlans(config);
  const streams = opts.stream ? [opts.stream] : Object.keys(config.streams);
  const targets: Array<{ store: ObjectStore; prefixes: string[] }> = [
    { store: configuredStore(config, config.state), prefixes: streams.flatMap((s) => [`snapshots/${s}/`, `checkpoints/${s}/`]) },
  ];
  if (opts.lake) {
    const tables = streams.flatMap((s) => {
      const plan = plans.get(s);
      return plan ? [plan.raw.name, ...plan.aggregations.map((a) => a.spec.name)] : [];
    });
    targets.push({ store: configuredStore(config, config.lake), prefixes: tables.map((t) => `${t}/`) });
    targets.push({ store: configuredStore(config, config.deadLetter), prefixes: streams.map((s) => `${s}/`) });
  }
  for (const { store, prefixes } of targets) {
    const objects = (await Promise.all(prefixes.map((prefix) => store.list(prefix)))).flat();
    if (apply) for (const { key } of objects) await store.delete(key);
    process.stdout.write(`${apply ? 'deleted' : 'would delete'} ${objects.length} objects in ${store.location} (${prefixes.join(' ')})\n`);
  }
  if (!apply) {
    process.stdout.write('nothing deleted; rerun with --execute\n');
    return;
  }
  if (config.source.kind !== 'capture') {
    process.stdout.write(`also move the ${config.source.kind} consumer group to the start (tributary reset --to-earliest --execute) to replay from there\n`);
  }
}
