/**
 * The embedded pipeline end to end on a generated archive with every fault kind injected: each input event is
 * landed exactly once or dead-lettered with the right reason, and the aggregate tables equal a brute-force
 * computation over the input done here (test/support/expected.ts), independently of src/. The lake is read as a
 * user reads it, with DuckDB over `<table>/**\/*.parquet` and Hive partitioning, column types included.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type avro from 'avsc';
import { createLogger } from '../../src/core/log.js';
import { generateArchive, type ArchiveSummary } from '../../src/gen/archive.js';
import { runWorker, type RunSummary } from '../../src/runtime/worker.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import type { TributaryConfig } from '../../src/config/schema.js';
import { aggregate, judge, lateCounts, readArchive, rowKey, sessions, type Verdicts } from '../support/expected.js';
import { readDeadLetters } from '../support/lake.js';
import { queryDuckDb, readLakeTable } from '../support/duckdb.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';
import { FAULTY_GEN, embeddedConfig } from '../support/embedded-config.js';

describe('embedded pipeline on a faulty generated archive', () => {
  let ws: Workspace;
  let config: TributaryConfig;
  let generated: ArchiveSummary;
  let summary: RunSummary;
  const expected = new Map<string, Verdicts>();

  beforeAll(async () => {
    ws = await createWorkspace();
    ({ config } = await ws.writeConfig(embeddedConfig(ws)));
    generated = await generateArchive(config, FAULTY_GEN);
    summary = await runWorker(config, { bounded: true, signal: new AbortController().signal, log: createLogger('silent') });
    for (const [stream, idField, timeField] of [['orders', 'orderId', 'createdAt'], ['telemetry', 'eventId', 'timestamp']] as const) {
      const schema = JSON.parse(await readFile(config.streams[stream]!.schema, 'utf8')) as avro.Schema;
      const partitions = await readArchive(ws.file('capture'), 'test', stream);
      expected.set(stream, judge(partitions, schema, { idField, timeField, outOfOrdernessMs: 30_000, latenessMs: 0 }));
    }
  });
  afterAll(() => ws?.cleanup());

  it('injected every fault kind (otherwise this test would prove little)', () => {
    for (const stream of generated.streams) {
      expect(stream.faults.duplicate).toBeGreaterThan(50);
      expect(stream.faults.late).toBeGreaterThan(20);
      expect(stream.faults.corrupt).toBeGreaterThan(10);
      expect(stream.faults.outOfOrder).toBeGreaterThan(50);
    }
    expect(summary.totals.eventsRead).toBe(generated.totals.deliveredEvents);
  });

  const readTable = async (_lake: unknown, table: string) => (await readLakeTable(ws.file('lake'), table)).rows;
  /** an aggregate row's key as the model computes it: the source partition, window start and typed group values */
  const keyOf = (row: Record<string, unknown>, groupBy: string[]) => rowKey(String(row._partition), Number(row.window_start), groupBy.map((g) => row[g]));

  it.each([['orders', 'orderId'], ['telemetry', 'eventId']])('%s: every event landed exactly once or dead-lettered with the right reason', async (stream, idField) => {
    const verdicts = expected.get(stream)!;
    const rows = await readTable(new LocalObjectStore(ws.file('lake')), `${stream}_raw`);
    const ids = rows.map((r) => String(r[idField]));
    expect(new Set(ids).size).toBe(ids.length); // no duplicates
    expect(new Set(ids)).toEqual(new Set(verdicts.accepted.map((a) => String(a.record[idField]))));
    const logical = generated.streams.find((s) => s.stream === stream)!.logicalEvents;
    expect(rows.length).toBe(logical - verdicts.late.size - verdicts.corrupt);

    const letters = (await readDeadLetters(new LocalObjectStore(ws.file('deadletter')))).filter((d) => d.stream === stream);
    expect(letters.filter((d) => d.reason === 'decode')).toHaveLength(verdicts.corrupt);
    expect(letters.filter((d) => d.reason !== 'decode' && d.reason !== 'late')).toEqual([]);
    const schema = JSON.parse(await readFile(config.streams[stream]!.schema, 'utf8')) as avro.Schema;
    const type = (await import('avsc')).default.Type.forSchema(schema);
    const lateIds = letters.filter((d) => d.reason === 'late').map((d) => String((type.fromBuffer(Buffer.from(d.body, 'base64')) as Record<string, unknown>)[idField]));
    expect(new Set(lateIds)).toEqual(verdicts.late);
    // every dead letter keeps its coordinates
    for (const letter of letters) {
      expect(letter.partition).toMatch(/^\d+$/);
      expect(letter.position).toBeGreaterThanOrEqual(0);
      expect(letter.error.length).toBeGreaterThan(0);
    }
  });

  it('keeps nested values as JSON text written once (regression: order lines were JSON-encoded twice)', async () => {
    const rows = await readTable(new LocalObjectStore(ws.file('lake')), 'orders_raw');
    const lines = JSON.parse(String(rows[0]!.lines)) as Array<Record<string, unknown>>;
    // DuckDB reads the column as JSON (regression: without the JSON converted type it was a BLOB)
    expect((await readLakeTable(ws.file('lake'), 'orders_raw')).types.lines).toBe('JSON');
    expect(Array.isArray(lines)).toBe(true);
    expect(lines[0]).toHaveProperty('sku');
    expect(lines[0]).toHaveProperty('quantity');
  });

  it('orders aggregates equal the brute-force computation', async () => {
    const rows = await readTable(new LocalObjectStore(ws.file('lake')), 'orders_by_channel_1m');
    const want = aggregate(expected.get('orders')!.accepted, 60_000, ['channel', 'currency'], (r) => Number(r.totalAmount));
    const got = new Map(rows.map((r) => [keyOf(r, ['channel', 'currency']), r]));
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [key, w] of want) {
      const g = got.get(key)!;
      expect(Number(g.count)).toBe(w.count);
      expect(Number(g.sum_totalAmount)).toBeCloseTo(w.sum, 6);
      expect(Number(g.min_totalAmount)).toBeCloseTo(w.min, 9);
      expect(Number(g.max_totalAmount)).toBeCloseTo(w.max, 9);
      expect(Number(g.mean_totalAmount)).toBeCloseTo(w.sum / w.count, 6);
      expect(Number(g.window_end) - Number(g.window_start)).toBe(60_000);
    }
  });

  it('telemetry aggregates equal the brute-force computation', async () => {
    const rows = await readTable(new LocalObjectStore(ws.file('lake')), 'telemetry_by_site_5m');
    const want = aggregate(expected.get('telemetry')!.accepted, 300_000, ['siteId'], (r) => Number((r.readings as Record<string, number>).temperature));
    const got = new Map(rows.map((r) => [keyOf(r, ['siteId']), r]));
    expect(got.size).toBe(want.size);
    for (const [key, w] of want) {
      expect(Number(got.get(key)!.count)).toBe(w.count);
      expect(Number(got.get(key)!.max_temperature)).toBeCloseTo(w.max, 9);
    }
  });

  it('telemetry hopping aggregates (10 min windows every 2 min) equal the brute-force computation', async () => {
    const rows = await readTable(new LocalObjectStore(ws.file('lake')), 'telemetry_hopping_10m');
    const want = aggregate(expected.get('telemetry')!.accepted, 600_000, ['siteId'], (r) => Number((r.readings as Record<string, number>).humidity), 120_000);
    const got = new Map(rows.map((r) => [keyOf(r, ['siteId']), r]));
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [key, w] of want) {
      expect(Number(got.get(key)!.count)).toBe(w.count);
      expect(Number(got.get(key)!.sum_humidity)).toBeCloseTo(w.sum, 6);
      expect(Number(got.get(key)!.window_end) - Number(got.get(key)!.window_start)).toBe(600_000);
    }
  });

  it('order sessions per customer (3 min gap) equal the brute-force computation', async () => {
    const rows = await readTable(new LocalObjectStore(ws.file('lake')), 'orders_sessions_by_customer');
    const want = sessions(expected.get('orders')!.accepted, 180_000, ['customerId'], (r) => Number(r.totalAmount));
    const got = new Map(rows.map((r) => [keyOf(r, ['customerId']), r]));
    expect(want.size).toBeGreaterThan(100);
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [key, w] of want) {
      expect(Number(got.get(key)!.count)).toBe(w.count);
      expect(Number(got.get(key)!.spent)).toBeCloseTo(w.sum, 6);
      expect(Number(got.get(key)!.window_end)).toBe(w.end);
    }
  });

  it.each([
    ['orders_by_channel_1m', 'orders', ['channel', 'currency'], { sizeMs: 60_000, hopMs: 60_000 }],
    ['telemetry_by_site_5m', 'telemetry', ['siteId'], { sizeMs: 300_000, hopMs: 300_000 }],
    ['telemetry_hopping_10m', 'telemetry', ['siteId'], { sizeMs: 600_000, hopMs: 120_000 }],
    ['orders_sessions_by_customer', 'orders', ['customerId'], { gapMs: 180_000 }],
  ] as const)('%s_late counts the late events each window turned away', async (aggregation, stream, groupBy, window) => {
    const want = lateCounts(expected.get(stream)!.lateEvents, [...groupBy], window);
    expect(want.size).toBeGreaterThan(0);
    const { rows } = await readLakeTable(ws.file('lake'), `${aggregation}_late`);
    const got = new Map<string, number>();
    for (const row of rows) {
      const key = keyOf(row, [...groupBy]);
      got.set(key, (got.get(key) ?? 0) + Number(row.late_events));
    }
    expect(got).toEqual(want);
  });

  it('gives DuckDB the column types a user expects, and no column named like a path key', async () => {
    const { types } = await readLakeTable(ws.file('lake'), 'orders_by_channel_1m');
    expect(types).toEqual({
      window_start: 'TIMESTAMP WITH TIME ZONE',
      window_end: 'TIMESTAMP WITH TIME ZONE',
      channel: 'VARCHAR',
      currency: 'VARCHAR',
      count: 'BIGINT',
      sum_totalAmount: 'DOUBLE',
      min_totalAmount: 'DOUBLE',
      max_totalAmount: 'DOUBLE',
      mean_totalAmount: 'DOUBLE',
      _partition: 'VARCHAR',
      date: 'DATE',
      hour: 'VARCHAR', // '00' to '23': DuckDB keeps zero-padded path values as text
      partition: 'BIGINT',
    });
    const raw = (await readLakeTable(ws.file('lake'), 'orders_raw')).types;
    expect(raw).toMatchObject({ createdAt: 'TIMESTAMP WITH TIME ZONE', _enqueued_time: 'TIMESTAMP WITH TIME ZONE', _position: 'BIGINT', lines: 'JSON', couponCode: 'VARCHAR', totalAmount: 'DOUBLE' });
    const late = (await readLakeTable(ws.file('lake'), 'orders_sessions_by_customer_late')).types;
    expect(late).toMatchObject({ window_start: 'TIMESTAMP WITH TIME ZONE', late_events: 'BIGINT', customerId: 'VARCHAR' });
  });

  it('puts every raw row in the date and hour of its enqueued time, and every aggregate row in those of its window start', async () => {
    const lake = ws.file('lake');
    const outside = async (table: string, time: string) =>
      (
        await queryDuckDb(
          `SELECT count(*) AS n, count(DISTINCT filename) AS files FROM read_parquet('${lake}/${table}/**/*.parquet', hive_partitioning = true, filename = true)
           WHERE strftime(${time} AT TIME ZONE 'UTC', '%Y-%m-%d') <> CAST(date AS VARCHAR) OR hour(${time} AT TIME ZONE 'UTC') <> CAST(hour AS INTEGER)`,
        )
      ).rows[0]!;
    const rows = async (table: string) => Number((await queryDuckDb(`SELECT count(*) AS n FROM read_parquet('${lake}/${table}/**/*.parquet')`)).rows[0]!.n);
    for (const table of ['orders_raw', 'telemetry_raw']) {
      expect(await rows(table)).toBeGreaterThan(1000);
      expect(await outside(table, '_enqueued_time'), table).toEqual({ n: 0, files: 0 });
    }
    for (const table of ['orders_by_channel_1m', 'telemetry_by_site_5m', 'telemetry_hopping_10m', 'orders_sessions_by_customer', 'telemetry_hopping_10m_late']) {
      expect(await rows(table)).toBeGreaterThan(0);
      expect(await outside(table, 'window_start'), table).toEqual({ n: 0, files: 0 });
    }
  });
});
