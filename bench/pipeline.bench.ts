/**
 * `npm run bench`: in one run, on one generated archive of Avro order events, measure
 *   1. bare Avro decode on one thread (avsc, the stream's schema, projection into columns as the worker does),
 *   2. bare Parquet writing of the same rows (hyparquet-writer, and parquetjs-lite for comparison),
 *   3. the whole pipeline (capture source -> decode pool -> aggregation -> Parquet -> local lake) with 1 and 2
 *      decode threads,
 * and write the figures, the pipeline efficiency and peak RSS to bench/RESULTS.md with the command.
 *
 * Efficiency = pipeline events/s / (what bare decode + write allow on the same threads: T / (1/decode + 1/write)).
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../src/config/load.js';
import { createLogger } from '../src/core/log.js';
import { generateArchive } from '../src/gen/archive.js';
import { blockData, readContainer } from '../src/ingest/capture/container.js';
import { captureEventReader, type CaptureEventReader } from '../src/ingest/capture/event-reader.js';
import decodeBatch from '../src/ingest/decode/worker.js';
import { packBodies } from '../src/ingest/decode/pool.js';
import { runWorker } from '../src/runtime/worker.js';
import { loadStreamPlans } from '../src/runtime/stream-plan.js';
import { LocalObjectStore } from '../src/sink/local-object-store.js';
import avro from 'avsc';
import { measureParquetWriters } from './parquet-writers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), path.basename(path.dirname(path.dirname(fileURLToPath(import.meta.url)))) === 'dist' ? '../..' : '..');
const OUT = path.join(ROOT, 'bench', 'out');
const EVENTS = Number(process.env.BENCH_EVENTS ?? 400_000);

function benchConfig(threads: number, lake: string) {
  return parseConfig(
    {
      streams: { orders: { schema: path.join(ROOT, 'examples/schemas/orders.avsc'), eventId: 'orderId', eventTime: 'createdAt', partitionKey: 'customerId' } },
      source: { kind: 'capture', store: { kind: 'local', path: path.join(OUT, 'capture') }, namespace: 'bench', hubs: { orders: 'orders' } },
      aggregations: [
        {
          name: 'orders_by_channel_1m',
          stream: 'orders',
          groupBy: ['channel', 'currency'],
          window: { kind: 'tumbling', size: '1m' },
          measures: [{ fn: 'count' }, { fn: 'sum', field: 'totalAmount' }, { fn: 'mean', field: 'totalAmount' }],
        },
      ],
      processing: { decodeThreads: threads, rowsPerFile: 100_000 },
      lake: { kind: 'local', path: lake },
      deadLetter: { kind: 'local', path: `${lake}-deadletter` },
      state: { kind: 'local', path: `${lake}-state` },
      metrics: { enabled: false },
    },
    'bench config',
  );
}

/** Reads the archive the way the capture source does, timing its stages on this thread. */
async function loadBodies(): Promise<{ bodies: Buffer[]; readInflateUs: number; eventDataUs: number }> {
  const store = new LocalObjectStore(path.join(OUT, 'capture'));
  const blocks: Array<{ read: CaptureEventReader; data: Buffer; count: number }> = [];
  let started = performance.now();
  for (const object of await store.list('bench/orders/')) {
    if (!object.key.endsWith('.avro')) continue;
    const container = readContainer((await store.get(object.key))!, object.key);
    const read = captureEventReader(container.schema);
    for (const block of container.blocks) blocks.push({ read, data: await blockData(container, block, object.key), count: block.count });
  }
  const readInflateMs = performance.now() - started;
  started = performance.now();
  const bodies: Buffer[] = [];
  for (const { read, data, count } of blocks) for (const event of read(data, count, 'bench')) bodies.push(Buffer.from(event.body));
  const eventDataMs = performance.now() - started;
  return { bodies, readInflateUs: (readInflateMs * 1000) / bodies.length, eventDataUs: (eventDataMs * 1000) / bodies.length };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const config = benchConfig(1, path.join(OUT, 'lake'));
  const manifest = await new LocalObjectStore(path.join(OUT, 'capture')).get('bench/orders/_tributary-gen.json');
  if (!manifest || (JSON.parse(Buffer.from(manifest).toString()) as { options: { events: number } }).options.events !== EVENTS) {
    process.stderr.write(`generating ${fmt(EVENTS)} order events in ${OUT}/capture\n`);
    await generateArchive(config, { events: EVENTS, partitions: 8, keys: 50_000, span: '2h', overwrite: true, faults: { duplicate: 0.01, outOfOrder: 0.02, late: 0.002, corrupt: 0.001 } });
  }
  const { bodies, readInflateUs, eventDataUs } = await loadBodies();
  const orderType = avro.Type.forSchema(JSON.parse(await readFile(path.join(ROOT, 'examples/schemas/orders.avsc'), 'utf8')) as avro.Schema);
  let avscStarted = performance.now();
  for (let round = 0; round < 2; round++) {
    avscStarted = performance.now();
    for (const body of bodies) {
      try {
        orderType.fromBuffer(body);
      } catch (error) {
        if (!(error instanceof Error)) throw error; // corrupt bodies injected by the generator
      }
    }
  }
  const avscUs = ((performance.now() - avscStarted) * 1000) / bodies.length;
  const avroBytes = bodies.reduce((n, b) => n + b.length, 0);
  const plan = (await loadStreamPlans(config)).get('orders')!;

  // 1. bare decode, one thread: the worker's own decode function, in batches as the pipeline sends them
  const batch = 8192;
  let rows: unknown[][] = plan.bodyColumns.map(() => []);
  const decodeStart = performance.now();
  for (let i = 0; i < bodies.length; i += batch) {
    const packed = packBodies(bodies.slice(i, i + batch).map((body) => ({ body })));
    const result = decodeBatch({ spec: plan.decode, ...packed });
    result.columns.forEach((c, k) => rows[k]!.push(...c));
  }
  const decodeSeconds = (performance.now() - decodeStart) / 1000;
  const decodeRate = bodies.length / decodeSeconds;
  process.stderr.write(`bare decode: ${fmt(decodeRate)} events/s\n`);

  // 2. bare Parquet writing of the same rows (body columns of the raw table)
  const table = { schema: { name: 'orders_raw', columns: plan.bodyColumns.map(({ name, type, nullable }) => ({ name, type, nullable })) }, columns: rows };
  const writers = await measureParquetWriters(table, 2);
  rows = [];
  const hyparquet = writers.find((w) => w.writer === 'hyparquet-writer')!;
  const parquetjs = writers.find((w) => w.writer === 'parquetjs-lite')!;
  process.stderr.write(`bare write: hyparquet-writer ${fmt(hyparquet.rowsPerSecond)} rows/s, parquetjs-lite ${fmt(parquetjs.rowsPerSecond)} rows/s\n`);

  // 3. whole pipeline, 1 and 2 threads
  const pipeline: Array<{ threads: number; eventsPerSecond: number; seconds: number; cpuUsPerEvent: number }> = [];
  for (const threads of [1, 2]) {
    const lake = path.join(OUT, `lake-${threads}`);
    for (const dir of [lake, `${lake}-deadletter`, `${lake}-state`]) await rm(dir, { recursive: true, force: true });
    const cpuBefore = process.cpuUsage();
    const summary = await runWorker(benchConfig(threads, lake), { bounded: true, signal: new AbortController().signal, log: createLogger('warn') });
    const cpu = process.cpuUsage(cpuBefore);
    const seconds = summary.elapsedMs / 1000;
    const cpuUsPerEvent = (cpu.user + cpu.system) / summary.totals.eventsRead;
    pipeline.push({ threads, eventsPerSecond: summary.totals.eventsRead / seconds, seconds, cpuUsPerEvent });
    process.stderr.write(`pipeline, ${threads} thread(s): ${fmt(summary.totals.eventsRead / seconds)} events/s\n`);
  }
  const ideal = (threads: number) => threads / (1 / decodeRate + 1 / hyparquet.rowsPerSecond);
  const peakRssMiB = process.resourceUsage().maxRSS / 1024;
  const meanBody = avroBytes / bodies.length;
  const lines = [
    '# Benchmark results',
    '',
    `Command: \`npm run bench\` (BENCH_EVENTS=${EVENTS}); recorded ${new Date().toISOString()} on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}.`,
    'All figures come from this one run on the same generated archive; the machine is shared and noisy, so compare ratios, not absolutes.',
    '',
    `Input: ${fmt(bodies.length)} Avro order events (${(avroBytes / 1024 ** 2).toFixed(1)} MiB of bodies, mean ${meanBody.toFixed(0)} B), 8 partitions, Capture archive with deflate.`,
    '',
    '| measurement | events/s | MB/s of Avro bodies |',
    '|---|---:|---:|',
    `| bare Avro decode + projection, 1 thread | ${fmt(decodeRate)} | ${((decodeRate * meanBody) / 1e6).toFixed(1)} |`,
    `| bare Parquet write, hyparquet-writer (snappy) | ${fmt(hyparquet.rowsPerSecond)} | — |`,
    `| bare Parquet write, parquetjs-lite (snappy), for comparison | ${fmt(parquetjs.rowsPerSecond)} | — |`,
    ...pipeline.map((p) => `| whole pipeline, ${p.threads} decode thread(s) | ${fmt(p.eventsPerSecond)} | ${((p.eventsPerSecond * meanBody) / 1e6).toFixed(1)} |`),
    '',
    `hyparquet-writer vs parquetjs-lite: ${(hyparquet.rowsPerSecond / parquetjs.rowsPerSecond).toFixed(1)}x the rows/s, files ${(100 * (1 - hyparquet.bytes / parquetjs.bytes)).toFixed(0)}% smaller (${fmt(hyparquet.bytes)} vs ${fmt(parquetjs.bytes)} bytes).`,
    '',
    '| pipeline | efficiency = events/s / (T / (1/decode + 1/write)) |',
    '|---|---:|',
    ...pipeline.map((p) => `| ${p.threads} thread(s) | ${(p.eventsPerSecond / ideal(p.threads)).toFixed(2)} |`),
    '',
    `Peak RSS of the benchmark process: ${peakRssMiB.toFixed(0)} MiB.`,
    '',
    'Where the time goes, microseconds per event on one thread (same run):',
    '',
    '| stage | thread in the pipeline | us/event |',
    '|---|---|---:|',
    `| read Capture files + inflate deflate blocks | main (inflate on libuv's pool) | ${readInflateUs.toFixed(2)} |`,
    `| Capture EventData records -> SourceEvents (avsc) | main | ${eventDataUs.toFixed(2)} |`,
    `| decode the Avro order body alone (avsc) | lane | ${avscUs.toFixed(2)} |`,
    `| decode + project into raw-table columns (JSON text for arrays) | lane | ${(1e6 / decodeRate).toFixed(2)} |`,
    `| Parquet encode (hyparquet-writer, snappy) | lane | ${(1e6 / hyparquet.rowsPerSecond).toFixed(2)} |`,
    ...pipeline.map((p) => `| whole pipeline, ${p.threads} lane(s), wall clock | all | ${(1e6 / p.eventsPerSecond).toFixed(2)} |`),
    ...pipeline.map((p) => `| whole pipeline, ${p.threads} lane(s), CPU time of all threads | all | ${p.cpuUsPerEvent.toFixed(2)} |`),
    '',
  ];
  const notes = await readFile(path.join(ROOT, 'bench', 'NOTES.md'), 'utf8').catch(() => '');
  await writeFile(path.join(ROOT, 'bench', 'RESULTS.md'), `${lines.join('\n')}\n${notes}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
