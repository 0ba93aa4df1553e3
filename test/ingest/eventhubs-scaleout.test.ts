/**
 * Two EventHubsSource instances in one consumer group share an 8-partition hub through
 * @azure/eventhubs-checkpointstore-blob on Azurite: the second takes partitions over from the first (which sees
 * them revoked as lost, its receivers disconnected by the owner level), every event is handed to someone, and
 * when one instance shuts down the other takes everything.
 */
import { EventHubProducerClient } from '@azure/event-hubs';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventHubsSource } from '../../src/ingest/eventhubs/source.js';
import { startEventHubsPeer, type EventHubsPeer } from '../peers/eventhubs/index.js';
import { startAzurite, type Azurite } from '../support/azurite.js';
import { RecordingHandler, peerSourceConfig, quietLog, range, waitFor } from './eventhubs-support.js';

let azurite: Azurite;
let peer: EventHubsPeer;

beforeAll(async () => {
  azurite = await startAzurite();
  peer = await startEventHubsPeer({ hubs: { orders: { partitionCount: 8, consumerGroups: ['tributary'] } } });
});

afterAll(async () => {
  await peer?.close();
  await azurite?.stop();
});

function instance(name: string) {
  const config = peerSourceConfig(peer, 'unused', {
    checkpointStore: { kind: 'blob', container: 'eh-scaleout', connectionString: azurite.connectionString, createContainer: true },
    loadBalancing: { strategy: 'balanced', updateInterval: '250ms', ownershipExpiration: '5s' },
    identifier: name,
  });
  const handler = new RecordingHandler();
  const controller = new AbortController();
  const run = new EventHubsSource({ config, log: quietLog }).run(handler, { signal: controller.signal, bounded: false });
  const owned = (): string[] => {
    const mine = new Set(handler.assigned);
    for (const r of handler.revoked) mine.delete(r.partition);
    return [...mine];
  };
  return { handler, owned, stop: async () => { controller.abort(); await run; } };
}

describe('EventHubsSource scale-out on the blob checkpoint store', () => {
  it('shares the partitions, hands every event to an owner, and survivors take over on shutdown', async () => {
    const producer = new EventHubProducerClient(peer.namespaceConnectionString(), 'orders');
    let sent = 0;
    const send = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i++, sent++) await producer.sendBatch([{ body: Buffer.from(`e${sent}`) }], { partitionKey: `key-${sent % 97}` });
    };
    try {
      const a = instance('instance-a');
      await waitFor(() => a.owned().length === 8, 'a owns all 8 partitions');
      await send(100);

      const b = instance('instance-b');
      await waitFor(() => a.owned().length === 4 && b.owned().length === 4, 'a and b own 4 each');
      expect(a.handler.revoked.filter((r) => r.reason === 'lost')).toHaveLength(4);
      await send(100);

      const total = (): number => new Set([...a.handler.events.values(), ...b.handler.events.values()].flat().map((e) => `${e.position}@${e.offset}:${Buffer.from(e.body).toString()}`)).size;
      await waitFor(() => total() === 200, 'all 200 events handed over');

      await a.stop();
      await waitFor(() => b.owned().length === 8, 'b owns all 8 after a shut down');
      await send(50);
      await waitFor(() => total() === 250, 'all 250 events handed over');
      await b.stop();

      for (const partition of range(0, 8).map(String)) {
        const stored = peer.events('orders', partition).map((e) => e.sequenceNumber);
        const seen = new Set([...(a.handler.events.get(`orders/${partition}`) ?? []), ...(b.handler.events.get(`orders/${partition}`) ?? [])].map((e) => e.position));
        expect([...seen].sort((x, y) => x - y)).toEqual(stored);
      }
      expect(a.handler.violations).toEqual([]);
      expect(b.handler.violations).toEqual([]);

      // The checkpoints are where KEDA and other SDK readers look for them, at the last handed-over event.
      const store = new BlobCheckpointStore(new ContainerClient(azurite.connectionString, 'eh-scaleout'));
      const checkpoints = await store.listCheckpoints('127.0.0.1', 'orders', 'tributary');
      for (const partition of range(0, 8).map(String)) {
        const last = peer.events('orders', partition).at(-1);
        if (last) expect(checkpoints.find((c) => c.partitionId === partition)).toMatchObject({ sequenceNumber: last.sequenceNumber, offset: last.offset });
      }
      const ownership = await store.listOwnership('127.0.0.1', 'orders', 'tributary');
      expect(ownership.every((o) => o.ownerId === '')).toBe(true);
    } finally {
      await producer.close();
    }
  });
});
