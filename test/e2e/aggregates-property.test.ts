/**
 * Property: for random streams and random settings, every aggregate table and its `_late` table, read back
 * with DuckDB, equal a brute-force model computed in the test (test/support/lake-model.ts), and every event is
 * in the raw table once or dead-lettered as late.
 *
 * Streams: 1-2 partitions, out-of-order and late event times, redelivered events, nulls and look-alike values
 * in the group columns (null, "null", "", "1" beside 1), null measure values, enqueued times across hours.
 * Settings: cells from 1 row to larger than the stream, batch sizes from 1, tiny part files, out-of-orderness,
 * lateness, aggregate file spans from 1 minute to an hour, and every window kind at once (tumbling, hopping with
 * windows that outlive their file span, sessions). The whole pipeline runs: Capture archive, decode threads,
 * processor and commit protocol, Parquet, local stores.
 */
import { writeFile } from 'node:fs/promises';
import avro from 'avsc';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { CaptureTarget } from '../../src/gen/targets/capture.js';
import { runWorker } from '../../src/runtime/worker.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { modelLake, readLakeTables } from '../support/lake-model.js';
import { readLakeTable } from '../support/duckdb.js';
import { readDeadLetters } from '../support/lake.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';

const SCHEMA = {
  type: 'record',
  name: 'Reading',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'g', type: ['null', 'string'] },
    { name: 'k', type: ['null', 'long'] },
    { name: 'v', type: ['null', 'double'] },
    { name: 'n', type: ['null', 'int'] },
  ],
};
const type = avro.Type.forSchema(SCHEMA as avro.Schema);
const BASE = Date.UTC(2026, 0, 1, 22, 40);
const MINUTE = 60_000;

interface Event {
  id: string;
  ts: number;
  g: string | null;
  k: number | null;
  v: number | null;
  n: number | null;
}

const eventArb = fc.record({
  step: fc.nat(40_000),
  /** how far behind the stream's clock the event time is: mostly a little, sometimes minutes (late) */
  behind: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: fc.nat(90_000) }, { weight: 1, arbitrary: fc.nat(20 * MINUTE) }),
  g: fc.constantFrom<string | null>(null, 'null', '', '1', 'a'),
  k: fc.constantFrom<number | null>(null, 1, 2),
  v: fc.oneof(fc.constant(null), fc.constantFrom(1.5, -2, 3.25, 0, 1e6)),
  n: fc.constantFrom<number | null>(null, 1, 7),
  /** redeliver an earlier event of the partition instead (same id and body) */
  redeliver: fc.option(fc.nat(), { freq: 8 }),
});

const windowsArb = fc.record({
  tumbling: fc.constantFrom(MINUTE, 5 * MINUTE),
  hopping: fc.constantFrom({ size: 10 * MINUTE, hop: MINUTE }, { size: 10 * MINUTE, hop: 2 * MINUTE }, { size: 6 * MINUTE, hop: 3 * MINUTE }, { size: 25 * MINUTE, hop: 5 * MINUTE }),
  gap: fc.constantFrom(MINUTE, 3 * MINUTE),
  /** multiples of every size and hop above that divide an hour; hopping windows outlive their span's end */
  fileSpan: fc.constantFrom(30 * MINUTE, 60 * MINUTE),
});

const settingsArb = fc.record({
  rowsPerFile: fc.constantFrom(1, 3, 17, 100, 100_000),
  batchSize: fc.constantFrom(1, 7, 64, 8192),
  maxFileBytes: fc.constantFrom(150, 128 * 1024 ** 2),
  outOfOrderness: fc.constantFrom(0, 30_000, 5 * MINUTE),
  lateness: fc.constantFrom(0, MINUTE, 10 * MINUTE),
});

const streamArb = fc
  .array(fc.array(eventArb, { minLength: 0, maxLength: 300, size: 'medium' }), { minLength: 1, maxLength: 2 })
  .filter((partitions) => partitions.some((events) => events.length > 0));

type Draw = typeof eventArb extends fc.Arbitrary<infer T> ? T : never;

function materialise(partitions: Draw[][]) {
  return partitions.map((draws, p) => {
    let clock = BASE;
    const sent: Array<{ event: Event; enqueued: number }> = [];
    draws.forEach((draw, i) => {
      clock += draw.step;
      if (draw.redeliver !== null && sent.length > 0) {
        sent.push({ event: sent[draw.redeliver % sent.length]!.event, enqueued: clock });
        return;
      }
      sent.push({ event: { id: `p${p}-${i}`, ts: clock - draw.behind, g: draw.g, k: draw.k, v: draw.v, n: draw.n }, enqueued: clock });
    });
    return sent;
  });
}

describe('aggregates equal a brute-force model for random streams and settings', () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await createWorkspace('tributary-property-');
    await writeFile(ws.file('reading.avsc'), JSON.stringify(SCHEMA));
  });
  afterAll(() => ws?.cleanup());

  it('holds for every window kind, cell size, batch size, out-of-orderness and lateness', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(streamArb, windowsArb, settingsArb, async (draws, windows, settings) => {
        const dir = `run-${run++}`;
        const partitions = materialise(draws);
        const target = new CaptureTarget({ store: new LocalObjectStore(ws.file(dir, 'capture')), namespace: 'ns', hubs: { readings: 'readings' } });
        for (const [p, events] of partitions.entries()) {
          if (events.length === 0) continue;
          await target.write('readings', String(p), events.map(({ event, enqueued }) => ({ body: type.toBuffer(event), partitionKey: '', enqueuedTimeMs: enqueued, properties: {} })));
        }
        await target.close();
        const measures = [
          { fn: 'count' as const },
          { fn: 'count' as const, field: 'v', as: 'count_v' },
          { fn: 'sum' as const, field: 'v' },
          { fn: 'min' as const, field: 'v' },
          { fn: 'max' as const, field: 'v' },
          { fn: 'mean' as const, field: 'v' },
          { fn: 'sum' as const, field: 'n' },
        ];
        const { config } = await ws.writeConfig(
          {
            streams: { readings: { schema: ws.file('reading.avsc'), eventId: 'id', eventTime: 'ts' } },
            source: { kind: 'capture', store: { kind: 'local', path: ws.file(dir, 'capture') }, namespace: 'ns', hubs: { readings: 'readings' } },
            aggregations: [
              { name: 'tumbling', stream: 'readings', groupBy: ['g'], window: { kind: 'tumbling', size: `${windows.tumbling}ms` }, measures },
              { name: 'hopping', stream: 'readings', groupBy: ['g', 'k'], window: { kind: 'hopping', size: `${windows.hopping.size}ms`, hop: `${windows.hopping.hop}ms` }, measures },
              { name: 'sessions', stream: 'readings', groupBy: ['g', 'k'], window: { kind: 'session', gap: `${windows.gap}ms` }, measures },
              { name: 'overall', stream: 'readings', groupBy: [], window: { kind: 'tumbling', size: `${windows.tumbling}ms` }, measures: [{ fn: 'count' }, { fn: 'sum', field: 'n' }] },
            ],
            processing: {
              allowedOutOfOrderness: `${settings.outOfOrderness}ms`,
              allowedLateness: `${settings.lateness}ms`,
              dedupRetention: '1000h',
              rowsPerFile: settings.rowsPerFile,
              batchSize: settings.batchSize,
              maxFileBytes: settings.maxFileBytes,
              aggregateFileSpan: `${windows.fileSpan}ms`,
              decodeThreads: 1,
            },
            lake: { kind: 'local', path: ws.file(dir, 'lake') },
            deadLetter: { kind: 'local', path: ws.file(dir, 'deadletter') },
            state: { kind: 'local', path: ws.file(dir, 'state') },
            metrics: { enabled: false },
          },
          `${dir}.yaml`,
        );
        await runWorker(config, { bounded: true, signal: new AbortController().signal, log: createLogger('silent') });
        const model = await modelLake(config, ws.file(dir, 'capture'), 'ns');
        const got = await readLakeTables(ws.file(dir, 'lake'), config, model);
        for (const [table, want] of model.tables) expect(Object.fromEntries(got.get(table)!), `${dir}: ${table}`).toEqual(Object.fromEntries(want));

        const ids = model.raw.get('readings_raw')!;
        const raw = ids.size > 0 ? (await readLakeTable(ws.file(dir, 'lake'), 'readings_raw')).rows.map((r) => String(r.id)) : [];
        expect(raw.length, dir).toBe(ids.size);
        expect(new Set(raw), dir).toEqual(ids);
        const late = (await readDeadLetters(new LocalObjectStore(ws.file(dir, 'deadletter')))).filter((d) => d.reason === 'late');
        expect(late.length, dir).toBe(model.verdicts.get('readings')!.lateEvents.length);
      }),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 10), seed: Number(process.env.PROPERTY_SEED ?? 20261207), endOnFailure: true },
    );
  }, 600_000);
});
