/**
 * What a reset does, per stream and partition, before anything is changed: the group's current position, the
 * target as asked, where the replay really starts (the newest snapshotted cell boundary at or before the target,
 * so the state matches the position) and why, the events the replay reads, and the lake files it rewrites.
 * `executeReset` then applies it: snapshots after the start are deleted (the replay writes them again) and the
 * source's stored position moves to the start.
 */
import { restoreAggregator } from '../aggregate/aggregators.js';
import type { PartitionSnapshot } from '../aggregate/snapshot.js';
import { TributaryError } from '../core/errors.js';
import type { ObjectInfo, ObjectStore } from '../core/object-store.js';
import type { StreamPlan } from '../runtime/stream-plan.js';
import type { SnapshotStore } from './snapshot-store.js';
import type { SourcePositions } from './source-positions.js';

export type ResetTarget =
  | { kind: 'earliest' }
  | { kind: 'latest' }
  | { kind: 'datetime'; timeMs: number }
  | { kind: 'offset'; position: number }
  | { kind: 'shift'; by: number }
  | { kind: 'duration'; ms: number; nowMs: number };

export interface ResetRow {
  stream: string;
  partition: string;
  /** where the group resumes now (null: no stored position) */
  current: number | null;
  /** the target as asked, as a position */
  target: number;
  /** where the replay starts: a snapshotted cell boundary, or the source's start with empty state */
  start: number;
  state: 'snapshot' | 'empty';
  why: string;
  /** events the replay reads (from `start` to the end of the partition) */
  events: number;
  /** of those, events the group had processed already (from `start` to `current`) */
  replayed: number;
  /** lake and dead-letter objects the replay rewrites */
  files: string[];
  /** with --fresh-state past the retained history: aggregate files rewritten from less history than they had */
  lessHistory: string[];
  /** the service offset of the event before `start`, for checkpoints that need one */
  offsetBefore: string;
}

export interface ResetRequest {
  plans: Map<string, StreamPlan>;
  streams: string[];
  /** only these partitions (all when undefined) */
  partitions: string[] | undefined;
  target: ResetTarget;
  freshState: boolean;
  positions: SourcePositions;
  snapshots: SnapshotStore;
  lake: ObjectStore;
  deadLetters: ObjectStore;
  processing: { rowsPerFile: number; allowedLateness: number; allowedOutOfOrderness: number; aggregateFileSpan: number };
}

export async function planReset(request: ResetRequest): Promise<ResetRow[]> {
  const rows: ResetRow[] = [];
  for (const stream of request.streams) {
    const plan = request.plans.get(stream);
    if (!plan) throw new TributaryError('CONFIG_INVALID', `--stream ${stream}: not a configured stream (expected one of: ${[...request.plans.keys()].join(', ')})`);
    const ranges = await request.positions.partitions(stream);
    if (request.partitions) {
      const unknown = request.partitions.filter((p) => !ranges.some((r) => r.partition === p));
      if (unknown.length > 0) {
        throw new TributaryError('CONFIG_INVALID', `--partitions: ${stream} has no partition ${unknown.join(', ')} in ${request.positions.description} (it has ${ranges.map((r) => r.partition).join(', ') || 'none'})`);
      }
    }
    const tables = [plan.raw.name, ...plan.aggregations.flatMap((a) => [a.spec.name, a.lateSchema.name])];
    const lakeObjects = (await Promise.all(tables.map((t) => request.lake.list(`${t}/`)))).flat();
    const deadLetterObjects = await request.deadLetters.list(`${stream}/`);
    const selected = ranges.filter((r) => !request.partitions || request.partitions.includes(r.partition)).sort((a, b) => Number(a.partition) - Number(b.partition));
    for (const range of selected) {
      rows.push(await planPartition(request, plan, range, lakeObjects, deadLetterObjects));
    }
  }
  return rows;
}

async function planPartition(
  request: ResetRequest,
  plan: StreamPlan,
  range: { partition: string; earliest: number; latest: number },
  lakeObjects: ObjectInfo[],
  deadLetterObjects: ObjectInfo[],
): Promise<ResetRow> {
  const { stream } = plan;
  const { partition } = range;
  const { positions, snapshots } = request;
  const current = (await positions.current(stream, partition)) ?? null;
  const clamp = (p: number): number => Math.min(Math.max(p, range.earliest), range.latest);
  const target = await (async (): Promise<number> => {
    const t = request.target;
    switch (t.kind) {
      case 'earliest': return range.earliest;
      case 'latest': return range.latest;
      case 'datetime': return positions.positionAtTime(stream, partition, t.timeMs);
      case 'duration': return positions.positionAtTime(stream, partition, t.nowMs - t.ms);
      case 'offset': return clamp(t.position);
      case 'shift': return clamp((current ?? range.earliest) + t.by);
    }
  })();

  const history = await snapshots.history(stream, partition);
  // A snapshot before the source's first position cannot start a replay: the events after it are gone (Kafka
  // retention, Event Hubs expiry).
  const usable = history.filter((r) => r.position >= range.earliest);
  const atOrBefore = usable.filter((r) => r.position <= target).at(-1);
  const cell = request.processing.rowsPerFile;
  const firstBoundary = (Math.floor(range.earliest / cell) + 1) * cell;
  // Before the first cell boundary the state is empty, so the source's start with empty state is exact as long
  // as no older snapshot was dropped by retention (the oldest kept one is the first boundary) and the source
  // still holds its first events (no snapshot is older than its first position).
  const historyIsWhole = history.length === 0 || (history[0]!.position <= firstBoundary && usable.length === history.length);
  let start: number;
  let state: ResetRow['state'];
  let why: string;
  let snapshot: PartitionSnapshot | undefined;
  let lessHistory = false;
  if (atOrBefore) {
    start = atOrBefore.position;
    state = 'snapshot';
    snapshot = await snapshots.read(atOrBefore);
    why = start === target ? 'the target is a snapshotted cell boundary' : `newest snapshotted cell boundary at or before the target (cells hold ${cell} positions)`;
  } else if (request.freshState || historyIsWhole || usable.length === 0) {
    start = range.earliest;
    state = 'empty';
    why = history.length === 0
      ? 'no snapshot yet: the source\'s start with empty state'
      : historyIsWhole
        ? 'the target is before the first cell boundary: the source\'s start, where the state is empty'
        : request.freshState
          ? '--fresh-state: the source\'s start with empty state'
          : `every retained snapshot is from before the source's first position ${range.earliest} (the events after it are gone): the source's start with empty state`;
    lessHistory = !historyIsWhole;
  } else {
    const oldest = usable[0]!;
    start = oldest.position;
    state = 'snapshot';
    snapshot = await snapshots.read(oldest);
    why = `the target is older than the retained snapshots (oldest at ${oldest.position}): starting there; --fresh-state starts at the source's start with empty state instead`;
  }
  const events = await positions.countFrom(stream, partition, start);
  const replayed = current === null ? 0 : Math.max(0, events - (await positions.countFrom(stream, partition, current)));
  const files = rewrittenFiles(request, plan, partition, start, snapshot, lakeObjects, deadLetterObjects);
  const aggregateTables = new Set(plan.aggregations.map((a) => a.spec.name));
  return {
    stream,
    partition,
    current,
    target,
    start,
    state,
    why,
    events,
    replayed,
    files,
    lessHistory: lessHistory ? files.filter((f) => aggregateTables.has(f.split('/')[0]!)) : [],
    offsetBefore: snapshot?.offsetBefore ?? '',
  };
}

const POSITION_IN_NAME = /-pos(\d{16})(?:-part\d+)?\.(?:parquet|jsonl)$/;
const SPAN_IN_NAME = /-(\d{8}T\d{6}Z)\.parquet$/;

/**
 * Files of this partition the replay writes again: raw files and dead letters of cells from the start on, and
 * the aggregate files of the spans the restored state holds or that events after the start can still reach
 * (windows at or after the watermark minus the lateness, less a window).
 */
function rewrittenFiles(
  request: ResetRequest,
  plan: StreamPlan,
  partition: string,
  start: number,
  snapshot: PartitionSnapshot | undefined,
  lakeObjects: ObjectInfo[],
  deadLetterObjects: ObjectInfo[],
): string[] {
  const inPartition = (key: string): boolean => key.includes(`/partition=${partition}/`);
  const fromCell = Math.floor(start / request.processing.rowsPerFile) * request.processing.rowsPerFile;
  const files: string[] = [];
  // Raw files, the late-event files of each aggregation and dead letters are named by the position cell.
  const byCell = [plan.raw.name, ...plan.aggregations.map((a) => a.lateSchema.name)];
  for (const object of [...lakeObjects.filter((o) => byCell.some((t) => o.key.startsWith(`${t}/`))), ...deadLetterObjects]) {
    const match = POSITION_IN_NAME.exec(object.key);
    if (inPartition(object.key) && match && Number(match[1]) >= fromCell) files.push(object.key);
  }
  for (const aggregation of plan.aggregations) {
    const spec = aggregation.spec;
    const span = spec.fileSpanMs;
    let fromSpan = Number.NEGATIVE_INFINITY;
    if (snapshot) {
      const saved = snapshot.aggregators[spec.name];
      const held = saved ? restoreAggregator(spec, saved).spans() : [];
      const watermark = (snapshot.gate.maxEventTime ?? Number.NEGATIVE_INFINITY) - request.processing.allowedOutOfOrderness;
      const reach = watermark - request.processing.allowedLateness - (spec.sessionGapMs === undefined ? spec.windowMs : 0);
      fromSpan = Math.min(...held, Math.floor(reach / span) * span);
    }
    for (const object of lakeObjects) {
      if (!object.key.startsWith(`${spec.name}/`) || !inPartition(object.key)) continue;
      const match = SPAN_IN_NAME.exec(object.key);
      if (!match) continue;
      const stamp = match[1]!;
      const spanStart = Date.UTC(+stamp.slice(0, 4), +stamp.slice(4, 6) - 1, +stamp.slice(6, 8), +stamp.slice(9, 11), +stamp.slice(11, 13), +stamp.slice(13, 15));
      if (spanStart >= fromSpan) files.push(object.key);
    }
  }
  return files.sort();
}

/** Applies a planned reset: the snapshot history first (it decides where a partition resumes), then the source. */
export async function executeReset(rows: ResetRow[], positions: SourcePositions, snapshots: SnapshotStore): Promise<void> {
  await positions.refuseIfActive?.();
  for (const row of rows) {
    await snapshots.deleteAfter(row.stream, row.partition, row.state === 'empty' ? Number.NEGATIVE_INFINITY : row.start);
    await positions.commit(row.stream, row.partition, row.start, row.offsetBefore);
  }
}
