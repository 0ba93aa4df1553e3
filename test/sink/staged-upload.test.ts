/**
 * The staged upload of the ObjectStore port (openUpload), on the local folder store and on blob storage
 * (Azurite), each under its retry layer: parts plus a tail become one object at the commit and never before,
 * staging a part again replaces it, a newer epoch's commit wins and an older one is refused, every step survives
 * a fault (retried, or failing without a partial object), and the caller's AbortSignal ends it.
 */
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from 'vitest';
import { storeSchema } from '../../src/config/schema.js';
import { TributaryError } from '../../src/core/errors.js';
import type { ObjectStore, StagedUpload } from '../../src/core/object-store.js';
import type { RetryPolicy } from '../../src/core/retry.js';
import { BlobObjectStore } from '../../src/sink/blob/blob-object-store.js';
import { LocalObjectStore, TEMP_DIR } from '../../src/sink/local-object-store.js';
import { RetryingObjectStore } from '../../src/sink/retrying-store.js';
import { devConnectionString, startAzurite, type Azurite } from '../support/azurite.js';
import { startFaultProxy, type FaultAction, type ProxiedRequest } from '../support/fault-proxy.js';
import { FaultyStore, OperationCounter, type FaultKind } from '../support/faulty-store.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';

const FAST: RetryPolicy = { maxAttempts: 6, initialDelayMs: 5, maxDelayMs: 20, factor: 2 };
const KEY = 'orders_raw/date=2026-01-01/hour=00/partition=0/0000000000.parquet';

let azurite: Azurite;
let ws: Workspace;
let containers = 0;

beforeAll(async () => {
  azurite = await startAzurite();
}, 60_000);
afterAll(async () => {
  await azurite?.stop();
});
beforeEach(async () => {
  ws = await createWorkspace('tributary-upload-');
});
afterEach(() => ws.cleanup());

function blobStore(connectionString = azurite.connectionString, options: { retry?: RetryPolicy; requestTimeoutMs?: number } = {}): BlobObjectStore {
  const config = storeSchema.parse({ kind: 'blob', container: `uploads-${++containers}-${randomBytes(3).toString('hex')}`, connectionString });
  if (config.kind !== 'blob') throw new Error('unreachable');
  return BlobObjectStore.fromConfig(config, { retry: options.retry ?? FAST, ...(options.requestTimeoutMs ? { requestTimeoutMs: options.requestTimeoutMs } : {}) });
}

let folders = 0;
function localStore(): RetryingObjectStore {
  return new RetryingObjectStore(new LocalObjectStore(ws.file(`lake-${++folders}`)), FAST, undefined);
}

/** name, store, and whether one owner's commit drops what another owner staged (blob storage discards every
 * uncommitted block of a blob at a commit; a folder keeps each upload in its own file) */
const kinds: Array<[string, () => ObjectStore, boolean]> = [
  ['local folder', localStore, false],
  ['blob storage', () => blobStore(), true],
];

const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);
const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

/** the object's bytes as a plain Uint8Array (the local store hands out Buffers), undefined when absent */
async function read(store: ObjectStore, key: string): Promise<Uint8Array | undefined> {
  const found = await store.get(key);
  return found === undefined ? undefined : new Uint8Array(found);
}

async function failure(promise: Promise<unknown>): Promise<TributaryError> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(TributaryError);
  return error as TributaryError;
}

describe.each(kinds)('staged upload on the %s', (_kind, open, commitDropsOthersParts) => {
  it('shows nothing before the commit, then the parts followed by the tail, with the metadata and the epoch', async () => {
    const store = open();
    const upload = store.openUpload(KEY, { epoch: 3 });
    await upload.stage(0, bytes(1, 2, 3));
    await upload.stage(1, bytes(4));
    expect(await read(store, KEY)).toBeUndefined();
    expect(await store.list('orders_raw/')).toEqual([]);
    await upload.commit(bytes(9, 9), { rows: '4' });
    expect(await read(store, KEY)).toEqual(bytes(1, 2, 3, 4, 9, 9));
    expect(await store.list('orders_raw/')).toEqual([{ key: KEY, size: 6, metadata: { rows: '4', tributaryepoch: '3' } }]);
    // a finished upload takes nothing more: a programming error, not a store fault to retry
    await expect(upload.stage(2, bytes(5))).rejects.toThrow(RangeError);
  });

  it('commits with nothing staged on a store that has never been written: the file is the tail alone', async () => {
    const store = open();
    const upload = store.openUpload(KEY, { epoch: 1 });
    await upload.commit(bytes(), {}, { keepOpen: true });
    expect(await read(store, KEY)).toEqual(bytes());
    await upload.stage(0, bytes(7));
    await upload.commit(bytes(8), {});
    expect(await read(store, KEY)).toEqual(bytes(7, 8));
  });

  it('refuses a part that skips one', async () => {
    const upload = open().openUpload(KEY, { epoch: 1 });
    await expect(upload.stage(1, bytes(1))).rejects.toThrow(/part 1 cannot follow 0/);
  });

  it('matches a model of parts for any sequence of stages, restages and commits (kept open or final)', async () => {
    type Step = { kind: 'stage'; part: number; bytes: Uint8Array } | { kind: 'commit'; tail: Uint8Array; keepOpen: boolean };
    const step: fc.Arbitrary<Step> = fc.oneof(
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('stage' as const), part: fc.nat(6), bytes: fc.uint8Array({ maxLength: 40 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('commit' as const), tail: fc.uint8Array({ maxLength: 12 }), keepOpen: fc.boolean() }) },
    );
    const store = open();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps) => {
        const key = `t/run-${run++}.bin`;
        const upload = store.openUpload(key, { epoch: 1 });
        const model: Uint8Array[] = [];
        let visible: Uint8Array | undefined;
        for (const s of steps) {
          if (s.kind === 'stage') {
            const part = Math.min(s.part, model.length);
            await upload.stage(part, s.bytes);
            model.length = part;
            model.push(s.bytes);
          } else {
            await upload.commit(s.tail, {}, { keepOpen: s.keepOpen });
            visible = concat(...model, s.tail);
            if (!s.keepOpen) break;
          }
          expect(await read(store, key)).toEqual(visible);
        }
        expect(await read(store, key)).toEqual(visible);
      }),
      { numRuns: 25 },
    );
  });

  it('keeps growing after a commit kept open: each commit shows everything staged so far', async () => {
    const store = open();
    const upload = store.openUpload(KEY, { epoch: 2 });
    await upload.stage(0, bytes(1));
    await upload.commit(bytes(0xf), {}, { keepOpen: true });
    expect(await read(store, KEY)).toEqual(bytes(1, 0xf));
    await upload.stage(1, bytes(2));
    expect(await read(store, KEY)).toEqual(bytes(1, 0xf));
    await upload.commit(bytes(0xe), { rows: '2' });
    expect(await read(store, KEY)).toEqual(bytes(1, 2, 0xe));
  });

  it('lets the newest epoch win: its commit replaces an older owner\'s, and the older owner\'s commit is refused', async () => {
    const store = open();
    const old = store.openUpload(KEY, { epoch: 1 });
    const newer = store.openUpload(KEY, { epoch: 2 });
    await old.stage(0, bytes(1, 1));
    await old.commit(bytes(0x10), {}, { keepOpen: true });
    expect(await read(store, KEY)).toEqual(bytes(1, 1, 0x10));
    // both stage the same part numbers at the same time: neither may pick up the other's bytes
    await Promise.all([old.stage(1, bytes(1)), newer.stage(0, bytes(2, 2))]);
    await Promise.all([old.stage(2, bytes(1)), newer.stage(1, bytes(2))]);
    await newer.commit(bytes(0x20), {}, { keepOpen: true });
    expect(await read(store, KEY)).toEqual(bytes(2, 2, 2, 0x20));
    const refused = await failure(old.commit(bytes(0x11), {}));
    expect(refused.code).toBe('OWNERSHIP_LOST');
    expect(refused.message).toContain('epoch 2; ours is 1');
    expect(await read(store, KEY)).toEqual(bytes(2, 2, 2, 0x20));
    // a newer putFenced fences uploads too
    await store.putFenced(KEY, bytes(3), {}, { epoch: 3 });
    expect((await failure(newer.commit(bytes(), {}))).code).toBe('OWNERSHIP_LOST');
    expect(await read(store, KEY)).toEqual(bytes(3));
  });

  it('never mixes two owners\' parts when the older one commits while the newer one is staging', async () => {
    const store = open();
    const old = store.openUpload(KEY, { epoch: 1 });
    const newer = store.openUpload(KEY, { epoch: 2 });
    await old.stage(0, bytes(1, 1));
    await newer.stage(0, bytes(2, 2));
    await old.commit(bytes(0x10), {});
    expect(await read(store, KEY)).toEqual(bytes(1, 1, 0x10));
    if (commitDropsOthersParts) {
      // a clear failure (the newer owner's partition restarts and stages again); the older owner's object stays whole
      const error = await failure(newer.commit(bytes(0x20), {}));
      expect(error.code).toBe('STORAGE_PERMANENT');
      expect(error.message).toMatch(/staged blocks are gone/);
      expect(await read(store, KEY)).toEqual(bytes(1, 1, 0x10));
    } else {
      await newer.commit(bytes(0x20), {});
      expect(await read(store, KEY)).toEqual(bytes(2, 2, 0x20));
    }
  });

  it('leaves an aborted upload invisible and the object a commit made visible in place', async () => {
    const store = open();
    const never = store.openUpload('t/never.bin', { epoch: 1 });
    await never.stage(0, bytes(1));
    await never.abort();
    expect(await read(store, 't/never.bin')).toBeUndefined();
    const flushed = store.openUpload('t/flushed.bin', { epoch: 1 });
    await flushed.stage(0, bytes(1));
    await flushed.commit(bytes(2), {}, { keepOpen: true });
    await flushed.stage(1, bytes(3));
    await flushed.abort();
    expect(await read(store, 't/flushed.bin')).toEqual(bytes(1, 2));
    expect(await store.list('t/')).toEqual([{ key: 't/flushed.bin', size: 2, metadata: { tributaryepoch: '1' } }]);
  });

  it('ends with ABORTED, and writes nothing, when the caller\'s signal has fired', async () => {
    const store = open();
    const upload = store.openUpload(KEY, { epoch: 1 });
    await upload.stage(0, bytes(1));
    const gone = AbortSignal.abort(new Error('partition lost'));
    expect((await failure(upload.stage(1, bytes(2), { signal: gone }))).code).toBe('ABORTED');
    expect((await failure(upload.commit(bytes(), {}, { signal: gone }))).code).toBe('ABORTED');
    expect(await read(store, KEY)).toBeUndefined();
  });
});

describe('staged upload on the local folder', () => {
  it('keeps the parts in one file in the staging folder, and leaves none behind once committed or aborted', async () => {
    const root = ws.file('lake');
    const store = new LocalObjectStore(root);
    const upload = store.openUpload(KEY, { epoch: 1 });
    await upload.stage(0, bytes(1, 2));
    await upload.stage(1, bytes(3));
    const staging = await readdir(ws.file('lake', TEMP_DIR));
    expect(staging).toHaveLength(1);
    expect(staging[0]).toMatch(new RegExp(`^${process.pid}-`));
    await upload.commit(bytes(4), {}, { keepOpen: true });
    expect(await readdir(ws.file('lake', TEMP_DIR))).toEqual(staging);
    await upload.commit(bytes(5), {});
    expect(await readdir(ws.file('lake', TEMP_DIR))).toEqual([]);
    const aborted = store.openUpload('t/x.bin', { epoch: 1 });
    await aborted.stage(0, bytes(1));
    await aborted.abort();
    expect(await readdir(ws.file('lake', TEMP_DIR))).toEqual([]);
    expect((await readdir(root, { recursive: true })).filter((name) => name.endsWith('.bin') || name.endsWith('.parquet'))).toEqual([
      'orders_raw/date=2026-01-01/hour=00/partition=0/0000000000.parquet',
    ]);
  });

  /** stage 0, stage 1, commit kept open, stage 2, commit: five operations under the retry layer */
  async function scenario(store: ObjectStore): Promise<void> {
    const upload: StagedUpload = store.openUpload(KEY, { epoch: 4 });
    await upload.stage(0, bytes(1, 1));
    await upload.stage(1, bytes(2));
    await upload.commit(bytes(0xa), { rows: '3' }, { keepOpen: true });
    await upload.stage(2, bytes(3, 3, 3));
    await upload.commit(bytes(0xb), { rows: '6' });
  }

  function faulty(kind: FaultKind, at: number): { store: ObjectStore; inner: LocalObjectStore; counter: OperationCounter } {
    const inner = new LocalObjectStore(ws.file(`faults-${++folders}`));
    const counter = new OperationCounter();
    const store = new RetryingObjectStore(new FaultyStore(inner, 'lake', counter, { faultAt: (n) => (n === at ? kind : undefined) }), FAST, undefined);
    return { store, inner, counter };
  }

  it('comes out the same whichever step has a transient fault (each step is retried on its own)', async () => {
    for (let at = 0; at < 5; at++) {
      const { store, inner, counter } = faulty('transient', at);
      await scenario(store);
      expect(counter.count).toBe(6);
      expect(await read(inner, KEY)).toEqual(bytes(1, 1, 2, 3, 3, 3, 0xb));
      expect((await inner.list(''))[0]?.metadata).toEqual({ rows: '6', tributaryepoch: '4' });
    }
  });

  it('shows only what a commit before the fault made visible when a step fails for good', async () => {
    const visibleAfter = [undefined, undefined, undefined, bytes(1, 1, 2, 0xa), bytes(1, 1, 2, 0xa)];
    for (let at = 0; at < 5; at++) {
      const { store, inner } = faulty('permanent', at);
      expect((await failure(scenario(store))).code).toBe('STORAGE_PERMANENT');
      expect(await read(inner, KEY)).toEqual(visibleAfter[at]);
    }
  });
});

describe('staged upload on blob storage, with a fault at each request', () => {
  const scenario = async (store: ObjectStore): Promise<void> => {
    const upload = store.openUpload(KEY, { epoch: 7 });
    await upload.stage(0, bytes(1, 1));
    await upload.stage(1, bytes(2));
    await upload.commit(bytes(0xa), { rows: '3' }, { keepOpen: true });
    await upload.stage(2, bytes(3, 3, 3));
    await upload.commit(bytes(0xb), { rows: '6' });
  };

  async function throughProxy(decide: (request: ProxiedRequest) => FaultAction): Promise<{ store: BlobObjectStore; close: () => Promise<void>; requests: ProxiedRequest[] }> {
    const proxy = await startFaultProxy(azurite.port, decide);
    const store = blobStore(devConnectionString(`http://127.0.0.1:${proxy.port}/devstoreaccount1`), { requestTimeoutMs: 2000 });
    return { store, close: () => proxy.close(), requests: proxy.requests };
  }

  it('comes out the same whichever request fails (503, a dropped connection, or an answer lost after it took effect)', async () => {
    const clean = await throughProxy(() => ({ kind: 'forward' }));
    await scenario(clean.store);
    const count = clean.requests.length;
    await clean.close();
    expect(count).toBeGreaterThanOrEqual(8);
    const faults: FaultAction[] = [{ kind: 'status', status: 503 }, { kind: 'reset' }, { kind: 'lose-answer' }];
    for (const fault of faults) {
      for (let at = 1; at <= count; at++) {
        const { store, close } = await throughProxy((request) => (request.index === at ? fault : { kind: 'forward' }));
        try {
          await scenario(store);
          expect(await read(store, KEY), `${fault.kind} at request ${at}`).toEqual(bytes(1, 1, 2, 3, 3, 3, 0xb));
          expect((await store.list(''))[0]?.metadata).toEqual({ rows: '6', tributaryepoch: '7' });
        } finally {
          await close();
        }
      }
    }
  }, 120_000);

  it('shows nothing when the commit fails for good', async () => {
    const { store, close } = await throughProxy((request) => (request.url.includes('comp=blocklist') ? { kind: 'status', status: 400, errorCode: 'InvalidBlockList' } : { kind: 'forward' }));
    try {
      const upload = store.openUpload(KEY, { epoch: 1 });
      await upload.stage(0, bytes(1));
      expect((await failure(upload.commit(bytes(2), {}))).code).toBe('STORAGE_PERMANENT');
      expect(await read(store, KEY)).toBeUndefined();
    } finally {
      await close();
    }
  });

  it('ends a request in flight with ABORTED when the caller\'s signal fires, without retrying it as a timeout', async () => {
    const { store, close, requests } = await throughProxy((request) => (request.url.includes('comp=block') ? { kind: 'hang' } : { kind: 'forward' }));
    try {
      const controller = new AbortController();
      const upload = store.openUpload(KEY, { epoch: 1 });
      const staging = upload.stage(0, bytes(1), { signal: controller.signal });
      while (!requests.some((request) => request.url.includes('comp=block'))) await new Promise((resolve) => setTimeout(resolve, 5));
      controller.abort(new Error('partition lost'));
      expect((await failure(staging)).code).toBe('ABORTED');
      expect(requests.filter((request) => request.url.includes('comp=block'))).toHaveLength(1);
    } finally {
      await close();
    }
  });
});
