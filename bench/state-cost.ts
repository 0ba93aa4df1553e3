/**
 * State cost: bytes per dedup id and per aggregation key, in memory (heap growth) and in a snapshot, and the
 * bytes an incremental snapshot writes per id added since the one before.
 *
 *   npm run build && node --expose-gc dist/bench/state-cost.js
 *
 * Memory is the heap (plus array buffers) grown by filling one partition's state, measured after a forced GC;
 * snapshot bytes are the encoded snapshot's growth, and for incremental snapshots the bytes put into the store
 * (a local folder) by SnapshotStore.write. Prints a Markdown table.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EventTimeGate } from '../src/aggregate/event-time-gate.js';
import { encodeSnapshot, SNAPSHOT_VERSION, type PartitionSnapshot } from '../src/aggregate/snapshot.js';
import { WindowAggregator, type AggregationSpec } from '../src/aggregate/window-aggregator.js';
import type { ObjectStore } from '../src/core/object-store.js';
import { LocalObjectStore } from '../src/sink/local-object-store.js';
import { SnapshotStore } from '../src/state/snapshot-store.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

/** Heap plus array buffers after garbage collection (buffers are freed after the collection, hence the waits). */
async function heap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc!();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function snapshot(gate: EventTimeGate, aggregators: Record<string, WindowAggregator>): number {
  const s: PartitionSnapshot = {
    version: SNAPSHOT_VERSION, stream: 's', partition: '0', fingerprint: '', position: 0, offsetBefore: '', gate: gate.snapshot(),
    aggregators: Object.fromEntries(Object.entries(aggregators).map(([k, a]) => [k, a.snapshot()])),
  };
  return encodeSnapshot(s).byteLength;
}

const N = 1_000_000;
const options = { allowedOutOfOrdernessMs: 0, allowedLatenessMs: 0, dedupRetentionMs: 1e15, dedupMaxIds: N };
// Ids are made as they are needed, as decoding makes them: the compact set keeps none of these strings, a Map
// keeps every one.
const idOf = (i: number): string => `3f2a${i.toString(16).padStart(8, '0')}-order-uuid-like-0000`;

const emptyGate = new EventTimeGate(options);
const baseSnap = snapshot(emptyGate, {});
let before = await heap();
const gate = new EventTimeGate(options);
for (let i = 0; i < N; i++) gate.admit(idOf(i), 1_700_000_000_000 + i);
const dedupMem = ((await heap()) - before) / N;
const dedupSnap = (snapshot(gate, {}) - baseSnap) / N;

// Incremental snapshots: a cell of C new ids on top of the N above writes one segment of C entries and a
// manifest; the bytes put into the store, per id added.
const C = 10_000;
const folder = await mkdtemp(path.join(tmpdir(), 'tributary-state-cost-'));
const local: ObjectStore = new LocalObjectStore(folder);
let put = 0;
const counting: ObjectStore = {
  location: local.location,
  put: (key, bytes, metadata, o) => ((put += bytes.byteLength), local.put(key, bytes, metadata, o)),
  putFenced: (key, bytes, metadata, fence, o) => ((put += bytes.byteLength), local.putFenced(key, bytes, metadata, fence, o)),
  get: (key, o) => local.get(key, o),
  list: (prefix, o) => local.list(prefix, o),
  delete: (key, o) => local.delete(key, o),
  openUpload: (key, fence) => local.openUpload(key, fence),
};
const store = new SnapshotStore(counting, { count: 48, ageMs: 1e12 });
const at = (position: number): PartitionSnapshot => ({
  version: SNAPSHOT_VERSION, stream: 's', partition: '0', fingerprint: '', position, offsetBefore: '', gate: gate.snapshot(), aggregators: {},
});
put = 0;
await store.write(at(1));
const fullBytes = put / gate.dedupSize;
const increments: number[] = [];
for (let cell = 0; cell < 10; cell++) {
  for (let i = 0; i < C; i++) gate.admit(idOf(N + cell * C + i), 1_700_000_000_000 + N + cell * C + i);
  put = 0;
  await store.write(at(cell + 2));
  increments.push(put / C);
}
await rm(folder, { recursive: true, force: true });

// The set at its count bound: N / 2 ids remembered while 2 N are accepted, the oldest evicted first.
before = await heap();
const capped = new EventTimeGate({ ...options, dedupMaxIds: N / 2 });
for (let i = 0; i < 2 * N; i++) capped.admit(idOf(i), 1_700_000_000_000 + i);
const cappedMem = ((await heap()) - before) / capped.dedupSize;

// The Map<string, number> the set replaced, for comparison.
before = await heap();
const map = new Map<string, number>();
for (let i = 0; i < N; i++) map.set(idOf(i), 1_700_000_000_000 + i);
const mapMem = ((await heap()) - before) / N;
const mapJson = Buffer.byteLength(JSON.stringify([...map])) / N;
map.clear();

const K = 200_000;
const spec: AggregationSpec = {
  name: 'a', windowMs: 60_000, hopMs: 60_000, allowedLatenessMs: 0, fileSpanMs: 3_600_000, groupColumns: [0],
  measures: [{ fn: 'count', column: -1, output: 'n' }, { fn: 'sum', column: 1, output: 's' }, { fn: 'mean', column: 1, output: 'm' }],
};
before = await heap();
const aggregator = new WindowAggregator(spec);
// Column values are made in batches, as decoding makes them, and dropped after: the aggregator keeps what it needs.
for (let batch = 0; batch < K; batch += 1000) {
  const columns = [Array.from({ length: 1000 }, (_, i) => `customer-${batch + i}`), Array.from({ length: 1000 }, (_, i) => (batch + i) * 1.5)];
  for (let i = 0; i < 1000; i++) aggregator.add(1_700_000_000_000, columns, i);
}
const keyMem = ((await heap()) - before) / K;
const keySnap = (snapshot(emptyGate, { a: aggregator }) - baseSnap) / K;

process.stdout.write(`| state | in memory (B) | in a snapshot (B) |\n|---|---|---|\n`);
process.stdout.write(`| dedup id (compact set) | ${dedupMem.toFixed(1)} | ${dedupSnap.toFixed(1)} |\n`);
process.stdout.write(`| dedup id, set at its count bound (${N / 2} of ${2 * N} accepted) | ${cappedMem.toFixed(1)} | |\n`);
process.stdout.write(`| dedup id, first snapshot into the store (segment + manifest) | | ${fullBytes.toFixed(2)} |\n`);
process.stdout.write(`| dedup id added, incremental snapshot of ${C} new ids on ${N}+ (min-max of 10) | | ${Math.min(...increments).toFixed(2)}-${Math.max(...increments).toFixed(2)} |\n`);
process.stdout.write(`| dedup id (former Map of strings, JSON) | ${mapMem.toFixed(1)} | ${mapJson.toFixed(1)} |\n`);
process.stdout.write(`| aggregation key (1 group column of ~14 chars, count + sum + mean, one open window) | ${keyMem.toFixed(1)} | ${keySnap.toFixed(1)} |\n`);
process.stdout.write(`\n${N} ids of ${idOf(0).length} characters; ${K} keys. Node ${process.version}.\n`);
