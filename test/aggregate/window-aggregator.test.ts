import { describe, expect, it } from 'vitest';
import { WindowAggregator, type AggregationSpec, type AggregatorSnapshot } from '../../src/aggregate/window-aggregator.js';
import { decodeSnapshot, encodeSnapshot } from '../../src/aggregate/snapshot.js';

const spec: AggregationSpec = {
  name: 'by_channel',
  windowMs: 60_000,
  hopMs: 60_000,
  allowedLatenessMs: 0,
  fileSpanMs: 3_600_000,
  groupColumns: [0],
  measures: [
    { fn: 'count', column: -1, output: 'count' },
    { fn: 'sum', column: 1, output: 'sum_amount' },
    { fn: 'min', column: 1, output: 'min_amount' },
    { fn: 'max', column: 1, output: 'max_amount' },
    { fn: 'mean', column: 1, output: 'mean_amount' },
  ],
};

describe('WindowAggregator', () => {
  const columns = [
    ['web', 'app', 'web', 'web', 'app'],
    [10, 5, 30, 7, null],
  ];
  const times = [1_000, 2_000, 59_999, 60_000, 61_000];

  it('aggregates per tumbling window and group and fires only windows the watermark passed', () => {
    const aggregator = new WindowAggregator(spec);
    times.forEach((t, row) => aggregator.add(t, columns, row));
    const { changed, complete } = aggregator.advance(60_000);
    expect(changed).toEqual([0]);
    expect(complete).toEqual([]);
    expect(aggregator.rowsOf(0, false)).toEqual([
      { windowStart: 0, group: ['app'], values: [1, 5, 5, 5, 5] },
      { windowStart: 0, group: ['web'], values: [2, 40, 10, 30, 20] },
    ]);
    // the open window shows up only when asked for (flush of everything known)
    expect(aggregator.rowsOf(0, true)).toContainEqual({ windowStart: 60_000, group: ['app'], values: [1, 0, null, null, null] });
  });

  it('snapshots through JSON, keeping ±Infinity partials, and resumes to the same result', () => {
    const straight = new WindowAggregator(spec);
    times.forEach((t, row) => straight.add(t, columns, row));
    const half = new WindowAggregator(spec);
    times.slice(0, 4).forEach((t, row) => half.add(t, columns, row));
    const bytes = encodeSnapshot({ version: 1, stream: 's', partition: '0', fingerprint: '', position: 0, offsetBefore: '', gate: { maxEventTime: null, seen: { hashes: new Uint32Array(0), times: new Float64Array(0) } }, aggregators: { a: half.snapshot() } });
    const resumed = WindowAggregator.restore(spec, decodeSnapshot(bytes).aggregators.a as AggregatorSnapshot);
    resumed.add(times[4]!, columns, 4);
    expect(resumed.rowsOf(0, true)).toEqual(straight.rowsOf(0, true));
  });

  it('reports a span complete once the watermark passes its end', () => {
    const aggregator = new WindowAggregator(spec);
    aggregator.add(1_000, columns, 0);
    expect(aggregator.advance(3_600_000).complete).toEqual([0]);
  });

  it('counts an event in every hopping window that holds it', () => {
    const hopping = new WindowAggregator({ ...spec, windowMs: 180_000, hopMs: 60_000 });
    hopping.add(125_000, columns, 0); // windows starting at 0, 60 s and 120 s
    const rows = hopping.rowsOf(0, true);
    expect(rows.map((r) => [r.windowStart, r.values[0]])).toEqual([[0, 1], [60_000, 1], [120_000, 1]]);
    // the first fires once the watermark passes its end (180 s), the others stay open
    expect(hopping.advance(180_000).changed).toEqual([0]);
    expect(hopping.rowsOf(0, false).map((r) => r.windowStart)).toEqual([0]);
  });
});
