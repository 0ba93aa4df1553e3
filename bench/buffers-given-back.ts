/**
 * What giving buffers back is worth, without the pipeline (bench/NOTES.md "Buffers given back"): a thread that
 * keeps `inFlight` buffers of `sizeMiB` alive across awaits, as the main thread keeps file reads and row groups
 * waiting for their writes, allocates `count` of them; either it drops each (V8 frees it when a GC finds it dead)
 * or it gives each back with releaseBytes when done. Prints major GCs, CPU and peak RSS, one JSON line per mode,
 * each mode in a process of its own.
 *
 *   npm run build && node dist/bench/buffers-given-back.js [count=3000] [sizeMiB=1] [inFlight=64]
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { releaseBytes } from '../src/core/release-bytes.js';

const [count = 3000, sizeMiB = 1, inFlight = 64] = process.argv.slice(2, 5).map(Number);
const only = process.argv[5] as 'dropped' | 'given back' | undefined;

async function run(mode: 'dropped' | 'given back'): Promise<void> {
  let majorGcs = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) if ((entry as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majorGcs++;
  });
  observer.observe({ entryTypes: ['gc'] });
  const cpu = process.cpuUsage();
  const held: Uint8Array[] = [];
  let peakRss = 0;
  for (let i = 0; i < count; i++) {
    held.push(new Uint8Array(sizeMiB * 1024 * 1024).fill(i & 0xff));
    if (held.length > inFlight) {
      const done = held.shift()!;
      if (mode === 'given back') releaseBytes(done);
    }
    // some JavaScript garbage beside, and an await, as between a read and its batches
    const objects = Array.from({ length: 200 }, (_, k) => ({ k }));
    if (objects.length !== 200) throw new Error('unreachable');
    if (i % 5 === 0) await new Promise((resolve) => setImmediate(resolve));
    if (i % 50 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }
  // let the observer see the last GCs
  await new Promise((resolve) => setTimeout(resolve, 50));
  observer.disconnect();
  const used = process.cpuUsage(cpu);
  console.log(JSON.stringify({ mode, count, sizeMiB, inFlight, majorGcs, cpuSeconds: (used.user + used.system) / 1e6, peakRssMiB: Math.round(peakRss / 2 ** 20) }));
}

if (only) await run(only);
else {
  for (const mode of ['dropped', 'given back']) {
    process.stdout.write(execFileSync(process.execPath, [fileURLToPath(import.meta.url), String(count), String(sizeMiB), String(inFlight), mode], { encoding: 'utf8' }));
  }
}
