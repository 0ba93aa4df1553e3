/**
 * The compact dedup set against a brute-force model (a Map of the ids themselves): the same verdicts for every
 * sequence of events, through eviction, growth and snapshot/restore at any point.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventTimeGate, type GateOptions, type GateVerdict } from '../../src/aggregate/event-time-gate.js';
import { DedupSet, hash64 } from '../../src/state/dedup-set.js';

/** The gate's rule written out with the ids themselves as keys and no eviction at all. */
class ModelGate {
  private maxEventTime = Number.NEGATIVE_INFINITY;
  private readonly seen = new Map<string, number>();
  constructor(private readonly options: GateOptions) {}
  admit(id: string, eventTime: number): GateVerdict {
    const watermark = this.maxEventTime - this.options.allowedOutOfOrdernessMs;
    const horizon = watermark - Math.max(this.options.dedupRetentionMs, this.options.allowedLatenessMs);
    const first = this.seen.get(id);
    if (first !== undefined && first >= horizon) return 'duplicate';
    if (eventTime + this.options.allowedLatenessMs < watermark) return 'late';
    this.seen.set(id, eventTime);
    this.maxEventTime = Math.max(this.maxEventTime, eventTime);
    return 'accept';
  }
}

const options: GateOptions = { allowedOutOfOrdernessMs: 50, allowedLatenessMs: 20, dedupRetentionMs: 200 };
const ids = fc.oneof(fc.constantFrom('#NaN', '#Infinity', '#-Infinity', 'NaN', '', 'a', '0', '-0', '1e3'), fc.string({ maxLength: 6 }), fc.nat(300).map(String));
const events = fc.array(fc.tuple(ids, fc.integer({ min: 0, max: 5000 })), { maxLength: 400 });

describe('DedupSet', () => {
  it('gives the verdicts of a Map of the ids, with a snapshot and restore anywhere', () => {
    fc.assert(
      fc.property(events, fc.nat(400), (sequence, cut) => {
        const model = new ModelGate(options);
        let gate = new EventTimeGate(options);
        sequence.forEach(([id, time], i) => {
          if (i === cut) gate = EventTimeGate.restore(options, gate.snapshot());
          expect(gate.admit(id, time), `event ${i} (${id} @ ${time})`).toBe(model.admit(id, time));
        });
      }),
      { numRuns: 300 },
    );
  });

  it('keeps every id through growth and finds none it was not given', () => {
    const set = new DedupSet();
    for (let i = 0; i < 50_000; i++) set.set(`id-${i}`, i);
    expect(set.size).toBe(50_000);
    for (let i = 0; i < 50_000; i++) expect(set.get(`id-${i}`)).toBe(i);
    let found = 0;
    for (let i = 50_000; i < 100_000; i++) if (set.get(`id-${i}`) !== undefined) found++;
    expect(found).toBe(0);
  });

  it('stays within 32 bytes per id in memory and takes 16 per id in a snapshot', () => {
    const set = new DedupSet();
    for (let n = 1; n <= 200_000; n++) {
      set.set(`order-${n}`, n);
      if (n >= 1000 && n % 997 === 0) expect(set.byteLength / n, `at ${n} ids`).toBeLessThanOrEqual(32);
    }
    const entries = set.entries();
    expect(entries.hashes.byteLength + entries.times.byteLength).toBe(200_000 * 16);
  });

  it('keeps only entries at or after the horizon and shrinks with them', () => {
    const set = new DedupSet();
    for (let i = 0; i < 10_000; i++) set.set(`e${i}`, i);
    const big = set.byteLength;
    set.retainFrom(9_000);
    expect(set.size).toBe(1000);
    expect(set.byteLength).toBeLessThan(big / 5);
    expect(set.get('e8999')).toBeUndefined();
    expect(set.get('e9000')).toBe(9000);
  });

  it('snapshots equal sets to equal entries whatever order they were filled in', () => {
    const a = new DedupSet();
    const b = new DedupSet();
    for (let i = 0; i < 1000; i++) a.set(`x${i}`, i);
    for (let i = 999; i >= 0; i--) b.set(`x${i}`, i);
    expect(a.entries()).toEqual(b.entries());
    expect(DedupSet.from(a.entries()).entries()).toEqual(a.entries());
  });

  it('hashes text by its characters: "#NaN", "NaN" and numbers spelled differently are different ids', () => {
    const texts = ['#NaN', 'NaN', '#Infinity', 'Infinity', '0', '-0', '0.0', '', ' '];
    const hashes = new Set(texts.map((t) => hash64(t).join(':')));
    expect(hashes.size).toBe(texts.length);
  });

  it('spreads a million sequential ids over distinct 64-bit hashes', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1_000_000; i++) seen.add(hash64(`order-${i}`).join(':'));
    expect(seen.size).toBe(1_000_000);
  });
});
