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
  /** the dedup log: hashed ids and event times of the latest acceptances, oldest first (see state/dedup-set.ts) */
  seen: DedupEntries;
  /**
   * Only in a lane's snapshot on its way to the store: the log's live entries start here, before `seen.first`,
   * and those before `seen.first` went with an earlier snapshot of the same lane (the store holds them).
   */
  liveFirst?: number;
}

export interface GateOptions {
  allowedOutOfOrdernessMs: number;
  allowedLatenessMs: number;
  dedupRetentionMs: number;
  /** the most recent acceptances whose ids are remembered; older ones are forgotten first (processing.dedupMaxIds) */
  dedupMaxIds: number;
}

export class EventTimeGate {
  private maxEventTime = Number.NEGATIVE_INFINITY;
  private seen: DedupSet;

  constructor(private readonly options: GateOptions) {
    this.seen = new DedupSet(options.dedupMaxIds);
  }

  get watermark(): number {
    return this.maxEventTime - this.options.allowedOutOfOrdernessMs;
  }

  /**
   * Decides one event and, if accepted, lets it advance the watermark. An id is a duplicate while its latest
   * acceptance is among the last `dedupMaxIds` acceptances and its time is at or after the horizon.
   */
  admit(id: string, eventTime: number): GateVerdict {
    return this.decide(this.seen.get(id), eventTime);
  }

  /** `admit` of the id whose UTF-8 bytes are `bytes[start, end)`, without making its string (the same verdicts). */
  admitUtf8(bytes: Uint8Array, start: number, end: number, eventTime: number): GateVerdict {
    return this.decide(this.seen.getUtf8(bytes, start, end), eventTime);
  }

  /** The verdict for an event whose id was just looked up (`firstSeen`: its newest acceptance's time, if any). */
  private decide(firstSeen: number | undefined, eventTime: number): GateVerdict {
    // Ids behind the horizon are ignored whether or not eviction has removed them yet, so the verdict never
    // depends on when eviction last ran (a restored snapshot evicts on a different schedule).
    if (firstSeen !== undefined && firstSeen >= this.horizon) return 'duplicate';
    if (eventTime + this.options.allowedLatenessMs < this.watermark) return 'late';
    // The count rule evicts inside `add`, at every acceptance, so it is exact whatever the snapshot schedule.
    this.seen.addLastLookedUp(eventTime);
    if (eventTime > this.maxEventTime) {
      this.maxEventTime = eventTime;
      // Ids older than the retention can only come back as late events, so they need not be remembered.
      this.seen.evictBefore(this.horizon);
    }
    return 'accept';
  }

  /** ids remembered (entries in the dedup log) */
  get dedupSize(): number {
    return this.seen.size;
  }

  /** bytes the dedup set holds */
  get dedupBytes(): number {
    return this.seen.byteLength;
  }

  private get horizon(): number {
    return this.watermark - Math.max(this.options.dedupRetentionMs, this.options.allowedLatenessMs);
  }

  /** The gate's state; its dedup entries are views valid until the next `admit` (encode or copy them first). */
  snapshot(): GateSnapshot {
    return { maxEventTime: Number.isFinite(this.maxEventTime) ? this.maxEventTime : null, seen: this.seen.entries() };
  }

  static restore(options: GateOptions, snapshot: GateSnapshot): EventTimeGate {
    const gate = new EventTimeGate(options);
    gate.maxEventTime = snapshot.maxEventTime ?? Number.NEGATIVE_INFINITY;
    gate.seen = DedupSet.from(snapshot.seen, options.dedupMaxIds);
    return gate;
  }
}
