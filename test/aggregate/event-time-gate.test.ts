import { describe, expect, it } from 'vitest';
import { EventTimeGate } from '../../src/aggregate/event-time-gate.js';

const options = { allowedOutOfOrdernessMs: 10_000, allowedLatenessMs: 0, dedupRetentionMs: 60_000, dedupMaxIds: 1_000_000 };

describe('EventTimeGate', () => {
  it('counts a redelivered event once', () => {
    const gate = new EventTimeGate(options);
    expect(gate.admit('a', 1_000)).toBe('accept');
    expect(gate.admit('b', 2_000)).toBe('accept');
    expect(gate.admit('a', 1_000)).toBe('duplicate');
  });

  it('accepts out-of-order events within the allowed out-of-orderness and rejects older ones as late', () => {
    const gate = new EventTimeGate(options);
    gate.admit('a', 100_000);
    expect(gate.watermark).toBe(90_000);
    expect(gate.admit('b', 91_000)).toBe('accept');
    expect(gate.admit('c', 90_000)).toBe('accept'); // exactly at the watermark is not behind it
    expect(gate.admit('d', 89_999)).toBe('late');
  });

  it('allowed lateness extends what is accepted behind the watermark', () => {
    const gate = new EventTimeGate({ ...options, allowedLatenessMs: 5_000 });
    gate.admit('a', 100_000);
    expect(gate.admit('b', 85_000)).toBe('accept');
    expect(gate.admit('c', 84_999)).toBe('late');
  });

  it('decides the same after a snapshot round trip as without one, even once old ids were swept', () => {
    const events: Array<[string, number]> = [];
    for (let i = 0; i < 5_000; i++) events.push([`e${i}`, i * 100]);
    // redeliveries: some within retention, some far behind it
    events.push(['e4990', 499_000], ['e10', 1_000], ['e4000', 400_000]);
    const straight = new EventTimeGate(options);
    const verdictsStraight = events.map(([id, t]) => straight.admit(id, t));
    let restored = new EventTimeGate(options);
    const verdictsRestored = events.map(([id, t], i) => {
      if (i % 700 === 0) restored = EventTimeGate.restore(options, structuredClone(restored.snapshot()));
      return restored.admit(id, t);
    });
    expect(verdictsRestored).toEqual(verdictsStraight);
    expect(verdictsStraight.slice(-3)).toEqual(['duplicate', 'late', 'late']);
  });
});
