/**
 * The binary snapshot format: every value comes back with its type and its exact value, text that looks like a
 * number included, and format-1 (JSON) snapshots still resume.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventTimeGate } from '../../src/aggregate/event-time-gate.js';
import { decodeSegment, decodeSnapshot, encodeSegment, encodeSnapshot, SNAPSHOT_VERSION, type PartitionSnapshot } from '../../src/aggregate/snapshot.js';
import { WindowAggregator, type AggregationSpec } from '../../src/aggregate/window-aggregator.js';
import { TributaryError } from '../../src/core/errors.js';

const gateOptions = { allowedOutOfOrdernessMs: 0, allowedLatenessMs: 0, dedupRetentionMs: 60_000, dedupMaxIds: 1_000_000 };
const spec: AggregationSpec = {
  name: 'by_group', windowMs: 60_000, hopMs: 60_000, allowedLatenessMs: 0, fileSpanMs: 3_600_000, groupColumns: [0],
  measures: [{ fn: 'count', column: -1, output: 'n' }, { fn: 'min', column: 1, output: 'lo' }, { fn: 'max', column: 1, output: 'hi' }],
};

function snapshotOf(gate: EventTimeGate, aggregator: WindowAggregator): PartitionSnapshot {
  return { version: SNAPSHOT_VERSION, stream: 'orders', partition: '3', fingerprint: 'f', position: 400, offsetBefore: '1234', gate: gate.snapshot(), aggregators: { [spec.name]: aggregator.snapshot() } };
}

describe('state snapshots', () => {
  it('#NaN text survives a snapshot round trip as text, in event ids and in group values', () => {
    const texts = ['#NaN', '#Infinity', '#-Infinity', 'NaN', 'Infinity', '-0', '1e309'];
    const gate = new EventTimeGate(gateOptions);
    const aggregator = new WindowAggregator(spec);
    texts.forEach((text, i) => {
      expect(gate.admit(text, 1000 + i)).toBe('accept');
      aggregator.add(1000 + i, [[text], [Number.NaN]], 0);
    });
    const back = decodeSnapshot(encodeSnapshot(snapshotOf(gate, aggregator)));
    const resumed = EventTimeGate.restore(gateOptions, back.gate);
    for (const text of texts) expect(resumed.admit(text, 2000), text).toBe('duplicate');
    const groups = (back.aggregators[spec.name] as ReturnType<WindowAggregator['snapshot']>).open[0]![1].map(([, g]) => g.group[0]);
    expect(groups).toEqual(texts);
    expect(groups.every((g) => typeof g === 'string')).toBe(true);
  });

  it('keeps any JSON-like value and any number exactly (NaN, ±Infinity, -0 included)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string(), fc.double(), fc.constantFrom('#NaN', '#Infinity')), { maxLength: 20 }), (values) => {
        const aggregator = new WindowAggregator(spec);
        const snapshot = { ...snapshotOf(new EventTimeGate(gateOptions), aggregator), aggregators: { [spec.name]: { open: [[0, [['k', { group: values, states: [values.filter((v): v is number => typeof v === 'number')] }]]]], fired: [] } } } as unknown as PartitionSnapshot;
        const back = decodeSnapshot(encodeSnapshot(snapshot));
        expect(back).toEqual(snapshot);
        const group = (back.aggregators[spec.name] as { open: Array<[number, Array<[string, { group: unknown[] }]>]> }).open[0]![1][0]![1].group;
        group.forEach((v, i) => expect(Object.is(v, values[i])).toBe(true));
      }),
    );
  });

  it('starts with a magic and a version, and names the object it cannot read', () => {
    const bytes = encodeSnapshot(snapshotOf(new EventTimeGate(gateOptions), new WindowAggregator(spec)));
    expect(Buffer.from(bytes.subarray(0, 4)).toString('latin1')).toBe('TRBS');
    expect(Buffer.from(bytes).readUInt16BE(4)).toBe(3);
    const newer = Buffer.from(bytes);
    newer.writeUInt16BE(9, 4);
    expect(() => decodeSnapshot(newer, 'snapshots/orders/x')).toThrow(/snapshots\/orders\/x: state snapshot format 9/);
    expect(() => decodeSnapshot(Buffer.from('garbage!'), 'k')).toThrow(TributaryError);
    expect(() => decodeSnapshot(bytes.subarray(0, 20), 'cut')).toThrow(/cut: corrupt state snapshot/);
  });

  it('reads older formats (1: JSON, 2: one structured-clone object) with their version, which the processor refuses', () => {
    const legacy = {
      version: 1, stream: 'orders', partition: '0', fingerprint: 'f', position: 10, offsetBefore: '9',
      gate: { maxEventTime: 5000, seen: [['a', 4000], ['b', 4500]] },
      aggregators: { a: { open: [[0, [['x', { group: ['x'], states: [['#Infinity', '#-Infinity']] }]]]], fired: [] } },
    };
    const back = decodeSnapshot(Buffer.from(JSON.stringify(legacy)));
    expect([back.version, back.position, back.gate.maxEventTime]).toEqual([1, 10, 5000]);
    expect((back.aggregators.a as { open: Array<[number, Array<[string, { states: number[][] }]>]> }).open[0]![1][0]![1].states).toEqual([[Infinity, -Infinity]]);
    // format 2 as it was written: the header with version 2, the dedup set without a first seq
    const v2 = Buffer.from(encodeSnapshot(snapshotOf(new EventTimeGate(gateOptions), new WindowAggregator(spec))));
    v2.writeUInt16BE(2, 4);
    expect(decodeSnapshot(v2).version).toBe(2);
  });

  it('stores a dedup id in 16 bytes, inline or in a segment', () => {
    const gate = new EventTimeGate(gateOptions);
    const empty = encodeSnapshot(snapshotOf(gate, new WindowAggregator(spec))).byteLength;
    for (let i = 0; i < 10_000; i++) gate.admit(`order-${i}`, 1000 + i);
    const full = encodeSnapshot(snapshotOf(gate, new WindowAggregator(spec))).byteLength;
    expect((full - empty) / 10_000).toBeLessThanOrEqual(16.01);
    const segment = encodeSegment(gate.snapshot().seen);
    expect(segment.byteLength).toBe(24 + 10_000 * 16);
    expect(decodeSegment(segment, 'seg')).toEqual(structuredClone(gate.snapshot().seen));
    expect(() => decodeSegment(segment.subarray(0, 100), 'cut-seg')).toThrow(/cut-seg: corrupt dedup segment/);
    expect(() => decodeSegment(Buffer.from('garbage garbage garbage!'), 'bad')).toThrow(/bad: not a dedup segment/);
  });
});
