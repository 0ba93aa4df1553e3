import { randomBytes } from 'node:crypto';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeSchema } from '../../src/config/schema.js';
import { TributaryError } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/log.js';
import type { RetryPolicy } from '../../src/core/retry.js';
import type { SourceEvent } from '../../src/core/source.js';
import { BlobObjectStore } from '../../src/sink/blob/blob-object-store.js';
import { countsFromMetadata, deadLetterRecord, decodeDeadLetters, encodeDeadLetters } from '../../src/sink/dead-letter.js';
import { deadLetterKey } from '../../src/sink/lake-layout.js';
import { createObjectStore } from '../../src/sink/store-factory.js';
import { devConnectionString, startAzurite, type Azurite } from '../support/azurite.js';
import { startFaultProxy, type FaultAction, type ProxiedRequest } from '../support/fault-proxy.js';

const FAST: RetryPolicy = { maxAttempts: 6, initialDelayMs: 10, maxDelayMs: 50, factor: 2 };
const ONCE: RetryPolicy = { ...FAST, maxAttempts: 1 };

let azurite: Azurite;
let service: BlobServiceClient;
let containerCount = 0;

function freshContainer(): string {
  containerCount += 1;
  return `objects-${containerCount}-${randomBytes(3).toString('hex')}`;
}

function storeOn(connectionString: string, container: string, options: ConstructorParameters<typeof BlobObjectStore>[2] = {}): BlobObjectStore {
  const config = storeSchema.parse({ kind: 'blob', container, connectionString });
  if (config.kind !== 'blob') throw new Error('unreachable');
  return BlobObjectStore.fromConfig(config, { retry: FAST, ...options });
}

async function expectError(promise: Promise<unknown>): Promise<TributaryError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(TributaryError);
  return error as TributaryError;
}

beforeAll(async () => {
  azurite = await startAzurite({ persistent: true });
  service = BlobServiceClient.fromConnectionString(azurite.connectionString);
});

afterAll(async () => {
  await azurite?.stop();
});

describe('BlobObjectStore round trips', () => {
  it('creates its container, stores bytes with metadata, lists in key order under a prefix, deletes', async () => {
    const container = freshContainer();
    const store = createObjectStore(
      storeSchema.parse({ kind: 'blob', container, prefix: 'lake', connectionString: azurite.connectionString }),
    );
    expect(store.location).toBe(`${azurite.blobEndpoint}/${container}/lake/`);
    expect(store.location).not.toContain('AccountKey');

    const first = new Uint8Array([1, 2, 3]);
    await store.put('orders_raw/date=2024-05-01/hour=13/partition=1/b.parquet', first, { rows: '3' });
    await store.put('orders_raw/date=2024-05-01/hour=13/partition=1/a.parquet', new Uint8Array([9]));
    await store.put('telemetry_raw/date=2024-05-01/hour=13/partition=0/c.parquet', new Uint8Array(10));

    expect(await store.get('orders_raw/date=2024-05-01/hour=13/partition=1/b.parquet')).toEqual(first);
    expect(await store.get('orders_raw/missing.parquet')).toBeUndefined();
    expect(await store.list('orders_raw/')).toEqual([
      { key: 'orders_raw/date=2024-05-01/hour=13/partition=1/a.parquet', size: 1, metadata: {} },
      { key: 'orders_raw/date=2024-05-01/hour=13/partition=1/b.parquet', size: 3, metadata: { rows: '3' } },
    ]);

    // The prefix is a real folder in the container: other tools see the Hive layout under it.
    const names: string[] = [];
    for await (const blob of service.getContainerClient(container).listBlobsFlat()) names.push(blob.name);
    expect(names).toContain('lake/telemetry_raw/date=2024-05-01/hour=13/partition=0/c.parquet');

    await store.delete('orders_raw/date=2024-05-01/hour=13/partition=1/a.parquet');
    await store.delete('orders_raw/never-existed.parquet');
    expect((await store.list('orders_raw/')).map((info) => info.key)).toEqual(['orders_raw/date=2024-05-01/hour=13/partition=1/b.parquet']);
  });

  it('replaces an object whole, metadata included', async () => {
    const store = storeOn(azurite.connectionString, freshContainer());
    await store.put('k', new Uint8Array([1, 1, 1, 1]), { version: '1', extra: 'x' });
    await store.put('k', new Uint8Array([2, 2]), { version: '2' });
    expect(await store.get('k')).toEqual(new Uint8Array([2, 2]));
    expect(await store.list('')).toEqual([{ key: 'k', size: 2, metadata: { version: '2' } }]);
  });

  it('round-trips metadata names and values that blob metadata cannot hold as they are', async () => {
    const store = storeOn(azurite.connectionString, freshContainer());
    const metadata = { 'error-text': 'ünïcode: 100% "quoted"\nnext line', 'tq_x_name': 'looks escaped', camelCase: 'kept', plain: 'a b' };
    await store.put('odd', new Uint8Array([0]), metadata);
    expect((await store.list('odd'))[0]?.metadata).toEqual(metadata);
  });

  it('shows dead-letter counts per reason in the listing, without downloading, and keeps every record field', async () => {
    const store = storeOn(azurite.connectionString, freshContainer());
    const event = (position: number): SourceEvent => ({
      body: new Uint8Array([0xde, 0xad, position]),
      position,
      offset: String(position * 100),
      enqueuedTimeMs: Date.UTC(2024, 4, 1, 13, 0, position),
      partitionKey: position % 2 ? `key-${position}` : null,
      properties: { traceparent: `00-${position}`, retry: position },
    });
    const first = [
      deadLetterRecord('orders', '0', event(1), 'decode', 'truncated Avro body'),
      deadLetterRecord('orders', '0', event(2), 'decode', 'unknown schema fingerprint'),
      deadLetterRecord('orders', '0', event(3), 'late', 'event time is behind the watermark'),
      deadLetterRecord('orders', '0', event(4), 'schema', 'amount: expected a number'),
    ];
    const second = [deadLetterRecord('orders', '1', event(9), 'late', 'event time is behind the watermark')];
    for (const [partition, records] of [['0', first], ['1', second]] as const) {
      const { bytes, metadata } = encodeDeadLetters(records);
      await store.put(deadLetterKey('orders', partition, 0), bytes, metadata);
    }

    const listed = await store.list('orders/');
    const totals: Record<string, number> = {};
    for (const info of listed) {
      for (const [reason, count] of Object.entries(countsFromMetadata(info.metadata))) totals[reason] = (totals[reason] ?? 0) + count;
    }
    expect(totals).toEqual({ decode: 2, late: 2, schema: 1 });
    expect(listed.map((info) => info.metadata['total'])).toEqual(['4', '1']);

    const back = decodeDeadLetters((await store.get(deadLetterKey('orders', '0', 0)))!);
    expect(back).toEqual(first);
    expect(Buffer.from(back[2]!.body, 'base64')).toEqual(Buffer.from([0xde, 0xad, 3]));
  });

  it('uploads objects larger than a block as staged blocks committed at once', async () => {
    const container = freshContainer();
    const store = storeOn(azurite.connectionString, container, { blockSize: 64 * 1024, concurrency: 2 });
    const bytes = randomBytes(300 * 1024);
    await store.put('big.parquet', bytes, { rows: '42' });
    expect(Buffer.from((await store.get('big.parquet'))!)).toEqual(bytes);
    const blocks = await service.getContainerClient(container).getBlockBlobClient('big.parquet').getBlockList('committed');
    expect(blocks.committedBlocks?.length).toBe(5);
  });

  it('ignores the directory entries an ADLS Gen2 account lists through the blob endpoint', async () => {
    const container = freshContainer();
    const store = storeOn(azurite.connectionString, container);
    await store.put('orders_raw/date=2024-05-01/x.parquet', new Uint8Array([1]));
    await service.getContainerClient(container).getBlockBlobClient('orders_raw/date=2024-05-01').upload('', 0, { metadata: { hdi_isfolder: 'true' } });
    expect((await store.list('orders_raw/')).map((info) => info.key)).toEqual(['orders_raw/date=2024-05-01/x.parquet']);
  });

  it('lists nothing and gets nothing from a container that does not exist yet', async () => {
    const store = storeOn(azurite.connectionString, freshContainer());
    expect(await store.list('')).toEqual([]);
    expect(await store.get('any')).toBeUndefined();
  });

  it('rejects keys that climb out of the prefix as a programming error', async () => {
    const store = storeOn(azurite.connectionString, freshContainer());
    await expect(store.put('a/../../b', new Uint8Array([1]))).rejects.toBeInstanceOf(TypeError);
  });
});

describe('BlobObjectStore authentication and secrets', () => {
  it('accepts an account URL alone, for Microsoft Entra ID through DefaultAzureCredential', () => {
    const store = createObjectStore(storeSchema.parse({ kind: 'blob', container: 'lake', prefix: 'tributary', accountUrl: 'https://example.blob.core.windows.net' }));
    expect(store.location).toBe('https://example.blob.core.windows.net/lake/tributary/');
  });

  it('keeps a SAS signature out of the location and out of error messages', async () => {
    const proxy = await startFaultProxy(azurite.port, () => ({ kind: 'forward' }));
    await proxy.close();
    const connectionString = `BlobEndpoint=http://127.0.0.1:${proxy.port}/devstoreaccount1;SharedAccessSignature=sv=2023-11-03&ss=b&srt=sco&sp=rwdlac&sig=TOPSECRETSIGNATURE`;
    const store = storeOn(connectionString, freshContainer(), { retry: ONCE });
    expect(store.location).not.toContain('TOPSECRET');
    const error = await expectError(store.put('x', new Uint8Array([1])));
    expect(error.code).toBe('STORAGE_TRANSIENT');
    expect(`${error.message} ${JSON.stringify(error)}`).not.toContain('TOPSECRET');
  });

  it('names the container, not the connection string, when the connection string is malformed', () => {
    const error = (() => {
      try {
        createObjectStore(storeSchema.parse({ kind: 'blob', container: 'lake', connectionString: 'AccountName=x;AccountKey=SECRETKEY;Garbage' }));
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(TributaryError);
    expect((error as TributaryError).code).toBe('CONFIG_INVALID');
    expect((error as TributaryError).message).toContain('"lake"');
    expect((error as TributaryError).message).not.toContain('SECRETKEY');
  });
});

describe('BlobObjectStore faults', () => {
  async function throughProxy(decide: (request: ProxiedRequest) => FaultAction | Promise<FaultAction>, retry: RetryPolicy = FAST, requestTimeoutMs?: number) {
    const container = freshContainer();
    await service.getContainerClient(container).create();
    const proxy = await startFaultProxy(azurite.port, decide);
    const proxied = devConnectionString(`http://127.0.0.1:${proxy.port}/devstoreaccount1`);
    const store = storeOn(proxied, container, { retry, ...(requestTimeoutMs ? { requestTimeoutMs } : {}) });
    return { container, proxy, store };
  }

  const isUpload = (request: ProxiedRequest): boolean => request.method === 'PUT' && !request.url.includes('restype=container');

  it('retries 503, 500 and 429 and then succeeds', async () => {
    const statuses = [503, 500, 429];
    let uploads = 0;
    const { container, proxy, store } = await throughProxy((request) => {
      if (!isUpload(request)) return { kind: 'forward' };
      const status = statuses[uploads++];
      return status ? { kind: 'status', status, errorCode: 'ServerBusy' } : { kind: 'forward' };
    });
    try {
      await store.put('retried.bin', new Uint8Array([7, 7]));
      expect(uploads).toBe(4);
      const bytes = await service.getContainerClient(container).getBlockBlobClient('retried.bin').downloadToBuffer();
      expect([...bytes]).toEqual([7, 7]);
    } finally {
      await proxy.close();
    }
  });

  it('retries dropped connections', async () => {
    let uploads = 0;
    const { proxy, store } = await throughProxy((request) => (isUpload(request) && uploads++ < 2 ? { kind: 'reset' } : { kind: 'forward' }));
    try {
      await store.put('after-reset.bin', new Uint8Array([1]));
      expect(uploads).toBe(3);
      expect(await store.get('after-reset.bin')).toEqual(new Uint8Array([1]));
    } finally {
      await proxy.close();
    }
  });

  it('gives a request that never answers a timeout and retries it', async () => {
    let uploads = 0;
    const { proxy, store } = await throughProxy((request) => (isUpload(request) && uploads++ === 0 ? { kind: 'hang' } : { kind: 'forward' }), FAST, 1000);
    try {
      await store.put('after-timeout.bin', new Uint8Array([3]));
      expect(uploads).toBe(2);
    } finally {
      await proxy.close();
    }
  });

  it('stops at once on a permanent fault (400) and says so', async () => {
    let uploads = 0;
    const { proxy, store } = await throughProxy((request) => {
      if (!isUpload(request)) return { kind: 'forward' };
      uploads += 1;
      return { kind: 'status', status: 400, errorCode: 'InvalidMetadata' };
    });
    try {
      const error = await expectError(store.put('bad.bin', new Uint8Array([1])));
      expect(error.code).toBe('STORAGE_PERMANENT');
      expect(error.retriable).toBe(false);
      expect(uploads).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  it('treats 403 as an authentication failure, not retried', async () => {
    let uploads = 0;
    const { proxy, store } = await throughProxy((request) => {
      if (!isUpload(request)) return { kind: 'forward' };
      uploads += 1;
      return { kind: 'status', status: 403, errorCode: 'AuthorizationFailure' };
    });
    try {
      const error = await expectError(store.put('denied.bin', new Uint8Array([1])));
      expect(error.code).toBe('AUTHENTICATION_FAILED');
      expect(uploads).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  it('gives up after the policy\'s attempts with a transient error when nothing listens', async () => {
    const proxy = await startFaultProxy(azurite.port, () => ({ kind: 'forward' }));
    await proxy.close();
    const retries: number[] = [];
    const logger = { warn: (fields: { attempt: number }) => retries.push(fields.attempt) } as unknown as Logger;
    const store = storeOn(devConnectionString(`http://127.0.0.1:${proxy.port}/devstoreaccount1`), freshContainer(), {
      retry: { ...FAST, maxAttempts: 3 },
      logger,
    });
    const error = await expectError(store.put('x', new Uint8Array([1])));
    expect(error.code).toBe('STORAGE_TRANSIENT');
    expect(error.message).toContain('ECONNREFUSED');
    expect(retries).toEqual([1, 2]);
    expect((await expectError(store.get('x'))).code).toBe('STORAGE_TRANSIENT');
  });

  it('stops retrying when the shutdown signal fires', async () => {
    const controller = new AbortController();
    const proxy = await startFaultProxy(azurite.port, () => ({ kind: 'status', status: 503 }));
    const store = storeOn(devConnectionString(`http://127.0.0.1:${proxy.port}/devstoreaccount1`), freshContainer(), {
      retry: { maxAttempts: 1000, initialDelayMs: 20, maxDelayMs: 20, factor: 1 },
      signal: controller.signal,
    });
    try {
      const pending = expectError(store.put('never.bin', new Uint8Array([1])));
      while (proxy.requests.length < 3) await new Promise((resolve) => setTimeout(resolve, 10));
      controller.abort();
      expect((await pending).code).toBe('ABORTED');
    } finally {
      await proxy.close();
    }
  });
});

describe('BlobObjectStore atomic uploads', () => {
  const isBlockStage = (request: ProxiedRequest): boolean => request.method === 'PUT' && request.url.includes('comp=block') && !request.url.includes('comp=blocklist');

  async function uncommittedBlocks(container: ContainerClient, name: string): Promise<number> {
    const list = await container.getBlockBlobClient(name).getBlockList('uncommitted');
    return list.uncommittedBlocks?.length ?? 0;
  }

  it('leaves nothing that looks finished when Azurite stops in the middle of a block upload', async () => {
    const container = freshContainer();
    await service.getContainerClient(container).create();
    let staged = 0;
    const proxy = await startFaultProxy(azurite.port, async (request) => {
      if (isBlockStage(request) && ++staged === 3) await azurite.suspend();
      return { kind: 'forward' };
    });
    try {
      const store = storeOn(devConnectionString(`http://127.0.0.1:${proxy.port}/devstoreaccount1`), container, {
        retry: ONCE,
        blockSize: 64 * 1024,
        concurrency: 1,
      });
      const error = await expectError(store.put('half.parquet', randomBytes(400 * 1024), { rows: '100' }));
      expect(error.code).toBe('STORAGE_TRANSIENT');
    } finally {
      await azurite.resume();
      await proxy.close();
    }
    const direct = storeOn(azurite.connectionString, container);
    expect(await direct.list('')).toEqual([]);
    expect(await direct.get('half.parquet')).toBeUndefined();
    // The blocks staged before the outage exist, uncommitted: invisible to every reader.
    expect(await uncommittedBlocks(service.getContainerClient(container), 'half.parquet')).toBe(2);
  });

  it('finishes the upload whole once Azurite is back', async () => {
    const container = freshContainer();
    await service.getContainerClient(container).create();
    let staged = 0;
    const proxy = await startFaultProxy(azurite.port, async (request) => {
      if (isBlockStage(request) && ++staged === 2) {
        await azurite.suspend();
        setTimeout(() => void azurite.resume(), 500);
      }
      return { kind: 'forward' };
    });
    const bytes = randomBytes(256 * 1024);
    try {
      const store = storeOn(devConnectionString(`http://127.0.0.1:${proxy.port}/devstoreaccount1`), container, {
        // a budget, not a count: Azurite's restart takes seconds on a busy machine
        retry: { maxAttempts: Number.MAX_SAFE_INTEGER, initialDelayMs: 50, maxDelayMs: 400, factor: 2, budgetMs: 60_000 },
        blockSize: 64 * 1024,
        concurrency: 1,
      });
      await store.put('whole.parquet', bytes, { rows: '7' });
    } finally {
      await azurite.resume();
      await proxy.close();
    }
    const direct = storeOn(azurite.connectionString, container);
    expect(Buffer.from((await direct.get('whole.parquet'))!)).toEqual(bytes);
    expect(await direct.list('')).toEqual([{ key: 'whole.parquet', size: bytes.length, metadata: { rows: '7' } }]);
  });
});
