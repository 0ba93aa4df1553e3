/**
 * A partition's lane alone, on this thread: every Capture file of an archive read into a container, its blocks
 * handed to LanePartition.batch as the Capture source hands them to a lane (inflate, the one-pass EventData reader,
 * body decoding, gate and dedup, aggregates, the open cell, Parquet row groups), with no stores, threads or V8
 * work of other isolates in the figure. CPU by process.cpuUsage around the batches, per round (the first round
 * includes JIT warm-up, later rounds are steady state), then a summary line (first round, best later round).
 * `npm run bench` reports it in its stage table; to compare code changes to the lane, alternate builds:
 *
 *   node dist/bench/lane-alone.js <config.json> [rounds]
 *
 * with a config of `tributary run` whose source is a Capture archive in a local folder (the bench writes
 * bench/out/config-1.json).
 */
import { readFile } from 'node:fs/promises';
import { parseConfig } from '../src/config/load.js';
import { readContainer } from '../src/ingest/capture/container.js';
import decodeBatch from '../src/ingest/decode/worker.js';
import { LanePartition, type LaneStep } from '../src/runtime/lane-partition.js';
import { lanePlanFor, processorSettings } from '../src/runtime/partition-processor.js';
import { loadStreamPlans } from '../src/runtime/stream-plan.js';
import { LocalObjectStore } from '../src/sink/local-object-store.js';
import type { CaptureBlocks, CaptureItem } from '../src/core/source.js';

const config = parseConfig(JSON.parse(await readFile(process.argv[2]!, 'utf8')), 'bench config');
const rounds = Number(process.argv[3] ?? 3);
if (config.source.kind !== 'capture' || config.source.store.kind !== 'local') throw new Error('lane-alone: the config must read a Capture archive from a local folder');
const store = new LocalObjectStore(config.source.store.path);
const plans = await loadStreamPlans(config);
const settings = processorSettings(config.processing);

/** Each partition's files as the source hands them over: one batch of blocks per file (bench files hold ~2k events). */
const partitions = new Map<string, { stream: string; batches: CaptureBlocks[] }>();
let events = 0;
for (const [stream, hub] of Object.entries(config.source.hubs)) {
  for (const object of (await store.list(`${config.source.namespace}/${hub}/`)).sort((a, b) => a.key.localeCompare(b.key))) {
    if (!object.key.endsWith('.avro')) continue;
    const partition = object.key.split('/')[2]!;
    const container = readContainer((await store.get(object.key))!, object.key);
    let at = 0;
    const data = new Uint8Array(container.blocks.reduce((sum, b) => sum + b.stored.byteLength, 0));
    const items: CaptureItem[] = container.blocks.map((block) => {
      data.set(block.stored, at);
      const from = at;
      at += block.stored.byteLength;
      events += block.count;
      return { count: block.count, from, to: at, start: block.start, end: block.end, dataStart: block.dataStart };
    });
    const entry = partitions.get(partition) ?? { stream, batches: [] };
    entry.batches.push({ name: object.key, windowStartMs: 0, schema: container.schemaJson, codec: container.codec, onCorruptBlock: 'deadletter', newPass: entry.batches.length === 0, data: data.buffer, items });
    partitions.set(partition, entry);
  }
}

/** Bytes the lane's steps hand to the main thread (files, staged and open row groups): the same for the same work. */
function stepBytes(steps: LaneStep[]): number {
  let bytes = 0;
  for (const step of steps) {
    if (step.kind === 'put') bytes += step.bytes.byteLength;
    else if (step.kind === 'stage') bytes += step.group.bytes.byteLength;
    else if (step.kind === 'commitRaw') bytes += step.open?.bytes.byteLength ?? 0;
  }
  return bytes;
}

const perRound: number[] = [];
for (let round = 1; round <= rounds; round++) {
  let bytesOut = 0;
  const before = process.cpuUsage();
  for (const [partition, { stream, batches }] of partitions) {
    const lane = new LanePartition(lanePlanFor(plans.get(stream)!, partition, settings), decodeBatch, undefined);
    for (const blocks of batches) bytesOut += stepBytes(lane.batch({ kind: 'capture', blocks }).steps);
    bytesOut += stepBytes(lane.flush());
  }
  const cpu = process.cpuUsage(before);
  perRound.push((cpu.user + cpu.system) / events);
  process.stdout.write(`${JSON.stringify({ round, events, cpuUsPerEvent: Number(perRound.at(-1)!.toFixed(2)), bytesOut })}\n`);
}
// the summary (last line): the first round (compilation included) and the best later one (steady state)
const later = perRound.slice(1);
process.stdout.write(`${JSON.stringify({ events, firstRoundUs: perRound[0], steadyUs: later.length > 0 ? Math.min(...later) : perRound[0] })}\n`);
