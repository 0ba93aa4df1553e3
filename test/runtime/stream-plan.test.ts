/** The aggregate tables' schemas: SQL result types, a source-partition column that no path key shadows, span rules. */
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { buildStreamPlan } from '../../src/runtime/stream-plan.js';
import { REPO_ROOT } from '../support/workspace.js';

const schemaFile = path.join(REPO_ROOT, 'examples/schemas/orders.avsc');

async function plan(aggregateFileSpan: string, window: Record<string, string>) {
  const config = parseConfig(
    {
      streams: { orders: { schema: schemaFile, eventId: 'orderId', eventTime: 'createdAt' } },
      source: { kind: 'capture', store: { kind: 'local', path: 'x' }, namespace: 'n', hubs: { orders: 'orders' } },
      aggregations: [{
        name: 'agg',
        stream: 'orders',
        groupBy: ['channel'],
        window,
        measures: [{ fn: 'count' }, { fn: 'count', field: 'couponCode', as: 'coupons' }, { fn: 'sum', field: 'totalAmount' }, { fn: 'max', field: 'createdAt' }, { fn: 'mean', field: 'totalAmount' }],
      }],
      processing: { aggregateFileSpan },
    },
    'test.yaml',
  );
  return buildStreamPlan('orders', config.streams.orders!, await readFile(schemaFile, 'utf8'), config);
}

describe('aggregation plans', () => {
  it('types measures as SQL does and names the source partition _partition, not like the partition= path key', async () => {
    const { aggregations } = await plan('1h', { kind: 'tumbling', size: '1m' });
    expect(aggregations[0]!.schema.columns.map((c) => [c.name, c.type, c.nullable])).toEqual([
      ['window_start', 'timestamp_ms', false],
      ['window_end', 'timestamp_ms', false],
      ['channel', 'string', true],
      ['count', 'int64', false],
      ['coupons', 'int64', false],
      ['sum_totalAmount', 'double', true],
      ['max_createdAt', 'timestamp_ms', true],
      ['mean_totalAmount', 'double', true],
      ['_partition', 'string', false],
    ]);
    expect(aggregations[0]!.lateSchema.columns.map((c) => c.name)).toEqual(['window_start', 'window_end', 'channel', 'late_events', '_partition']);
    expect(aggregations[0]!.spec.measures[1]!.column).toBeGreaterThanOrEqual(0);
  });

  it('rejects a file span that does not divide an hour, naming the field', async () => {
    await expect(plan('2h', { kind: 'tumbling', size: '1m' })).rejects.toThrow(/processing\.aggregateFileSpan: .* must divide one hour/);
    await expect(plan('7m', { kind: 'tumbling', size: '1m' })).rejects.toThrow(/processing\.aggregateFileSpan/);
    await expect(plan('10m', { kind: 'hopping', size: '30m', hop: '5m' })).resolves.toBeDefined();
  });
});
