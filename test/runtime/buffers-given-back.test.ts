/**
 * The main thread gives back the buffers it is done with (src/core/release-bytes.ts): every Capture file it read
 * (the index's structure check and the partition's read), once the file's blocks are copied into the batches
 * handed to the lane; every lake and dead-letter write's bytes, once the store has written them. V8 would free
 * them only at a mark-compact (bench/NOTES.md "Buffers given back"). A buffer given back too early would leave
 * a lake file short or empty, or a batch without its blocks: the run below compares every file written with a
 * copy taken as the write was made, and checks the rows reached the lake.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import type { ObjectStore, StagedUpload } from '../../src/core/object-store.js';
import type { TributaryConfig } from '../../src/config/schema.js';
import { generateArchive } from '../../src/gen/archive.js';
import { runWorker } from '../../src/runtime/worker.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { lakeTable, queryDuckDb } from '../support/duckdb.js';
import { readDeadLetters } from '../support/lake.js';
import { REPO_ROOT, createWorkspace, type Workspace } from '../support/workspace.js';

const EVENTS = 1_200;

function config(ws: Workspace) {
  return {
    streams: { orders: { schema: path.join(REPO_ROOT, 'examples/schemas/orders.avsc'), eventId: 'orderId', eventTime: 'createdAt', partitionKey: 'customerId' } },
    source: { kind: 'capture' as const, store: { kind: 'local' as const, path: ws.file('capture') }, namespace: 'test', hubs: { orders: 'orders' } },
    aggregations: [{ name: 'orders_1m', stream: 'orders', groupBy: ['channel'], window: { kind: 'tumbling' as const, size: '1m' }, measures: [{ fn: 'count' as const }] }],
    processing: { allowedOutOfOrderness: '20s', rowsPerFile: 300, rowGroupRows: 64, decodeThreads: 2, batchSize: 50 },
    lake: { kind: 'local' as const, path: ws.file('lake') },
    deadLetter: { kind: 'local' as const, path: ws.file('deadletter') },
    state: { kind: 'local' as const, path: ws.file('state') },
    metrics: { enabled: false },
  };
}

/** Keeps every buffer handed to or returned by a store, and a copy of each written object's bytes as written. */
class Recorder {
  readonly read: Uint8Array[] = [];
  readonly written: Uint8Array[] = [];
  /** key -> the bytes of its last write, copied before the store saw them (staged parts, then the tail) */
  readonly files = new Map<string, Buffer>();
  /** the prefixes the archive was listed under */
  readonly archiveListings: string[] = [];

  wrap(role: string, store: ObjectStore): ObjectStore {
    const recorder = this;
    return {
      location: store.location,
      get: async (key, options) => {
        const bytes = await store.get(key, options);
        if (bytes && role === 'archive') recorder.read.push(bytes);
        return bytes;
      },
      put: async (key, bytes, metadata, options) => {
        recorder.wrote(role, key, [bytes]);
        await store.put(key, bytes, metadata, options);
      },
      putFenced: async (key, bytes, metadata, fence, options) => {
        recorder.wrote(role, key, [bytes]);
        await store.putFenced(key, bytes, metadata, fence, options);
      },
      list: (prefix, options) => {
        if (role === 'archive') recorder.archiveListings.push(prefix);
        return store.list(prefix, options);
      },
      delete: (key, options) => store.delete(key, options),
      openUpload: (key, fence): StagedUpload => {
        const upload = store.openUpload(key, fence);
        const parts: Buffer[] = [];
        return {
          key,
          stage: async (part, bytes, options) => {
            if (role !== 'state') recorder.written.push(bytes);
            parts.length = part;
            parts.push(Buffer.from(bytes));
            await upload.stage(part, bytes, options);
          },
          commit: async (tail, metadata, options) => {
            recorder.wrote(role, key, [...parts, tail]);
            await upload.commit(tail, metadata, options);
          },
          abort: (options) => upload.abort(options),
        };
      },
    };
  }

  private wrote(role: string, key: string, pieces: Uint8Array[]): void {
    if (role === 'state') return;
    this.written.push(pieces.at(-1)!);
    this.files.set(`${role}/${key}`, Buffer.concat(pieces.map((piece) => Buffer.from(piece))));
  }
}

describe('buffers the main thread gives back', () => {
  let ws: Workspace;
  const recorder = new Recorder();

  beforeAll(async () => {
    ws = await createWorkspace('tributary-given-back-');
    const setup = await ws.writeConfig(config(ws), 'run.yaml');
    await generateArchive(setup.config, { events: EVENTS, partitions: 3, keys: 40, span: '30m', faults: { corrupt: 0.02 }, seed: 7 });
    await runWorker(setup.config as TributaryConfig, { bounded: true, signal: new AbortController().signal, log: createLogger('silent'), wrapStore: (role, store) => recorder.wrap(role, store) });
  }, 120_000);

  afterAll(() => ws?.cleanup());

  it('are every Capture file read, once its blocks are handed over, and every lake and dead-letter write, once written', () => {
    // each archive file twice (the index's check, the partition's read); raw files in row groups, aggregates, dead letters
    expect(recorder.read.length).toBeGreaterThanOrEqual(6);
    expect(recorder.written.length).toBeGreaterThan(10);
    expect(recorder.read.filter((bytes) => bytes.byteLength > 0)).toEqual([]);
    // the tails of staged files that were only a footer are views into a larger buffer, and are left alone
    const kept = recorder.written.filter((bytes) => bytes.byteLength > 0);
    expect(kept.every((bytes) => bytes.byteOffset > 0 || bytes.byteLength !== bytes.buffer.byteLength)).toBe(true);
  });

  it('lists the archive once: the index and the partitions share one listing', () => {
    expect(recorder.archiveListings).toEqual(['test/orders/']);
  });

  it('only after the store wrote them: every file holds the bytes it was written with, and every event reached the lake', async () => {
    const lake = new LocalObjectStore(ws.file('lake'));
    const deadLetters = new LocalObjectStore(ws.file('deadletter'));
    expect([...recorder.files.keys()].filter((key) => key.startsWith('lake/orders_raw/')).length).toBeGreaterThan(3);
    for (const [key, expected] of recorder.files) {
      const [role, ...rest] = key.split('/');
      const stored = await (role === 'lake' ? lake : deadLetters).get(rest.join('/'));
      expect(stored && Buffer.from(stored).equals(expected), key).toBe(true);
    }
    // distinct ids, not count(*): a count is answered from the footers alone, without reading a page
    const { rows } = await queryDuckDb(`SELECT count(DISTINCT orderId)::INTEGER AS n FROM ${lakeTable(ws.file('lake'), 'orders_raw')}`, { types: false });
    const deadLettered = await readDeadLetters(deadLetters);
    // the archive has only corrupt bodies as faults: each event is a row or a dead letter, exactly once
    expect(deadLettered.length).toBeGreaterThan(0);
    expect(Number(rows[0]!.n) + deadLettered.length).toBe(EVENTS);
  });
});
