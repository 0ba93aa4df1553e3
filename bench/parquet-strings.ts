/**
 * CPU of encoding the raw order table's Parquet row groups as a lane does (typed columns: UTF-8 spans, Float64Array;
 * row groups of 32,768 rows, each the tail of an open cell), and a SHA-256 of every byte written, so two builds can
 * be compared for speed and for identical output.
 *
 *   npm run build && node dist/bench/parquet-strings.js [events] [passes]
 *     one process: prints {cold, warm, best, hash} as JSON (cold: the first pass, compilation included; warm: the
 *     median of the passes after it, best their least; CPU µs per row, process.cpuUsage, all threads); events
 *     default 400,000 (8 partitions: a row group of 32,768 rows and a tail per partition)
 *   node dist/bench/parquet-strings.js compare <other dist> [runs] [events] [passes]
 *     alternates `runs` processes of this build and of <other dist> (say a build of main), prints each run and the
 *     medians, and fails when the two builds write different bytes
 *   node dist/bench/parquet-strings.js columns [events] [passes]
 *     each column encoded alone (a one-column row group): median CPU µs per row and the chunk's encodings
 *
 * PARQUET_STRINGS_COMPRESSION=UNCOMPRESSED leaves Snappy out (the encoder alone); the default is the sink's SNAPPY.
 *
 * The input is the bench's generated archive (bench/out/parquet-strings-capture, made on first use): orders
 * decoded by the compiled decoder into typed batch columns, gathered per partition into the raw table's column
 * builders with the metadata columns as the lane appends them.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../src/config/load.js';
import { ColumnBuilder } from '../src/core/column-builder.js';
import type { TableData } from '../src/core/table.js';
import { generateArchive } from '../src/gen/archive.js';
import { blockData, readContainer } from '../src/ingest/capture/container.js';
import { captureEventReader } from '../src/ingest/capture/event-reader.js';
import { packBodies } from '../src/ingest/decode/pool.js';
import { DecodeStatus } from '../src/ingest/decode/task.js';
import decodeBatch from '../src/ingest/decode/worker.js';
import type { SourceEvent } from '../src/core/source.js';
import { loadStreamPlans } from '../src/runtime/stream-plan.js';
import { LocalObjectStore } from '../src/sink/local-object-store.js';
import { encodeRowGroup } from '../src/sink/parquet.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, path.basename(path.dirname(HERE)) === 'dist' ? '../..' : '..');
/** Both builds of a comparison read the archive of the build that compares (see compare). */
const CAPTURE = process.env.PARQUET_STRINGS_CAPTURE ?? path.join(ROOT, 'bench', 'out', 'parquet-strings-capture');
const SCHEMA = path.join(ROOT, 'examples/schemas/orders.avsc');
const ROW_GROUP_ROWS = 32_768;
const COMPRESSION = process.env.PARQUET_STRINGS_COMPRESSION === 'UNCOMPRESSED' ? 'UNCOMPRESSED' : 'SNAPPY';

interface Figures {
  rows: number;
  /** CPU µs per row of the first pass (compilation included) */
  cold: number;
  /** median CPU µs per row of the later passes */
  warm: number;
  /** the least CPU µs per row of the later passes (the pass least disturbed by the machine's other work) */
  best: number;
  hash: string;
}

function config(events: number) {
  return parseConfig(
    {
      streams: { orders: { schema: SCHEMA, eventId: 'orderId', eventTime: 'createdAt', partitionKey: 'customerId' } },
      source: { kind: 'capture', store: { kind: 'local', path: CAPTURE }, namespace: `pq${events}`, hubs: { orders: 'orders' } },
      aggregations: [],
      lake: { kind: 'local', path: path.join(ROOT, 'bench', 'out', 'unused-lake') },
      metrics: { enabled: false },
    },
    'bench config',
  );
}

/** The raw table's row groups as the lane hands them to the encoder: one table of typed columns per group. */
async function rowGroups(events: number): Promise<TableData[]> {
  const cfg = config(events);
  const store = new LocalObjectStore(CAPTURE);
  if (!(await store.get(`pq${events}/orders/_tributary-gen.json`))) {
    process.stderr.write(`generating ${events} order events in ${CAPTURE}\n`);
    await generateArchive(cfg, { events, partitions: 8, keys: 50_000, span: `${Math.max(120, Math.round((events / 200_000) * 60))}m`, overwrite: true });
  }
  const plan = (await loadStreamPlans(cfg)).get('orders')!;
  const byPartition = new Map<string, SourceEvent[]>();
  for (const object of await store.list(`pq${events}/orders/`)) {
    if (!object.key.endsWith('.avro')) continue;
    const container = readContainer((await store.get(object.key))!, object.key);
    const read = captureEventReader(container.schema);
    const partition = object.key.split('/')[2]!;
    const list = byPartition.get(partition) ?? [];
    byPartition.set(partition, list);
    for (const block of container.blocks) for (const event of read(await blockData(container, block, object.key), block.count, 'bench')) list.push(event);
  }
  const groups: TableData[] = [];
  const body = plan.bodyColumns.length;
  for (const [partition, events] of [...byPartition].sort(([a], [b]) => a.localeCompare(b))) {
    const partitionBytes = Buffer.from(partition, 'utf8');
    let tail = plan.raw.columns.map((c) => new ColumnBuilder(c.type, ROW_GROUP_ROWS));
    const flush = () => {
      if (tail[0]!.rows === 0) return;
      const typed = tail.map((b) => b.column());
      groups.push({ schema: plan.raw, columns: typed.map((c) => (c.kind === 'values' ? c.values : [])), typed: typed.map((c) => (c.kind === 'values' ? undefined : c)) });
      tail = plan.raw.columns.map((c) => new ColumnBuilder(c.type, ROW_GROUP_ROWS));
    };
    for (let i = 0; i < events.length; i += 8192) {
      const batch = events.slice(i, i + 8192);
      const packed = packBodies(batch);
      const result = decodeBatch({ spec: { ...plan.decode, decoder: 'compiled' }, bodies: packed.bodies, offsets: packed.offsets });
      for (let k = 0; k < batch.length; k++) {
        if (result.status[k] !== DecodeStatus.Ok) continue;
        const event = batch[k]!;
        for (let c = 0; c < body; c++) tail[c]!.gather(result.columns[c]!, k);
        tail[body]!.appendRepeated(partitionBytes, 1);
        tail[body + 1]!.appendNumber(event.position);
        tail[body + 2]!.appendString(event.offset);
        tail[body + 3]!.appendNumber(event.enqueuedTimeMs);
        if (event.partitionKey === null) tail[body + 4]!.appendNull();
        else tail[body + 4]!.appendString(event.partitionKey);
        for (let p = 0; p < plan.propertyColumns.length; p++) {
          const value = event.properties[plan.propertyColumns[p]!];
          if (value === undefined || value === null) tail[body + 5 + p]!.appendNull();
          else tail[body + 5 + p]!.appendString(String(value));
        }
        if (tail[0]!.rows === ROW_GROUP_ROWS) flush();
      }
    }
    flush();
  }
  return groups;
}

function cpuUs(run: () => void): number {
  const before = process.cpuUsage();
  run();
  const used = process.cpuUsage(before);
  return used.user + used.system;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function measure(events: number, passes: number): Promise<Figures> {
  const groups = await rowGroups(events);
  const rows = groups.reduce((sum, g) => sum + (g.typed![0] ? g.typed![0].kind === 'utf8' ? g.typed![0].offsets.length - 1 : g.typed![0].values.length : 0), 0);
  const hash = createHash('sha256');
  const times: number[] = [];
  for (let pass = 0; pass < passes; pass++) {
    const out: Uint8Array[] = [];
    times.push(cpuUs(() => {
      for (const group of groups) out.push(encodeRowGroup(group, { compression: COMPRESSION }).bytes);
    }));
    if (pass === 0) for (const bytes of out) hash.update(bytes);
  }
  const later = times.slice(1);
  return { rows, cold: times[0]! / rows, warm: median(later) / rows, best: Math.min(...later) / rows, hash: hash.digest('hex') };
}

function compare(other: string, runs: number, events: number, passes: number): void {
  const builds = { after: path.join(HERE, 'parquet-strings.js'), before: path.join(path.resolve(other), 'bench', 'parquet-strings.js') };
  const results: Record<'before' | 'after', Figures[]> = { before: [], after: [] };
  for (let run = 0; run < runs; run++) {
    const order = run % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const);
    for (const which of order) {
      const out = execFileSync(process.execPath, [builds[which], String(events), String(passes)], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, PARQUET_STRINGS_CAPTURE: CAPTURE },
      });
      const figures = JSON.parse(out.trim().split('\n').at(-1)!) as Figures;
      results[which].push(figures);
      process.stdout.write(`run ${run + 1} ${which.padEnd(6)} cold ${figures.cold.toFixed(3)} warm ${figures.warm.toFixed(3)} best ${figures.best.toFixed(3)} µs/row  ${figures.hash.slice(0, 16)}\n`);
    }
  }
  const hashes = new Set([...results.before, ...results.after].map((f) => f.hash));
  for (const which of ['before', 'after'] as const) {
    const f = results[which];
    const at = (pick: (x: Figures) => number) => median(f.map(pick)).toFixed(3);
    process.stdout.write(`${which}: median over runs: cold ${at((x) => x.cold)}, warm ${at((x) => x.warm)}, best ${at((x) => x.best)} CPU µs/row (${f[0]!.rows} rows)\n`);
  }
  process.stdout.write(hashes.size === 1 ? `identical bytes: sha256 ${[...hashes][0]}\n` : `DIFFERENT BYTES: ${[...hashes].join(' ')}\n`);
  if (hashes.size !== 1) process.exitCode = 1;
}

/** Each column alone, as a one-column row group: where the encoder's time goes. */
async function byColumn(events: number, passes: number): Promise<void> {
  const groups = await rowGroups(events);
  const schema = groups[0]!.schema;
  const rows = groups.reduce((sum, g) => sum + (g.typed![0]?.kind === 'utf8' ? g.typed![0].offsets.length - 1 : 0), 0);
  schema.columns.forEach((spec, c) => {
    const alone = groups.map((g): TableData => ({ schema: { name: schema.name, columns: [spec] }, columns: [g.columns[c]!], typed: [g.typed![c]] }));
    let encodings = '';
    let bytes = 0;
    const timed = (compression: 'SNAPPY' | 'UNCOMPRESSED') => {
      const times: number[] = [];
      for (let pass = 0; pass < passes; pass++) {
        times.push(cpuUs(() => {
          bytes = 0;
          for (const table of alone) {
            const group = encodeRowGroup(table, { compression });
            encodings = group.rowGroup.columns[0]!.meta_data!.encodings.join('+');
            bytes += group.bytes.length;
          }
        }));
      }
      return `${(median(times) / rows).toFixed(3)} (${(bytes / rows).toFixed(1)} B)`;
    };
    const plain = timed('UNCOMPRESSED');
    const snappy = timed('SNAPPY');
    process.stdout.write(`${spec.name.padEnd(16)} ${spec.type.padEnd(12)} uncompressed ${plain}, snappy ${snappy} µs/row  ${encodings}\n`);
  });
}

const args = process.argv.slice(2);
if (args[0] === 'columns') {
  await byColumn(Number(args[1] ?? 400_000), Number(args[2] ?? 5));
} else if (args[0] === 'compare') {
  if (!args[1]) throw new Error('compare needs the other build\'s dist directory');
  compare(args[1], Number(args[2] ?? 5), Number(args[3] ?? 400_000), Number(args[4] ?? 5));
} else {
  process.stdout.write(`${JSON.stringify(await measure(Number(args[0] ?? 400_000), Number(args[1] ?? 5)))}\n`);
}
