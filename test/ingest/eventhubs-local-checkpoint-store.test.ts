/**
 * The file-based CheckpointStore follows the blob store's contract: claims with a stale etag are not granted,
 * etags change on every write, abandoned ownership (owner '') is listed, checkpoints round-trip.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalCheckpointStore } from '../../src/ingest/eventhubs/local-checkpoint-store.js';
import { tempDir } from './eventhubs-support.js';

const scope = { fullyQualifiedNamespace: 'NS.servicebus.windows.net', eventHubName: 'Orders', consumerGroup: '$Default' };
let dir: { path: string; remove: () => Promise<void> };
let clock = 1_000;

beforeEach(async () => {
  dir = await tempDir('tributary-eh-store-');
});
afterEach(() => dir.remove());

describe('LocalCheckpointStore', () => {
  it('grants a claim only with the current etag, like the blob store\'s conditional write', async () => {
    const store = new LocalCheckpointStore(dir.path, () => clock);
    const [first] = await store.claimOwnership([{ ...scope, partitionId: '0', ownerId: 'a' }]);
    expect(first).toMatchObject({ ownerId: 'a', lastModifiedTimeInMs: 1_000 });
    expect(first!.etag).toBeTruthy();

    clock = 2_000;
    const [renewed] = await store.claimOwnership([{ ...first! }]);
    expect(renewed!.etag).not.toBe(first!.etag);

    // b read the record before a renewed it: its claim carries a stale etag and is not granted.
    expect(await store.claimOwnership([{ ...first!, ownerId: 'b' }])).toEqual([]);
    const [stolen] = await store.claimOwnership([{ ...renewed!, ownerId: 'b' }]);
    expect(stolen!.ownerId).toBe('b');

    const listed = await store.listOwnership(scope.fullyQualifiedNamespace, scope.eventHubName, scope.consumerGroup);
    expect(listed).toEqual([{ ...scope, partitionId: '0', ownerId: 'b', lastModifiedTimeInMs: 2_000, etag: stolen!.etag }]);
  });

  it('lists abandoned ownership and checkpoints, in the blob store\'s lower-cased layout', async () => {
    const store = new LocalCheckpointStore(dir.path, () => clock);
    const claimed = await store.claimOwnership([
      { ...scope, partitionId: '0', ownerId: 'a' },
      { ...scope, partitionId: '1', ownerId: 'a' },
    ]);
    await store.claimOwnership(claimed.map((o) => ({ ...o, ownerId: '' })));
    const listed = await store.listOwnership(scope.fullyQualifiedNamespace, scope.eventHubName, scope.consumerGroup);
    expect(listed.map((o) => [o.partitionId, o.ownerId])).toEqual([['0', ''], ['1', '']]);

    await store.updateCheckpoint({ ...scope, partitionId: '1', sequenceNumber: 41, offset: '8200' });
    await store.updateCheckpoint({ ...scope, partitionId: '1', sequenceNumber: 42, offset: '8400' });
    expect(await store.listCheckpoints(scope.fullyQualifiedNamespace, scope.eventHubName, scope.consumerGroup)).toEqual([
      { ...scope, partitionId: '1', sequenceNumber: 42, offset: '8400' },
    ]);
    expect(await store.listCheckpoints(scope.fullyQualifiedNamespace, 'other', scope.consumerGroup)).toEqual([]);
    const folder = path.join(dir.path, 'ns.servicebus.windows.net', 'orders', '%24default');
    expect((await readdir(folder)).sort()).toEqual(['checkpoint', 'ownership']);
  });

  it('serialises concurrent claims of one partition: exactly one wins', async () => {
    const store = new LocalCheckpointStore(dir.path, () => clock);
    const [seed] = await store.claimOwnership([{ ...scope, partitionId: '3', ownerId: 'seed' }]);
    const results = await Promise.all(['a', 'b', 'c', 'd'].map((ownerId) => store.claimOwnership([{ ...seed!, ownerId }])));
    expect(results.filter((r) => r.length === 1)).toHaveLength(1);
  });
});
