/**
 * Events sent by partition key through the real @azure/event-hubs clients land where mapPartitionKeyToId says.
 *
 * The buffered producer is the independent check: it assigns partitions on the client, with the SDK's own
 * mapper, and sends each batch to an explicit partition id, so the peer's routing plays no part. The plain
 * producer sends the key to the "service", whose routing the peer does with mapPartitionKeyToId; that half checks
 * the key survives the wire and that a keyed send and its keyed receive agree.
 */
import { EventHubBufferedProducerClient, EventHubProducerClient } from '@azure/event-hubs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mapPartitionKeyToId } from '../../src/partition/eventhubs-hash.js';
import { startEventHubsPeer, type EventHubsPeer } from '../peers/eventhubs/index.js';

const HUB = 'orders';
const PARTITIONS = 7;
const keys = Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? `customer-${i}` : i % 3 === 1 ? `${i * 7919}` : `ключ-${i}-注文`));

let peer: EventHubsPeer;
const closers: Array<() => Promise<void>> = [];

beforeEach(async () => {
  peer = await startEventHubsPeer({ hubs: { [HUB]: { partitionCount: PARTITIONS } } });
});

afterEach(async () => {
  while (closers.length) await closers.pop()!();
  await peer.close();
});

/** body text -> partition it was stored in */
function landed(): Map<string, number> {
  const where = new Map<string, number>();
  for (let p = 0; p < PARTITIONS; p++) {
    for (const event of peer.events(HUB, String(p))) where.set(event.body.toString('utf8'), p);
  }
  return where;
}

describe('partition keys through the Event Hubs SDK', () => {
  it("EventHubBufferedProducerClient puts every key on mapPartitionKeyToId's partition", async () => {
    const client = new EventHubBufferedProducerClient(peer.connectionString(HUB), {
      onSendEventsErrorHandler: (context) => {
        throw context.error;
      },
      maxWaitTimeInMs: 50,
      retryOptions: { maxRetries: 3, retryDelayInMs: 100 },
    });
    closers.push(() => client.close({ flush: false }));
    for (const key of keys) await client.enqueueEvent({ body: Buffer.from(key, 'utf8') }, { partitionKey: key });
    await client.flush();
    // Sent to explicit partition ids: the SDK chose the partitions, the peer only stored what it was given.
    const stored = Array.from({ length: PARTITIONS }, (_, p) => peer.events(HUB, String(p))).flat();
    expect(stored.every((event) => event.partitionKey === null)).toBe(true);
    const where = landed();
    expect(where.size).toBe(keys.length);
    for (const key of keys) expect(where.get(key), key).toBe(mapPartitionKeyToId(key, PARTITIONS));
    // The keys really spread: a broken mapping that sent everything to one partition would fail above, but make
    // the spread itself visible too.
    expect(new Set(where.values()).size).toBe(PARTITIONS);
  });

  it('EventHubProducerClient batches created with a partition key land on its partition, key intact', async () => {
    const client = new EventHubProducerClient(peer.connectionString(HUB), { retryOptions: { maxRetries: 3, retryDelayInMs: 100 } });
    closers.push(() => client.close());
    for (const key of keys.slice(0, 60)) {
      const batch = await client.createBatch({ partitionKey: key });
      expect(batch.tryAdd({ body: Buffer.from(key, 'utf8') })).toBe(true);
      await client.sendBatch(batch);
    }
    for (let p = 0; p < PARTITIONS; p++) {
      for (const event of peer.events(HUB, String(p))) {
        expect(event.partitionKey).toBe(event.body.toString('utf8'));
        expect(mapPartitionKeyToId(event.partitionKey!, PARTITIONS)).toBe(p);
      }
    }
    expect(landed().size).toBe(60);
  });
});
