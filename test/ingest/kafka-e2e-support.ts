/**
 * Shared pieces of the Kafka end-to-end tests: order events (the example schema) produced into the real broker,
 * the config of a Tributary deployment reading them, and readers that bring the lake back.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import avro from 'avsc';
import { Kafka, type Message, type Producer } from 'kafkajs';
import type { TributaryConfigInput } from '../../src/config/schema.js';
import { decodeDeadLetters, type DeadLetterRecord } from '../../src/sink/dead-letter.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import type { KafkaBroker, ListenerName } from '../brokers/kafka/index.js';
import { readParquet } from '../support/read-parquet.js';
import { REPO_ROOT, type Workspace } from '../support/workspace.js';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

export const ORDERS_SCHEMA = path.join(REPO_ROOT, 'examples', 'schemas', 'orders.avsc');
export const T0 = Date.UTC(2026, 2, 1, 9, 0, 0);

export async function orderType(): Promise<avro.Type> {
  return avro.Type.forSchema(JSON.parse(await readFile(ORDERS_SCHEMA, 'utf8')) as avro.Schema);
}

export interface ProducedOrder {
  id: string;
  partition: number;
  customerId: string;
  traceparent: string;
}

const CHANNELS = ['web', 'app', 'store', 'partner'] as const;

/** The i-th order of a partition: deterministic values, event time = enqueued time, 250 ms apart. */
export function orderValue(partition: number, i: number): Record<string, unknown> {
  const customerId = `C${String((partition * 7919 + i * 31) % 500).padStart(7, '0')}`;
  const quantity = 1 + (i % 4);
  const unitPrice = 10 + (i % 7);
  return {
    orderId: `order-${partition}-${i}`,
    customerId,
    lines: [{ sku: `SKU-${String(i % 50).padStart(5, '0')}`, quantity, unitPrice }],
    totalAmount: quantity * unitPrice,
    currency: 'EUR',
    channel: CHANNELS[i % CHANNELS.length],
    shippingCountry: 'DE',
    createdAt: T0 + i * 250,
    couponCode: null,
  };
}

export function orderMessage(type: avro.Type, partition: number, i: number): { message: Message; order: ProducedOrder } {
  const value = orderValue(partition, i);
  const traceparent = `00-${String(partition).padStart(16, '0')}${String(i).padStart(16, '0')}-00000000000000aa-01`;
  return {
    message: {
      partition,
      key: value.customerId as string,
      value: type.toBuffer(value),
      timestamp: String(T0 + i * 250),
      headers: { traceparent },
    },
    order: { id: value.orderId as string, partition, customerId: value.customerId as string, traceparent },
  };
}

/**
 * Per partition: `perPartition` orders in sequence, a redelivery of an earlier one after every 50th, a truncated
 * body (a dead letter) at every 97th. Returns each partition's record timestamps by offset.
 */
export async function produceWithFaults(broker: KafkaBroker, topic: string, partitions: number, perPartition: number): Promise<number[][]> {
  const type = await orderType();
  const producer = await connectProducer(broker);
  const timestamps: number[][] = [];
  try {
    for (let partition = 0; partition < partitions; partition++) {
      const messages: Message[] = [];
      for (let i = 0; i < perPartition; i++) {
        const { message } = orderMessage(type, partition, i);
        if (i % 97 === 13) message.value = (message.value as Buffer).subarray(0, 9);
        messages.push(message);
        if (i % 50 === 49) messages.push(orderMessage(type, partition, i - 20).message);
      }
      for (let at = 0; at < messages.length; at += 64) await producer.send({ topic, messages: messages.slice(at, at + 64) });
      timestamps.push(messages.map((m) => Number(m.timestamp)));
    }
  } finally {
    await producer.disconnect();
  }
  return timestamps;
}

export async function connectProducer(broker: KafkaBroker, listener: ListenerName = 'plaintext'): Promise<Producer> {
  const producer = new Kafka(broker.clientConfig(listener, { clientId: 'e2e-producer' })).producer();
  await producer.connect();
  return producer;
}

export interface DeploymentOptions {
  /** the topic read as stream `orders` */
  topic: string;
  groupId: string;
  rowsPerFile: number;
  batchSize: number;
  /** extra keys of the kafka source (brokers, tls, sasl, timeouts); the PLAINTEXT listener unless they say otherwise */
  source?: Record<string, unknown>;
  flushInterval?: string;
}

/** A deployment reading `options.topic` of the broker, landing under the workspace. */
export function deploymentConfig(broker: Pick<KafkaBroker, 'brokers'>, ws: Workspace, options: DeploymentOptions): TributaryConfigInput {
  return {
    streams: { orders: { schema: ORDERS_SCHEMA, eventId: 'orderId', eventTime: 'createdAt', partitionKey: 'customerId' } },
    source: {
      kind: 'kafka',
      brokers: broker.brokers,
      topics: { orders: options.topic },
      groupId: options.groupId,
      fetch: { maxWait: '200ms' },
      ...options.source,
    } as TributaryConfigInput['source'],
    aggregations: [
      { name: 'orders_by_channel_1m', stream: 'orders', groupBy: ['channel'], window: { kind: 'tumbling', size: '1m' }, measures: [{ fn: 'count' }] },
    ],
    processing: {
      rowsPerFile: options.rowsPerFile,
      batchSize: options.batchSize,
      decodeThreads: 1,
      allowedOutOfOrderness: '30s',
      ...(options.flushInterval ? { flushInterval: options.flushInterval } : {}),
    },
    lake: { kind: 'local', path: ws.file('lake') },
    deadLetter: { kind: 'local', path: ws.file('deadletter') },
    state: { kind: 'local', path: ws.file('state') },
    metrics: { enabled: false, port: 0, host: '127.0.0.1' },
  };
}

export type Row = Record<string, unknown>;

/** Every row of every Parquet file of one table, with the file it came from. */
export async function readTable(ws: Workspace, table: string): Promise<Array<Row & { _file: string }>> {
  const store = new LocalObjectStore(ws.file('lake'));
  const rows: Array<Row & { _file: string }> = [];
  for (const info of await store.list(`${table}/`)) {
    if (!info.key.endsWith('.parquet')) continue;
    const bytes = await store.get(info.key);
    if (!bytes) continue; // replaced between list and get by a running worker; the next poll reads it
    for (const row of (await readParquet(bytes)).rows) rows.push({ ...row, _file: info.key });
  }
  return rows;
}

/** Every file of the lake, by key, as bytes (to compare two runs byte for byte). */
export async function lakeBytes(ws: Workspace): Promise<Map<string, Buffer>> {
  const store = new LocalObjectStore(ws.file('lake'));
  const files = new Map<string, Buffer>();
  for (const info of await store.list('')) files.set(info.key, Buffer.from((await store.get(info.key))!));
  return files;
}

export async function readDeadLetterRecords(ws: Workspace): Promise<DeadLetterRecord[]> {
  const store = new LocalObjectStore(ws.file('deadletter'));
  const records: DeadLetterRecord[] = [];
  for (const info of await store.list('')) records.push(...decodeDeadLetters((await store.get(info.key))!));
  return records;
}

/** Ids landed more than once, and ids expected but missing. */
export function landedOnce(
  rows: Row[],
  expectedIds: Iterable<string>,
  idField = 'orderId',
): { duplicates: string[]; missing: string[]; unexpected: string[] } {
  const counts = new Map<string, number>();
  for (const row of rows) counts.set(String(row[idField]), (counts.get(String(row[idField])) ?? 0) + 1);
  const expected = new Set(expectedIds);
  return {
    duplicates: [...counts].filter(([, n]) => n > 1).map(([id]) => id),
    missing: [...expected].filter((id) => !counts.has(id)),
    unexpected: [...counts.keys()].filter((id) => !expected.has(id)),
  };
}
