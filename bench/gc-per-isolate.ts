/**
 * One whole-pipeline run (bench/run-pipeline.ts) under `--trace-gc-nvp`, summed per V8 isolate (the main thread's
 * and each lane's): how many scavenges and mark-compacts each ran, their pauses, and the time V8's tracer gives
 * their background and incremental work (wall time as the tracer measures it). The measure behind bench/NOTES.md's
 * GC counts ("A lane's allocations per batch", "Buffers given back"). Isolates are listed in the order of their
 * first collection, which is the main thread's first in practice (it starts before the lanes).
 *
 *   node dist/bench/gc-per-isolate.js <config.json> [node flags...]
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PipelineRun } from './run-pipeline.js';

interface Collections {
  count: number;
  pauseMs: number;
  backgroundMs: number;
  incrementalMs: number;
}

const [config, ...nodeFlags] = process.argv.slice(2);
if (config === undefined) throw new Error('usage: node dist/bench/gc-per-isolate.js <config.json> [node flags...]');
const child = spawn(process.execPath, ['--trace-gc-nvp', ...nodeFlags, path.join(path.dirname(fileURLToPath(import.meta.url)), 'run-pipeline.js'), config], { stdio: ['ignore', 'pipe', 'inherit'] });
let out = '';
child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
child.on('exit', (code) => {
  if (code !== 0) throw new Error(`run-pipeline exited with ${code}`);
  const lines = out.trim().split('\n');
  const run = JSON.parse(lines.at(-1)!) as PipelineRun;
  /** isolate address -> kind of collection (s, mc, ...) -> sums */
  const isolates = new Map<string, Map<string, Collections>>();
  for (const line of lines) {
    const isolate = /^\[\d+:(0x[0-9a-f]+)\]/.exec(line)?.[1];
    if (isolate === undefined || !line.includes(' gc=')) continue;
    const fields = new Map(line.split(/\s+/).filter((part) => part.includes('=')).map((part) => part.split('=') as [string, string]));
    const kind = fields.get('gc')!;
    let kinds = isolates.get(isolate);
    if (!kinds) isolates.set(isolate, (kinds = new Map()));
    let sums = kinds.get(kind);
    if (!sums) kinds.set(kind, (sums = { count: 0, pauseMs: 0, backgroundMs: 0, incrementalMs: 0 }));
    sums.count++;
    sums.pauseMs += Number(fields.get('pause') ?? 0);
    sums.incrementalMs += Number(fields.get('incremental') ?? 0);
    for (const [name, value] of fields) if (name.startsWith('background') || name.startsWith('scavenge.background')) sums.backgroundMs += Number(value) || 0;
  }
  const round = (sums: Collections | undefined) => (sums ? { count: sums.count, pauseMs: Math.round(sums.pauseMs), backgroundMs: Math.round(sums.backgroundMs), incrementalMs: Math.round(sums.incrementalMs) } : undefined);
  process.stdout.write(
    `${JSON.stringify({
      ...run,
      isolates: [...isolates.values()].map((kinds, i) => ({ thread: i === 0 ? 'main' : `lane ${i}`, markCompacts: round(kinds.get('mc')), scavenges: round(kinds.get('s')) })),
    })}\n`,
  );
});
