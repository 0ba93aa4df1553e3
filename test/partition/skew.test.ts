import { describe, expect, it } from 'vitest';
import { mapPartitionKeyToId } from '../../src/partition/eventhubs-hash.js';
import { kafkaPartitionForKey } from '../../src/partition/kafka-murmur2.js';
import { candidateKey, parseKeyCandidate, parseKeyCandidates } from '../../src/partition/key-candidate.js';
import {
  analyzeSkew,
  EVENT_HUBS_STANDARD_LIMIT,
  throughputCeiling,
  type SampleRecord,
  type SkewOptions,
} from '../../src/partition/skew.js';

const rec = (fields: Record<string, unknown>, bodyBytes = 100): SampleRecord => ({ fields, bodyBytes });

function options(overrides: Partial<SkewOptions>): SkewOptions {
  return {
    candidates: parseKeyCandidates('customerId,none'),
    partitionCounts: [4],
    hash: 'eventhubs',
    limit: EVENT_HUBS_STANDARD_LIMIT,
    aggregations: [],
    ...overrides,
  };
}

/** Two customer ids that Event Hubs puts on different partitions of a 4-partition hub. */
function twoCustomersOnDifferentPartitions(): [string, string] {
  const first = 'c-0';
  const firstPartition = mapPartitionKeyToId(first, 4);
  for (let i = 1; ; i++) {
    if (mapPartitionKeyToId(`c-${i}`, 4) !== firstPartition) return [first, `c-${i}`];
  }
}

describe('key candidates', () => {
  it('parses fields, combinations and none', () => {
    expect(parseKeyCandidates('customerId, channel+region ,none')).toEqual([
      { name: 'customerId', fields: ['customerId'] },
      { name: 'channel+region', fields: ['channel', 'region'] },
      { name: 'none', fields: [] },
    ]);
    expect(() => parseKeyCandidate('a+a')).toThrow(/twice/);
    expect(() => parseKeyCandidate('bad-field')).toThrow(/invalid key candidate/);
    expect(() => parseKeyCandidates('a,a')).toThrow(/listed twice/);
  });

  it('builds composite keys from nested fields and treats a missing field as no key', () => {
    const candidate = parseKeyCandidate('customer.id+channel');
    expect(candidateKey(candidate, { customer: { id: 42 }, channel: 'web' })).toBe('42|web');
    expect(candidateKey(candidate, { customer: { id: 42 } })).toBeNull();
    expect(candidateKey(parseKeyCandidate('none'), { customer: { id: 42 } })).toBeNull();
  });
});

describe('analyzeSkew', () => {
  it('spreads keyless events round-robin', () => {
    const records = Array.from({ length: 10 }, (_, i) => rec({ customerId: `c-${i}` }));
    const result = analyzeSkew(records, options({ candidates: parseKeyCandidates('none') }));
    const [analysis] = result.analyses;
    expect(analysis!.partitions.map((p) => p.events)).toEqual([3, 3, 2, 2]);
    expect(analysis!.maxMeanEvents).toBeCloseTo(1.2);
    expect(analysis!.keylessEvents).toBe(10);
    expect(analysis!.idlePartitions).toBe(0);
    expect(analysis!.ceiling.hotKeyCapEventsPerSecond).toBe(Infinity);
    expect(analysis!.orderingScope).toMatch(/^none/);
  });

  it('puts every event of a key on the partition the Event Hubs hash names, and reports hot keys and idle partitions', () => {
    const records = [
      ...Array.from({ length: 8 }, () => rec({ customerId: 'hot' }, 200)),
      ...Array.from({ length: 2 }, () => rec({ customerId: 'cold' }, 50)),
    ];
    const result = analyzeSkew(records, options({ candidates: parseKeyCandidates('customerId'), partitionCounts: [4, 32] }));
    for (const analysis of result.analyses) {
      const n = analysis.partitionCount;
      const hot = mapPartitionKeyToId('hot', n);
      const cold = mapPartitionKeyToId('cold', n);
      expect(analysis.partitions[hot]!.events).toBe(hot === cold ? 10 : 8);
      expect(analysis.partitions[hot]!.bytes).toBe(hot === cold ? 1700 : 1600);
      expect(analysis.idlePartitions).toBe(n - (hot === cold ? 1 : 2));
      expect(analysis.hotKeys[0]).toMatchObject({ key: 'hot', events: 8, share: 0.8, partition: hot });
      expect(analysis.hotKeys[1]).toMatchObject({ key: 'cold', events: 2, share: 0.2, partition: cold });
      expect(analysis.distinctKeys).toBe(2);
      expect(analysis.hottestPartition).toBe(hot);
      // The hottest key alone caps the hub at limit / 0.8, whatever the partition count.
      expect(analysis.ceiling.hotKeyCapEventsPerSecond).toBeCloseTo(1000 / 0.8);
    }
  });

  it('uses the Kafka partitioner when asked', () => {
    const records = ['a', 'b', 'c', 'd', 'e', 'f'].map((customerId) => rec({ customerId }));
    const result = analyzeSkew(records, options({ candidates: parseKeyCandidates('customerId'), hash: 'kafka', partitionCounts: [3] }));
    const expected = [0, 0, 0];
    for (const key of ['a', 'b', 'c', 'd', 'e', 'f']) expected[kafkaPartitionForKey(key, 3)]! += 1;
    expect(result.analyses[0]!.partitions.map((p) => p.events)).toEqual(expected);
  });

  it('counts events whose key field is missing as keyless and spreads them round-robin', () => {
    const records = [rec({ customerId: 'x' }), rec({}), rec({}), rec({}), rec({})];
    const [analysis] = analyzeSkew(records, options({ candidates: parseKeyCandidates('customerId') })).analyses;
    expect(analysis!.keylessEvents).toBe(4);
    const x = mapPartitionKeyToId('x', 4);
    expect(analysis!.partitions.map((p) => p.events)).toEqual([0, 1, 2, 3].map((p) => 1 + (p === x ? 1 : 0)));
  });
});

describe('throughput ceiling', () => {
  it('is the per-partition limit times the partition count when load is balanced', () => {
    const ceiling = throughputCeiling(EVENT_HUBS_STANDARD_LIMIT, 4, { events: 12, bytes: 1200 }, { events: 3, bytes: 300 }, undefined);
    expect(ceiling.eventsPerSecond).toBeCloseTo(4000);
    expect(ceiling.idealEventsPerSecond).toBeCloseTo(4000);
    expect(ceiling.efficiency).toBeCloseTo(1);
    expect(ceiling.boundBy).toBe('events');
    expect(ceiling.bytesPerSecond).toBeCloseTo(400_000);
  });

  it('binds on bytes when events are large', () => {
    // 2000-byte events: 1 MiB/s per partition allows ~524 events/s, fewer than the 1000 events/s limit.
    const ceiling = throughputCeiling(EVENT_HUBS_STANDARD_LIMIT, 4, { events: 12, bytes: 24_000 }, { events: 3, bytes: 6000 }, undefined);
    expect(ceiling.boundBy).toBe('bytes');
    expect(ceiling.eventsPerSecond).toBeCloseTo((1024 * 1024 * 12) / 6000);
  });

  it('falls with the hottest partition share', () => {
    // Half the traffic on one of 4 partitions: the hub throttles at 2x the per-partition limit, half the ideal.
    const ceiling = throughputCeiling(EVENT_HUBS_STANDARD_LIMIT, 4, { events: 100, bytes: 10_000 }, { events: 50, bytes: 5000 }, { events: 40, bytes: 4000 });
    expect(ceiling.eventsPerSecond).toBeCloseTo(2000);
    expect(ceiling.efficiency).toBeCloseTo(0.5);
    expect(ceiling.hotKeyCapEventsPerSecond).toBeCloseTo(2500);
  });
});

describe('aggregation alignment', () => {
  it('is complete when the key fields are among the group-by fields, partial when groups span partitions', () => {
    const [a, b] = twoCustomersOnDifferentPartitions();
    const records = [a, b, a, b].map((customerId, i) => rec({ customerId, channel: 'web', orderId: `${customerId}-o${i % 2}` }));
    const result = analyzeSkew(
      records,
      options({
        candidates: parseKeyCandidates('customerId,none'),
        aggregations: [
          { name: 'by_customer_channel', groupBy: ['customerId', 'channel'] },
          { name: 'by_channel', groupBy: ['channel'] },
          { name: 'by_order', groupBy: ['orderId'] },
          { name: 'total', groupBy: [] },
        ],
      }),
    );
    const byCandidate = Object.fromEntries(result.analyses.map((analysis) => [analysis.candidate.name, analysis]));
    const alignment = (candidate: string) =>
      Object.fromEntries(byCandidate[candidate]!.aggregations.map((agg) => [agg.name, [agg.alignment, agg.splitGroups]]));
    expect(alignment('customerId')).toEqual({
      by_customer_channel: ['complete', 0],
      by_channel: ['partial', 1],
      // Each order belongs to one customer: never split in the sample, but nothing in the key guarantees it.
      by_order: ['complete-in-sample', 0],
      total: ['partial', 1],
    });
    expect(alignment('none').by_customer_channel).toEqual(['partial', 2]);
  });

  it('is complete for any key on a single partition', () => {
    const [a, b] = twoCustomersOnDifferentPartitions();
    const result = analyzeSkew([rec({ customerId: a, channel: 'x' }), rec({ customerId: b, channel: 'x' })], options({
      partitionCounts: [1],
      aggregations: [{ name: 'by_channel', groupBy: ['channel'] }],
    }));
    expect(result.analyses.every((analysis) => analysis.aggregations[0]!.alignment === 'complete')).toBe(true);
  });
});
