/**
 * A lane gives back each batch's input bytes once the batch is applied (src/ingest/decode/worker.ts,
 * partitionBatch): freed at once, they no longer wait for a scavenge or count towards the next mark-compact
 * (bench/NOTES.md). Whatever outlives the batch must have been copied out of them first: the rows (decoded into
 * the partition's columns), a dead letter's body and its envelope (encoded as the event is dead-lettered), the
 * dedup memory (hashes). The batch below has all three; its bytes are given back (every view of them then reads
 * as empty), and a later batch's duplicate, the flushed raw rows and the dead letter still hold what was sent.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import avro from 'avsc';
import { Piscina } from 'piscina';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { SourceEvent } from '../../src/core/source.js';
import { partitionBatch, partitionClose, partitionFlush, partitionOpen } from '../../src/ingest/decode/worker.js';
import { lanePlanFor, packEvents, processorSettings } from '../../src/runtime/partition-processor.js';
import type { LaneStep } from '../../src/runtime/lane-partition.js';
import { buildStreamPlan, type StreamPlan } from '../../src/runtime/stream-plan.js';
import { decodeDeadLetters } from '../../src/sink/dead-letter.js';
import { assembleParquet } from '../../src/sink/parquet.js';
import { readParquet } from '../support/read-parquet.js';
import { REPO_ROOT } from '../support/workspace.js';

const schemaFile = path.join(REPO_ROOT, 'examples/schemas/orders.avsc');
const START = Date.UTC(2026, 0, 1);

async function lanePlan() {
  const config = parseConfig(
    {
      streams: { orders: { schema: schemaFile, eventId: 'orderId', eventTime: 'createdAt' } },
      source: { kind: 'capture', store: { kind: 'local', path: 'x' }, namespace: 'n', hubs: { orders: 'orders' } },
      aggregations: [{ name: 'per_channel', stream: 'orders', groupBy: ['channel'], window: { kind: 'tumbling', size: '1m' }, measures: [{ fn: 'count' }] }],
      processing: { rowsPerFile: 1000 },
    },
    'test.yaml',
  );
  const plan = buildStreamPlan('orders', config.streams.orders!, await readFile(schemaFile, 'utf8'), config) as StreamPlan;
  return { lane: lanePlanFor(plan, '0', processorSettings(config.processing)), propertyColumns: plan.propertyColumns };
}

/** The steps a lane call returns, out of piscina's transfer wrapper. */
function stepsOf(moved: unknown): LaneStep[] {
  const value = (moved as Record<symbol, unknown>)[Piscina.valueSymbol] as LaneStep[] | { steps: LaneStep[] };
  return Array.isArray(value) ? value : value.steps;
}

describe('a lane and the bytes of a batch', () => {
  it('gives them back once the batch is applied, with the rows, a dead letter and the dedup memory copied out first', async () => {
    const type = avro.Type.forSchema(JSON.parse(await readFile(schemaFile, 'utf8')) as avro.Schema);
    const order = (i: number) => type.toBuffer({ ...(type.random() as object), orderId: `order-${i}`, createdAt: START + i * 1000 });
    const event = (position: number, body: Uint8Array): SourceEvent => ({ body, position, offset: String(position * 10), enqueuedTimeMs: START + position * 1000, partitionKey: 'k', properties: { traceparent: `tp-${position}` } });
    const corrupt = Buffer.from([0x13, 0x37, 0xff, 0x00, 0x42]);
    const first = [...Array.from({ length: 9 }, (_, i) => event(i, order(i))), event(9, corrupt)];
    // order-3 again, in the next batch: a duplicate only if the first batch's ids were remembered, not referenced
    const second = [event(10, order(3)), event(11, order(11))];

    const id = 'orders/0/given-back';
    const { lane: plan, propertyColumns } = await lanePlan();
    partitionOpen({ id, plan, snapshot: null });
    try {
      const input = packEvents(first, propertyColumns, undefined);
      expect(input.bodies.byteLength).toBeGreaterThan(0);
      partitionBatch({ id, input });
      expect(input.bodies.byteLength, 'the batch bytes are given back').toBe(0);
      // every view of given-back bytes reads as empty now: what the lane kept of the first batch must be copies
      const next = packEvents(second, propertyColumns, undefined);
      partitionBatch({ id, input: next });
      expect(next.bodies.byteLength).toBe(0);

      const steps = stepsOf(partitionFlush(id));
      const deadLetters = steps.flatMap((s) => (s.kind === 'put' && s.store === 'deadLetters' ? decodeDeadLetters(s.bytes) : []));
      expect(deadLetters.map((d) => [d.position, d.offset, d.properties, d.reason, Buffer.from(d.body, 'base64')])).toEqual([[9, '90', { traceparent: 'tp-9' }, 'decode', corrupt]]);
      const raw = steps.find((s): s is Extract<LaneStep, { kind: 'commitRaw' }> => s.kind === 'commitRaw');
      expect(raw?.open).toBeDefined();
      const { rows } = await readParquet(assembleParquet(plan.raw, [raw!.open!]));
      expect(rows.map((r) => r.orderId)).toEqual([...Array.from({ length: 9 }, (_, i) => `order-${i}`), 'order-11']);
      expect(rows.map((r) => [r._offset, r._traceparent])).toEqual([...Array.from({ length: 9 }, (_, i) => [String(i * 10), `tp-${i}`]), ['110', 'tp-11']]);
    } finally {
      partitionClose(id);
    }
  });
});
