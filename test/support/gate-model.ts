/**
 * A brute-force model of the event-time gate's dedup rule, and ids to feed it, for the state tests.
 */
import fc from 'fast-check';
import type { GateOptions, GateVerdict } from '../../src/aggregate/event-time-gate.js';

/**
 * The gate's rule written out with the ids themselves as keys and no eviction at all: an id is a duplicate while
 * its latest acceptance is among the last `dedupMaxIds` acceptances and its time is at or after the horizon.
 */
export class ModelGate {
  private maxEventTime = Number.NEGATIVE_INFINITY;
  private accepted = 0;
  private seen = new Map<string, { time: number; seq: number }>();
  constructor(private readonly options: GateOptions) {}
  admit(id: string, eventTime: number): GateVerdict {
    const watermark = this.maxEventTime - this.options.allowedOutOfOrdernessMs;
    const horizon = watermark - Math.max(this.options.dedupRetentionMs, this.options.allowedLatenessMs);
    const last = this.seen.get(id);
    if (last !== undefined && last.time >= horizon && last.seq >= this.accepted - this.options.dedupMaxIds) return 'duplicate';
    if (eventTime + this.options.allowedLatenessMs < watermark) return 'late';
    this.seen.set(id, { time: eventTime, seq: this.accepted++ });
    this.maxEventTime = Math.max(this.maxEventTime, eventTime);
    return 'accept';
  }
  clone(): ModelGate {
    const copy = new ModelGate(this.options);
    copy.maxEventTime = this.maxEventTime;
    copy.accepted = this.accepted;
    copy.seen = new Map(this.seen);
    return copy;
  }
}

export const gateIds = fc.oneof(fc.constantFrom('#NaN', '#Infinity', '#-Infinity', 'NaN', '', 'a', '0', '-0', '1e3'), fc.string({ maxLength: 6 }), fc.nat(300).map(String));
