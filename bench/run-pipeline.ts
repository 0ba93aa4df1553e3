/**
 * One whole-pipeline run in a process of its own, so its CPU time (all threads: process.cpuUsage is the
 * process's rusage) and its peak RSS are its own: `node dist/bench/run-pipeline.js <config.json>` prints one JSON
 * line. Module loading is before the measured span; worker-thread start-up is inside it.
 */
import { readFile } from 'node:fs/promises';
import { parseConfig } from '../src/config/load.js';
import { createLogger } from '../src/core/log.js';
import { runWorker } from '../src/runtime/worker.js';
import { DEFAULT_SNAPPY } from '../src/sink/parquet.js';
import { nativeSnappy } from '../src/sink/snappy.js';

export interface PipelineRun {
  events: number;
  seconds: number;
  cpuUs: number;
  peakRssMiB: number;
  /** which Snappy this process's Parquet files got */
  snappy: 'native' | 'js';
}

/**
 * This process's peak RSS: VmHWM of /proc/self/status where there is one. Not getrusage's maxRSS, which Linux
 * carries over exec from the process that forked this one (a bench parent holding 600 MiB made every run report
 * at least that).
 */
async function peakRssMiB(): Promise<number> {
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '');
  const kib = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
  return kib !== undefined ? Number(kib) / 1024 : process.resourceUsage().maxRSS / 1024;
}

const config = parseConfig(JSON.parse(await readFile(process.argv[2]!, 'utf8')), 'bench config');
const cpuBefore = process.cpuUsage();
const summary = await runWorker(config, { bounded: true, signal: new AbortController().signal, log: createLogger('warn') });
const cpu = process.cpuUsage(cpuBefore);
const run: PipelineRun = {
  events: summary.totals.eventsRead,
  seconds: summary.elapsedMs / 1000,
  cpuUs: cpu.user + cpu.system,
  peakRssMiB: await peakRssMiB(),
  snappy: DEFAULT_SNAPPY === 'native' && nativeSnappy() !== null ? 'native' : 'js',
};
process.stdout.write(`${JSON.stringify(run)}\n`);
