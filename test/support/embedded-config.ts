/** The embedded pipeline's test config: both example streams, an aggregation each, small cells so commits happen. */
import path from 'node:path';
import { REPO_ROOT, type Workspace } from './workspace.js';

export function embeddedConfig(ws: Workspace) {
  return {
    streams: {
      orders: { schema: path.join(REPO_ROOT, 'examples/schemas/orders.avsc'), eventId: 'orderId', eventTime: 'createdAt', partitionKey: 'customerId' },
      telemetry: { schema: path.join(REPO_ROOT, 'examples/schemas/telemetry.avsc'), eventId: 'eventId', eventTime: 'timestamp', partitionKey: 'deviceId' },
    },
    source: { kind: 'capture' as const, store: { kind: 'local' as const, path: ws.file('capture') }, namespace: 'test', hubs: { orders: 'orders', telemetry: 'telemetry' } },
    aggregations: [
      {
        name: 'orders_by_channel_1m',
        stream: 'orders',
        groupBy: ['channel', 'currency'],
        window: { kind: 'tumbling' as const, size: '1m' },
        measures: [{ fn: 'count' as const }, { fn: 'sum' as const, field: 'totalAmount' }, { fn: 'min' as const, field: 'totalAmount' }, { fn: 'max' as const, field: 'totalAmount' }, { fn: 'mean' as const, field: 'totalAmount' }],
      },
      {
        name: 'telemetry_by_site_5m',
        stream: 'telemetry',
        groupBy: ['siteId'],
        window: { kind: 'tumbling' as const, size: '5m' },
        measures: [{ fn: 'count' as const }, { fn: 'max' as const, field: 'readings.temperature', as: 'max_temperature' }],
      },
      {
        name: 'telemetry_hopping_10m',
        stream: 'telemetry',
        groupBy: ['siteId'],
        window: { kind: 'hopping' as const, size: '10m', hop: '2m' },
        measures: [{ fn: 'count' as const }, { fn: 'sum' as const, field: 'readings.humidity', as: 'sum_humidity' }],
      },
      {
        name: 'orders_sessions_by_customer',
        stream: 'orders',
        groupBy: ['customerId'],
        window: { kind: 'session' as const, gap: '3m' },
        measures: [{ fn: 'count' as const }, { fn: 'sum' as const, field: 'totalAmount', as: 'spent' }],
      },
    ],
    processing: { allowedOutOfOrderness: '30s', allowedLateness: '0s', rowsPerFile: 1500, aggregateFileSpan: '1h', decodeThreads: 2, batchSize: 500 },
    lake: { kind: 'local' as const, path: ws.file('lake') },
    deadLetter: { kind: 'local' as const, path: ws.file('deadletter') },
    state: { kind: 'local' as const, path: ws.file('state') },
    metrics: { enabled: false },
  };
}

export const FAULTY_GEN = {
  events: 6000,
  partitions: 4,
  keys: 500,
  distribution: 'zipf' as const,
  skew: 1.1,
  span: '2h',
  faults: { duplicate: 0.03, outOfOrder: 0.05, late: 0.02, corrupt: 0.01 },
  seed: 7,
};

