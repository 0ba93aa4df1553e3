/**
 * A bounded replay of a range of history into another lake (`tributary run --bounded --from --until --lake`), for
 * a backfill or a what-if with a changed config. Per partition the range is [from, until) in positions (a time
 * means the first event enqueued at or after it). The replay starts at the newest snapshot at or before `from`,
 * restored from the main state (which it never writes), reads on to the end of the cell holding `until - 1`, and
 * runs in a scratch folder. It then copies into the target only the files it wrote whole:
 *
 * - raw files and dead letters of the cells that overlap the range (the last one is complete: the range is
 *   rounded up to a cell boundary);
 * - aggregate files whose last write was a commit, not the final flush: a span written at the flush still has
 *   open windows whose later events lie past the range.
 *
 * With the same config, every file copied is byte-identical to the main lake's file of that name. Sources: a
 * Capture archive; a Kafka topic read as a one-off consumer group that is deleted afterwards (the main group's
 * offsets stay where they are); an Event Hubs hub read through a consumer group the user names (--consumer-group:
 * the data plane cannot create one), without the checkpoint store, so no ownership record, owner level or
 * checkpoint touches any group, and stopping at each partition's range end.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { StoreConfig, TributaryConfig } from '../config/schema.js';
import { TributaryError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { ObjectStore } from '../core/object-store.js';
import type { PartitionBatch, PartitionFeed, PartitionHandler, ResumePoint, RunOptions, Source } from '../core/source.js';
import { CapturePositions } from '../ingest/capture/positions.js';
import { hubPlans } from '../ingest/eventhubs/config.js';
import type { PipelineObserver } from '../runtime/observer.js';
import { loadStreamPlans } from '../runtime/stream-plan.js';
import { runWorker, type RunSummary, type WorkerOptions } from '../runtime/worker.js';
import { snapshotKey } from '../sink/lake-layout.js';
import { LocalObjectStore } from '../sink/local-object-store.js';
import { ObjectCheckpointStore } from '../sink/object-checkpoint-store.js';
import { configuredStore } from '../sink/store-factory.js';
import { planReset, type ResetTarget } from './reset-plan.js';
import { SnapshotStore } from './snapshot-store.js';
import type { SourcePositions } from './source-positions.js';

export interface RangeReplayOptions {
  /** a position (integer) or an ISO 8601 time */
  from: string;
  until: string;
  /** the target lake: a folder, or a container of the configured blob account when the lake is on blob */
  lake: string;
  /** where the range's dead letters go (not written when absent) */
  deadLetter?: string;
  /** Event Hubs only: the consumer group the replay reads through (not the main run's) */
  consumerGroup?: string;
  signal: AbortSignal;
  log: Logger;
  observers?: PipelineObserver[];
  /** wraps each store the replay's run uses (tests inject faults here), as WorkerOptions.wrapStore */
  wrapStore?: WorkerOptions['wrapStore'];
}

export interface RangeReplaySummary extends RunSummary {
  /** files copied into the target lake (and dead-letter store) */
  copied: string[];
}

type Bound = { position: number } | { timeMs: number };

function parseBound(flag: string, text: string): Bound {
  if (/^\d+$/.test(text)) return { position: Number(text) };
  const timeMs = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(timeMs)) {
    throw new TributaryError('CONFIG_INVALID', `${flag}: expected a position (integer) or an ISO 8601 time such as 2026-01-01T12:00:00Z, got "${text}"`);
  }
  return { timeMs };
}

/** The same kind of store as `like`, at another folder or container. */
function storeLike(like: StoreConfig, where: string): StoreConfig {
  return like.kind === 'blob' ? { ...like, container: where, prefix: '' } : { kind: 'local', path: where };
}

const POSITION_IN_NAME = /-pos(\d{16})(?:-part\d+)?\.(?:parquet|jsonl)$/;

/**
 * The positions the range is planned with (read only: the main group is never moved), the source config the
 * replay reads with, and what to clean up after it. A Kafka replay reads as a one-off consumer group of its own,
 * deleted afterwards: the main group's committed offsets are not touched, and a partition without a snapshot
 * starts at the earliest offset, as the range's plan does.
 */
interface RangeReader {
  positions: SourcePositions;
  source: TributaryConfig['source'];
  cleanup: () => Promise<void>;
  /** the source to read the range with, when not the configured one built from `source` (the worker makes that) */
  open?: (log: Logger, until: (stream: string, partition: string) => number | undefined) => Promise<Source>;
}

async function rangeSource(config: TributaryConfig, mainState: ObjectStore, log: Logger, consumerGroup: string | undefined): Promise<RangeReader> {
  const source = config.source;
  if (consumerGroup !== undefined && source.kind !== 'eventhubs') {
    throw new TributaryError('CONFIG_INVALID', `--consumer-group: only an Event Hubs range replay reads through a named consumer group; a ${source.kind} replay needs none`);
  }
  switch (source.kind) {
    case 'capture': {
      const archive = { store: configuredStore(config, source.store), namespace: source.namespace, hubs: source.hubs };
      return { positions: new CapturePositions(archive, new ObjectCheckpointStore(mainState), undefined), source, cleanup: async () => undefined };
    }
    case 'kafka': {
      const { KafkaPositions } = await import('../ingest/kafka/positions.js');
      const positions = new KafkaPositions(source, { log });
      const groupId = `${source.groupId}-range-${randomBytes(4).toString('hex')}`;
      const cleanup = async (): Promise<void> => {
        const oneOff = new KafkaPositions(source, { log }, groupId);
        try {
          // the group exists only once the replay committed; a replay that failed before may leave none
          if ((await oneOff.activeMembers()).state !== 'Dead') await oneOff.deleteGroup();
        } finally {
          await oneOff.close();
        }
      };
      return { positions, source: { ...source, groupId, startFrom: 'earliest' }, cleanup };
    }
    case 'eventhubs': {
      // The data plane cannot create a consumer group, and readers on the main group would take the main run's
      // partitions (the SDK gives readers with a checkpoint store an owner level): the user names a group of its
      // own, read without any checkpoint store. Names of groups are case-insensitive in Event Hubs.
      if (consumerGroup === undefined || consumerGroup === '') {
        throw new TributaryError(
          'CONFIG_INVALID',
          `--consumer-group: an Event Hubs range replay reads through a consumer group of its own, which Tributary cannot create (the data plane cannot); create one on the hub (portal, az eventhubs eventhub consumer-group create) and pass --consumer-group NAME`,
        );
      }
      if (consumerGroup.toLowerCase() === source.consumerGroup.toLowerCase()) {
        throw new TributaryError(
          'CONFIG_INVALID',
          `--consumer-group: "${consumerGroup}" is the main run's group (source.consumerGroup); a replay reading it would take partitions from the running workers: name another group`,
        );
      }
      // Partitions without a snapshot start at the earliest event, as the range's plan does: no configured start.
      const hubs = Object.fromEntries(hubPlans(source).map((plan) => [plan.stream, plan.hub]));
      const replaySource = { ...source, consumerGroup, hubs, startPosition: 'earliest' as const };
      const { EventHubsPositions } = await import('../ingest/eventhubs/positions.js');
      const { EventHubsSource } = await import('../ingest/eventhubs/source.js');
      return {
        positions: new EventHubsPositions(replaySource, undefined, true),
        source: replaySource,
        cleanup: async () => undefined,
        open: async (sourceLog, until) => new EventHubsSource({ config: replaySource, log: sourceLog.child({ component: 'eventhubs-source' }), detached: true, until }),
      };
    }
  }
}

export async function runRange(config: TributaryConfig, options: RangeReplayOptions): Promise<RangeReplaySummary> {
  const from = parseBound('--from', options.from);
  const until = parseBound('--until', options.until);
  const plans = await loadStreamPlans(config);
  const mainState = configuredStore(config, config.state);
  const snapshots = new SnapshotStore(mainState);
  const reader = await rangeSource(config, mainState, options.log, options.consumerGroup);
  const { positions, cleanup } = reader;
  try {
    return await replay(config, options, { from, until, plans, mainState, snapshots, reader });
  } finally {
    try {
      await cleanup();
    } finally {
      await positions.close?.();
    }
  }
}

async function replay(
  config: TributaryConfig,
  options: RangeReplayOptions,
  context: {
    from: Bound;
    until: Bound;
    plans: Awaited<ReturnType<typeof loadStreamPlans>>;
    mainState: ObjectStore;
    snapshots: SnapshotStore;
    reader: RangeReader;
  },
): Promise<RangeReplaySummary> {
  const { from, until, plans, mainState, snapshots, reader } = context;
  const { positions } = reader;
  const target: ResetTarget = 'position' in from ? { kind: 'offset', position: from.position } : { kind: 'datetime', timeMs: from.timeMs };
  const rows = await planReset({
    plans,
    streams: Object.keys(config.streams),
    partitions: undefined,
    target,
    freshState: false,
    positions,
    snapshots,
    lake: configuredStore(config, config.lake),
    deadLetters: configuredStore(config, config.deadLetter),
    processing: config.processing,
  });
  const cell = config.processing.rowsPerFile;
  const scratch = await mkdtemp(path.join(tmpdir(), 'tributary-range-'));
  try {
    const scratchState = new LocalObjectStore(path.join(scratch, 'state'));
    /** per stream/partition: cells [fromCell, endCell) are the range's */
    const ranges = new Map<string, { fromCell: number; endCell: number }>();
    for (const row of rows) {
      const end = 'position' in until ? until.position : await positions.positionAtTime(row.stream, row.partition, until.timeMs);
      const fromCell = Math.floor(row.target / cell) * cell;
      const endCell = Math.ceil(end / cell) * cell;
      if (row.state === 'empty' && row.start > 0 && row.target < row.start) {
        throw new TributaryError('CONFIG_INVALID', `--from: ${row.stream}/${row.partition} has no snapshot at or before position ${row.target}`);
      }
      ranges.set(`${row.stream}/${row.partition}`, { fromCell, endCell: Math.max(endCell, fromCell) });
      if (row.state === 'snapshot') {
        // Read whole (manifest and dedup segments) and written whole into the scratch state.
        const key = snapshotKey(row.stream, row.partition, row.start);
        const snapshot = await snapshots.read({ key });
        if (!snapshot) throw new TributaryError('INPUT_MISSING', `${mainState.location}/${key} disappeared while preparing the range replay`);
        await new SnapshotStore(scratchState).write(snapshot);
      }
    }
    const scratchConfig: TributaryConfig = {
      ...config,
      source: reader.source,
      lake: { kind: 'local', path: path.join(scratch, 'lake') },
      deadLetter: { kind: 'local', path: path.join(scratch, 'deadletter') },
      state: { kind: 'local', path: path.join(scratch, 'state') },
    };
    const tableStream = new Map<string, string>();
    for (const plan of plans.values()) {
      for (const table of [plan.raw.name, ...plan.aggregations.flatMap((a) => [a.spec.name, a.lateSchema.name])]) tableStream.set(table, plan.stream);
    }
    const tracker = new FlushTracker(tableStream);
    // Capture and Kafka sources are made by the worker, as in a run (the archive store through the run's store
    // wrapper; Kafka told where each partition's range ends, so it reads no further); the Event Hubs reader is
    // opened here, cut at the range's end.
    const cut = (inner: Source): Source => new RangeSource(inner, ranges, tracker);
    const rangeEnd = (stream: string, partition: string): number | undefined => ranges.get(`${stream}/${partition}`)?.endCell;
    const source = reader.open ? { source: cut(await reader.open(options.log, rangeEnd)) } : { wrapSource: cut, until: rangeEnd };
    const summary = await runWorker(scratchConfig, {
      bounded: true,
      signal: options.signal,
      log: options.log,
      ...source,
      observers: [tracker, ...(options.observers ?? [])],
      ...(options.wrapStore ? { wrapStore: options.wrapStore } : {}),
    });

    const copied: string[] = [];
    const inRange = (stream: string, key: string): boolean => {
      const partition = /\/partition=(\d+)\//.exec(key)?.[1];
      const match = POSITION_IN_NAME.exec(key);
      const range = ranges.get(`${stream}/${partition}`);
      return Boolean(match && range && Number(match[1]) >= range.fromCell && Number(match[1]) < range.endCell);
    };
    const copy = async (fromStore: ObjectStore, toStore: ObjectStore, keep: (key: string) => boolean): Promise<void> => {
      for (const object of await fromStore.list('')) {
        if (!keep(object.key)) continue;
        await toStore.put(object.key, (await fromStore.get(object.key))!, object.metadata);
        copied.push(object.key);
      }
    };
    const targetLake = configuredStore(config, storeLike(config.lake, options.lake));
    // tables whose files are named by position cell: raw files and each aggregation's late events
    const rawTables = new Set([...plans.values()].flatMap((p) => [p.raw.name, ...p.aggregations.map((a) => a.lateSchema.name)]));
    await copy(new LocalObjectStore(path.join(scratch, 'lake')), targetLake, (key) => {
      const table = key.split('/')[0]!;
      if (rawTables.has(table)) return inRange(tableStream.get(table)!, key);
      return tableStream.has(table) && !tracker.lastWrittenByFlush.has(key);
    });
    if (options.deadLetter) {
      await copy(new LocalObjectStore(path.join(scratch, 'deadletter')), configuredStore(config, storeLike(config.deadLetter, options.deadLetter)), (key) => inRange(key.split('/')[0]!, key));
    }
    return { ...summary, lake: targetLake.location, copied };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Which files were last written by a partition's final flush (their open windows make them partial). */
class FlushTracker implements PipelineObserver {
  readonly lastWrittenByFlush = new Set<string>();
  private readonly flushing = new Set<string>();

  constructor(private readonly tableStream: Map<string, string>) {}

  flushStarts(stream: string, partition: string): void {
    this.flushing.add(`${stream}/${partition}`);
  }

  fileWritten(table: string, key: string): void {
    const partition = /\/partition=(\d+)\//.exec(key)?.[1];
    if (this.flushing.has(`${this.tableStream.get(table)}/${partition}`)) this.lastWrittenByFlush.add(key);
    else this.lastWrittenByFlush.delete(key);
  }

  eventsIn(): void {}
  duplicates(): void {}
  rowsLanded(): void {}
  deadLettered(): void {}
  batchProcessed(): void {}
  watermark(): void {}
  checkpointed(): void {}
}

/** The configured source, cut at each partition's range end and telling the tracker when the flush begins. */
class RangeSource implements Source {
  readonly description: string;

  constructor(
    private readonly inner: Source,
    private readonly ranges: Map<string, { endCell: number }>,
    private readonly tracker: FlushTracker,
  ) {
    this.description = `${inner.description} (range)`;
  }

  run(handler: PartitionHandler, options: RunOptions): Promise<void> {
    const { ranges, tracker } = this;
    const cut: PartitionHandler = {
      onAssigned: (stream: string, partition: string, feed: PartitionFeed): Promise<ResumePoint> => handler.onAssigned(stream, partition, feed),
      onBatch: (batch: PartitionBatch): Promise<void> => {
        const end = ranges.get(`${batch.stream}/${batch.partition}`)?.endCell ?? 0;
        return handler.onBatch({ ...batch, events: batch.events.filter((e) => e.position < end) });
      },
      onRevoked: (stream, partition, reason) => handler.onRevoked(stream, partition, reason),
      ...(handler.onReadFailed ? { onReadFailed: handler.onReadFailed.bind(handler) } : {}),
      // Marked when the source reports catching up: a commit still in flight then is counted with the flush,
      // which only ever leaves a whole file out, never lets a partial one in.
      onCaughtUp: async (stream: string, partition: string): Promise<void> => {
        tracker.flushStarts(stream, partition);
        await handler.onCaughtUp?.(stream, partition);
      },
    };
    return this.inner.run(cut, options);
  }
}
