/**
 * The Capture archive index a run builds before its partitions start, alone on this process: with `edges: 'all'`
 * (what a run did before, and what reset and range replay still do: every file's first and last block inflated)
 * and with `edges: 'last'` (what a run does now: every file's structure checked, only each partition's last file
 * decoded; the lanes report the other files' edges as they read them). No cache, so every file is indexed. Wall
 * and CPU (process.cpuUsage: this thread and libuv's pool, where the files are read and, with 'all', inflated),
 * modes alternated:
 *
 *   node dist/bench/archive-index.js <archive folder> [namespace] [rounds]
 */
import { indexArchive, type IndexOptions } from '../src/ingest/capture/archive-index.js';
import { LocalObjectStore } from '../src/sink/local-object-store.js';

const folder = process.argv[2];
if (!folder) throw new Error('usage: node dist/bench/archive-index.js <archive folder> [namespace] [rounds]');
const namespace = process.argv[3] ?? 'bench';
const rounds = Number(process.argv[4] ?? 3);
const store = new LocalObjectStore(folder);
const hubs = Object.fromEntries((await store.list(`${namespace}/`)).map((o) => o.key.split('/')[1]!).filter((hub, i, all) => all.indexOf(hub) === i).map((hub) => [hub, hub]));

for (let round = 1; round <= rounds; round++) {
  for (const edges of ['all', 'last'] as const satisfies ReadonlyArray<IndexOptions['edges']>) {
    const started = performance.now();
    const cpu = process.cpuUsage();
    const index = await indexArchive({ store, namespace, hubs }, undefined, undefined, { edges });
    const used = process.cpuUsage(cpu);
    let files = 0;
    for (const partitions of index.values()) for (const list of partitions.values()) files += list.length;
    process.stdout.write(`${JSON.stringify({ round, edges, files, wallMs: Math.round(performance.now() - started), cpuMs: Math.round((used.user + used.system) / 1000) })}\n`);
  }
}
