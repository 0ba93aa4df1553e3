/**
 * Shared pieces of the blob end-to-end tests: a small demo archive (the example schemas, Capture's format and
 * layout, with corrupt, duplicate and late events), the demo config pointed at local or blob stores, and readers
 * that bring a lake and its dead letters back for comparison.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import avro from 'avsc';
import { parse as parseYaml } from 'yaml';
import type { StoreConfig, TributaryConfigInput } from '../../src/config/schema.js';
import { captureKey, captureType, type CaptureRecord } from '../../src/ingest/capture/format.js';
import { decodeDeadLetters, type DeadLetterRecord } from '../../src/sink/dead-letter.js';
import type { ObjectStore } from '../../src/sink/object-store.js';
import { readParquet } from '../support/read-parquet.js';
import { REPO_ROOT } from '../support/workspace.js';

export const NAMESPACE = 'demo';
export const STREAMS = ['orders', 'telemetry'] as const;

export interface ArchiveSpec {
  partitions: number;
  eventsPerPartition: number;
  seed: number;
}

/** mulberry32: small, seeded, good enough to make test data look varied and stay reproducible. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function bodyType(stream: string): Promise<avro.Type> {
  const schema = JSON.parse(await readFile(path.join(REPO_ROOT, 'examples', 'schemas', `${stream}.avsc`), 'utf8')) as avro.Schema;
  return avro.Type.forSchema(schema);
}

const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const cents = (value: number): number => Math.round(value * 100) / 100;
const pad = (n: number, width: number): string => String(n).padStart(width, '0');

function eventValue(stream: string, random: () => number, id: string, eventTimeMs: number): { value: Record<string, unknown>; key: string } {
  if (stream === 'orders') {
    const customerId = `C${pad(Math.floor(random() * 300), 7)}`;
    const lines = Array.from({ length: 1 + Math.floor(random() * 3) }, () => ({
      sku: `SKU-${pad(Math.floor(random() * 500), 5)}`,
      quantity: 1 + Math.floor(random() * 5),
      unitPrice: cents(0.99 + random() * 200),
    }));
    return {
      key: customerId,
      value: {
        orderId: id,
        customerId,
        lines,
        totalAmount: cents(lines.reduce((sum, line) => sum + line.quantity * line.unitPrice, 0)),
        currency: pick(random, ['EUR', 'USD', 'GBP', 'CHF', 'JPY']),
        channel: pick(random, ['web', 'app', 'store', 'partner']),
        shippingCountry: pick(random, ['DE', 'FR', 'NL', 'GB']),
        createdAt: eventTimeMs,
        couponCode: random() < 0.8 ? null : pick(random, ['WELCOME10', 'VIP20']),
      },
    };
  }
  const deviceId = `dev-${pad(Math.floor(random() * 100), 6)}`;
  return {
    key: deviceId,
    value: {
      eventId: id,
      deviceId,
      siteId: `site-${pad(Math.floor(random() * 12), 2)}`,
      readings: {
        temperature: cents(-5 + random() * 50),
        humidity: cents(10 + random() * 85),
        pressure: cents(960 + random() * 85),
        batteryVoltage: random() < 0.1 ? null : cents(3.1 + random()),
      },
      counter: Math.floor(random() * 1e6),
      status: pick(random, ['OK', 'OK', 'OK', 'WARN', 'FAULT']),
      timestamp: eventTimeMs,
    },
  };
}

async function containerFile(records: CaptureRecord[]): Promise<Buffer> {
  const encoder = new avro.streams.BlockEncoder(captureType, { codec: 'deflate' });
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    encoder.on('data', (chunk: Buffer) => chunks.push(chunk));
    encoder.once('end', () => resolve());
    encoder.once('error', reject);
  });
  for (const record of records) encoder.write(record);
  encoder.end();
  await done;
  return Buffer.concat(chunks);
}

/**
 * Writes the same archive into every store given: per stream and partition, events 250 ms apart in one-minute
 * Capture files, with every 97th body corrupt, every 53rd a redelivery of an earlier event and every 71st ten
 * minutes late. Returns the number of events per stream.
 */
export async function writeDemoArchive(stores: ObjectStore[], spec: ArchiveSpec): Promise<number> {
  const start = Date.UTC(2024, 4, 1, 12, 0, 0);
  for (const stream of STREAMS) {
    const type = await bodyType(stream);
    for (let partition = 0; partition < spec.partitions; partition++) {
      const random = prng(spec.seed * 1000 + partition * 10 + (stream === 'orders' ? 1 : 2));
      const bodies: Buffer[] = [];
      const files = new Map<number, CaptureRecord[]>();
      let offset = 0;
      for (let position = 0; position < spec.eventsPerPartition; position++) {
        const enqueued = start + partition * 7 + position * 250;
        const late = position % 71 === 41;
        const eventTime = late ? enqueued - 10 * 60_000 : enqueued - Math.floor(random() * 20_000);
        const id = `${stream}-${spec.seed}-${partition}-${position}`;
        const { value, key } = eventValue(stream, random, id, eventTime);
        let body: Buffer = type.toBuffer(value);
        if (position % 53 === 29 && position >= 10) body = bodies[position - 7]!;
        else if (position % 97 === 13) body = body.subarray(0, Math.floor(body.length / 2));
        bodies.push(body);
        const record: CaptureRecord = {
          SequenceNumber: position,
          Offset: String(offset),
          EnqueuedTimeUtc: new Date(enqueued).toISOString(),
          SystemProperties: { 'x-opt-partition-key': { string: key } },
          Properties: { traceparent: { string: `00-${pad(position, 32)}-${pad(partition, 16)}-01` } },
          Body: body,
        };
        offset += body.length;
        const window = Math.floor(enqueued / 60_000) * 60_000;
        let records = files.get(window);
        if (!records) files.set(window, (records = []));
        records.push(record);
      }
      for (const [window, records] of files) {
        const key = captureKey({ namespace: NAMESPACE, hub: stream, partition: String(partition), windowStart: new Date(window) });
        const bytes = await containerFile(records);
        for (const store of stores) await store.put(key, bytes);
      }
    }
  }
  return spec.eventsPerPartition * spec.partitions;
}

export interface DemoStores {
  archive: StoreConfig;
  lake: StoreConfig;
  deadLetter: StoreConfig;
  state: StoreConfig;
}

/** The demo config of examples/tributary.yaml with its stores replaced and sizes made small enough for a test. */
export async function demoConfig(stores: DemoStores): Promise<TributaryConfigInput> {
  const demo = parseYaml(await readFile(path.join(REPO_ROOT, 'examples', 'tributary.yaml'), 'utf8')) as TributaryConfigInput;
  const streams = Object.fromEntries(
    Object.entries(demo.streams).map(([name, stream]) => [name, { ...stream, schema: path.join(REPO_ROOT, stream.schema) }]),
  );
  return {
    ...demo,
    streams,
    source: { kind: 'capture', store: stores.archive, namespace: NAMESPACE, hubs: { orders: 'orders', telemetry: 'telemetry' } },
    processing: { ...demo.processing, rowsPerFile: 200, batchSize: 100, decodeThreads: 1 },
    lake: stores.lake,
    deadLetter: stores.deadLetter,
    state: stores.state,
    metrics: { enabled: false, port: 0, host: '127.0.0.1' },
  };
}

export type Rows = Record<string, unknown>[];

/** Every Parquet file of a lake, read back with parquet-wasm, by key. */
export async function readLake(store: ObjectStore): Promise<Map<string, Rows>> {
  const lake = new Map<string, Rows>();
  for (const info of await store.list('')) {
    if (!info.key.endsWith('.parquet')) continue;
    const bytes = await store.get(info.key);
    if (!bytes) throw new Error(`${info.key} vanished while reading the lake`);
    lake.set(info.key, (await readParquet(bytes)).rows);
  }
  return lake;
}

/** Dead letters without the wall-clock time they were written at, which differs between runs by design. */
export async function readDeadLetters(store: ObjectStore): Promise<Map<string, Array<Omit<DeadLetterRecord, 'deadLetteredAt'>>>> {
  const letters = new Map<string, Array<Omit<DeadLetterRecord, 'deadLetteredAt'>>>();
  for (const info of await store.list('')) {
    const bytes = await store.get(info.key);
    if (!bytes) throw new Error(`${info.key} vanished while reading dead letters`);
    letters.set(
      info.key,
      decodeDeadLetters(bytes).map(({ deadLetteredAt: _writtenAt, ...record }) => record),
    );
  }
  return letters;
}

/** Raw-table rows as `stream/partition/position` keys, to spot duplicates and losses by name. */
export function rawPositions(lake: Map<string, Rows>): string[] {
  const positions: string[] = [];
  for (const [key, rows] of lake) {
    const stream = STREAMS.find((s) => key.startsWith(`${s}_raw/`));
    if (!stream) continue;
    for (const row of rows) positions.push(`${stream}/${String(row['_partition'])}/${String(row['_position'])}`);
  }
  return positions.sort();
}

/**
 * The commit protocol's promise, checked while a run writes: when the checkpoint of a partition moves to X,
 * every event below X that the reference run landed is in the lake, and every one it dead-lettered is in the
 * dead letters.
 */
export class CheckpointGuard {
  readonly violations: string[] = [];
  checks = 0;
  private readonly expected = new Map<string, { landed: number[]; deadLettered: number[] }>();

  constructor(reference: { lake: Map<string, Rows>; deadLetters: Map<string, Array<Omit<DeadLetterRecord, 'deadLetteredAt'>>> }) {
    const entry = (stream: string, partition: string) => {
      const name = `${stream}/${partition}`;
      let found = this.expected.get(name);
      if (!found) this.expected.set(name, (found = { landed: [], deadLettered: [] }));
      return found;
    };
    for (const position of rawPositions(reference.lake)) {
      const [stream, partition, at] = position.split('/') as [string, string, string];
      entry(stream, partition).landed.push(Number(at));
    }
    for (const records of reference.deadLetters.values()) {
      for (const record of records) entry(record.stream, record.partition).deadLettered.push(record.position);
    }
  }

  async check(checkpoint: { stream: string; partition: string; nextPosition: number }, lake: ObjectStore, deadLetters: ObjectStore): Promise<void> {
    this.checks += 1;
    const expected = this.expected.get(`${checkpoint.stream}/${checkpoint.partition}`) ?? { landed: [], deadLettered: [] };
    const lakeNow = new Map<string, Rows>();
    for (const info of await lake.list(`${checkpoint.stream}_raw/`)) {
      if (!info.key.includes(`/partition=${checkpoint.partition}/`)) continue;
      const bytes = await lake.get(info.key);
      if (bytes) lakeNow.set(info.key, (await readParquet(bytes)).rows);
    }
    const landed = new Set(rawPositions(lakeNow).map((p) => Number(p.split('/')[2])));
    const lettered = new Set<number>();
    for (const info of await deadLetters.list(`${checkpoint.stream}/partition=${checkpoint.partition}/`)) {
      const bytes = await deadLetters.get(info.key);
      if (bytes) for (const record of decodeDeadLetters(bytes)) lettered.add(record.position);
    }
    const missing = expected.landed.filter((p) => p < checkpoint.nextPosition && !landed.has(p));
    const missingLetters = expected.deadLettered.filter((p) => p < checkpoint.nextPosition && !lettered.has(p));
    if (missing.length > 0 || missingLetters.length > 0) {
      this.violations.push(
        `checkpoint ${checkpoint.stream}/${checkpoint.partition} -> ${checkpoint.nextPosition} while the lake lacks positions [${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}] and the dead letters lack [${missingLetters.slice(0, 5).join(', ')}]`,
      );
    }
  }
}
