/**
 * Event Hubs source config: the schema's defaults and cross-field rules, its place in the config file's source
 * union, and the start-position helpers.
 */
import { describe, expect, it } from 'vitest';
import { describeIssues } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';
import { eventHubsSourceSchema, hubPlans } from '../../src/ingest/eventhubs/config.js';
import { entityPathOf } from '../../src/ingest/eventhubs/client.js';
import { nothingToRead, toEventPosition } from '../../src/ingest/eventhubs/start-position.js';

const base = {
  kind: 'eventhubs',
  connectionString: 'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=secret',
  consumerGroup: 'tributary',
  hubs: { orders: 'orders-hub' },
  checkpointStore: { kind: 'blob', container: 'checkpoints', accountUrl: 'https://acct.blob.core.windows.net' },
};

describe('eventhubs source config', () => {
  it('fills in defaults a stream processor wants', () => {
    const config = eventHubsSourceSchema.parse(base);
    expect(config).toMatchObject({
      startPosition: 'earliest',
      maxBatchSize: 1000,
      maxWaitTime: 5000,
      loadBalancing: { strategy: 'balanced', updateInterval: 10_000, ownershipExpiration: 60_000 },
      clientRetry: { maxRetries: 5, delay: 1000, maxDelay: 30_000, timeout: 60_000 },
    });
    expect(hubPlans(config)).toEqual([{ stream: 'orders', hub: 'orders-hub', startPosition: 'earliest', partitionStartPositions: {} }]);
  });

  it('takes per-hub and per-partition start positions', () => {
    const config = eventHubsSourceSchema.parse({
      ...base,
      startPosition: 'latest',
      hubs: {
        orders: 'orders-hub',
        telemetry: { name: 'telemetry-hub', startPosition: { enqueuedTime: '2024-06-01T00:00:00Z' }, partitionStartPositions: { '3': { sequenceNumber: 42 } } },
      },
    });
    const [orders, telemetry] = hubPlans(config);
    expect(orders!.startPosition).toBe('latest');
    expect(telemetry).toEqual({
      stream: 'telemetry',
      hub: 'telemetry-hub',
      startPosition: { enqueuedTime: '2024-06-01T00:00:00Z' },
      partitionStartPositions: { '3': { sequenceNumber: 42, inclusive: true } },
    });
  });

  it('names the field of every mistake, and never echoes the connection string', () => {
    const result = eventHubsSourceSchema.safeParse({
      ...base,
      fullyQualifiedNamespace: 'ns.servicebus.windows.net',
      startPosition: { offset: 'abc' },
      maxWaitTime: '10ms',
      checkpointStore: { kind: 'blob', container: 'checkpoints' },
      loadBalancing: { updateInterval: '30s', ownershipExpiration: '10s' },
      extra: true,
    });
    expect(result.success).toBe(false);
    const text = describeIssues(result.error!);
    for (const field of ['connectionString', 'startPosition', 'maxWaitTime', 'checkpointStore.connectionString', 'loadBalancing.ownershipExpiration', '(root)']) {
      expect(text).toContain(`- ${field}`);
    }
    expect(text).not.toContain('secret');
  });

  it('is a variant of the config file\'s source', () => {
    const config = configSchema.parse({
      streams: { orders: { schema: 'orders.avsc', eventId: 'id', eventTime: 'ts' } },
      source: base,
    });
    expect(config.source.kind).toBe('eventhubs');
  });

  it('reads the EntityPath of a hub-scoped connection string', () => {
    expect(entityPathOf('Endpoint=sb://x/;SharedAccessKeyName=a;SharedAccessKey=b;EntityPath=orders')).toBe('orders');
    expect(entityPathOf(base.connectionString)).toBeUndefined();
  });
});

describe('start positions', () => {
  const end = { isEmpty: false, lastEnqueuedSequenceNumber: 9, lastEnqueuedOffset: '900', lastEnqueuedOnUtc: new Date(5_000) };

  it('maps config to the SDK\'s positions, a new object each time', () => {
    expect(toEventPosition('earliest')).toEqual({ offset: '-1' });
    expect(toEventPosition('earliest')).not.toBe(toEventPosition('earliest'));
    expect(toEventPosition('latest')).toEqual({ offset: '@latest' });
    expect(toEventPosition({ enqueuedTime: '1970-01-01T00:00:05Z' })).toEqual({ enqueuedOn: 5000 });
    expect(toEventPosition({ sequenceNumber: 4, inclusive: false })).toEqual({ sequenceNumber: 4, isInclusive: false });
    expect(toEventPosition({ offset: '120', inclusive: true })).toEqual({ offset: '120', isInclusive: true });
  });

  it('knows when a bounded run has nothing to read in a partition', () => {
    expect(nothingToRead({ offset: '-1' }, end)).toBe(false);
    expect(nothingToRead({ offset: '-1' }, { ...end, isEmpty: true })).toBe(true);
    expect(nothingToRead({ offset: '@latest' }, end)).toBe(true);
    expect(nothingToRead({ sequenceNumber: 9, isInclusive: true }, end)).toBe(false);
    expect(nothingToRead({ sequenceNumber: 9 }, end)).toBe(true);
    expect(nothingToRead({ sequenceNumber: 10, isInclusive: true }, end)).toBe(true);
    expect(nothingToRead({ offset: '900', isInclusive: true }, end)).toBe(false);
    expect(nothingToRead({ offset: '900' }, end)).toBe(true);
    expect(nothingToRead({ enqueuedOn: 4_999 }, end)).toBe(false);
    expect(nothingToRead({ enqueuedOn: 5_000 }, end)).toBe(true);
  });
});
