/**
 * The compact dedup set against a brute-force model (a Map of the ids themselves): the same verdicts for every
 * sequence of events, through eviction, growth and snapshot/restore at any point.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventTimeGate, type GateOptions } from '../../src/aggregate/event-time-gate.js';
import { DedupSet, hash64 } from '../../src/state/dedup-set.js';
import { gateIds, ModelGate } from '../support/gate-model.js';

const options: GateOptions = { allowedOutOfOrdernessMs: 50, allowedLatenessMs: 20, dedupRetentionMs: 200, dedupMaxIds: 1_000_000 };
const events = fc.array(fc.tuple(gateIds, fc.integer({ min: 0, max: 5000 })), { maxLength: 400 });

describe('DedupSet', () => {
  it('gives the verdicts of a Map of the ids, with a snapshot and restore anywhere', () => {
    fc.assert(
      fc.property(events, fc.nat(400), (sequence, cut) => {
        const model = new ModelGate(options);
        let gate = new EventTimeGate(options);
        sequence.forEach(([id, time], i) => {
          if (i === cut) gate = EventTimeGate.restore(options, structuredClone(gate.snapshot()));
          expect(gate.admit(id, time), `event ${i} (${id} @ ${time})`).toBe(model.admit(id, time));
        });
      }),
      { numRuns: 300 },
    );
  });

  it('bounded by count as well: the oldest acceptances are forgotten first, with restores anywhere', () => {
    fc.assert(
      fc.property(events, fc.integer({ min: 1, max: 40 }), fc.array(fc.nat(400), { maxLength: 4 }), (sequence, maxIds, cuts) => {
        const bounded = { ...options, dedupMaxIds: maxIds };
        const model = new ModelGate(bounded);
        let gate = new EventTimeGate(bounded);
        sequence.forEach(([id, time], i) => {
          if (cuts.includes(i)) gate = EventTimeGate.restore(bounded, structuredClone(gate.snapshot()));
          expect(gate.admit(id, time), `event ${i} (${id} @ ${time}), maxIds ${maxIds}`).toBe(model.admit(id, time));
          expect(gate.dedupSize).toBeLessThanOrEqual(maxIds);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('forgets exactly the oldest acceptance when a new one passes maxIds', () => {
    const set = new DedupSet(3);
    for (const id of ['a', 'b', 'c', 'd']) set.add(id, 1);
    expect(['a', 'b', 'c', 'd'].map((id) => set.get(id))).toEqual([undefined, 1, 1, 1]);
    // 'b' accepted again is the newest acceptance; its first one is the oldest and goes, 'c' stays
    set.add('b', 2);
    expect(['b', 'c', 'd'].map((id) => set.get(id))).toEqual([2, 1, 1]);
    expect(set.entries().first).toBe(2);
    expect([...set.entries().times]).toEqual([1, 1, 2]);
    set.add('e', 3);
    expect(['b', 'c', 'd', 'e'].map((id) => set.get(id))).toEqual([2, undefined, 1, 3]);
  });

  it('keeps every id through growth and finds none it was not given', () => {
    const set = new DedupSet();
    for (let i = 0; i < 50_000; i++) set.add(`id-${i}`, i);
    expect(set.size).toBe(50_000);
    for (let i = 0; i < 50_000; i++) expect(set.get(`id-${i}`)).toBe(i);
    let found = 0;
    for (let i = 50_000; i < 100_000; i++) if (set.get(`id-${i}`) !== undefined) found++;
    expect(found).toBe(0);
  });

  it('stays within 32 bytes per id in memory and takes 16 per id in a snapshot', () => {
    const set = new DedupSet();
    for (let n = 1; n <= 200_000; n++) {
      set.add(`order-${n}`, n);
      if (n >= 1000 && n % 997 === 0) expect(set.byteLength / n, `at ${n} ids`).toBeLessThanOrEqual(32);
    }
    const entries = set.entries();
    expect(entries.hashes.byteLength + entries.times.byteLength).toBe(200_000 * 16);
  });

  it('stays within 32 bytes per id at a steady state of evictions by count', () => {
    const set = new DedupSet(50_000);
    for (let n = 1; n <= 400_000; n++) {
      set.add(`order-${n}`, n);
      if (n >= 50_000 && n % 997 === 0) expect(set.byteLength / set.size, `at ${n} acceptances`).toBeLessThanOrEqual(32);
    }
    expect(set.size).toBe(50_000);
    expect(set.get('order-350000')).toBeUndefined();
    expect(set.get('order-350001')).toBe(350_001);
  });

  it('evicts by time from the oldest acceptance on, up to the first one still inside', () => {
    const set = new DedupSet();
    for (let i = 0; i < 10_000; i++) set.add(`e${i}`, i);
    set.add('late', 5);
    set.evictBefore(9_000);
    expect(set.size).toBe(1001);
    expect(set.get('e8999')).toBeUndefined();
    expect(set.get('e9000')).toBe(9000);
    expect(set.entries().first).toBe(9000);
  });

  it('snapshots the same history to the same entries, whatever the restores in between', () => {
    const a = new DedupSet(700);
    let b = new DedupSet(700);
    for (let i = 0; i < 1000; i++) {
      a.add(`x${i % 800}`, i);
      b.add(`x${i % 800}`, i);
      if (i % 97 === 0) b = DedupSet.from(structuredClone(b.entries()), 700);
    }
    expect(b.entries()).toEqual(a.entries());
    expect(DedupSet.from(a.entries(), 700).entries()).toEqual(a.entries());
  });

  it('looks an id up by its UTF-8 bytes as by its string: the same verdicts and the same snapshot, ASCII or not', () => {
    // ids as a decoder's column holds them: valid UTF-8 (a lone surrogate cannot be written), ASCII or not
    const ids = fc.oneof(gateIds, fc.string({ unit: 'grapheme', maxLength: 5 }), fc.constantFrom('é', 'ü1', '日本', '\u0000', '\u007f', '\u0080', '😀'));
    const sequence = fc.array(fc.tuple(ids, fc.integer({ min: 0, max: 5000 })), { maxLength: 300 });
    fc.assert(
      fc.property(sequence, fc.nat(16), (events, pad) => {
        const byString = new EventTimeGate(options);
        const byBytes = new EventTimeGate(options);
        // every id's bytes at its own place in one buffer, after `pad` bytes of another id's: spans, not whole buffers
        const texts = events.map(([id]) => Buffer.from(id, 'utf8'));
        const bytes = Buffer.concat([Buffer.alloc(pad, 0xc3), ...texts]);
        let at = pad;
        events.forEach(([id, time], i) => {
          const start = at;
          at += texts[i]!.length;
          expect(byBytes.admitUtf8(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), start, at, time), `event ${i} (${JSON.stringify(id)} @ ${time})`).toBe(byString.admit(id, time));
        });
        expect(byBytes.snapshot()).toEqual(byString.snapshot());
      }),
      { numRuns: 300 },
    );
  });

  it('hashes an ASCII id from its bytes exactly as from its string, and a non-ASCII one by its decoded text', () => {
    const set = new DedupSet();
    const ids = ['order-1', 'ORD-\u007f', 'é', 'x\u0080y', '😀', ''];
    ids.forEach((id, i) => set.add(id, i));
    for (const [i, id] of ids.entries()) {
      const bytes = Buffer.concat([Buffer.from('ab'), Buffer.from(id, 'utf8'), Buffer.from('cd')]);
      expect(set.getUtf8(bytes, 2, bytes.length - 2), id).toBe(i);
    }
    // a span that is not the whole id is another id
    expect(set.getUtf8(Buffer.from('order-12'), 0, 8)).toBeUndefined();
    expect(set.getUtf8(Buffer.from('order-1'), 0, 6)).toBeUndefined();
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
