/**
 * The generator's Event Hubs target against the loopback peer: keyed events land where Event Hubs' hash puts
 * them (and keep their key), explicit routing lands them on the generator's partition, order and properties
 * survive, big writes span several batches, and a hub of the wrong shape is refused up front.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { generateStreams } from '../../src/gen/generate.js';
import { parseGenOptions } from '../../src/gen/options.js';
import type { GeneratedEvent } from '../../src/gen/target.js';
import { EventHubsTarget, connectEventHubsTargetForSource } from '../../src/gen/targets/eventhubs.js';
import { mapPartitionKeyToId } from '../../src/partition/eventhubs-hash.js';
import { startEventHubsPeer, type EventHubsPeer } from '../peers/eventhubs/index.js';
import { quietLog, range } from './eventhubs-support.js';

let peer: EventHubsPeer;
const fastRetry = { maxRetries: 2, delay: 50, maxDelay: 200, timeout: 10_000 };

beforeEach(async () => {
  peer = await startEventHubsPeer({ hubs: { orders: { partitionCount: 4 }, telemetry: { partitionCount: 4 }, narrow: { partitionCount: 2 } } });
});
afterEach(() => peer.close());

function target(routing: 'key' | 'partition', hubs: Record<string, string> = { orders: 'orders' }, partitions = 4): Promise<EventHubsTarget> {
  return EventHubsTarget.connect({ connection: { connectionString: peer.namespaceConnectionString() }, hubs, partitions, routing, clientRetry: fastRetry, log: quietLog });
}

const event = (body: string, partitionKey: string, n: number): GeneratedEvent => ({
  body: Buffer.from(body),
  partitionKey,
  enqueuedTimeMs: 0,
  properties: { traceparent: `00-${String(n).padStart(32, '0')}-00f067aa0ba902b7-01`, n: String(n) },
});

describe('EventHubsTarget', () => {
  it('sends keyed events with their key, where the service hash places them, keyless ones to the given partition', async () => {
    const t = await target('key');
    const keys = ['alpha', 'beta', 'gamma', 'delta', 'alpha', 'alpha'];
    const events = keys.map((key, i) => event(`k${i}`, key, i));
    const home = String(mapPartitionKeyToId('alpha', 4));
    await t.write('orders', home, events);
    await t.write('orders', '2', [event('no-key-0', '', 100), event('no-key-1', '', 101)]);
    await t.close();

    for (const [i, key] of keys.entries()) {
      const landed = peer.events('orders', String(mapPartitionKeyToId(key, 4))).find((e) => e.body.toString() === `k${i}`);
      expect(landed, `event k${i}`).toBeDefined();
      expect(landed!.partitionKey).toBe(key);
      expect(landed!.properties).toEqual(events[i]!.properties);
    }
    // The three alpha events keep their order.
    expect(peer.events('orders', home).filter((e) => e.partitionKey === 'alpha').map((e) => e.body.toString())).toEqual(['k0', 'k4', 'k5']);
    expect(peer.events('orders', '2').filter((e) => e.partitionKey === null).map((e) => e.body.toString())).toEqual(['no-key-0', 'no-key-1']);
    const stats = t.eventHubsStats();
    expect(Object.values(stats.produced.orders!).reduce((a, b) => a + b, 0)).toBe(8);
    expect(stats.misrouted).toBe(keys.filter((k) => String(mapPartitionKeyToId(k, 4)) !== home).length);
  });

  it('with explicit routing, lands every event on the generator\'s partition in order, over as many batches as needed', async () => {
    const t = await target('partition');
    const big = range(0, 300).map((i) => event(`${i}`.padEnd(8_000, '.'), `key-${i}`, i));
    await t.write('orders', '3', big);
    await t.close();
    const stored = peer.events('orders', '3');
    expect(stored.map((e) => e.body.toString().replace(/\.+$/, ''))).toEqual(range(0, 300).map(String));
    expect(stored.every((e) => e.partitionKey === null)).toBe(true);
    expect(t.eventHubsStats()).toEqual({ produced: { orders: { '3': 300 } }, misrouted: 0 });
  });

  it('refuses a hub whose partition count differs from the generator\'s', async () => {
    await expect(target('key', { orders: 'narrow' }, 4)).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('--partitions 2') });
  });

  it('drives the generator: every generated event arrives, on the partition the generator planned', async () => {
    const config = configSchema.parse({
      streams: {
        orders: { schema: 'examples/schemas/orders.avsc', eventId: 'orderId', eventTime: 'createdAt', partitionKey: 'customerId' },
        telemetry: { schema: 'examples/schemas/telemetry.avsc', eventId: 'eventId', eventTime: 'timestamp', partitionKey: 'deviceId' },
      },
      source: {
        kind: 'eventhubs',
        connectionString: peer.namespaceConnectionString(),
        consumerGroup: '$default',
        hubs: { orders: 'orders', telemetry: 'telemetry' },
        checkpointStore: { kind: 'local', path: 'unused' },
      },
    });
    if (config.source.kind !== 'eventhubs') throw new Error('expected an eventhubs source');
    const t = await connectEventHubsTargetForSource(config.source, { partitions: 4, log: quietLog });
    const summary = await generateStreams(config, parseGenOptions({ events: 400, partitions: 4, keys: 50, seed: 7 }), t);
    await t.close();
    for (const stream of summary.streams) {
      for (const [partition, count] of Object.entries(stream.partitions)) {
        expect(peer.events(stream.stream, partition)).toHaveLength(count);
      }
    }
    expect(t.eventHubsStats().misrouted).toBe(0);
  });
});
