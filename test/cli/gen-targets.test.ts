/**
 * `tributary gen` with an Event Hubs or Kafka source sends the streams to that source's hubs or topics (through the
 * real producer clients, into the Event Hubs peer and a real Kafka broker), each keyed event on the partition its key maps to.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { genFromCli, type GenCommandOptions } from '../../src/cli/gen.js';
import { mapPartitionKeyToId } from '../../src/partition/eventhubs-hash.js';
import { startEventHubsPeer, type EventHubsPeer } from '../peers/eventhubs/index.js';
import { describeKafka } from '../brokers/kafka/index.js';
import { REPO_ROOT, createWorkspace, type Workspace } from '../support/workspace.js';

const cli = (config: string): GenCommandOptions => ({
  config,
  events: '300',
  partitions: '4',
  distribution: 'uniform',
  skew: '1.1',
  keys: '50',
  hash: 'eventhubs',
  span: '10m',
  start: '2026-01-01T00:00:00Z',
  duplicates: '0',
  outOfOrder: '0',
  late: '0',
  corrupt: '0',
  seed: '5',
  streams: 'orders',
  window: '5m',
  maxFileSize: '64MiB',
  codec: 'deflate',
  overwrite: false,
  json: false,
  quiet: true,
});

const orders = { schema: path.join(REPO_ROOT, 'examples/schemas/orders.avsc'), eventId: 'orderId', eventTime: 'createdAt', partitionKey: 'customerId' };

describe('tributary gen to a broker', () => {
  let ws: Workspace;
  const stops: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
    await ws?.cleanup();
  });

  it('sends to Event Hubs by partition key', async () => {
    ws = await createWorkspace();
    const peer: EventHubsPeer = await startEventHubsPeer({ hubs: { orders: { partitionCount: 4 } } });
    stops.push(() => peer.close());
    const { file } = await ws.writeConfig({
      streams: { orders },
      source: { kind: 'eventhubs', connectionString: peer.namespaceConnectionString(), consumerGroup: '$Default', hubs: { orders: 'orders' }, checkpointStore: { kind: 'local', path: ws.file('checkpoints') } },
    } as never);
    const summary = await genFromCli(cli(file));
    expect(summary.totals.deliveredEvents).toBe(300);
    let received = 0;
    for (const partition of ['0', '1', '2', '3']) {
      for (const event of peer.events('orders', partition)) {
        received++;
        expect(event.partitionKey).not.toBeNull();
        expect(String(mapPartitionKeyToId(event.partitionKey!, 4))).toBe(partition);
      }
    }
    expect(received).toBe(300);
  });

});

describeKafka('tributary gen to a Kafka broker', (broker) => {
  let ws: Workspace | undefined;
  afterEach(async () => {
    await ws?.cleanup();
    ws = undefined;
  });

  it('produces to Kafka with its default partitioner, creating the topic', async () => {
    ws = await createWorkspace();
    const kafka = broker();
    const topic = kafka.uniqueName('orders');
    const { file } = await ws.writeConfig({
      streams: { orders },
      source: { kind: 'kafka', brokers: kafka.brokers, groupId: 'g', topics: { orders: topic } },
    } as never);
    const summary = await genFromCli(cli(file));
    expect(summary.totals.deliveredEvents).toBe(300);
    const watermarks = await kafka.highWatermarks(topic);
    expect(watermarks).toHaveLength(4);
    expect(watermarks.reduce((a, b) => a + b, 0)).toBe(300);
    // planned with murmur2 (switched automatically for a Kafka source), so the plan is where Kafka put them
    const planned = summary.streams[0]!.partitions;
    expect(['0', '1', '2', '3'].map((p) => planned[p] ?? 0)).toEqual(watermarks);
  });
});
