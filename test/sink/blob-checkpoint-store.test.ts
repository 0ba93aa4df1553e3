import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeSchema, type StoreConfig } from '../../src/config/schema.js';
import type { Checkpoint } from '../../src/core/checkpoint-store.js';
import { EventHubsCheckpointStore, checkpointBlobName, eventHubsCheckpointTargetSchema } from '../../src/sink/blob/eventhubs-checkpoint-store.js';
import { createCheckpointStore } from '../../src/sink/store-factory.js';
import { devConnectionString, startAzurite, type Azurite } from '../support/azurite.js';
import { startFaultProxy } from '../support/fault-proxy.js';

const TARGET = { fullyQualifiedNamespace: 'Tributary-Test.servicebus.windows.net', consumerGroup: 'Lake-Writer', hubs: { orders: 'Orders-Hub' } };
const FAST = { maxAttempts: 6, initialDelayMs: 10, maxDelayMs: 50, factor: 2 };

let azurite: Azurite;

function blobConfig(container: string, connectionString = azurite.connectionString): StoreConfig {
  return storeSchema.parse({ kind: 'blob', container, prefix: 'state', connectionString });
}

function freshContainer(): string {
  return `checkpoints-${randomBytes(4).toString('hex')}`;
}

/** What another tool sees: a BlobCheckpointStore of its own on the same container. */
function independentReader(container: string): BlobCheckpointStore {
  return new BlobCheckpointStore(new ContainerClient(azurite.connectionString, container));
}

beforeAll(async () => {
  azurite = await startAzurite();
});

afterAll(async () => {
  await azurite?.stop();
});

describe('EventHubsCheckpointStore', () => {
  it('writes checkpoints that an independently created BlobCheckpointStore reads back', async () => {
    const container = freshContainer();
    const store = createCheckpointStore(blobConfig(container), { eventHubs: TARGET, retry: FAST });
    const written: Checkpoint[] = [
      { stream: 'orders', partition: '0', nextPosition: 1, offset: '0' },
      { stream: 'orders', partition: '1', nextPosition: 4096, offset: '1048576' },
      { stream: 'orders', partition: '2', nextPosition: 123_457, offset: '98765432' },
      { stream: 'orders', partition: '3', nextPosition: 2 ** 40, offset: '12:34:5' },
    ];
    for (const checkpoint of written) await store.update(checkpoint);

    const seen = await independentReader(container).listCheckpoints(TARGET.fullyQualifiedNamespace, 'Orders-Hub', 'Lake-Writer');
    expect(seen.map((c) => ({ partitionId: c.partitionId, sequenceNumber: c.sequenceNumber, offset: c.offset })).sort((a, b) => Number(a.partitionId) - Number(b.partitionId))).toEqual([
      { partitionId: '0', sequenceNumber: 0, offset: '0' },
      { partitionId: '1', sequenceNumber: 4095, offset: '1048576' },
      { partitionId: '2', sequenceNumber: 123_456, offset: '98765432' },
      { partitionId: '3', sequenceNumber: 2 ** 40 - 1, offset: '12:34:5' },
    ]);
    expect(await store.list('orders')).toEqual(written);
  });

  it('keeps the SDK blob layout: lower-cased names at the container root, empty blobs with the metadata', async () => {
    const container = freshContainer();
    const store = createCheckpointStore(blobConfig(container), { eventHubs: TARGET, retry: FAST });
    await store.update({ stream: 'orders', partition: '7', nextPosition: 11, offset: '640' });

    const client = new ContainerClient(azurite.connectionString, container);
    const blobs = [];
    for await (const blob of client.listBlobsFlat({ includeMetadata: true })) blobs.push(blob);
    expect(blobs.map((b) => ({ name: b.name, size: b.properties.contentLength, metadata: b.metadata }))).toEqual([
      {
        name: 'tributary-test.servicebus.windows.net/orders-hub/lake-writer/checkpoint/7',
        size: 0,
        metadata: { sequencenumber: '10', offset: '640' },
      },
    ]);
    expect(checkpointBlobName(eventHubsCheckpointTargetSchema.parse(TARGET), 'Orders-Hub', '7')).toBe(blobs[0]?.name);
    expect(store.location).not.toContain('AccountKey');
  });

  it('reads checkpoints written by the Event Hubs SDK as positions to resume at', async () => {
    const container = freshContainer();
    const client = new ContainerClient(azurite.connectionString, container);
    await client.create();
    const sdk = new BlobCheckpointStore(client);
    for (const [partitionId, sequenceNumber] of [['0', 99], ['1', 0]] as const) {
      await sdk.updateCheckpoint({ fullyQualifiedNamespace: TARGET.fullyQualifiedNamespace, eventHubName: 'orders-hub', consumerGroup: 'lake-writer', partitionId, sequenceNumber, offset: `${sequenceNumber * 10}` });
    }
    const store = createCheckpointStore(blobConfig(container), { eventHubs: TARGET, retry: FAST });
    expect(await store.list('orders')).toEqual([
      { stream: 'orders', partition: '0', nextPosition: 100, offset: '990' },
      { stream: 'orders', partition: '1', nextPosition: 1, offset: '0' },
    ]);
  });

  it('moves a checkpoint forward and back, and removes it on a reset to the start', async () => {
    const container = freshContainer();
    const store = createCheckpointStore(blobConfig(container), { eventHubs: TARGET, retry: FAST });
    await store.update({ stream: 'orders', partition: '0', nextPosition: 500, offset: '5000' });
    await store.update({ stream: 'orders', partition: '0', nextPosition: 900, offset: '9000' });
    expect(await store.list('orders')).toEqual([{ stream: 'orders', partition: '0', nextPosition: 900, offset: '9000' }]);
    await store.update({ stream: 'orders', partition: '0', nextPosition: 200, offset: '2000' });
    expect(await store.list('orders')).toEqual([{ stream: 'orders', partition: '0', nextPosition: 200, offset: '2000' }]);
    await store.update({ stream: 'orders', partition: '0', nextPosition: 0, offset: '' });
    expect(await store.list('orders')).toEqual([]);
    expect(await independentReader(container).listCheckpoints(TARGET.fullyQualifiedNamespace, 'orders-hub', 'lake-writer')).toEqual([]);
  });

  it('keeps consumer groups and hubs apart, and a stream without a hub mapping uses its own name', async () => {
    const container = freshContainer();
    const writer = createCheckpointStore(blobConfig(container), { eventHubs: TARGET, retry: FAST });
    const other = createCheckpointStore(blobConfig(container), { eventHubs: { ...TARGET, consumerGroup: '$Default' }, retry: FAST });
    await writer.update({ stream: 'orders', partition: '0', nextPosition: 10, offset: '1' });
    await writer.update({ stream: 'telemetry', partition: '0', nextPosition: 20, offset: '2' });
    await other.update({ stream: 'orders', partition: '0', nextPosition: 30, offset: '3' });
    expect((await writer.list('orders')).map((c) => c.nextPosition)).toEqual([10]);
    expect((await writer.list('telemetry')).map((c) => c.nextPosition)).toEqual([20]);
    expect((await other.list('orders')).map((c) => c.nextPosition)).toEqual([30]);
    const telemetry = await independentReader(container).listCheckpoints(TARGET.fullyQualifiedNamespace, 'telemetry', 'lake-writer');
    expect(telemetry.map((c) => c.sequenceNumber)).toEqual([19]);
  });

  it('lists nothing before the container exists and refuses a position that is not one', async () => {
    const store = createCheckpointStore(blobConfig(freshContainer()), { eventHubs: TARGET, retry: FAST });
    expect(await store.list('orders')).toEqual([]);
    await expect(store.update({ stream: 'orders', partition: '0', nextPosition: -1, offset: '' })).rejects.toBeInstanceOf(RangeError);
  });

  it('retries a throttled checkpoint write and writes it once', async () => {
    const container = freshContainer();
    await new ContainerClient(azurite.connectionString, container).create();
    let throttled = 0;
    const proxy = await startFaultProxy(azurite.port, (request) =>
      request.method === 'PUT' && throttled++ < 2 ? { kind: 'status', status: 429, errorCode: 'ServerBusy' } : { kind: 'forward' },
    );
    try {
      const store = EventHubsCheckpointStore.fromConfig(
        { kind: 'blob', container, prefix: '', connectionString: devConnectionString(`http://127.0.0.1:${proxy.port}/devstoreaccount1`) },
        TARGET,
        { retry: FAST },
      );
      await store.update({ stream: 'orders', partition: '4', nextPosition: 77, offset: '770' });
      expect(throttled).toBeGreaterThanOrEqual(3);
    } finally {
      await proxy.close();
    }
    const seen = await independentReader(container).listCheckpoints(TARGET.fullyQualifiedNamespace, 'orders-hub', 'lake-writer');
    expect(seen.map((c) => [c.partitionId, c.sequenceNumber, c.offset])).toEqual([['4', 76, '770']]);
  });
});

describe('createCheckpointStore without an Event Hubs target', () => {
  it('keeps JSON checkpoints beside the snapshots on blob', async () => {
    const container = freshContainer();
    const store = createCheckpointStore(blobConfig(container), { retry: FAST });
    await store.update({ stream: 'orders', partition: '1', nextPosition: 42, offset: '420' });
    expect(await store.list('orders')).toEqual([{ stream: 'orders', partition: '1', nextPosition: 42, offset: '420' }]);
    const names: string[] = [];
    for await (const blob of new ContainerClient(azurite.connectionString, container).listBlobsFlat()) names.push(blob.name);
    expect(names).toEqual(['state/checkpoints/orders/partition=1.json']);
  });

  it('keeps them in a folder locally', async () => {
    const folder = await mkdtemp(path.join(os.tmpdir(), 'tributary-checkpoints-'));
    try {
      const store = createCheckpointStore({ kind: 'local', path: folder }, { eventHubs: TARGET });
      await store.update({ stream: 'orders', partition: '0', nextPosition: 5, offset: '50' });
      expect(await store.list('orders')).toEqual([{ stream: 'orders', partition: '0', nextPosition: 5, offset: '50' }]);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});
