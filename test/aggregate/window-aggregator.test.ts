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
    // sum, min, max and mean over only nulls are NULL, as in SQL
    expect(aggregator.rowsOf(0, true)).toContainEqual({ windowStart: 60_000, group: ['app'], values: [1, null, null, null, null] });
  });

  it('snapshots through JSON, keeping ±Infinity partials, and resumes to the same result', () => {
    const straight = new WindowAggregator(spec);
    times.forEach((t, row) => straight.add(t, columns, row));
    const half = new WindowAggregator(spec);
    times.slice(0, 4).forEach((t, row) => half.add(t, columns, row));
    const bytes = encodeSnapshot({ version: 1, stream: 's', partition: '0', fingerprint: '', position: 0, offsetBefore: '', gate: { maxEventTime: null, seen: { first: 0, hashes: new Uint32Array(0), times: new Float64Array(0) } }, aggregators: { a: half.snapshot() } });
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

  it('keeps null, "null", 1 and "1" apart as four groups, also in multi-column keys (regression: keyed by text)', () => {
    const aggregator = new WindowAggregator({ ...spec, groupColumns: [0, 2] });
    const values = [[null, 'null', 1, '1', null, 'null'], [1, 1, 1, 1, 1, 1], ['x', 'x', 'x', 'x', null, null]];
    for (let row = 0; row < 6; row++) aggregator.add(1_000, values, row);
    const groups = aggregator.rowsOf(0, true).map((r) => r.group);
    expect(groups).toHaveLength(6);
    expect(groups).toEqual(expect.arrayContaining([[null, 'x'], ['null', 'x'], [1, 'x'], ['1', 'x'], [null, null], ['null', null]]));
  });

  it('counts the non-null values of a field, or every row without one', () => {
    const aggregator = new WindowAggregator({ ...spec, measures: [{ fn: 'count', column: -1, output: 'rows' }, { fn: 'count', column: 1, output: 'amounts' }] });
    times.forEach((t, row) => aggregator.add(t, columns, row));
    expect(aggregator.rowsOf(0, true).find((r) => r.windowStart === 60_000 && r.group[0] === 'app')!.values).toEqual([1, 0]);
  });

  it('keeps a span until its last hopping window has fired (regression: windows ending after the span were lost)', () => {
    const hopping = new WindowAggregator({ ...spec, windowMs: 600_000, hopMs: 120_000, fileSpanMs: 600_000 });
    hopping.add(100_000, columns, 0); // windows starting at -480 s .. 0 s
    hopping.add(590_000, columns, 1); // windows starting at 0 .. 480 s: the last of span 0 ends at 1080 s
    // at 600 s the window starting at 0 fires, but windows starting at 120..480 s (span 0) are still open
    const early = hopping.advance(600_000);
    expect(early.complete).not.toContain(0);
    const late = hopping.advance(1_080_000);
    expect(late.complete).toContain(0);
    expect(hopping.rowsOf(0, false).map((r) => r.windowStart)).toEqual([0, 0, 120_000, 240_000, 360_000, 480_000]);
  });

  it('counts late events against each window they would have joined', () => {
    const hopping = new WindowAggregator({ ...spec, windowMs: 180_000, hopMs: 60_000 });
    hopping.late(125_000, columns, 0);
    hopping.late(130_000, columns, 2);
    expect(hopping.lateRows()).toEqual([
      { windowStart: 0, windowEnd: 180_000, group: ['web'], count: 2 },
      { windowStart: 60_000, windowEnd: 240_000, group: ['web'], count: 2 },
      { windowStart: 120_000, windowEnd: 300_000, group: ['web'], count: 2 },
    ]);
    hopping.clearLate();
    expect(hopping.lateRows()).toEqual([]);
  });
});
