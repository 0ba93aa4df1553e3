/**
 * State cost: bytes per dedup id and per aggregation key, in memory (heap growth) and in a snapshot.
 *
 *   npm run build && node --expose-gc dist/bench/state-cost.js
 *
 * Memory is the heap (plus array buffers) grown by filling one partition's state, measured after a forced GC;
 * snapshot bytes are the encoded snapshot's growth. Prints a Markdown table.
 */
import { EventTimeGate } from '../src/aggregate/event-time-gate.js';
import { encodeSnapshot, type PartitionSnapshot } from '../src/aggregate/snapshot.js';
import { WindowAggregator, type AggregationSpec } from '../src/aggregate/window-aggregator.js';

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
    version: 2, stream: 's', partition: '0', fingerprint: '', position: 0, offsetBefore: '', gate: gate.snapshot(),
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
process.stdout.write(`| dedup id (former Map of strings, JSON) | ${mapMem.toFixed(1)} | ${mapJson.toFixed(1)} |\n`);
process.stdout.write(`| aggregation key (1 group column of ~14 chars, count + sum + mean, one open window) | ${keyMem.toFixed(1)} | ${keySnap.toFixed(1)} |\n`);
process.stdout.write(`\n${N} ids of ${idOf(0).length} characters; ${K} keys. Node ${process.version}.\n`);
