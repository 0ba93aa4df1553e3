/**
 * The lane's body decode alone (decodeBatch of src/ingest/decode/worker.ts, the compiled decoder), in CPU
 * microseconds per order body, comparing two builds of it: `before` (a copy of an earlier dist/) and `after`
 * (this dist/), each run in a process of its own, alternated, so both see the same machine load and each starts
 * with a cold JIT as a lane does.
 *
 *   npm run build && rm -rf bench/out/before && cp -r dist bench/out/before    # on the commit to compare with
 *   (change, then) npm run build && node dist/bench/decode-orders.js [--before bench/out/before] [--after dist] [--runs 7]
 *
 * The bodies are the bench archive's (bench/pipeline.bench.ts): the generator in src/gen with the same options
 * (404k orders over 8 partitions, 1% duplicates, 0.1% corrupt), kept in partition order in bench/out/ so later
 * runs reuse them. Each process decodes them in batches of 2,000 (a lane's batch size) `ROUNDS` times; the first
 * round ("cold") includes the compilation of the decoder by V8 on its background threads (process.cpuUsage counts
 * every thread), the later ones ("warm", their median) are the steady state. Each process also hashes everything
 * decodeBatch returned (status, errors, ids, times, every column's bytes), and the two builds must agree.
 *
 * Prints one line per process and the medians per build; CPU is user + system time.
 */
import { execFileSync } from 'node:child_process';
import { createHash, type Hash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseConfig } from '../src/config/load.js';
import { generateStreams } from '../src/gen/generate.js';
import { parseGenOptions } from '../src/gen/options.js';
import type { GeneratedEvent, GenTarget } from '../src/gen/target.js';
import { loadStreamPlans } from '../src/runtime/stream-plan.js';
import type { DecodeResult, DecodeTask } from '../src/ingest/decode/task.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, path.basename(path.dirname(HERE)) === 'dist' ? '../..' : '..');
const OUT = path.join(ROOT, 'bench', 'out', 'decode-orders');
const SCHEMA = path.join(ROOT, 'examples/schemas/orders.avsc');
const EVENTS = Number(process.env.BENCH_EVENTS ?? 400_000);
const BATCH = 2_000;
const ROUNDS = 6;

function benchConfig() {
  return {
    streams: { orders: { schema: SCHEMA, eventId: 'orderId', eventTime: 'createdAt', partitionKey: 'customerId' } },
    source: { kind: 'capture', store: { kind: 'local', path: path.join(OUT, 'unused') }, namespace: 'bench', hubs: { orders: 'orders' } },
    lake: { kind: 'local', path: path.join(OUT, 'unused') },
    deadLetter: { kind: 'local', path: path.join(OUT, 'unused') },
    state: { kind: 'local', path: path.join(OUT, 'unused') },
    metrics: { enabled: false },
  };
}

/** The bench archive's bodies, partition after partition, each partition in delivery order. */
async function bodies(): Promise<{ data: Buffer; offsets: Uint32Array }> {
  const dataFile = path.join(OUT, `bodies-${EVENTS}.bin`);
  const offsetsFile = path.join(OUT, `offsets-${EVENTS}.bin`);
  if (existsSync(dataFile) && existsSync(offsetsFile)) {
    const raw = await readFile(offsetsFile);
    return { data: await readFile(dataFile), offsets: new Uint32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4) };
  }
  process.stderr.write(`generating ${EVENTS} order bodies into ${OUT}\n`);
  const config = parseConfig(benchConfig(), 'bench config');
  const partitions = new Map<string, GeneratedEvent[]>();
  const target: GenTarget = {
    write: async (_stream, partition, events) => {
      const list = partitions.get(partition) ?? [];
      for (const event of events) list.push(event);
      partitions.set(partition, list);
    },
    close: async () => {},
  };
  const options = parseGenOptions({
    events: EVENTS,
    partitions: 8,
    keys: 50_000,
    span: `${Math.max(120, Math.round((EVENTS / 200_000) * 60))}m`,
    faults: { duplicate: 0.01, outOfOrder: 0.02, late: 0.002, corrupt: 0.001 },
  });
  await generateStreams(config, options, target);
  const all = [...partitions.keys()].sort((a, b) => Number(a) - Number(b)).flatMap((p) => partitions.get(p)!);
  const offsets = new Uint32Array(all.length + 1);
  for (let i = 0; i < all.length; i++) offsets[i + 1] = offsets[i]! + all[i]!.body.byteLength;
  const data = Buffer.alloc(offsets[all.length]!);
  for (let i = 0; i < all.length; i++) data.set(all[i]!.body, offsets[i]!);
  await mkdir(OUT, { recursive: true });
  await writeFile(dataFile, data);
  await writeFile(offsetsFile, Buffer.from(offsets.buffer));
  return { data, offsets };
}

function cpuUs(run: () => void): number {
  const before = process.cpuUsage();
  run();
  const used = process.cpuUsage(before);
  return used.user + used.system;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** Everything decodeBatch returned, hashed: two builds that agree here produced the same rows and failures. */
function digest(hash: Hash, r: DecodeResult): void {
  {
    hash.update(r.status);
    hash.update(JSON.stringify(r.errors));
    hash.update(JSON.stringify(r.ids));
    hash.update(new Uint8Array(r.eventTimes.buffer, r.eventTimes.byteOffset, r.eventTimes.byteLength));
    for (const column of r.columns) {
      hash.update(column.kind);
      if (column.validity) hash.update(column.validity);
      if (column.kind === 'utf8') {
        hash.update(column.bytes);
        hash.update(new Uint8Array(column.offsets.buffer, column.offsets.byteOffset, column.offsets.byteLength));
      } else if (column.kind === 'values') hash.update(JSON.stringify(column.values, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
      else hash.update(new Uint8Array(column.values.buffer, column.values.byteOffset, column.values.byteLength));
    }
  }
}

interface ChildResult {
  cold: number;
  warm: number;
  digest: string;
  bodies: number;
}

/** One process: decode every body ROUNDS times with the decodeBatch of the dist under `dist`. */
async function child(dist: string): Promise<void> {
  const { data, offsets } = await bodies();
  const plan = (await loadStreamPlans(parseConfig(benchConfig(), 'bench config'))).get('orders')!;
  const worker = (await import(pathToFileURL(path.join(dist, 'src/ingest/decode/worker.js')).href)) as { default: (task: DecodeTask) => DecodeResult };
  const decodeBatch = worker.default;
  const n = offsets.length - 1;
  const tasks: DecodeTask[] = [];
  for (let i = 0; i < n; i += BATCH) {
    const last = Math.min(n, i + BATCH);
    const base = offsets[i]!;
    const batchOffsets = new Uint32Array(last - i + 1);
    for (let j = i; j <= last; j++) batchOffsets[j - i] = offsets[j]! - base;
    const bodies = data.buffer.slice(data.byteOffset + base, data.byteOffset + offsets[last]!) as ArrayBuffer;
    tasks.push({ spec: plan.decode, bodies, offsets: batchOffsets });
  }
  const times: number[] = [];
  const hash = createHash('sha256');
  for (let round = 0; round < ROUNDS; round++) {
    // Each batch timed alone and its result dropped after it (hashed in the last round), as a lane drops it once
    // applied: results kept across batches would add old-generation GC the lane does not have.
    let cpu = 0;
    for (const task of tasks) {
      let result: DecodeResult | undefined;
      cpu += cpuUs(() => {
        result = decodeBatch(task);
      });
      if (round === ROUNDS - 1) digest(hash, result!);
    }
    times.push(cpu);
  }
  const out: ChildResult = { cold: times[0]! / n, warm: median(times.slice(1)) / n, digest: hash.digest('hex').slice(0, 16), bodies: n };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const option = (name: string, fallback: string) => {
    const at = args.indexOf(name);
    return at >= 0 && args[at + 1] !== undefined ? args[at + 1]! : fallback;
  };
  if (args[0] === '--child') {
    await child(args[1]!);
    return;
  }
  await bodies(); // generated once, before any timing
  const builds: Record<string, string> = { before: path.resolve(option('--before', path.join(ROOT, 'bench/out/before'))), after: path.resolve(option('--after', path.join(ROOT, 'dist'))) };
  const runs = Number(option('--runs', '5'));
  const results: Record<string, ChildResult[]> = { before: [], after: [] };
  for (let run = 0; run < runs; run++) {
    for (const name of run % 2 === 0 ? ['before', 'after'] : ['after', 'before']) {
      const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', builds[name]!], { encoding: 'utf8', maxBuffer: 1 << 24 });
      const result = JSON.parse(out.trim().split('\n').at(-1)!) as ChildResult;
      results[name]!.push(result);
      process.stdout.write(`${name.padEnd(6)} run ${run + 1}: cold ${result.cold.toFixed(3)} µs/body, warm ${result.warm.toFixed(3)} µs/body, output ${result.digest}\n`);
    }
  }
  const digests = new Set([...results.before!, ...results.after!].map((r) => r.digest));
  for (const name of ['before', 'after']) {
    const list = results[name]!;
    process.stdout.write(`${name.padEnd(6)} median of ${list.length}: cold ${median(list.map((r) => r.cold)).toFixed(3)} µs/body, warm ${median(list.map((r) => r.warm)).toFixed(3)} µs/body (${list[0]!.bodies} bodies)\n`);
  }
  process.stdout.write(digests.size === 1 ? 'outputs identical\n' : `OUTPUTS DIFFER: ${[...digests].join(' ')}\n`);
  if (digests.size !== 1) process.exitCode = 1;
}

await main();
