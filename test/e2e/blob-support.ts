/**
 * Shared pieces of the blob end-to-end tests: a small demo archive (the generator's, with corrupt, duplicate,
 * out-of-order and late events), the demo config pointed at local or blob stores, and readers
 * that bring a lake and its dead letters back for comparison.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { StoreConfig, TributaryConfigInput } from '../../src/config/schema.js';
import { randomBytes } from 'node:crypto';
import { parseConfig } from '../../src/config/load.js';
import { createObjectStore } from '../../src/sink/store-factory.js';
import { generateArchive } from '../../src/gen/archive.js';
import { decodeDeadLetters, type DeadLetterRecord } from '../../src/sink/dead-letter.js';
import type { ObjectStore } from '../../src/core/object-store.js';
import { readParquet } from '../support/read-parquet.js';
import { REPO_ROOT } from '../support/workspace.js';

export const NAMESPACE = 'demo';
export const STREAMS = ['orders', 'telemetry'] as const;

export interface ArchiveSpec {
  partitions: number;
  eventsPerPartition: number;
  seed: number;
}

/**
 * Writes the same generated archive (`tributary gen`'s generator, same seed) into every store given: both
 * example streams, with duplicate, out-of-order, late and corrupt events, in one-minute Capture files.
 * Returns the number of events delivered, duplicates included, over both streams.
 */
export async function writeDemoArchive(stores: ObjectStore[], spec: ArchiveSpec): Promise<number> {
  const config = parseConfig(
    await demoConfig({ archive: { kind: 'local', path: 'unused' }, lake: { kind: 'local', path: 'unused' }, deadLetter: { kind: 'local', path: 'unused' }, state: { kind: 'local', path: 'unused' } }),
    'blob test demo config',
  );
  let delivered = 0;
  for (const store of stores) {
    const summary = await generateArchive(config, {
      store,
      events: spec.partitions * spec.eventsPerPartition,
      partitions: spec.partitions,
      seed: spec.seed,
      keys: 300,
      span: '15m',
      start: '2024-05-01T12:00:00Z',
      faults: { duplicate: 0.02, outOfOrder: 0.05, late: 0.015, corrupt: 0.01 },
      capture: { window: '1m' },
    });
    delivered = summary.totals.deliveredEvents;
  }
  return delivered;
}

export function blob(container: string, connectionString: string, prefix = ''): StoreConfig {
  return { kind: 'blob', container, prefix, connectionString };
}

/** Fresh containers for one blob-backed run, and direct handles on its lake and dead letters. */
export function freshBlobRun(connectionString: string): {
  containers: { lake: string; deadLetters: string; state: string };
  direct: { lake: ObjectStore; deadLetters: ObjectStore };
} {
  const tag = randomBytes(3).toString('hex');
  const containers = { lake: `lake-${tag}`, deadLetters: `deadletters-${tag}`, state: `state-${tag}` };
  return {
    containers,
    direct: {
      lake: createObjectStore(blob(containers.lake, connectionString)),
      deadLetters: createObjectStore(blob(containers.deadLetters, connectionString, '$Default')),
    },
  };
}

export interface DemoStores {
  archive: StoreConfig;
  lake: StoreConfig;
  deadLetter: StoreConfig;
  state: StoreConfig;
}

/** The demo config of examples/tributary.yaml (its schema paths relative to examples/) with its stores replaced and sizes made small enough for a test. */
export async function demoConfig(stores: DemoStores): Promise<TributaryConfigInput> {
  const demo = parseYaml(await readFile(path.join(REPO_ROOT, 'examples', 'tributary.yaml'), 'utf8')) as TributaryConfigInput;
  const streams = Object.fromEntries(
    Object.entries(demo.streams).map(([name, stream]) => [name, { ...stream, schema: path.join(REPO_ROOT, 'examples', stream.schema) }]),
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

/** Dead letters per object (every field is derived from the data, so runs compare exactly). */
export async function readDeadLetters(store: ObjectStore): Promise<Map<string, DeadLetterRecord[]>> {
  const letters = new Map<string, DeadLetterRecord[]>();
  for (const info of await store.list('')) {
    const bytes = await store.get(info.key);
    if (!bytes) throw new Error(`${info.key} vanished while reading dead letters`);
    letters.set(
      info.key,
      decodeDeadLetters(bytes),
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

  constructor(reference: { lake: Map<string, Rows>; deadLetters: Map<string, DeadLetterRecord[]> }) {
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
