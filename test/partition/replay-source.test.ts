import { describe, expect, it } from 'vitest';
import type { PartitionBatch, PartitionHandler } from '../../src/core/source.js';
import { mapPartitionKeyToId } from '../../src/partition/eventhubs-hash.js';
import { parseKeyCandidate } from '../../src/partition/key-candidate.js';
import { PartitionedReplaySource } from '../../src/partition/replay-source.js';
import type { SampleEvent } from '../../src/partition/sample.js';

function events(keys: string[]): SampleEvent[] {
  return keys.map((key, i) => ({
    fields: { key, n: i },
    body: Buffer.from(`${key}#${i}`),
    bodyBytes: key.length + 2,
    enqueuedTimeMs: 1000 + i,
    properties: {},
  }));
}

/** A handler that records what the pipeline would have been given. */
class Recorder implements PartitionHandler {
  readonly batches: PartitionBatch[] = [];
  readonly calls: string[] = [];
  constructor(private readonly failOn?: (batch: PartitionBatch) => boolean) {}
  async onAssigned(_stream: string, partition: string) {
    this.calls.push(`assigned ${partition}`);
    return undefined;
  }
  async onBatch(batch: PartitionBatch): Promise<void> {
    if (this.failOn?.(batch)) throw new Error(`batch of ${batch.partition} failed`);
    this.batches.push(batch);
  }
  async onCaughtUp(_stream: string, partition: string): Promise<void> {
    this.calls.push(`caught up ${partition}`);
  }
  async onRevoked(_stream: string, partition: string, reason: string) {
    this.calls.push(`revoked ${partition} ${reason}`);
  }
}

const options = { stream: 'orders', hash: 'eventhubs' as const, batchSize: 10 };

describe('PartitionedReplaySource', () => {
  it('routes by the candidate key, keeps each partition in sample order with contiguous positions', async () => {
    const keys = Array.from({ length: 200 }, (_, i) => `k${i % 17}`);
    const source = new PartitionedReplaySource(events(keys), { ...options, candidate: parseKeyCandidate('key'), partitionCount: 4, offeredLoad: 0.8 });
    const recorder = new Recorder();
    await source.run(recorder, { signal: new AbortController().signal, bounded: true });
    const byPartition = new Map<string, string[]>();
    for (const batch of recorder.batches) {
      const list = byPartition.get(batch.partition) ?? [];
      for (const event of batch.events) {
        expect(event.position).toBe(list.length);
        expect(event.partitionKey).toBe(Buffer.from(event.body).toString().split('#')[0]);
        expect(mapPartitionKeyToId(event.partitionKey!, 4)).toBe(Number(batch.partition));
        list.push(Buffer.from(event.body).toString());
      }
      byPartition.set(batch.partition, list);
    }
    for (const list of byPartition.values()) {
      const order = list.map((text) => Number(text.split('#')[1]));
      expect(order).toEqual([...order].sort((a, b) => a - b));
    }
    expect([...byPartition.values()].reduce((sum, list) => sum + list.length, 0)).toBe(200);
    expect(source.stats!.partitions.map((p) => p.events)).toEqual([0, 1, 2, 3].map((p) => byPartition.get(String(p))?.length ?? 0));
    expect(recorder.calls.slice(-8)).toEqual([0, 1, 2, 3].map((p) => `caught up ${p}`).concat([0, 1, 2, 3].map((p) => `revoked ${p} shutdown`)));
  });

  it('builds a backlog exactly where a partition receives more than one batch per round', async () => {
    // One key, 2 partitions, offered load 1: 20 events arrive per round, all on one partition, which takes 10.
    const source = new PartitionedReplaySource(events(Array(100).fill('same')), {
      ...options,
      candidate: parseKeyCandidate('key'),
      partitionCount: 2,
      offeredLoad: 1,
    });
    await source.run(new Recorder(), { signal: new AbortController().signal, bounded: true });
    const stats = source.stats!;
    const hot = mapPartitionKeyToId('same', 2);
    expect(stats.partitions[hot]).toMatchObject({ events: 100, maxLagEvents: 50 });
    expect(stats.partitions[1 - hot]).toMatchObject({ events: 0, maxLagEvents: 0, catchUpMs: 0 });
    expect(stats.rounds).toBe(10);
  });

  it('keeps up without backlog when keyless events spread round-robin under the offered load', async () => {
    const source = new PartitionedReplaySource(events(Array(400).fill('x')), { ...options, candidate: parseKeyCandidate('none'), partitionCount: 4, offeredLoad: 0.8 });
    await source.run(new Recorder(), { signal: new AbortController().signal, bounded: true });
    expect(source.stats!.partitions.map((p) => [p.events, p.maxLagEvents])).toEqual([[100, 0], [100, 0], [100, 0], [100, 0]]);
  });

  it('releases every partition and reports the failure when a batch fails', async () => {
    const source = new PartitionedReplaySource(events(Array.from({ length: 50 }, (_, i) => `k${i}`)), { ...options, candidate: parseKeyCandidate('key'), partitionCount: 3, offeredLoad: 0.5 });
    const recorder = new Recorder((batch) => batch.partition === '1');
    await expect(source.run(recorder, { signal: new AbortController().signal, bounded: true })).rejects.toThrow('batch of 1 failed');
    expect(recorder.calls.filter((c) => c.startsWith('revoked')).sort()).toEqual(['revoked 0 shutdown', 'revoked 1 shutdown', 'revoked 2 shutdown']);
    expect(source.stats).toBeUndefined();
  });

  it('stops with ABORTED when the signal fires', async () => {
    const controller = new AbortController();
    const source = new PartitionedReplaySource(events(Array.from({ length: 500 }, (_, i) => `k${i}`)), { ...options, candidate: parseKeyCandidate('key'), partitionCount: 2, offeredLoad: 0.5 });
    const recorder = new Recorder();
    const original = recorder.onBatch.bind(recorder);
    recorder.onBatch = async (batch) => {
      if (recorder.batches.length === 3) controller.abort(new Error('stop'));
      return original(batch);
    };
    await expect(source.run(recorder, { signal: controller.signal, bounded: true })).rejects.toMatchObject({ code: 'ABORTED' });
    expect(recorder.calls.filter((c) => c.startsWith('revoked'))).toHaveLength(2);
  });
});
