/**
 * Deterministic object names. Every name is a function of the input alone (table, partition, and the position
 * cell or event-time span the file covers), never of timing, so a replay rewrites the same names.
 * Hive-style: <table>/date=YYYY-MM-DD/hour=HH/partition=<p>/<file>.parquet
 *
 * The path keys mean what they say: every row of a raw file was enqueued in the file's date and hour (a cell's
 * rows continue in a new part file whenever the enqueued hour changes, as Capture and Kafka Connect's time-based
 * partitioner cut files), and every aggregate row's window starts in its file's date and hour (an aggregate
 * file span divides an hour). No table has a column named like a path key.
 */
export const HOUR_MS = 3_600_000;

/** The hour (epoch ms at its start) a row at this time belongs to in the path. */
export function hourOf(timeMs: number): number {
  return Math.floor(timeMs / HOUR_MS) * HOUR_MS;
}
const pad = (n: number, width: number): string => String(n).padStart(width, '0');

function hivePrefix(table: string, partition: string, timeMs: number): string {
  const t = new Date(timeMs);
  const date = `${pad(t.getUTCFullYear(), 4)}-${pad(t.getUTCMonth() + 1, 2)}-${pad(t.getUTCDate(), 2)}`;
  return `${table}/date=${date}/hour=${pad(t.getUTCHours(), 2)}/partition=${partition}`;
}

/**
 * Raw file: part `part` of the cell of positions [cellStart, cellStart + rowsPerFile) of a partition, holding
 * rows enqueued in the hour of `partEnqueuedMs`.
 */
export function rawFileKey(table: string, partition: string, cellStart: number, part: number, partEnqueuedMs: number): string {
  return `${hivePrefix(table, partition, partEnqueuedMs)}/${table}-p${partition}-pos${pad(cellStart, 16)}-part${pad(part, 3)}.parquet`;
}

/** Late events of one aggregation that arrived in one position cell, for windows starting in one hour. */
export function lateFileKey(table: string, partition: string, cellStart: number, hourMs: number): string {
  return `${hivePrefix(table, partition, hourMs)}/${table}-p${partition}-pos${pad(cellStart, 16)}.parquet`;
}

/** Aggregate file covering the windows that start in [spanStart, spanStart + span). */
export function aggregateFileKey(table: string, partition: string, spanStartMs: number): string {
  const stamp = new Date(spanStartMs).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  return `${hivePrefix(table, partition, spanStartMs)}/${table}-p${partition}-${stamp}.parquet`;
}

/** Dead letters of one position cell of a partition. */
export function deadLetterKey(stream: string, partition: string, cellStart: number): string {
  return `${stream}/partition=${partition}/${stream}-p${partition}-pos${pad(cellStart, 16)}.jsonl`;
}

/** Folder of a partition's snapshot history. */
export function snapshotPrefix(stream: string, partition: string): string {
  return `snapshots/${stream}/partition=${partition}/`;
}

/** The snapshot taken at the cell boundary `position`; zero-padded so lexical order is position order. */
export function snapshotKey(stream: string, partition: string, position: number): string {
  return `${snapshotPrefix(stream, partition)}pos${pad(position, 16)}.snap`;
}

/** The position of a snapshot key, or undefined for other objects in its folder. */
export function snapshotPosition(key: string): number | undefined {
  const match = /\/pos(\d{16})\.snap$/.exec(key);
  return match ? Number(match[1]) : undefined;
}

/** Where format-1 state kept its one snapshot per partition (read once when no history exists yet). */
export function legacySnapshotKey(stream: string, partition: string): string {
  return `snapshots/${stream}/partition=${partition}.json`;
}
