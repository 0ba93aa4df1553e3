/**
 * The Capture source starts at the file that holds its resume position: a restart reads (and decodes) none of
 * the files before it, and the index that says where each file starts is checked against the files themselves,
 * decoded with avsc's own container reader.
 */
import path from 'node:path';
import avro from 'avsc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TributaryConfig } from '../../src/config/schema.js';
import { TributaryError } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/log.js';
import type { ObjectStore } from '../../src/core/object-store.js';
import { generateArchive } from '../../src/gen/archive.js';
import { filesFrom, indexArchive, withEdges, type IndexedFile } from '../../src/ingest/capture/archive-index.js';
import type { PartitionHandler } from '../../src/core/source.js';
import { CaptureSource } from '../../src/ingest/capture/source.js';
import { runWorker } from '../../src/runtime/worker.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { ObjectCheckpointStore } from '../../src/sink/object-checkpoint-store.js';
import { SnapshotStore } from '../../src/state/snapshot-store.js';
import { embeddedConfig } from '../support/embedded-config.js';
import { snapshotLake } from '../support/lake.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';

/** An archive store that remembers which objects were read. */
function counting(store: ObjectStore, reads: string[]): ObjectStore {
  return {
    location: store.location,
    put: (key, bytes, metadata, options) => store.put(key, bytes, metadata, options),
    putFenced: (key, bytes, metadata, fence, options) => store.putFenced(key, bytes, metadata, fence, options),
    get: (key, options) => {
      reads.push(key);
      return store.get(key, options);
    },
    list: (prefix, options) => store.list(prefix, options),
    delete: (key, options) => store.delete(key, options),
    openUpload: (key, fence) => store.openUpload(key, fence),
  };
}

/** Sequence numbers of a Capture file, read with avsc's own container decoder. */
async function positionsOf(file: string): Promise<number[]> {
  const positions: number[] = [];
  await new Promise<void>((resolve, reject) => {
    avro.createFileDecoder(file)
      .on('data', (record: { SequenceNumber: number }) => positions.push(Number(record.SequenceNumber)))
      .on('end', resolve)
      .on('error', reject);
  });
  return positions;
}

describe('Capture source: start at the file holding the resume position', () => {
  let ws: Workspace;
  let config: TributaryConfig;
  const run = async (reads: string[]) => {
    const archive = counting(new LocalObjectStore(ws.file('capture')), reads);
    const state = new LocalObjectStore(ws.file('state'));
    const source = new CaptureSource({ store: archive, namespace: 'test', hubs: { orders: 'orders' }, checkpoints: new ObjectCheckpointStore(state), leases: state, owner: 'test', batchSize: 500, log: createLogger('warn'), indexCache: state });
    await runWorker(config, { bounded: true, signal: new AbortController().signal, log: createLogger('warn'), source });
  };

  beforeAll(async () => {
    ws = await createWorkspace('tributary-capture-index-');
    const input = embeddedConfig(ws);
    input.processing.rowsPerFile = 400;
    const setup = await ws.writeConfig(input);
    config = setup.config;
    await generateArchive(config, { events: 4000, partitions: 2, span: '2h', seed: 5 });
  }, 120_000);
  afterAll(() => ws?.cleanup());

  it('indexes each file with its first and last position and record count', async () => {
    const index = await indexArchive({ store: new LocalObjectStore(ws.file('capture')), namespace: 'test', hubs: { orders: 'orders' } }, undefined);
    const files = [...index.get('orders')!.values()].flat();
    expect(files.length).toBeGreaterThan(4);
    for (const file of files) {
      const positions = await positionsOf(path.join(ws.file('capture'), file.key));
      expect([file.first?.position, file.last?.position, file.count], file.key).toEqual([positions[0], positions.at(-1), positions.length]);
    }
  });

  it('a restart reads only the files from the one holding the resume position', async () => {
    const first: string[] = [];
    await run(first);
    const lake = await snapshotLake(new LocalObjectStore(ws.file('lake')));
    const again: string[] = [];
    await run(again);
    expect(await snapshotLake(new LocalObjectStore(ws.file('lake')))).toEqual(lake);
    const snapshots = new SnapshotStore(new LocalObjectStore(ws.file('state')));
    for (const partition of ['0', '1']) {
      const resume = (await snapshots.latestAtOrBefore('orders', partition))!.position;
      const keys = [...new Set(first.filter((k) => k.split('/')[2] === partition))].sort();
      // the files that hold positions at or after the resume point, found by decoding every file
      const needed: string[] = [];
      for (const key of keys) if ((await positionsOf(path.join(ws.file('capture'), key))).some((p) => p >= resume)) needed.push(key);
      expect(needed.length).toBeLessThan(keys.length);
      const readAgain = [...new Set(again.filter((k) => k.split('/')[2] === partition))].sort();
      expect(readAgain, `partition ${partition} resumes at ${resume}`).toEqual(needed);
    }
  });

  it("with edges: 'last', decodes only each partition's last file; withEdges decodes the rest as the full index does, and caches them", async () => {
    const archive = { store: new LocalObjectStore(ws.file('capture')), namespace: 'test', hubs: { orders: 'orders' } };
    const full = await indexArchive(archive, undefined);
    const lazy = await indexArchive(archive, undefined, undefined, { edges: 'last' });
    const cache = new LocalObjectStore(ws.file('edges-cache'));
    for (const [partition, files] of full.get('orders')!) {
      const pending = lazy.get('orders')!.get(partition)!;
      expect(pending.map((f) => [f.key, f.count])).toEqual(files.map((f) => [f.key, f.count]));
      // the last file has its edges (the partition's end, for the lag); every other file waits for them
      expect(pending.at(-1)).toEqual(files.at(-1));
      expect(pending.slice(0, -1).every((f) => f.edgesPending === true && f.first === undefined && f.last === undefined)).toBe(true);
      const completed = await withEdges(archive, cache, 'orders', partition, pending);
      expect(completed).toEqual(files);
      const cached = JSON.parse(Buffer.from((await cache.get(`capture-index/test/orders/partition=${partition}.json`))!).toString()) as IndexedFile[];
      expect(cached).toEqual(files);
    }
  });

  /** Partition 0's files in order, their positions, and a position inside the third: the two before it hold nothing to read. */
  const partitionZero = async (store: ObjectStore) => {
    const keys = (await store.list('test/orders/0/')).map((o) => o.key).filter((k) => k.endsWith('.avro')).sort();
    const positions = await Promise.all(keys.map((k) => positionsOf(path.join(ws.file('capture'), k))));
    return { keys, positions, resume: positions[2]![1]! };
  };

  /** A handler of Capture blocks that resumes partition 0 at `resume` (the others from their start), recording the files handed over for it. */
  const resumingZeroAt = (resume: number, handed: string[]): PartitionHandler => ({
    takesCaptureBlocks: true,
    onAssigned: async (_stream, partition) => (partition === '0' ? { position: resume } : undefined),
    onBatch: async (batch) => {
      if (batch.partition === '0') handed.push(batch.capture!.name);
    },
    onRevoked: async () => undefined,
  });

  it('a resume with no index cache decodes the missing edges first, and hands over only the files from the one holding the position', async () => {
    const store = new LocalObjectStore(ws.file('capture'));
    const { keys, positions, resume } = await partitionZero(store);
    const needed = keys.filter((_, i) => positions[i]!.some((p) => p >= resume));
    const handed: string[] = [];
    const handler = resumingZeroAt(resume, handed);
    const state = new LocalObjectStore(ws.file('state-no-cache'));
    const source = new CaptureSource({ store, namespace: 'test', hubs: { orders: 'orders' }, checkpoints: new ObjectCheckpointStore(state), leases: state, owner: 'test', batchSize: 500, log: createLogger('warn'), indexCache: state });
    await source.run(handler, { signal: new AbortController().signal, bounded: true });
    expect(needed.length).toBeLessThan(keys.length);
    expect([...new Set(handed)]).toEqual(needed.map((k) => `${store.location}/${k}`));
  });

  it("a resume whose missing edges cannot be read fails its partition through the handler's read-failure mapping, handing nothing over", async () => {
    const inner: ObjectStore = new LocalObjectStore(ws.file('capture'));
    const { keys, resume } = await partitionZero(inner);
    // partition 0's files read once (the index's structure check) and never again
    const readOnce = new Set<string>();
    const store: ObjectStore = {
      ...counting(inner, []),
      get: async (key, options) => {
        if (key.startsWith('test/orders/0/') && key.endsWith('.avro') && readOnce.has(key)) throw new TributaryError('STORAGE_TRANSIENT', `injected: ${key} cannot be read`);
        readOnce.add(key);
        return inner.get(key, options);
      },
    };
    const handed: string[] = [];
    const mapped: Array<{ partition: string; error: string }> = [];
    const handler: PartitionHandler = {
      ...resumingZeroAt(resume, handed),
      onReadFailed: (_stream, partition, error) => {
        mapped.push({ partition, error: (error as Error).message });
        return new TributaryError('STORAGE_PERMANENT', `partition ${partition} cannot be read: ${(error as Error).message}`);
      },
    };
    const state = new LocalObjectStore(ws.file('state-unreadable-edges'));
    const source = new CaptureSource({ store, namespace: 'test', hubs: { orders: 'orders' }, checkpoints: new ObjectCheckpointStore(state), leases: state, owner: 'test', batchSize: 500, log: createLogger('warn'), indexCache: state });
    await expect(source.run(handler, { signal: new AbortController().signal, bounded: true })).rejects.toMatchObject({ code: 'STORAGE_PERMANENT', message: expect.stringMatching(/^partition 0 cannot be read: injected: test\/orders\/0\/.*cannot be read$/) });
    expect(mapped.map((m) => m.partition)).toEqual(['0']);
    // the read that failed is withEdges' decode of a file the lazy index left without edges (not the last file)
    const failedKey = /injected: (\S+) cannot be read/.exec(mapped[0]!.error)![1]!;
    expect(keys.slice(0, -1)).toContain(failedKey);
    expect(handed).toEqual([]);
  });

  it('with several unreadable files, indexing fails on the first in file order, whichever is found first', async () => {
    const inner: ObjectStore = new LocalObjectStore(ws.file('capture'));
    const keys = (await inner.list('test/orders/'))
      .map((o) => o.key)
      .filter((k) => k.split('/')[2] === '0' && k.endsWith('.avro'))
      .sort();
    expect(keys.length).toBeGreaterThan(4);
    const [earlier, later] = [keys[1]!, keys[3]!];
    const store: ObjectStore = {
      ...counting(inner, []),
      get: async (key, options) => {
        const bytes = await inner.get(key, options);
        if (!bytes || (key !== earlier && key !== later)) return bytes;
        // the earlier bad file answers last: indexed one after the other it would still be the one reported
        if (key === earlier) await new Promise((resolve) => setTimeout(resolve, 300));
        const bad = Uint8Array.from(bytes);
        bad[0] = 0;
        return bad;
      },
    };
    const indexing = indexArchive({ store, namespace: 'test', hubs: { orders: 'orders' } }, undefined);
    await expect(indexing).rejects.toThrow(`${earlier}: not an Avro object container file`);
  });

  it('filesFrom keeps the file whose first position is at or before the position, and all after it', () => {
    const f = (key: string, first: number, last: number) => ({ key, size: 1, windowStart: 0, count: last - first + 1, first: { position: first, enqueuedTimeMs: 0, offset: '' }, last: { position: last, enqueuedTimeMs: 0, offset: '' } });
    const files = [f('a', 0, 99), f('b', 100, 199), { key: 'empty', size: 1, windowStart: 0, count: 0 }, f('c', 200, 299)];
    expect(filesFrom(files, 0).map((x) => x.key)).toEqual(['a', 'b', 'empty', 'c']);
    expect(filesFrom(files, 150).map((x) => x.key)).toEqual(['b', 'empty', 'c']);
    expect(filesFrom(files, 200).map((x) => x.key)).toEqual(['c']);
    expect(filesFrom(files, 1000).map((x) => x.key)).toEqual(['c']);
  });
});

describe('Capture source: an index cache that cannot be written', () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await createWorkspace('tributary-capture-index-unwritable-');
  });
  afterAll(() => ws?.cleanup());

  it('does not fail the run; the next one, resuming, decodes the edges it lacks and caches them as the full index has them', async () => {
    const input = embeddedConfig(ws);
    input.processing.rowsPerFile = 400;
    const { config } = await ws.writeConfig(input);
    await generateArchive(config, { events: 2000, partitions: 2, span: '1h', seed: 7 });
    const state = new LocalObjectStore(ws.file('state'));
    const refused: string[] = [];
    const unwritable: ObjectStore = new Proxy(state, {
      get(target, property, receiver) {
        if (property !== 'put') return Reflect.get(target, property, receiver) as unknown;
        return async (key: string, bytes: Uint8Array) => {
          if (key.startsWith('capture-index/')) {
            refused.push(key);
            throw new TributaryError('STORAGE_PERMANENT', `injected: ${key} cannot be written`);
          }
          return target.put(key, bytes);
        };
      },
    });
    const run = async (indexCache: ObjectStore) => {
      const source = new CaptureSource({ store: new LocalObjectStore(ws.file('capture')), namespace: 'test', hubs: { orders: 'orders' }, checkpoints: new ObjectCheckpointStore(state), leases: state, owner: 'test', batchSize: 500, log: createLogger('silent'), indexCache });
      await runWorker(config, { bounded: true, signal: new AbortController().signal, log: createLogger('silent'), source });
    };
    await run(unwritable);
    // written at the start (each partition's last file) and after the pass (what the lanes reported): both refused
    expect(new Set(refused)).toEqual(new Set(['capture-index/test/orders/partition=0.json', 'capture-index/test/orders/partition=1.json']));
    expect(refused.length).toBe(4);
    expect(await state.list('capture-index/')).toEqual([]);
    const lake = await snapshotLake(new LocalObjectStore(ws.file('lake')));
    await run(state);
    expect(await snapshotLake(new LocalObjectStore(ws.file('lake')))).toEqual(lake);
    const full = await indexArchive({ store: new LocalObjectStore(ws.file('capture')), namespace: 'test', hubs: { orders: 'orders' } }, undefined);
    for (const [partition, files] of full.get('orders')!) {
      const cached = JSON.parse(Buffer.from((await state.get(`capture-index/test/orders/partition=${partition}.json`))!).toString()) as IndexedFile[];
      expect(cached).toEqual(files);
    }
  });
});

