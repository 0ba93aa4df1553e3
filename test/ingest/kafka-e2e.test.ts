/**
 * Produce with kafkajs into a real Kafka broker, run Tributary's worker on the Kafka source, and the lake holds each
 * event exactly once: raw rows carry the Kafka coordinates, key and traceparent header; redeliveries are
 * deduplicated, undecodable records are dead-lettered with their coordinates; a second run of the same group
 * changes nothing; offsets are committed only at the cells the lake holds.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/core/log.js';
import { runWorker } from '../../src/runtime/worker.js';
import { describeKafka, type KafkaBroker } from '../brokers/kafka/index.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';
import {
  T0,
  connectProducer,
  deploymentConfig,
  lakeBytes,
  landedOnce,
  orderMessage,
  orderType,
  readDeadLetterRecords,
  readTable,
  type ProducedOrder,
} from './kafka-e2e-support.js';

const PARTITIONS = 4;
const PER_PARTITION = 260;
const ROWS_PER_FILE = 100;

let ws: Workspace;

beforeEach(async () => {
  ws = await createWorkspace('tributary-kafka-e2e-');
});

afterEach(async () => {
  await ws.cleanup();
});

/** Per partition: the orders in sequence, a redelivery of an earlier one every 50, a truncated body every 97. */
async function produceOrders(broker: KafkaBroker, topic: string): Promise<{ orders: ProducedOrder[]; corrupt: Array<{ partition: number; offset: number }> }> {
  const type = await orderType();
  const producer = await connectProducer(broker);
  const orders: ProducedOrder[] = [];
  const corrupt: Array<{ partition: number; offset: number }> = [];
  try {
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const messages = [];
      for (let i = 0; i < PER_PARTITION; i++) {
        const { message, order } = orderMessage(type, partition, i);
        if (i % 97 === 13) {
          message.value = (message.value as Buffer).subarray(0, 9);
          corrupt.push({ partition, offset: messages.length });
        } else {
          orders.push(order);
        }
        messages.push(message);
        if (i % 50 === 49) messages.push(orderMessage(type, partition, i - 20).message);
      }
      for (let at = 0; at < messages.length; at += 64) await producer.send({ topic, messages: messages.slice(at, at + 64) });
    }
  } finally {
    await producer.disconnect();
  }
  return { orders, corrupt };
}

describeKafka('Kafka source end to end (in process)', (kafka) => {
  it('lands every produced event exactly once and replays to the same bytes', async () => {
    const broker = kafka();
    const topic = broker.uniqueName('orders');
    const groupId = broker.uniqueName('lake-writers');
    await broker.createTopic(topic, PARTITIONS);
    const { orders, corrupt } = await produceOrders(broker, topic);
    const config = parseConfig(deploymentConfig(broker, ws, { topic, groupId, rowsPerFile: ROWS_PER_FILE, batchSize: 40 }), 'e2e');
    const log = createLogger('silent');

    const summary = await runWorker(config, { bounded: true, signal: new AbortController().signal, log });
    expect(summary.source).toContain('kafka');

    const raw = await readTable(ws, 'orders_raw');
    expect(landedOnce(raw, orders.map((o) => o.id))).toEqual({ duplicates: [], missing: [], unexpected: [] });
    const byId = new Map(orders.map((o) => [o.id, o]));
    const highWatermarks = await broker.highWatermarks(topic);
    for (const row of raw) {
      const order = byId.get(String(row.orderId))!;
      expect(row._partition).toBe(String(order.partition));
      expect(row._partition_key).toBe(order.customerId);
      expect(row._traceparent).toBe(order.traceparent);
      expect(row._offset).toBe(String(row._position));
      expect(row._position as number).toBeLessThan(highWatermarks[order.partition]!);
      expect(row._enqueued_time).toBe(T0 + Number(String(row.orderId).split('-')[2]) * 250);
    }
    // Raw files are named by their position cell: a row's file is the cell of its offset.
    for (const row of raw) expect(row._file).toContain(`pos${String(Math.floor((row._position as number) / ROWS_PER_FILE) * ROWS_PER_FILE).padStart(16, '0')}`);

    const deadLetters = await readDeadLetterRecords(ws);
    expect(deadLetters.map((d) => [d.reason, d.partition, d.position]).sort()).toEqual(corrupt.map((c) => ['decode', String(c.partition), c.offset]).sort());
    // A dead letter keeps the record's Kafka coordinates, key and headers.
    for (const letter of deadLetters) {
      expect(letter.offset).toBe(String(letter.position));
      expect(letter.partitionKey).toMatch(/^C\d{7}$/);
      expect(letter.properties.traceparent).toMatch(/^00-[0-9]{32}-/);
    }

    // Each event counted once in the aggregates.
    const aggregates = await readTable(ws, 'orders_by_channel_1m');
    expect(aggregates.reduce((sum, row) => sum + Number(row.count), 0)).toBe(orders.length);

    // Offsets are committed at cell starts the lake already holds, never past the end.
    const committed = await broker.committedOffsets(groupId, topic);
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const offset = committed.get(partition)!;
      expect(offset % ROWS_PER_FILE).toBe(0);
      expect(offset).toBeGreaterThan(0);
      expect(offset).toBeLessThanOrEqual(highWatermarks[partition]!);
    }

    // The same group again: resumes at its snapshots, rewrites the open cells with the same bytes.
    const before = await lakeBytes(ws);
    await runWorker(config, { bounded: true, signal: new AbortController().signal, log });
    expect(await lakeBytes(ws)).toEqual(before);

  });
});
