/**
 * One whole-pipeline run (bench/run-pipeline.ts) with the CPU of each of its threads: /proc/<pid>/task/<tid>/stat
 * sampled every 20 ms, threads named by creation order (Node starts the main thread, then V8's platform workers,
 * then libuv's pool, then the lanes). Prints one JSON line: run-pipeline's figures plus µs of CPU per event per
 * thread group. Linux only. Node or V8 flags after the config go to the measured process (what a flag does to each
 * thread: `--single-threaded-gc` puts the GC's work on the threads that own the heaps).
 *
 *   node dist/bench/thread-cpu.js <config.json> [node flags...]
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PipelineRun } from './run-pipeline.js';

/** Node's default --v8-pool-size */
const V8_WORKERS = 4;
const LIBUV_THREADS = Number(process.env.UV_THREADPOOL_SIZE ?? 4);

const [config, ...nodeFlags] = process.argv.slice(2);
if (config === undefined) throw new Error('usage: node dist/bench/thread-cpu.js <config.json> [node flags...]');
const child = spawn(process.execPath, [...nodeFlags, path.join(path.dirname(fileURLToPath(import.meta.url)), 'run-pipeline.js'), config], { stdio: ['ignore', 'pipe', 'inherit'] });
let out = '';
child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
/** tid -> CPU ms (utime + stime), kept from the last sample in which the thread was alive, and its name */
const cpuMs = new Map<number, number>();
const names = new Map<number, string>();
const sample = (): void => {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${child.pid}/task`);
  } catch {
    return;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${child.pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      names.set(Number(tid), stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')));
      cpuMs.set(Number(tid), (Number(fields[11]) + Number(fields[12])) * (1000 / 100));
    } catch {
      // the thread ended between the listing and the read
    }
  }
};
const timer = setInterval(sample, 20);
child.on('exit', (code) => {
  clearInterval(timer);
  if (code !== 0) throw new Error(`run-pipeline exited with ${code}`);
  const run = JSON.parse(out.trim().split('\n').at(-1)!) as PipelineRun;
  const tids = [...cpuMs.keys()].sort((a, b) => a - b);
  const perEvent = (group: number[]): number => Number(((group.reduce((sum, tid) => sum + cpuMs.get(tid)!, 0) * 1000) / run.events).toFixed(2));
  // main, a signal-handling thread, V8's workers, Node's inspector thread, libuv's pool, then the lanes (threads
  // of native modules, such as Snappy's, have names of their own and count as other)
  const v8From = 2;
  const uvFrom = v8From + V8_WORKERS + 1;
  const lanesFrom = uvFrom + LIBUV_THREADS;
  const later = tids.slice(lanesFrom);
  process.stdout.write(
    `${JSON.stringify({
      ...run,
      cpuUsPerEvent: Number((run.cpuUs / run.events).toFixed(2)),
      mainUs: perEvent(tids.slice(0, 1)),
      v8WorkersUs: perEvent(tids.slice(v8From, v8From + V8_WORKERS)),
      libuvUs: perEvent(tids.slice(uvFrom, lanesFrom)),
      lanesUs: perEvent(later.filter((tid) => names.get(tid) === 'node')),
      otherUs: perEvent([...tids.slice(0, lanesFrom).filter((tid, i) => i === 1 || i === v8From + V8_WORKERS), ...later.filter((tid) => names.get(tid) !== 'node')]),
    })}\n`,
  );
});
