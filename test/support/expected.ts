/**
 * A brute-force model of what the lake must hold, computed straight from a Capture archive with avsc and plain
 * loops, independently of src/: read every file in partition order, decode bodies, apply the documented rules
 * (dedup by id, watermark = max event time - out-of-orderness, late when time + lateness < watermark), and
 * aggregate every accepted event into its tumbling window.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import avro from 'avsc';

export interface ArchiveEvent {
  partition: string;
  position: number;
  body: Buffer;
}

/** All events of one hub folder, per partition, in position order. */
export async function readArchive(root: string, namespace: string, hub: string): Promise<Map<string, ArchiveEvent[]>> {
  const base = path.join(root, namespace, hub);
  const partitions = new Map<string, ArchiveEvent[]>();
  const files: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.name.endsWith('.avro')) files.push(full);
    }
  };
  await walk(base);
  for (const file of files.sort()) {
    const partition = path.relative(base, file).split(path.sep)[0]!;
    const events = partitions.get(partition) ?? [];
    partitions.set(partition, events);
    const records = await new Promise<Array<{ SequenceNumber: number; Body: Buffer | null }>>((resolve, reject) => {
      const out: Array<{ SequenceNumber: number; Body: Buffer | null }> = [];
      avro.createFileDecoder(file).on('data', (r: { SequenceNumber: number; Body: Buffer | null }) => out.push(r)).on('end', () => resolve(out)).on('error', reject);
    });
    for (const r of records) events.push({ partition, position: Number(r.SequenceNumber), body: r.Body ?? Buffer.alloc(0) });
  }
  for (const events of partitions.values()) events.sort((a, b) => a.position - b.position);
  return partitions;
}

export interface Rules {
  idField: string;
  timeField: string;
  outOfOrdernessMs: number;
  latenessMs: number;
}

export interface JudgedEvent {
  partition: string;
  position: number;
  record: Record<string, unknown>;
  time: number;
}

export interface Verdicts {
  accepted: JudgedEvent[];
  late: Set<string>;
  /** every late delivery (a redelivered late event counts again, as its dead letters do) */
  lateEvents: JudgedEvent[];
  corrupt: number;
  duplicates: number;
  distinctIds: Set<string>;
}

export function judge(partitions: Map<string, ArchiveEvent[]>, schema: avro.Schema, rules: Rules): Verdicts {
  const type = avro.Type.forSchema(schema);
  const verdicts: Verdicts = { accepted: [], late: new Set(), lateEvents: [], corrupt: 0, duplicates: 0, distinctIds: new Set() };
  for (const [partition, events] of partitions) {
    let maxTime = -Infinity;
    const seen = new Set<string>();
    for (const event of events) {
      let record: Record<string, unknown>;
      try {
        record = type.fromBuffer(event.body) as Record<string, unknown>;
      } catch {
        verdicts.corrupt++;
        continue;
      }
      const id = String(record[rules.idField]);
      const time = Number(record[rules.timeField]);
      verdicts.distinctIds.add(id);
      if (seen.has(id)) {
        verdicts.duplicates++;
        continue;
      }
      if (time + rules.latenessMs < maxTime - rules.outOfOrdernessMs) {
        verdicts.late.add(id);
        verdicts.lateEvents.push({ partition, position: event.position, record, time });
        continue;
      }
      seen.add(id);
      maxTime = Math.max(maxTime, time);
      verdicts.accepted.push({ partition, position: event.position, record, time });
    }
  }
  return verdicts;
}

export interface ExpectedAggregateRow {
  key: string;
  count: number;
  sum: number;
  min: number;
  max: number;
}

/**
 * A row key: partition, window start and the group values, each with its type, so null, "null", 1 and "1"
 * differ (the lake's rows are keyed the same way in the tests, from what DuckDB returns).
 */
export function rowKey(partition: string, windowStart: number, group: readonly unknown[]): string {
  return JSON.stringify([partition, windowStart, ...group.map((v) => (v === null || v === undefined ? null : `${typeof v}:${String(v)}`))]);
}

/** count/sum/min/max of `field` per (partition, window start, group values); hopping windows when hopMs < windowMs. */
export function aggregate(
  accepted: Verdicts['accepted'],
  windowMs: number,
  groupBy: string[],
  field: (record: Record<string, unknown>) => number,
  hopMs = windowMs,
): Map<string, ExpectedAggregateRow> {
  const rows = new Map<string, ExpectedAggregateRow>();
  for (const { partition, record, time } of accepted) {
    // every window [start, start + windowMs) with start a multiple of hopMs that contains the time
    for (let windowStart = Math.floor(time / hopMs) * hopMs; windowStart > time - windowMs; windowStart -= hopMs) {
      const key = rowKey(partition, windowStart, groupBy.map((g) => record[g]));
      const value = field(record);
      const row = rows.get(key) ?? { key, count: 0, sum: 0, min: Infinity, max: -Infinity };
      row.count++;
      row.sum += value;
      row.min = Math.min(row.min, value);
      row.max = Math.max(row.max, value);
      rows.set(key, row);
    }
  }
  return rows;
}

/** Session windows: per (partition, group), the connected runs of [t, t + gap) over the accepted events. */
export function sessions(accepted: Verdicts['accepted'], gapMs: number, groupBy: string[], field: (record: Record<string, unknown>) => number): Map<string, ExpectedAggregateRow & { end: number }> {
  const byGroup = new Map<string, { partition: string; group: unknown[]; events: Array<{ time: number; value: number }> }>();
  for (const { partition, record, time } of accepted) {
    const group = groupBy.map((g) => record[g]);
    const key = JSON.stringify([partition, ...group.map((v) => `${typeof v}:${String(v)}`)]);
    const entry = byGroup.get(key) ?? { partition, group, events: [] };
    entry.events.push({ time, value: field(record) });
    byGroup.set(key, entry);
  }
  const rows = new Map<string, ExpectedAggregateRow & { end: number }>();
  for (const { partition, group, events } of byGroup.values()) {
    events.sort((a, b) => a.time - b.time);
    let current: (ExpectedAggregateRow & { start: number; end: number }) | undefined;
    const close = () => {
      if (!current) return;
      const key = rowKey(partition, current.start, group);
      rows.set(key, { ...current, key });
    };
    for (const { time, value } of events) {
      if (current && time < current.end) {
        current.end = Math.max(current.end, time + gapMs);
      } else {
        close();
        current = { key: '', start: time, end: time + gapMs, count: 0, sum: 0, min: Infinity, max: -Infinity };
      }
      current.count++;
      current.sum += value;
      current.min = Math.min(current.min, value);
      current.max = Math.max(current.max, value);
    }
    close();
  }
  return rows;
}

/** Late events per (partition, window, group): each counts in every window it would have joined (session: [t, t + gap)). */
export function lateCounts(lateEvents: readonly JudgedEvent[], groupBy: string[], window: { sizeMs: number; hopMs: number } | { gapMs: number }): Map<string, number> {
  const counts = new Map<string, number>();
  const add = (key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);
  for (const { partition, record, time } of lateEvents) {
    const group = groupBy.map((g) => record[g]);
    if ('gapMs' in window) add(rowKey(partition, time, group));
    else for (let start = Math.floor(time / window.hopMs) * window.hopMs; start > time - window.sizeMs; start -= window.hopMs) add(rowKey(partition, start, group));
  }
  return counts;
}
