/**
 * The embedded pipeline end to end on a generated archive with every fault kind injected: each input event is
 * landed exactly once or dead-lettered with the right reason, and the aggregate tables equal a brute-force
 * computation over the input done here (test/support/expected.ts), independently of src/.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type avro from 'avsc';
import { createLogger } from '../../src/core/log.js';
import { generateArchive, type ArchiveSummary } from '../../src/gen/archive.js';
import { runWorker, type RunSummary } from '../../src/runtime/worker.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import type { TributaryConfig } from '../../src/config/schema.js';
import { aggregate, judge, readArchive, sessions, type Verdicts } from '../support/expected.js';
import { readDeadLetters, readTable } from '../support/lake.js';
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
    expect(Array.isArray(lines)).toBe(true);
    expect(lines[0]).toHaveProperty('sku');
    expect(lines[0]).toHaveProperty('quantity');
  });

  it('orders aggregates equal the brute-force computation', async () => {
    const rows = await readTable(new LocalObjectStore(ws.file('lake')), 'orders_by_channel_1m');
    const want = aggregate(expected.get('orders')!.accepted, 60_000, ['channel', 'currency'], (r) => Number(r.totalAmount));
    const got = new Map(rows.map((r) => [[r.partition, Number(r.window_start), r.channel, r.currency].join('|'), r]));
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
    const got = new Map(rows.map((r) => [[r.partition, Number(r.window_start), r.siteId].join('|'), r]));
    expect(got.size).toBe(want.size);
    for (const [key, w] of want) {
      expect(Number(got.get(key)!.count)).toBe(w.count);
      expect(Number(got.get(key)!.max_temperature)).toBeCloseTo(w.max, 9);
    }
  });

  it('telemetry hopping aggregates (10 min windows every 2 min) equal the brute-force computation', async () => {
    const rows = await readTable(new LocalObjectStore(ws.file('lake')), 'telemetry_hopping_10m');
    const want = aggregate(expected.get('telemetry')!.accepted, 600_000, ['siteId'], (r) => Number((r.readings as Record<string, number>).humidity), 120_000);
    const got = new Map(rows.map((r) => [[r.partition, Number(r.window_start), r.siteId].join('|'), r]));
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
    const got = new Map(rows.map((r) => [[r.partition, Number(r.window_start), r.customerId].join('|'), r]));
    expect(want.size).toBeGreaterThan(100);
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [key, w] of want) {
      expect(Number(got.get(key)!.count)).toBe(w.count);
      expect(Number(got.get(key)!.spent)).toBeCloseTo(w.sum, 6);
      expect(Number(got.get(key)!.window_end)).toBe(w.end);
    }
  });
});
