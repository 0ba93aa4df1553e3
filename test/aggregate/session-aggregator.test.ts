import { describe, expect, it } from 'vitest';
import { createAggregator, restoreAggregator } from '../../src/aggregate/aggregators.js';
import { decodeSnapshot, encodeSnapshot } from '../../src/aggregate/snapshot.js';
import type { AggregationSpec } from '../../src/aggregate/window-aggregator.js';

const spec: AggregationSpec = {
  name: 'sessions',
  windowMs: 60_000,
  hopMs: 60_000,
  sessionGapMs: 60_000,
  allowedLatenessMs: 0,
  fileSpanMs: 3_600_000,
  groupColumns: [0],
  measures: [
    { fn: 'count', column: -1, output: 'count' },
    { fn: 'sum', column: 1, output: 'sum' },
  ],
};
const columns = [
  ['a', 'a', 'a', 'b', 'a'],
  [1, 2, 4, 8, 16],
];

describe('SessionAggregator', () => {
  it('keeps events of a group under the gap apart in one session and merges sessions an event bridges', () => {
    const sessions = createAggregator(spec);
    sessions.add(0, columns, 0); // a: [0, 60 s)
    sessions.add(100_000, columns, 1); // a: [100 s, 160 s), apart from the first
    sessions.add(10_000, columns, 3); // b: its own session
    expect(sessions.rowsOf(0, true).map((r) => [r.windowStart, r.windowEnd, r.group, r.values])).toEqual([
      [0, 60_000, ['a'], [1, 1]],
      [10_000, 70_000, ['b'], [1, 8]],
      [100_000, 160_000, ['a'], [1, 2]],
    ]);
    sessions.add(50_000, columns, 2); // a at 50 s reaches both: one session [0, 160 s)
    expect(sessions.rowsOf(0, true).filter((r) => r.group[0] === 'a').map((r) => [r.windowStart, r.windowEnd, r.values])).toEqual([[0, 160_000, [3, 7]]]);
  });

  it('fires a session once the watermark passes its end, and resumes from a snapshot to the same rows', () => {
    const straight = createAggregator(spec);
    const times = [0, 30_000, 200_000, 230_000, 240_000];
    times.forEach((t, row) => straight.add(t, columns, row));
    const half = createAggregator(spec);
    times.slice(0, 3).forEach((t, row) => half.add(t, columns, row));
    const bytes = encodeSnapshot({ version: 1, stream: 's', partition: '0', fingerprint: '', position: 0, offsetBefore: '', gate: { maxEventTime: null, seen: { first: 0, hashes: new Uint32Array(0), times: new Float64Array(0) } }, aggregators: { s: half.snapshot() } });
    const resumed = restoreAggregator(spec, decodeSnapshot(bytes).aggregators.s!);
    times.slice(3).forEach((t, i) => resumed.add(t, columns, 3 + i));
    expect(resumed.rowsOf(0, true)).toEqual(straight.rowsOf(0, true));
    expect(straight.advance(90_000).changed).toEqual([0]);
    expect(straight.rowsOf(0, false).map((r) => [r.windowStart, r.windowEnd])).toEqual([[0, 90_000]]);
  });

  it('splits events exactly one gap apart into two sessions (the gap is exclusive, as in Flink)', () => {
    const sessions = createAggregator(spec);
    sessions.add(0, columns, 0);
    sessions.add(60_000, columns, 1);
    expect(sessions.rowsOf(0, true).map((r) => [r.windowStart, r.windowEnd])).toEqual([[0, 60_000], [60_000, 120_000]]);
    sessions.add(119_999, columns, 2);
    expect(sessions.rowsOf(0, true).map((r) => [r.windowStart, r.windowEnd, r.values[0]])).toEqual([[0, 60_000, 1], [60_000, 179_999, 2]]);
  });

  it('reports the span a merged session left as changed, so a file flushed for it is rewritten', () => {
    const sessions = createAggregator({ ...spec, fileSpanMs: 60_000 });
    sessions.add(50_000, columns, 0); // span 0
    sessions.add(120_000, columns, 1); // span 120 s
    expect(sessions.spans()).toEqual([0, 120_000]);
    sessions.advance(0);
    sessions.add(100_000, columns, 2); // bridges both: one session starting at 50 s
    expect(sessions.advance(0).changed).toContain(120_000);
    expect(sessions.rowsOf(120_000, true)).toEqual([]);
  });
});
