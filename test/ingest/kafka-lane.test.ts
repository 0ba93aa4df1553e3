/**
 * One Kafka partition's lane between the fetcher and the processing loop (src/ingest/kafka/lane.ts), against a
 * brute-force model: a partition log where some offsets hold no event (transaction markers, aborted records),
 * fetched in arbitrary pieces, marker-only pieces reported as passed over (kafkajs does not hand them to eachBatch),
 * plus stale pieces from beyond the lane's position. A bounded lane hands over exactly the events below its target
 * (the high-water mark, or a range's end), in order, once each, and then says it is done, whatever the pieces.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SourceEvent } from '../../src/core/source.js';
import { PartitionLane } from '../../src/ingest/kafka/lane.js';

const event = (position: number): SourceEvent => ({ body: Buffer.alloc(0), position, offset: String(position), enqueuedTimeMs: 0, partitionKey: null, properties: {} });

/** the processing loop of group-run.ts, one batch after the other; stops once the lane says it is done */
async function drain(lane: PartitionLane, batchSize: number): Promise<number[]> {
  const handed: number[] = [];
  while (!lane.processedToTarget) {
    const events = await lane.take(batchSize);
    if (!events) break;
    if (events.length === 0) continue;
    handed.push(...events.map((e) => e.position));
    lane.processedBelow = events[events.length - 1]!.position + 1;
  }
  return handed;
}

const scenario = fc
  .record({
    // per offset of the log: an event (true) or an offset holding none (false)
    log: fc.array(fc.boolean(), { minLength: 1, maxLength: 60 }),
    pieces: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 60 }),
    stale: fc.array(fc.tuple(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 5 })), { maxLength: 4 }),
    batchSize: fc.integer({ min: 1, max: 8 }),
    until: fc.option(fc.integer({ min: 0, max: 70 }), { nil: undefined }),
  })
  .map((s) => ({ ...s, high: s.log.length }));

/** Feeds the whole log to the lane in `pieces` (cycled), as group-run's onFetched and onPassedOver do. */
function fetchAll(lane: PartitionLane, log: boolean[], pieces: number[], stale: Array<[number, number]>): void {
  let at = 0;
  let k = 0;
  while (at < log.length) {
    const size = Math.min(pieces[k % pieces.length]!, log.length - at);
    // a stale fetch made before a seek: from beyond where the lane stands, never contiguous with it
    const s = stale[k];
    if (s) lane.skip(lane.nextFetchOffset + s[0], lane.nextFetchOffset + s[0] + s[1]);
    const offsets = Array.from({ length: size }, (_, i) => at + i);
    const events = offsets.filter((o) => log[o]).map(event);
    if (events.length > 0) lane.enqueue(events, at + size);
    else lane.skip(at, at + size - 1);
    at += size;
    k++;
  }
}

describe('Kafka partition lane, bounded', () => {
  it('hands over exactly the events below its target, in order, once each, and is then done', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ log, pieces, stale, batchSize, until, high }) => {
        const lane = new PartitionLane('orders', 'topic', 0);
        lane.start(0, until, high);
        fetchAll(lane, log, pieces, stale);
        const handed = await drain(lane, batchSize);
        const target = Math.min(high, until ?? Number.POSITIVE_INFINITY);
        const model = log.flatMap((isEvent, offset) => (isEvent && offset < target ? [offset] : []));
        expect(handed).toEqual(model);
        expect(lane.processedToTarget).toBe(true);
        // with an end, nothing at or past it was queued either
        if (until !== undefined) expect(lane.queuedEvents).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('a lane starting at or past its target is done at once, and one without a target never is', async () => {
    const done = new PartitionLane('orders', 'topic', 0);
    done.start(12, 10, 50);
    expect(done.processedToTarget).toBe(true);
    expect(done.fetchedToEnd).toBe(true);

    const unbounded = new PartitionLane('orders', 'topic', 1);
    unbounded.start(0);
    unbounded.skip(0, 9);
    unbounded.enqueue([event(10), event(11)], 12);
    expect(await unbounded.take(10)).toHaveLength(2);
    unbounded.processedBelow = 12;
    expect(unbounded.processedToTarget).toBe(false);
    expect(unbounded.fetchedToEnd).toBe(false);
  });
});
