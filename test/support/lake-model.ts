/**
 * The whole lake as a brute-force model says it must be, and the lake as DuckDB reads it, in one comparable
 * shape: table -> row key (source partition, window start, typed group values) -> the row's values. The model is
 * computed here from the Capture archive with avsc and plain loops (test/support/expected.ts), independently of
 * src/, for every aggregation in the config and its `_late` table, with SQL semantics: COUNT(*) counts rows,
 * COUNT(field) non-null values, SUM/MIN/MAX/AVG skip nulls and are NULL over none; session gaps are exclusive.
 */
import { readdir, readFile } from 'node:fs/promises';
import type avro from 'avsc';
import type { AggregationConfig, TributaryConfig } from '../../src/config/schema.js';
import { judge, readArchive, rowKey, type JudgedEvent, type Verdicts } from './expected.js';
import { readLakeTable } from './duckdb.js';

export type TableRows = Map<string, Record<string, unknown>>;

export interface LakeModel {
  verdicts: Map<string, Verdicts>;
  /** raw table -> event ids it must hold */
  raw: Map<string, Set<string>>;
  /** aggregate and late tables -> rows */
  tables: Map<string, TableRows>;
}

const path = (record: Record<string, unknown>, field: string): unknown =>
  field.split('.').reduce<unknown>((value, name) => (value === null || value === undefined ? null : (value as Record<string, unknown>)[name]), record) ?? null;

/** Doubles compared to 12 significant digits: sums merged in another order differ in the last bits. */
export function normalise(value: unknown): unknown {
  if (typeof value === 'number' && !Number.isInteger(value)) return Number(value.toPrecision(12));
  return value;
}

export async function modelLake(config: TributaryConfig, captureDir: string, namespace: string): Promise<LakeModel> {
  const model: LakeModel = { verdicts: new Map(), raw: new Map(), tables: new Map() };
  const source = config.source;
  if (source.kind !== 'capture') throw new Error('the lake model reads Capture archives');
  for (const [stream, streamConfig] of Object.entries(config.streams)) {
    const schema = JSON.parse(await readFile(streamConfig.schema, 'utf8')) as avro.Schema;
    const partitions = await readArchive(captureDir, namespace, source.hubs[stream]!);
    const verdicts = judge(partitions, schema, {
      idField: streamConfig.eventId,
      timeField: streamConfig.eventTime,
      outOfOrdernessMs: config.processing.allowedOutOfOrderness,
      latenessMs: config.processing.allowedLateness,
    });
    model.verdicts.set(stream, verdicts);
    model.raw.set(streamConfig.table ?? `${stream}_raw`, new Set(verdicts.accepted.map((e) => String(path(e.record, streamConfig.eventId)))));
    for (const aggregation of config.aggregations.filter((a) => a.stream === stream)) {
      model.tables.set(aggregation.name, aggregateModel(aggregation, verdicts.accepted));
      model.tables.set(`${aggregation.name}_late`, lateModel(aggregation, verdicts.lateEvents));
    }
  }
  return model;
}

interface Bucket {
  end: number;
  events: JudgedEvent[];
}

function aggregateModel(aggregation: AggregationConfig, accepted: readonly JudgedEvent[]): TableRows {
  const buckets = new Map<string, Bucket>();
  const window = aggregation.window;
  const groupOf = (e: JudgedEvent) => aggregation.groupBy.map((g) => path(e.record, g));
  if (window.kind === 'session') {
    const byGroup = new Map<string, JudgedEvent[]>();
    for (const event of accepted) {
      const key = rowKey(event.partition, 0, groupOf(event));
      byGroup.set(key, [...(byGroup.get(key) ?? []), event]);
    }
    for (const events of byGroup.values()) {
      const sorted = [...events].sort((a, b) => a.time - b.time);
      let current: { start: number; bucket: Bucket } | undefined;
      for (const event of sorted) {
        if (current && event.time < current.bucket.end) {
          current.bucket.end = Math.max(current.bucket.end, event.time + window.gap);
          current.bucket.events.push(event);
        } else {
          current = { start: event.time, bucket: { end: event.time + window.gap, events: [event] } };
          buckets.set(rowKey(event.partition, event.time, groupOf(event)), current.bucket);
        }
      }
    }
  } else {
    const size = window.size;
    const hop = window.kind === 'hopping' ? window.hop : window.size;
    for (const event of accepted) {
      for (let start = Math.floor(event.time / hop) * hop; start > event.time - size; start -= hop) {
        const key = rowKey(event.partition, start, groupOf(event));
        const bucket = buckets.get(key) ?? { end: start + size, events: [] };
        bucket.events.push(event);
        buckets.set(key, bucket);
      }
    }
  }
  const rows: TableRows = new Map();
  for (const [key, bucket] of buckets) {
    const row: Record<string, unknown> = { window_end: bucket.end };
    for (const measure of aggregation.measures) {
      const output = measure.as ?? (measure.field === undefined ? 'count' : `${measure.fn}_${measure.field.replace(/\./g, '_')}`);
      if (measure.field === undefined) {
        row[output] = bucket.events.length;
        continue;
      }
      const values = bucket.events.map((e) => path(e.record, measure.field!)).filter((v): v is number => typeof v === 'number' && !Number.isNaN(v));
      const sum = values.reduce((a, b) => a + b, 0);
      row[output] =
        measure.fn === 'count' ? values.length
        : values.length === 0 ? null
        : measure.fn === 'sum' ? sum
        : measure.fn === 'min' ? Math.min(...values)
        : measure.fn === 'max' ? Math.max(...values)
        : sum / values.length;
    }
    rows.set(key, normaliseRow(row));
  }
  return rows;
}

function lateModel(aggregation: AggregationConfig, late: readonly JudgedEvent[]): TableRows {
  const rows: TableRows = new Map();
  const window = aggregation.window;
  const add = (event: JudgedEvent, start: number, end: number) => {
    const key = rowKey(event.partition, start, aggregation.groupBy.map((g) => path(event.record, g)));
    const row = rows.get(key) ?? { window_end: end, late_events: 0 };
    row.late_events = Number(row.late_events) + 1;
    rows.set(key, row);
  };
  for (const event of late) {
    if (window.kind === 'session') add(event, event.time, event.time + window.gap);
    else {
      const hop = window.kind === 'hopping' ? window.hop : window.size;
      for (let start = Math.floor(event.time / hop) * hop; start > event.time - window.size; start -= hop) add(event, start, start + window.size);
    }
  }
  return rows;
}

function normaliseRow(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, normalise(v)]));
}

/**
 * One aggregate (or late) table read back with DuckDB, keyed like the model. Late tables hold one row per
 * window, group and arrival cell, so their counts are summed per key.
 */
export async function readAggregateTable(lakeDir: string, table: string, aggregation: AggregationConfig): Promise<TableRows> {
  const groupColumns = aggregation.groupBy.map((g) => g.replace(/\./g, '_'));
  const rows: TableRows = new Map();
  for (const row of (await readLakeTable(lakeDir, table)).rows) {
    const key = rowKey(String(row._partition), Number(row.window_start), groupColumns.map((g) => row[g] ?? null));
    const { window_start: _start, _partition, date: _date, hour: _hour, partition: _path, ...rest } = row;
    const values = Object.fromEntries(Object.entries(rest).filter(([name]) => !groupColumns.includes(name)));
    const previous = rows.get(key);
    if (table.endsWith('_late') && previous) previous.late_events = Number(previous.late_events) + Number(values.late_events);
    else if (previous) throw new Error(`${table}: two rows for ${key}`);
    else rows.set(key, normaliseRow(values));
  }
  return rows;
}

/** Every aggregate and late table of the lake, read with DuckDB. A table without files reads as empty. */
export async function readLakeTables(lakeDir: string, config: TributaryConfig, model: LakeModel): Promise<Map<string, TableRows>> {
  const tables = new Map<string, TableRows>();
  for (const aggregation of config.aggregations) {
    for (const table of [aggregation.name, `${aggregation.name}_late`]) {
      tables.set(table, (await hasFiles(lakeDir, table)) ? await readAggregateTable(lakeDir, table, aggregation) : new Map());
    }
  }
  return tables;
}

/** DuckDB fails on a glob that matches nothing, and a table nobody wrote to has no folder. */
async function hasFiles(lakeDir: string, table: string): Promise<boolean> {
  try {
    return (await readdir(`${lakeDir}/${table}`, { recursive: true })).some((name) => String(name).endsWith('.parquet'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
