package tributary.bench.flink;

import java.util.HashMap;

/**
 * Tributary's per-partition event-time rule (src/aggregate/event-time-gate.ts), so both sides keep the same rows:
 *   watermark = max event time seen in the partition - allowedOutOfOrderness
 *   late      = eventTime + allowedLateness < watermark (the watermark before the event)
 *   duplicate = the id was accepted before at a time at or after watermark - max(dedupRetention, allowedLateness)
 * Only data decides; eviction only bounds memory and never changes a verdict.
 */
final class EventTimeGate {
  enum Verdict { ACCEPT, DUPLICATE, LATE }

  private final long outOfOrderness;
  private final long lateness;
  private final long retention;
  private final HashMap<String, Long> seen = new HashMap<>();
  private long maxEventTime = Long.MIN_VALUE;
  private long evictedBelow = Long.MIN_VALUE;

  EventTimeGate(long outOfOrderness, long lateness, long retention) {
    this.outOfOrderness = outOfOrderness;
    this.lateness = lateness;
    this.retention = retention;
  }

  private boolean started() {
    return maxEventTime != Long.MIN_VALUE;
  }

  private long watermark() {
    return maxEventTime - outOfOrderness;
  }

  private long horizon() {
    return watermark() - Math.max(retention, lateness);
  }

  Verdict admit(String id, long eventTime) {
    Long firstSeen = seen.get(id);
    // Before any event the watermark is -infinity: nothing is late and every remembered id is within reach.
    if (firstSeen != null && (!started() || firstSeen >= horizon())) return Verdict.DUPLICATE;
    if (started() && eventTime + lateness < watermark()) return Verdict.LATE;
    seen.put(id, eventTime);
    if (eventTime > maxEventTime) {
      maxEventTime = eventTime;
      long horizon = horizon();
      if (evictedBelow == Long.MIN_VALUE || horizon - evictedBelow >= retention / 10) {
        seen.values().removeIf(time -> time < horizon);
        evictedBelow = horizon;
      }
    }
    return Verdict.ACCEPT;
  }
}
