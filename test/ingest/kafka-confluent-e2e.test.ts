/**
 * A Confluent-wire-format stream on Kafka whose writer schema gains an optional field mid-stream: the producer
 * registers v1, then v2 (v1 plus an optional `note`), in a Confluent-compatible schema registry and frames each
 * body with the id it wrote it with. Tributary resolves every writer schema from the registry and lands every
 * event with the reader schema's columns (`note` empty for v1 events); an unknown schema id is dead-lettered.
 */
import { writeFile } from 'node:fs/promises';
import avro from 'avsc';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/core/log.js';
import { runWorker } from '../../src/runtime/worker.js';
import { describeKafka } from '../brokers/kafka/index.js';
import { SchemaRegistryPeer } from '../peers/schema-registry.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';
import { connectProducer, landedOnce, readDeadLetterRecords, readTable } from './kafka-e2e-support.js';

const V1 = {
  type: 'record',
  name: 'Payment',
  namespace: 'tributary.test',
  fields: [
    { name: 'paymentId', type: 'string' },
    { name: 'accountId', type: 'string' },
    { name: 'amount', type: 'double' },
    { name: 'paidAt', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
};
const V2 = { ...V1, fields: [...V1.fields, { name: 'note', type: ['null', 'string'], default: null }] };
const T0 = Date.UTC(2026, 3, 1, 8, 0, 0);
const PARTITIONS = 2;
const PER_PARTITION = 120;
const SWITCH_AT = 60;

let registry: SchemaRegistryPeer;
let ws: Workspace;

beforeEach(async () => {
  ws = await createWorkspace('tributary-kafka-confluent-');
  registry = await SchemaRegistryPeer.start();
});

afterEach(async () => {
  await registry.close();
  await ws.cleanup();
});

function framed(schemaId: number, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeInt32BE(schemaId, 1);
  return Buffer.concat([header, body]);
}

describeKafka('Confluent-framed Avro on Kafka', (broker) => {
  it('lands every event with the reader schema\'s columns while the writer schema gains an optional field', async () => {
    const kafka = broker();
    const topic = kafka.uniqueName('payments');
    const v1 = registry.register('payments-value', V1);
    const v2 = registry.register('payments-value', V2);
    expect(v2).not.toBe(v1);
    const v1Type = avro.Type.forSchema(V1 as avro.Schema);
    const v2Type = avro.Type.forSchema(V2 as avro.Schema);

    await kafka.createTopic(topic, PARTITIONS);
    const producer = await connectProducer(kafka);
    const ids: string[] = [];
    const notes = new Map<string, string | null>();
    try {
      for (let partition = 0; partition < PARTITIONS; partition++) {
        const messages = [];
        for (let i = 0; i < PER_PARTITION; i++) {
          const paymentId = `pay-${partition}-${i}`;
          const base = { paymentId, accountId: `A${i % 13}`, amount: 10 + i, paidAt: T0 + i * 1000 };
          let value: Buffer;
          if (i < SWITCH_AT) {
            value = framed(v1, v1Type.toBuffer(base));
            notes.set(paymentId, null);
          } else {
            const note = i % 2 === 0 ? `note ${i}` : null;
            value = framed(v2, v2Type.toBuffer({ ...base, note }));
            notes.set(paymentId, note);
          }
          ids.push(paymentId);
          messages.push({ partition, key: base.accountId, value, timestamp: String(T0 + i * 1000) });
        }
        // A body framed with an id the registry never issued.
        messages.push({ partition, key: 'A0', value: framed(999, v2Type.toBuffer({ paymentId: `ghost-${partition}`, accountId: 'A0', amount: 1, paidAt: T0, note: null })) });
        await producer.send({ topic, messages });
      }
    } finally {
      await producer.disconnect();
    }

    const readerFile = ws.file('payment-v2.avsc');
    await writeFile(readerFile, JSON.stringify(V2));
    const config = parseConfig(
      {
        streams: {
          payments: {
            schema: readerFile,
            bodyFormat: 'confluent-avro',
            schemaRegistry: { url: registry.url },
            eventId: 'paymentId',
            eventTime: 'paidAt',
          },
        },
        source: { kind: 'kafka', brokers: kafka.brokers, topics: { payments: topic }, groupId: kafka.uniqueName('payments-lake'), fetch: { maxWait: '200ms' } },
        processing: { rowsPerFile: 50, batchSize: 40, decodeThreads: 1, allowedOutOfOrderness: '10m' },
        lake: { kind: 'local', path: ws.file('lake') },
        deadLetter: { kind: 'local', path: ws.file('deadletter') },
        state: { kind: 'local', path: ws.file('state') },
        metrics: { enabled: false, port: 0, host: '127.0.0.1' },
      },
      'confluent e2e',
    );
    await runWorker(config, { bounded: true, signal: new AbortController().signal, log: createLogger('silent') });

    const raw = await readTable(ws, 'payments_raw');
    expect(landedOnce(raw, ids, 'paymentId')).toEqual({ duplicates: [], missing: [], unexpected: [] });
    for (const row of raw) {
      expect(Object.keys(row)).toEqual(expect.arrayContaining(['paymentId', 'accountId', 'amount', 'paidAt', 'note', '_partition', '_offset']));
      expect(row.note).toBe(notes.get(String(row.paymentId)));
    }
    expect(raw.filter((row) => row.note !== null)).toHaveLength(PARTITIONS * (PER_PARTITION - SWITCH_AT) / 2);

    const deadLetters = await readDeadLetterRecords(ws);
    expect(deadLetters.map((d) => [d.reason, d.partition, d.position]).sort()).toEqual(
      Array.from({ length: PARTITIONS }, (_, p) => ['decode', String(p), PER_PARTITION]).sort(),
    );
    for (const letter of deadLetters) expect(letter.error).toMatch(/unknown schema id 999/);
    // Each writer schema was fetched from the registry once.
    expect(registry.lookups.get(v1)).toBe(1);
    expect(registry.lookups.get(v2)).toBe(1);
  });
});
