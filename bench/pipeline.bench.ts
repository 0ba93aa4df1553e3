/**
 * `npm run bench`: in one run, on one generated archive of Avro order events, measure
 *   1. each stage alone on this thread, in CPU microseconds per event (process.cpuUsage: immune to other
 *      processes' load, which on a shared machine makes wall-clock figures meaningless): reading and inflating
 *      Capture blocks, EventData records -> SourceEvents, the Avro body decode, decode + projection into the raw
 *      table's columns (avsc vs the compiled decoder), Parquet encoding of the whole raw table (every column,
 *      metadata included; JavaScript vs native Snappy; parquetjs-lite for comparison);
 *   2. the whole pipeline (capture source -> lanes -> aggregation -> Parquet -> local lake), each run in a process
 *      of its own (bench/run-pipeline.ts) for its CPU time of all threads, events/s and peak RSS: with the
 *      compiled decoder and native Snappy at 1 and 2 lanes, and with avsc and JavaScript Snappy (before) at 1 and 2;
 *   3. peers on the same archive, each in its own process: a naive avsc + parquetjs-lite pipeline
 *      (bench/peers/naive.ts), DuckDB writing the same rows and the same tumbling aggregate (bench/peers/duckdb.ts),
 *      and Apache Flink 1.20 doing the same job where Java and Maven are present (bench/peers/flink/), checked
 *      to write the same rows and aggregate as Tributary;
 * and write the figures, with the command, to bench/RESULTS.md (followed by bench/NOTES.md).
 * BENCH_ONLY=stages runs part 1 alone; BENCH_ONLY=flink runs one Tributary pipeline and the Flink peer alone
 * (neither writes RESULTS.md).
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../src/config/load.js';
import { generateArchive } from '../src/gen/archive.js';
import { blockData, readContainer } from '../src/ingest/capture/container.js';
import { captureEventReader, type CaptureEventReader } from '../src/ingest/capture/event-reader.js';
import type { SourceEvent } from '../src/core/source.js';
import decodeBatch from '../src/ingest/decode/worker.js';
import { packBodies } from '../src/ingest/decode/pool.js';
import { DecodeStatus, type DecodeResult } from '../src/ingest/decode/task.js';
import { columnValues } from '../src/core/column-builder.js';
import { loadStreamPlans } from '../src/runtime/stream-plan.js';
import { LocalObjectStore } from '../src/sink/local-object-store.js';
import { DEFAULT_SNAPPY, assembleParquet, encodeRowGroup } from '../src/sink/parquet.js';
import * as hyparquetReference from './hyparquet-reference.js';
import { nativeSnappy, type SnappyImplementation } from '../src/sink/snappy.js';
import type { TableData } from '../src/core/table.js';
import avro from 'avsc';
import { measureParquetWriters } from './parquet-writers.js';
import { withoutMallocTuning } from './malloc-env.js';
import type { PipelineRun } from './run-pipeline.js';
import { measureFlinkPeer, type FlinkJobOptions } from './peers/flink/peer.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, path.basename(path.dirname(HERE)) === 'dist' ? '../..' : '..');
const DIST = path.join(ROOT, 'dist', 'bench');
const OUT = path.join(ROOT, 'bench', 'out');
const EVENTS = Number(process.env.BENCH_EVENTS ?? 400_000);
/** the long run's archive (0 skips it): long enough that lane start-up and compilation no longer weigh */
const LONG_EVENTS = Number(process.env.BENCH_LONG_EVENTS ?? 5_000_000);
const SCHEMA = path.join(ROOT, 'examples/schemas/orders.avsc');
const ROW_GROUP_ROWS = 32_768;
/** start-up (Tributary's process and lanes, the Flink peer's JVM) is measured on an archive this small and subtracted */
const STARTUP_EVENTS = 10_000;

function benchConfig(threads: number, lake: string, capture = path.join(OUT, 'capture')) {
  return {
    streams: { orders: { schema: SCHEMA, eventId: 'orderId', eventTime: 'createdAt', partitionKey: 'customerId' } },
    source: { kind: 'capture', store: { kind: 'local', path: capture }, namespace: 'bench', hubs: { orders: 'orders' } },
    aggregations: [
      {
        name: 'orders_by_channel_1m',
        stream: 'orders',
        groupBy: ['channel', 'currency'],
        window: { kind: 'tumbling', size: '1m' },
        measures: [{ fn: 'count' }, { fn: 'sum', field: 'totalAmount' }, { fn: 'mean', field: 'totalAmount' }],
      },
    ],
    processing: { decodeThreads: threads, rowsPerFile: 100_000, rowGroupRows: ROW_GROUP_ROWS },
    lake: { kind: 'local', path: lake },
    deadLetter: { kind: 'local', path: `${lake}-deadletter` },
    state: { kind: 'local', path: `${lake}-state` },
    metrics: { enabled: false },
  };
}

/** CPU microseconds (all threads of this process) spent in `run`. */
function cpuUs(run: () => void): number {
  const before = process.cpuUsage();
  run();
  const used = process.cpuUsage(before);
  return used.user + used.system;
}

async function cpuUsAsync(run: () => Promise<void>): Promise<number> {
  const before = process.cpuUsage();
  await run();
  const used = process.cpuUsage(before);
  return used.user + used.system;
}

/** The smallest of `rounds` measurements: the one least disturbed by the machine's other work. */
function best(rounds: number, measure: () => number): number {
  let min = Number.POSITIVE_INFINITY;
  for (let i = 0; i < rounds; i++) min = Math.min(min, measure());
  return min;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const us = (n: number) => n.toFixed(2);

function child<T>(script: string, args: string[], env: Record<string, string> = {}): T {
  const out = execFileSync(process.execPath, [path.join(DIST, script), ...args], { env: { ...withoutMallocTuning(process.env), ...env }, encoding: 'utf8', maxBuffer: 1 << 24 });
  return JSON.parse(out.trim().split('\n').at(-1)!) as T;
}

/**
 * One whole-pipeline run with `lanes` lanes on the archive under `capture`, in a process of its own, into a fresh
 * lake `bench/out/lake-<name>` (the Flink peer compares its output with lake-2).
 */
async function runPipeline(name: string, lanes: number, capture: string, env: Record<string, string> = {}, options: { keepLake?: boolean } = {}): Promise<PipelineRun> {
  const lake = path.join(OUT, `lake-${name}`);
  const clear = () => Promise.all([lake, `${lake}-deadletter`, `${lake}-state`].map((dir) => rm(dir, { recursive: true, force: true })));
  await clear();
  const configFile = path.join(OUT, `config-${name}.json`);
  await writeFile(configFile, JSON.stringify(benchConfig(lanes, lake, capture)));
  const run = child<PipelineRun>('run-pipeline.js', [configFile], env);
  if (options.keepLake === false) await clear();
  return run;
}

/** Generates the bench archive of `events` order events under `capture`, unless it is there already. */
async function ensureArchive(capture: string, events: number): Promise<void> {
  const manifest = await new LocalObjectStore(capture).get('bench/orders/_tributary-gen.json');
  if (!manifest || (JSON.parse(Buffer.from(manifest).toString()) as { options: { events: number } }).options.events !== events) {
    process.stderr.write(`generating ${fmt(events)} order events in ${capture}\n`);
    await generateArchive(parseConfig(benchConfig(1, path.join(OUT, 'lake'), capture), 'bench config'), {
      events,
      partitions: 8,
      keys: 50_000,
      // the bench archive's rate (200k orders per hour of event time) for longer archives
      span: `${Math.max(120, Math.round((events / 200_000) * 60))}m`,
      overwrite: true,
      faults: { duplicate: 0.01, outOfOrder: 0.02, late: 0.002, corrupt: 0.001 },
    });
  }
}

/** The Flink peer on the bench archive, compared with the lake Tributary wrote from it (`tributaryLake`). */
async function flinkPeer(tributaryLake: string) {
  const smallCapture = path.join(OUT, 'capture-10k');
  await ensureArchive(smallCapture, STARTUP_EVENTS);
  const config = parseConfig(benchConfig(2, tributaryLake), 'bench config');
  const stream = config.streams.orders!;
  const window = config.aggregations[0]!.window;
  if (window.kind !== 'tumbling') throw new Error(`the Flink peer computes a tumbling aggregate; the bench config's is ${window.kind}`);
  const options: FlinkJobOptions = {
    eventId: stream.eventId,
    eventTime: stream.eventTime,
    allowedOutOfOrdernessMs: config.processing.allowedOutOfOrderness,
    allowedLatenessMs: config.processing.allowedLateness,
    dedupRetentionMs: config.processing.dedupRetention,
    eventTimeRange: { minMs: config.processing.eventTimeRange.min, maxMs: config.processing.eventTimeRange.max },
    windowMs: window.size,
    parallelism: 2,
    heap: '512m',
  };
  const flink = await measureFlinkPeer({
    root: ROOT,
    captureDir: path.join(OUT, 'capture', 'bench', 'orders'),
    smallCaptureDir: path.join(smallCapture, 'bench', 'orders'),
    outDir: OUT,
    schemaFile: SCHEMA,
    tributaryLake,
    options,
  });
  process.stderr.write(`flink: ${flink.rows[0]}\n`);
  return flink;
}

async function main(): Promise<void> {
  await mkdir(OUT, { recursive: true });
  await ensureArchive(path.join(OUT, 'capture'), EVENTS);
  if (process.env.BENCH_ONLY === 'flink') {
    // The Flink row alone (e.g. after a change to the peer), against one Tributary run; RESULTS.md is not written.
    const run = await runPipeline('2', 2, path.join(OUT, 'capture'));
    const flink = await flinkPeer(path.join(OUT, 'lake-2'));
    process.stdout.write(
      [
        `Tributary, 2 lanes: ${us(run.cpuUs / run.events)} CPU µs/event, ${run.seconds.toFixed(1)} s, ${run.peakRssMiB.toFixed(0)} MiB`,
        '| peer | CPU µs/event | wall s | peak RSS MiB |',
        '|---|---:|---:|---:|',
        ...flink.rows,
        '',
        ...flink.notes,
        '',
      ].join('\n'),
    );
    return;
  }

  // 1. stages alone
  const store = new LocalObjectStore(path.join(OUT, 'capture'));
  const blocks: Array<{ read: CaptureEventReader; data: Buffer; count: number; partition: string }> = [];
  const readInflate = await cpuUsAsync(async () => {
    for (const object of await store.list('bench/orders/')) {
      if (!object.key.endsWith('.avro')) continue;
      const container = readContainer((await store.get(object.key))!, object.key);
      const read = captureEventReader(container.schema);
      const partition = object.key.split('/')[2]!;
      for (const block of container.blocks) blocks.push({ read, data: await blockData(container, block, object.key), count: block.count, partition });
    }
  });
  const events: SourceEvent[] = [];
  const partitions: string[] = [];
  const eventData = cpuUs(() => {
    for (const { read, data, count, partition } of blocks) {
      for (const event of read(data, count, 'bench')) {
        events.push(event);
        partitions.push(partition);
      }
    }
  });
  const n = events.length;
  const bodyBytes = events.reduce((sum, e) => sum + e.body.length, 0);
  process.stderr.write(`read ${fmt(n)} events\n`);

  const orderType = avro.Type.forSchema(JSON.parse(await readFile(SCHEMA, 'utf8')) as avro.Schema);
  const avscAlone = best(3, () =>
    cpuUs(() => {
      for (const event of events) {
        try {
          orderType.fromBuffer(Buffer.from(event.body.buffer, event.body.byteOffset, event.body.byteLength));
        } catch (error) {
          if (!(error instanceof Error)) throw error; // corrupt bodies injected by the generator
        }
      }
    }),
  );
  const plan = (await loadStreamPlans(parseConfig(benchConfig(1, path.join(OUT, 'lake')), 'bench config'))).get('orders')!;
  const batches: Array<ReturnType<typeof packBodies>> = [];
  for (let i = 0; i < n; i += 8192) batches.push(packBodies(events.slice(i, i + 8192)));
  const decodeWith = (decoder: 'avsc' | 'compiled') => {
    const columns: unknown[][] = plan.bodyColumns.map(() => []);
    const ok: number[] = [];
    const results: DecodeResult[] = [];
    const cpu = cpuUs(() => {
      batches.forEach((packed) => {
        // packBodies' buffers are transferred in the pipeline; here they are reused, so decode from copies
        results.push(decodeBatch({ spec: { ...plan.decode, decoder }, bodies: packed.bodies.slice(0), offsets: packed.offsets.slice() }));
      });
    });
    // The typed batch columns as JS values (outside the timing: the encode stage below takes values).
    results.forEach((result, b) => {
      for (let c = 0; c < columns.length; c++) for (const v of columnValues(result.columns[c]!)) columns[c]!.push(v);
      result.status.forEach((s, i) => s === DecodeStatus.Ok && ok.push(b * 8192 + i));
    });
    return { cpu, columns, ok };
  };
  let avscDecode = Number.POSITIVE_INFINITY;
  let compiledDecode = Number.POSITIVE_INFINITY;
  let decoded = decodeWith('compiled');
  for (let round = 0; round < 3; round++) {
    avscDecode = Math.min(avscDecode, decodeWith('avsc').cpu);
    decoded = decodeWith('compiled');
    compiledDecode = Math.min(compiledDecode, decoded.cpu);
  }
  process.stderr.write(`decode: avsc ${us(avscDecode / n)}, compiled ${us(compiledDecode / n)} us/event\n`);

  // The whole raw table, metadata columns included, as the lane holds it.
  const okEvents = decoded.ok.map((i) => events[i]!);
  const okPartitions = decoded.ok.map((i) => partitions[i]!);
  const raw: TableData = {
    schema: plan.raw,
    columns: [
      ...decoded.columns,
      okPartitions,
      okEvents.map((e) => e.position),
      okEvents.map((e) => e.offset),
      okEvents.map((e) => e.enqueuedTimeMs),
      okEvents.map((e) => e.partitionKey),
      ...plan.propertyColumns.map((name) =>
        okEvents.map((e) => {
          const value = e.properties[name];
          return value === undefined || value === null ? null : String(value);
        }),
      ),
    ],
  };
  const rows = okEvents.length;
  // The encoder (src/sink/parquet.ts) against the hyparquet-writer one it replaced (bench/hyparquet-reference.ts),
  // alternating within one run so both see the same machine load.
  type Encoder = { encodeRowGroup: typeof encodeRowGroup; assembleParquet: typeof assembleParquet };
  const encoders: Record<'before' | 'after', Encoder> = { before: hyparquetReference, after: { encodeRowGroup, assembleParquet } };
  const encodeWith = (snappy: SnappyImplementation, encoder: Encoder = encoders.after) => {
    let bytes = 0;
    const cpu = cpuUs(() => {
      const groups = [];
      for (let start = 0; start < rows; start += ROW_GROUP_ROWS) {
        groups.push(encoder.encodeRowGroup({ schema: raw.schema, columns: raw.columns.map((c) => c.slice(start, start + ROW_GROUP_ROWS)) }, { snappy }));
      }
      bytes = encoder.assembleParquet(raw.schema, groups).byteLength;
    });
    return { cpu, bytes };
  };
  const encode: Record<SnappyImplementation, { cpu: number; bytes: number }> = { js: { cpu: Infinity, bytes: 0 }, native: { cpu: Infinity, bytes: 0 } };
  const encodeBefore: Record<SnappyImplementation, { cpu: number; bytes: number }> = { js: { cpu: Infinity, bytes: 0 }, native: { cpu: Infinity, bytes: 0 } };
  for (let round = 0; round < 3; round++) {
    for (const snappy of ['js', 'native'] as const) {
      const run = encodeWith(snappy);
      if (run.cpu < encode[snappy].cpu) encode[snappy] = run;
      const before = encodeWith(snappy, encoders.before);
      if (before.cpu < encodeBefore[snappy].cpu) encodeBefore[snappy] = before;
    }
  }
  process.stderr.write(
    `encode: js snappy ${us(encode.js.cpu / rows)}, native ${us(encode.native.cpu / rows)} us/row (${fmt(encode.native.bytes)} B); ` +
      `hyparquet-writer before: js ${us(encodeBefore.js.cpu / rows)}, native ${us(encodeBefore.native.cpu / rows)} us/row (${fmt(encodeBefore.native.bytes)} B)\n`,
  );
  const PARQUETJS_ROWS = Math.min(rows, 50_000);
  const sample: TableData = { schema: raw.schema, columns: raw.columns.map((c) => c.slice(0, PARQUETJS_ROWS)) };
  const parquetjs = (await measureParquetWriters(sample, 1)).find((w) => w.writer === 'parquetjs-lite')!;
  const parquetjsCpu = await cpuUsAsync(async () => {
    await measureParquetWriters(sample, 1);
  });
  // measureParquetWriters runs each writer twice (warm-up + 1); subtract encodeParquet's share (with the process's
  // default Snappy) measured above.
  const parquetjsUsPerRow = (parquetjsCpu / 2 - (encode[DEFAULT_SNAPPY].cpu / rows) * PARQUETJS_ROWS) / PARQUETJS_ROWS;
  if (process.env.BENCH_ONLY === 'stages') {
    // A quicker run for the stage table alone (e.g. after a change to one stage); RESULTS.md is not written.
    process.stdout.write(
      `stages, CPU µs/event: read+inflate ${us(readInflate / n)}, EventData ${us(eventData / n)}, avsc alone ${us(avscAlone / n)}, ` +
        `decode+project avsc ${us(avscDecode / n)}, compiled ${us(compiledDecode / n)}, encode js ${us(encode.js.cpu / rows)}, native ${us(encode.native.cpu / rows)} ` +
        `(hyparquet-writer before: js ${us(encodeBefore.js.cpu / rows)}, native ${us(encodeBefore.native.cpu / rows)}), file ${fmt(encode.native.bytes)} B (before ${fmt(encodeBefore.native.bytes)} B)\n`,
    );
    return;
  }
  blocks.length = 0;
  events.length = 0;
  batches.length = 0;
  raw.columns = [];
  decoded = { cpu: 0, columns: [], ok: [] };

  // 2. whole pipeline, each run in its own process
  const runs: Array<{ label: string; lanes: number; run: PipelineRun }> = [];
  const variants: Array<{ label: string; env: Record<string, string> }> = [
    { label: 'compiled decoder, native Snappy', env: {} },
    { label: 'avsc, JavaScript Snappy (before)', env: { TRIBUTARY_DECODER: 'avsc', TRIBUTARY_SNAPPY: 'js' } },
  ];
  for (const variant of variants) {
    for (const lanes of [1, 2]) {
      const run = await runPipeline(String(lanes), lanes, path.join(OUT, 'capture'), variant.env);
      runs.push({ label: variant.label, lanes, run });
      process.stderr.write(`pipeline, ${variant.label}, ${lanes} lane(s): ${us(run.cpuUs / run.events)} us CPU/event, ${fmt(run.events / run.seconds)} events/s, ${run.peakRssMiB.toFixed(0)} MiB\n`);
    }
  }

  // A partition's lane alone on one thread (bench/lane-alone.ts) over the same archive: the lanes' share of the
  // whole-process figure, without threads, stores or the other isolates' compilation and GC.
  const laneAlone = child<{ events: number; firstRoundUs: number; steadyUs: number }>('lane-alone.js', [path.join(OUT, 'config-1.json'), '3']);
  process.stderr.write(`lane alone: ${us(laneAlone.firstRoundUs)} us/event first round, ${us(laneAlone.steadyUs)} steady\n`);

  // Start-up (process, module loading, lane start-up, first compilation, the archive index) measured on a small
  // archive and subtracted, as the issue measured: what each further event costs once the worker runs.
  const smallCapture = path.join(OUT, 'capture-10k');
  await ensureArchive(smallCapture, STARTUP_EVENTS);
  const steady = new Map<number, { cpuUs: number; rate: number }>();
  for (const lanes of [1, 2]) {
    const small = await runPipeline(`small-${lanes}`, lanes, smallCapture);
    const full = runs.find((r) => r.lanes === lanes && r.label === variants[0]!.label)!.run;
    const events = full.events - small.events;
    steady.set(lanes, { cpuUs: (full.cpuUs - small.cpuUs) / events, rate: events / (full.seconds - small.seconds) });
    process.stderr.write(`pipeline, start-up subtracted, ${lanes} lane(s): ${us(steady.get(lanes)!.cpuUs)} us CPU/event\n`);
  }

  // The long run: 1 and 2 lanes on a larger archive of the same rate, where start-up and compilation are a small
  // share (on the bench archive they are not, and a second lane's own compilation and GC cost as much as it gains).
  const long = new Map<number, PipelineRun>();
  if (LONG_EVENTS > 0) {
    const longCapture = path.join(OUT, 'capture-long');
    await ensureArchive(longCapture, LONG_EVENTS);
    for (const lanes of [1, 2]) {
      // its lake is gigabytes: gone once measured
      const run = await runPipeline(`long-${lanes}`, lanes, longCapture, {}, { keepLake: false });
      long.set(lanes, run);
      process.stderr.write(`pipeline, long run, ${lanes} lane(s): ${us(run.cpuUs / run.events)} us CPU/event, ${fmt(run.events / run.seconds)} events/s, ${run.peakRssMiB.toFixed(0)} MiB\n`);
    }
  }

  // 3. peers
  const captureDir = path.join(OUT, 'capture', 'bench', 'orders');
  // The naive pipeline is an order of magnitude slower: it gets 2 of the 8 partitions (CPU per event is what counts).
  const naiveInput = path.join(OUT, 'naive-input');
  await rm(naiveInput, { recursive: true, force: true });
  await mkdir(naiveInput, { recursive: true });
  for (const partition of ['0', '1']) await symlink(path.join(captureDir, partition), path.join(naiveInput, partition));
  const naive = child<{ events: number; seconds: number; cpuUs: number; peakRssMiB: number }>('peers/naive.js', [naiveInput, path.join(OUT, 'naive'), SCHEMA]);
  process.stderr.write(`naive: ${us(naive.cpuUs / naive.events)} us CPU/event\n`);
  const duck = child<{ events: number; decodeCpuUs: number; duckdbCpuUs: number; duckdbSeconds: number; peakRssMiB: number }>('peers/duckdb.js', [captureDir, path.join(OUT, 'duckdb'), SCHEMA]);
  process.stderr.write(`duckdb: ${us(duck.duckdbCpuUs / duck.events)} us CPU/event\n`);
  // The lake of the last pipeline run above (2 lanes): Flink's rows and aggregate must equal it.
  const flink = await flinkPeer(path.join(OUT, 'lake-2'));

  const after1 = runs.find((r) => r.lanes === 1 && r.label === variants[0]!.label)!.run;
  const after2 = runs.find((r) => r.lanes === 2 && r.label === variants[0]!.label)!.run;
  const rate = (r: PipelineRun) => r.events / r.seconds;
  const cores = os.cpus().length;
  const lines = [
    '# Benchmark results',
    '',
    `Command: \`npm run bench\` (BENCH_EVENTS=${EVENTS}); recorded ${new Date().toISOString()} on ${cores} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}, load average at the end ${os.loadavg().map((l) => l.toFixed(1)).join(' / ')}.`,
    'All figures come from this one run on the same generated archive. CPU time (user + system, all threads of the process) is the',
    'measure that other processes on a shared machine disturb least; wall-clock rates are shown but depend on the load.',
    "Every Node process here (Tributary, the naive and DuckDB peers) runs with glibc's malloc defaults, as the container image does.",
    '',
    `Input: ${fmt(n)} Avro order events (${(bodyBytes / 1024 ** 2).toFixed(1)} MiB of bodies, mean ${(bodyBytes / n).toFixed(0)} B), 8 partitions, Capture archive with deflate; ${fmt(rows)} decode.`,
    '',
    '## Stages alone (one thread, CPU µs per event; best of 3 where repeated)',
    '',
    '| stage | thread in the pipeline | CPU µs/event |',
    '|---|---|---:|',
    `| read Capture files + inflate deflate blocks | main (inflate on libuv's pool) | ${us(readInflate / n)} |`,
    `| Capture EventData records -> SourceEvents | main | ${us(eventData / n)} |`,
    `| decode the Avro order body alone (avsc, an object per record) | lane | ${us(avscAlone / n)} |`,
    `| decode + project into raw-table columns, avsc + projection (before) | lane | ${us(avscDecode / n)} |`,
    `| decode + project into raw-table columns, compiled decoder | lane | ${us(compiledDecode / n)} |`,
    `| Parquet encode, all ${raw.schema.columns.length} raw-table columns, hyparquet-writer + JavaScript Snappy (before) | lane | ${us(encodeBefore.js.cpu / rows)} |`,
    `| Parquet encode, all ${raw.schema.columns.length} raw-table columns, hyparquet-writer + native Snappy (before) | lane | ${us(encodeBefore.native.cpu / rows)} |`,
    `| Parquet encode, all ${raw.schema.columns.length} raw-table columns, column encoder + JavaScript Snappy | lane | ${us(encode.js.cpu / rows)} |`,
    `| Parquet encode, all ${raw.schema.columns.length} raw-table columns, column encoder + native Snappy${nativeSnappy() ? '' : ' (NOT LOADED: JavaScript)'} | lane | ${us(encode.native.cpu / rows)} |`,
    `| Parquet encode, same table, parquetjs-lite (first ${fmt(PARQUETJS_ROWS)} rows), for comparison | — | ${us(parquetjsUsPerRow)} |`,
    `| a partition's whole lane (bench/lane-alone.ts: inflate, EventData, decode, gate and dedup, aggregates, cell, Parquet), first pass over the archive (compilation included) | lane | ${us(laneAlone.firstRoundUs)} |`,
    `| the same, steady state (best of passes 2-3) | lane | ${us(laneAlone.steadyUs)} |`,
    '',
    `Files: ${fmt(encode.js.bytes)} bytes with JavaScript Snappy, ${fmt(encode.native.bytes)} with native Snappy (before: ${fmt(encodeBefore.js.bytes)} and ${fmt(encodeBefore.native.bytes)}; ${fmt(parquetjs.bytes)} for the parquetjs-lite sample).`,
    '',
    '## Whole pipeline (each run a process of its own: CPU of all its threads, from config loaded to last file written)',
    '',
    '| variant | lanes | CPU µs/event | events/s (wall) | MB/s of bodies | peak RSS MiB | Snappy |',
    '|---|---:|---:|---:|---:|---:|---|',
    ...runs.map(
      ({ label, lanes, run }) =>
        `| ${label} | ${lanes} | ${us(run.cpuUs / run.events)} | ${fmt(rate(run))} | ${((rate(run) * bodyBytes) / n / 1e6).toFixed(1)} | ${run.peakRssMiB.toFixed(0)} | ${run.snappy} |`,
    ),
    '',
    `2-lane / 1-lane speedup (compiled decoder, native Snappy): ${(rate(after2) / rate(after1)).toFixed(2)}x wall clock. CPU-bound ceiling on ${cores} cores: ${fmt((cores * 1e6) / (after2.cpuUs / after2.events))} events/s at ${us(after2.cpuUs / after2.events)} µs/event.`,
    '',
    `Start-up subtracted (the same runs minus runs on a ${fmt(STARTUP_EVENTS)}-order archive made the same way, as the issue measured; compiled decoder, native Snappy):`,
    '',
    '| lanes | CPU µs/event | events/s (wall) | CPU-bound ceiling on the machine\'s cores, events/s |',
    '|---:|---:|---:|---:|',
    ...[1, 2].map((lanes) => `| ${lanes} | ${us(steady.get(lanes)!.cpuUs)} | ${fmt(steady.get(lanes)!.rate)} | ${fmt((cores * 1e6) / steady.get(lanes)!.cpuUs)} |`),
    '',
    `2-lane / 1-lane speedup, start-up subtracted: ${(steady.get(2)!.rate / steady.get(1)!.rate).toFixed(2)}x wall clock.`,
    ...(long.size === 2
      ? [
          '',
          `Long run: ${fmt(long.get(1)!.events)} orders made the same way at the same rate (BENCH_LONG_EVENTS; compiled decoder, native Snappy), whole process:`,
          '',
          '| lanes | CPU µs/event | events/s (wall) | MB/s of bodies | peak RSS MiB |',
          '|---:|---:|---:|---:|---:|',
          ...[1, 2].map((lanes) => {
            const run = long.get(lanes)!;
            return `| ${lanes} | ${us(run.cpuUs / run.events)} | ${fmt(rate(run))} | ${((rate(run) * bodyBytes) / n / 1e6).toFixed(1)} | ${run.peakRssMiB.toFixed(0)} |`;
          }),
          '',
          `2-lane / 1-lane speedup, long run: ${(rate(long.get(2)!) / rate(long.get(1)!)).toFixed(2)}x wall clock.`,
        ]
      : []),
    '',
    '## Peers on the same archive',
    '',
    '| peer | CPU µs/event | wall s | peak RSS MiB |',
    '|---|---:|---:|---:|',
    `| naive (partitions 0-1, ${fmt(naive.events)} events): avsc container + body decode, parquetjs-lite raw rows + 1-min tumbling aggregate (no dedup, lateness or checkpoints) | ${us(naive.cpuUs / naive.events)} | ${naive.seconds.toFixed(1)} | ${naive.peakRssMiB.toFixed(0)} |`,
    `| DuckDB 2 threads: NDJSON -> table -> raw Parquet (snappy) + the same tumbling aggregate | ${us(duck.duckdbCpuUs / duck.events)} | ${duck.duckdbSeconds.toFixed(1)} | ${duck.peakRssMiB.toFixed(0)} |`,
    `| (DuckDB's feed: avsc decode to NDJSON, not counted above) | ${us(duck.decodeCpuUs / duck.events)} | — | — |`,
    ...flink.rows,
    '',
    ...flink.notes,
    ...(flink.notes.length > 0 ? [''] : []),
  ];
  const notes = await readFile(path.join(ROOT, 'bench', 'NOTES.md'), 'utf8').catch(() => '');
  await writeFile(path.join(ROOT, 'bench', 'RESULTS.md'), `${lines.join('\n')}\n${notes}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
