/**
 * Per-partition event-time bookkeeping in front of every table: the watermark, deduplication by event id, and
 * the lateness rule. One rule decides lateness for the whole stream so that the raw table and every aggregate
 * agree on which events count:
 *
 *   watermark = max event time seen so far in the partition - allowedOutOfOrderness
 *   an event is late when eventTime + allowedLateness < watermark (watermark taken before the event)
 *
 * Windows fire only once watermark >= windowEnd + allowedLateness, so an event that is not late always finds
 * its window still open. Everything depends on the data alone, never on wall-clock time, so a replay decides
 * exactly as the first run did.
 */
import { DedupSet, type DedupEntries } from '../state/dedup-set.js';

export type GateVerdict = 'accept' | 'duplicate' | 'late';

export interface GateSnapshot {
  maxEventTime: number | null;
  /** hashed event id -> event time, for ids still inside the dedup retention (see state/dedup-set.ts) */
  seen: DedupEntries;
}

export interface GateOptions {
  allowedOutOfOrdernessMs: number;
  allowedLatenessMs: number;
  dedupRetentionMs: number;
}

export class EventTimeGate {
  private maxEventTime = Number.NEGATIVE_INFINITY;
  private seen = new DedupSet();
  private evictedBelow = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: GateOptions) {}

  get watermark(): number {
    return this.maxEventTime - this.options.allowedOutOfOrdernessMs;
  }

  /** Decides one event and, if accepted, lets it advance the watermark. */
  admit(id: string, eventTime: number): GateVerdict {
    // Ids behind the horizon are ignored whether or not a sweep has removed them yet, so the verdict never
    // depends on when eviction last ran (a restored snapshot sweeps on a different schedule).
    const firstSeen = this.seen.get(id);
    if (firstSeen !== undefined && firstSeen >= this.horizon) return 'duplicate';
    if (eventTime + this.options.allowedLatenessMs < this.watermark) return 'late';
    this.seen.set(id, eventTime);
    if (eventTime > this.maxEventTime) {
      this.maxEventTime = eventTime;
      this.evictExpired();
    }
    return 'accept';
  }

  /** Ids older than the retention can only come back as late events, so they need not be remembered. */
  private get horizon(): number {
    return this.watermark - Math.max(this.options.dedupRetentionMs, this.options.allowedLatenessMs);
  }

  private evictExpired(): void {
    const horizon = this.horizon;
    // Sweep in steps of a tenth of the retention so eviction stays amortised O(1) per event.
    if (horizon - this.evictedBelow < this.options.dedupRetentionMs / 10) return;
    this.seen.retainFrom(horizon);
    this.evictedBelow = horizon;
  }

  snapshot(): GateSnapshot {
    return { maxEventTime: Number.isFinite(this.maxEventTime) ? this.maxEventTime : null, seen: this.seen.entries() };
  }

  static restore(options: GateOptions, snapshot: GateSnapshot): EventTimeGate {
    const gate = new EventTimeGate(options);
    gate.maxEventTime = snapshot.maxEventTime ?? Number.NEGATIVE_INFINITY;
    gate.seen = DedupSet.from(snapshot.seen);
    return gate;
  }
}
