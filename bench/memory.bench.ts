/**
 * `npm run bench:memory`: peak RSS of the whole worker process (main thread and lanes) on archives of growing size
 * and on the demo, each run a process of its own (bench/run-pipeline.ts, which reports getrusage's maxRSS), with
 * the process's RSS sampled from /proc while it runs so the curve shows whether memory follows the archive.
 *
 * The order archives keep one event rate (MEMORY_RATE events per hour of enqueued time, default 400k/h) whatever
 * their size, as a live stream would: memory may follow the rate (dedup retention is a time) but not the size.
 * Sizes: MEMORY_EVENTS, a comma-separated list (default 400000,1600000,5000000). MEMORY_DEMO=0 skips the demo.
 * Each size runs with glibc's malloc defaults (as the container image runs the worker) and with a fixed mmap
 * threshold (bench/malloc-env.ts: less memory, more CPU).
 * Processing settings are the defaults (rowsPerFile 200,000, rowGroupRows 32,768, inFlightBytes 64 MiB).
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../src/config/load.js';
import { generateArchive, readArchiveManifest } from '../src/gen/archive.js';
import { LocalObjectStore } from '../src/sink/local-object-store.js';
import { LOW_MEMORY_MALLOC, withoutMallocTuning } from './malloc-env.js';
import type { PipelineRun } from './run-pipeline.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, path.basename(path.dirname(HERE)) === 'dist' ? '../..' : '..');
const OUT = path.join(ROOT, 'bench', 'out', 'memory');
const SIZES = (process.env.MEMORY_EVENTS ?? '400000,1600000,5000000').split(',').map(Number);
const RATE = Number(process.env.MEMORY_RATE ?? 400_000);
const SCHEMAS = path.join(ROOT, 'examples/schemas');

interface Measured extends PipelineRun {
  label: string;
  /** RSS sampled every 250 ms, MiB */
  samples: number[];
}

function ordersConfig(dir: string) {
  return {
    streams: { orders: { schema: path.join(SCHEMAS, 'orders.avsc'), eventId: 'orderId', eventTime: 'createdAt', partitionKey: 'customerId' } },
    source: { kind: 'capture', store: { kind: 'local', path: path.join(dir, 'capture') }, namespace: 'memory', hubs: { orders: 'orders' } },
    aggregations: [
      {
        name: 'orders_by_channel_1m',
        stream: 'orders',
        groupBy: ['channel', 'currency'],
        window: { kind: 'tumbling', size: '1m' },
        measures: [{ fn: 'count' }, { fn: 'sum', field: 'totalAmount' }, { fn: 'mean', field: 'totalAmount' }],
      },
    ],
    lake: { kind: 'local', path: path.join(dir, 'lake') },
    deadLetter: { kind: 'local', path: path.join(dir, 'deadletter') },
    state: { kind: 'local', path: path.join(dir, 'state') },
    metrics: { enabled: false },
  };
}

/** The demo config (examples/tributary.yaml) with its folders moved under `dir`. */
async function demoConfig(dir: string): Promise<Record<string, unknown>> {
  const { parse } = await import('yaml');
  const config = parse(await readFile(path.join(ROOT, 'examples/tributary.yaml'), 'utf8')) as Record<string, Record<string, unknown>>;
  for (const stream of Object.values(config.streams as Record<string, { schema: string }>)) stream.schema = path.join(ROOT, 'examples', stream.schema);
  (config.source!.store as { path: string }).path = path.join(dir, 'capture');
  for (const [key, folder] of [['lake', 'lake'], ['deadLetter', 'deadletter'], ['state', 'state']] as const) (config[key] as { path: string }).path = path.join(dir, folder);
  return { ...config, metrics: { enabled: false } };
}

async function ensureArchive(dir: string, config: Record<string, unknown>, events: number, options: Record<string, unknown>): Promise<void> {
  const parsed = parseConfig(config, `${dir} config`);
  if (parsed.source.kind !== 'capture') throw new Error('unreachable');
  const hubs = Object.values(parsed.source.hubs);
  const store = new LocalObjectStore(path.join(dir, 'capture'));
  const manifests = await Promise.all(hubs.map((hub) => readArchiveManifest(store, parsed.source.kind === 'capture' ? parsed.source.namespace : '', hub)));
  if (manifests.every((m) => m?.options.events === events)) return;
  process.stderr.write(`generating ${events.toLocaleString('en-US')} events per stream in ${dir}/capture\n`);
  await generateArchive(parsed, { events, partitions: 8, overwrite: true, ...options });
}

/** One run in a process of its own; RSS read from /proc/<pid>/status every 250 ms. */
async function measure(label: string, dir: string, config: Record<string, unknown>, env: Readonly<Record<string, string>> = {}): Promise<Measured> {
  for (const folder of ['lake', 'deadletter', 'state']) await rm(path.join(dir, folder), { recursive: true, force: true });
  const file = path.join(dir, 'config.json');
  await writeFile(file, JSON.stringify(config));
  const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'bench', 'run-pipeline.js'), file], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...withoutMallocTuning(process.env), ...env } });
  const samples: number[] = [];
  const timer = setInterval(() => {
    readFile(`/proc/${child.pid}/status`, 'utf8').then(
      (status) => {
        const kib = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
        if (kib) samples.push(Number(kib) / 1024);
      },
      () => undefined, // the process has just ended
    );
  }, 250);
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearInterval(timer);
  if (code !== 0) throw new Error(`${label}: run-pipeline exited with ${code}`);
  const run = JSON.parse(out.trim().split('\n').at(-1)!) as PipelineRun;
  return { label, ...run, samples };
}

/** RSS at a quarter, half, three quarters of the run and at its end, MiB. */
function curve(samples: number[]): string {
  const at = (share: number) => samples[Math.min(samples.length - 1, Math.floor(samples.length * share))] ?? 0;
  return [0.25, 0.5, 0.75, 0.99].map((share) => at(share).toFixed(0)).join(' / ');
}

async function main(): Promise<void> {
  await mkdir(OUT, { recursive: true });
  const runs: Measured[] = [];
  for (const events of SIZES) {
    const dir = path.join(OUT, `orders-${events}`);
    const config = ordersConfig(dir);
    await ensureArchive(dir, config, events, { keys: 50_000, span: Math.round((events / RATE) * 3_600_000) });
    // each size also with the low-memory malloc setting, to show what it saves (and costs in CPU)
    for (const [setting, env] of [['glibc malloc defaults (as the image runs it)', {}], ['MALLOC_MMAP_THRESHOLD_=131072', LOW_MEMORY_MALLOC]] as const) {
      const run = await measure(`orders, ${events.toLocaleString('en-US')} events, ${setting}`, dir, config, env);
      process.stderr.write(`${run.label}: peak RSS ${run.peakRssMiB.toFixed(0)} MiB in ${run.seconds.toFixed(0)} s\n`);
      runs.push(run);
    }
  }
  if (process.env.MEMORY_DEMO !== '0') {
    const dir = path.join(OUT, 'demo');
    const config = await demoConfig(dir);
    // the options `tributary demo` generates with (src/cli/demo.ts)
    await ensureArchive(dir, config, 550_000, {
      distribution: 'zipf',
      skew: 0.8,
      keys: 50_000,
      span: 3_600_000,
      faults: { duplicate: 0.01, outOfOrder: 0.02, late: 0.002, corrupt: 0.001 },
    });
    const run = await measure('demo (examples/tributary.yaml, 2 x 550,000 events)', dir, config);
    process.stderr.write(`${run.label}: peak RSS ${run.peakRssMiB.toFixed(0)} MiB in ${run.seconds.toFixed(0)} s\n`);
    runs.push(run);
  }
  const lines = [
    `Command: npm run bench:memory (MEMORY_EVENTS=${SIZES.join(',')}, MEMORY_RATE=${RATE}/h)`,
    '',
    '| run | events read | peak RSS MiB | RSS at 1/4 / 1/2 / 3/4 / end of the run, MiB | wall s | CPU µs/event |',
    '|---|---:|---:|---|---:|---:|',
    ...runs.map((r) => `| ${r.label} | ${r.events.toLocaleString('en-US')} | ${r.peakRssMiB.toFixed(0)} | ${curve(r.samples)} | ${r.seconds.toFixed(0)} | ${(r.cpuUs / r.events).toFixed(1)} |`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  await writeFile(path.join(OUT, 'results.json'), JSON.stringify(runs.map(({ samples, ...run }) => ({ ...run, samples: samples.map((s) => Math.round(s)) }))));
}

await main();
