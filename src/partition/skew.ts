/**
 * Skew arithmetic for candidate partition keys: feed it a sample of records once, and it tells, for every
 * candidate key and partition count, how load spreads over the partitions, which keys are hot, which entity's
 * events keep their order, whether each aggregation's groups stay inside one partition, and how much ingress
 * the hub can take before its hottest partition throttles.
 *
 * Pure arithmetic: no I/O, no clocks. Memory grows with the number of distinct keys and aggregation groups in the
 * sample, not with the number of records.
 */
import {
  candidateKey,
  keyText,
  orderingScope,
  partitionForKey,
  readPath,
  type KeyCandidate,
  type PartitionHash,
} from './key-candidate.js';

/**
 * Ingress one partition accepts before the service throttles it. Event Hubs Standard: a throughput unit allows
 * "up to 1 MB per second or 1,000 events per second (whichever comes first)" of ingress, and one partition never
 * gets more than one throughput unit's worth
 * (https://learn.microsoft.com/azure/event-hubs/event-hubs-scalability, "Throughput units"; the same limits in
 * https://learn.microsoft.com/azure/event-hubs/event-hubs-quotas). "MB" there is read as MiB, as the service
 * measures its 1 MB event-size limit.
 */
export interface PartitionLimit {
  readonly eventsPerSecond: number;
  readonly bytesPerSecond: number;
  readonly label: string;
}

export const EVENT_HUBS_STANDARD_LIMIT: PartitionLimit = {
  eventsPerSecond: 1000,
  bytesPerSecond: 1024 * 1024,
  label: 'Event Hubs Standard (1 TU per partition: 1 MB/s or 1000 events/s ingress)',
};

export interface SampleRecord {
  /** The decoded event (field paths are read from it). */
  readonly fields: Readonly<Record<string, unknown>>;
  /** Size of the event body as sent; what counts against the byte limit. */
  readonly bodyBytes: number;
}

export interface AggregationSpec {
  readonly name: string;
  readonly groupBy: readonly string[];
}

export interface SkewOptions {
  readonly candidates: readonly KeyCandidate[];
  readonly partitionCounts: readonly number[];
  readonly hash: PartitionHash;
  readonly limit: PartitionLimit;
  readonly aggregations: readonly AggregationSpec[];
  /** How many of the hottest keys to report per candidate. */
  readonly hotKeyCount?: number;
}

export interface PartitionLoad {
  readonly partition: number;
  readonly events: number;
  readonly bytes: number;
}

export interface HotKey {
  readonly key: string;
  readonly events: number;
  readonly bytes: number;
  /** Share of all sampled events. */
  readonly share: number;
  readonly partition: number;
}

export type Alignment = 'complete' | 'complete-in-sample' | 'partial';

export interface AggregationAlignment {
  readonly name: string;
  readonly groupBy: readonly string[];
  /**
   * complete: every group lives in one partition by construction (the key's fields are a subset of the group-by
   * fields), so per-partition aggregates are final; complete-in-sample: no group of the sample was split, but
   * nothing guarantees it; partial: groups span partitions and per-partition results must be merged.
   */
  readonly alignment: Alignment;
  readonly groups: number;
  /** Groups of the sample whose events landed on more than one partition. */
  readonly splitGroups: number;
}

export interface ThroughputCeiling {
  /** Total ingress (events/s across the hub) at which the hottest partition reaches its limit. */
  readonly eventsPerSecond: number;
  readonly bytesPerSecond: number;
  /** Which of the two per-partition limits binds first. */
  readonly boundBy: 'events' | 'bytes';
  /** The ceiling with the same traffic perfectly balanced over all partitions. */
  readonly idealEventsPerSecond: number;
  /** eventsPerSecond / idealEventsPerSecond: the share of the bought capacity this key can use. */
  readonly efficiency: number;
  /**
   * The most the hub can take because of the hottest single key alone: no partition count raises it, since one
   * key never splits. Infinity for round-robin.
   */
  readonly hotKeyCapEventsPerSecond: number;
}

export interface CandidateAnalysis {
  readonly candidate: KeyCandidate;
  readonly partitionCount: number;
  readonly hash: PartitionHash;
  readonly partitions: readonly PartitionLoad[];
  readonly totalEvents: number;
  readonly totalBytes: number;
  readonly distinctKeys: number;
  /** Events without a key under this candidate (a key field missing, or the candidate is `none`). */
  readonly keylessEvents: number;
  /** Busiest partition's events over the mean; 1 is perfect balance. */
  readonly maxMeanEvents: number;
  readonly maxMeanBytes: number;
  readonly hottestPartition: number;
  readonly hotKeys: readonly HotKey[];
  readonly idlePartitions: number;
  readonly orderingScope: string;
  readonly aggregations: readonly AggregationAlignment[];
  readonly ceiling: ThroughputCeiling;
}

export interface SkewResult {
  readonly hash: PartitionHash;
  readonly limit: PartitionLimit;
  readonly totalEvents: number;
  readonly totalBytes: number;
  readonly analyses: readonly CandidateAnalysis[];
}

interface KeyTotals {
  events: number;
  bytes: number;
  /** partition per partition count (same order as options.partitionCounts) */
  partitions: Int32Array;
}

const SPLIT = -1;

/** Per-candidate running state; one per candidate. */
class CandidateState {
  readonly keys = new Map<string, KeyTotals>();
  keyless = 0;
  readonly keylessEvents: Float64Array[];
  readonly keylessBytes: Float64Array[];
  /** [aggregation][countIndex]: group -> partition, or SPLIT once seen in two. */
  readonly groups: Array<Array<Map<string, number>>>;

  constructor(
    readonly candidate: KeyCandidate,
    private readonly counts: readonly number[],
    private readonly hash: PartitionHash,
    aggregationCount: number,
  ) {
    this.keylessEvents = counts.map((n) => new Float64Array(n));
    this.keylessBytes = counts.map((n) => new Float64Array(n));
    this.groups = Array.from({ length: aggregationCount }, () => counts.map(() => new Map<string, number>()));
  }

  add(record: SampleRecord, groupKeys: readonly (string | null)[]): void {
    const key = candidateKey(this.candidate, record.fields);
    let partitions: Int32Array;
    if (key === null) {
      // Keyless events go round-robin; the i-th keyless event lands on partition i mod n.
      const sequence = this.keyless++;
      partitions = Int32Array.from(this.counts, (n) => sequence % n);
      partitions.forEach((partition, i) => {
        this.keylessEvents[i]![partition]! += 1;
        this.keylessBytes[i]![partition]! += record.bodyBytes;
      });
    } else {
      let totals = this.keys.get(key);
      if (!totals) {
        totals = {
          events: 0,
          bytes: 0,
          partitions: Int32Array.from(this.counts, (n) => partitionForKey(this.hash, key, n)),
        };
        this.keys.set(key, totals);
      }
      totals.events += 1;
      totals.bytes += record.bodyBytes;
      partitions = totals.partitions;
    }
    groupKeys.forEach((group, a) => {
      if (group === null) return;
      this.groups[a]!.forEach((seen, i) => {
        const partition = partitions[i]!;
        const before = seen.get(group);
        if (before === undefined) seen.set(group, partition);
        else if (before !== SPLIT && before !== partition) seen.set(group, SPLIT);
      });
    });
  }
}

export class SkewAnalyzer {
  private readonly states: CandidateState[];
  private totalEvents = 0;
  private totalBytes = 0;

  constructor(private readonly options: SkewOptions) {
    for (const n of options.partitionCounts) {
      if (!Number.isInteger(n) || n < 1) throw new RangeError(`partition counts must be positive integers, got ${n}`);
    }
    if (options.candidates.length === 0) throw new RangeError('at least one key candidate is required');
    this.states = options.candidates.map(
      (candidate) => new CandidateState(candidate, options.partitionCounts, options.hash, options.aggregations.length),
    );
  }

  add(record: SampleRecord): void {
    this.totalEvents += 1;
    this.totalBytes += record.bodyBytes;
    const groupKeys = this.options.aggregations.map((aggregation) => groupKey(aggregation, record.fields));
    for (const state of this.states) state.add(record, groupKeys);
  }

  result(): SkewResult {
    const analyses: CandidateAnalysis[] = [];
    for (const state of this.states) {
      this.options.partitionCounts.forEach((n, countIndex) => analyses.push(this.analyse(state, n, countIndex)));
    }
    return {
      hash: this.options.hash,
      limit: this.options.limit,
      totalEvents: this.totalEvents,
      totalBytes: this.totalBytes,
      analyses,
    };
  }

  private analyse(state: CandidateState, n: number, countIndex: number): CandidateAnalysis {
    const events = Array.from(state.keylessEvents[countIndex]!);
    const bytes = Array.from(state.keylessBytes[countIndex]!);
    for (const totals of state.keys.values()) {
      const partition = totals.partitions[countIndex]!;
      events[partition]! += totals.events;
      bytes[partition]! += totals.bytes;
    }
    const partitions = events.map((e, partition) => ({ partition, events: e, bytes: bytes[partition]! }));
    const maxEvents = Math.max(...events);
    const maxBytes = Math.max(...bytes);
    const hottestPartition = events.indexOf(maxEvents);

    const hotKeyCount = this.options.hotKeyCount ?? 5;
    const hotKeys = [...state.keys.entries()]
      .sort((x, y) => y[1].events - x[1].events || (x[0] < y[0] ? -1 : 1))
      .slice(0, hotKeyCount)
      .map(([key, totals]) => ({
        key,
        events: totals.events,
        bytes: totals.bytes,
        share: ratio(totals.events, this.totalEvents),
        partition: totals.partitions[countIndex]!,
      }));

    const aggregations = this.options.aggregations.map((aggregation, a): AggregationAlignment => {
      const seen = state.groups[a]![countIndex]!;
      let splitGroups = 0;
      for (const partition of seen.values()) if (partition === SPLIT) splitGroups++;
      const byConstruction =
        n === 1 ||
        (state.candidate.fields.length > 0 &&
          state.keyless === 0 &&
          state.candidate.fields.every((field) => aggregation.groupBy.includes(field)));
      const alignment: Alignment = byConstruction ? 'complete' : splitGroups === 0 && seen.size > 0 ? 'complete-in-sample' : 'partial';
      return { name: aggregation.name, groupBy: aggregation.groupBy, alignment, groups: seen.size, splitGroups };
    });

    const hottestKey = hotKeys[0];
    return {
      candidate: state.candidate,
      partitionCount: n,
      hash: this.options.hash,
      partitions,
      totalEvents: this.totalEvents,
      totalBytes: this.totalBytes,
      distinctKeys: state.keys.size,
      keylessEvents: state.keyless,
      maxMeanEvents: ratio(maxEvents * n, this.totalEvents),
      maxMeanBytes: ratio(maxBytes * n, this.totalBytes),
      hottestPartition,
      hotKeys,
      idlePartitions: events.filter((e) => e === 0).length,
      orderingScope: orderingScope(state.candidate),
      aggregations,
      ceiling: throughputCeiling(
        this.options.limit,
        n,
        { events: this.totalEvents, bytes: this.totalBytes },
        { events: maxEvents, bytes: maxBytes },
        hottestKey ? { events: hottestKey.events, bytes: hottestKey.bytes } : undefined,
      ),
    };
  }
}

export function analyzeSkew(records: Iterable<SampleRecord>, options: SkewOptions): SkewResult {
  const analyzer = new SkewAnalyzer(options);
  for (const record of records) analyzer.add(record);
  return analyzer.result();
}

interface Load {
  events: number;
  bytes: number;
}

/**
 * With traffic arriving in the sample's proportions at R events/s, partition p receives R*e_p/E events/s and
 * R*b_p/E bytes/s. The hub throttles once any partition passes either limit, so
 * R_max = min(L_events * E / max e_p, L_bytes * E / max b_p).
 */
export function throughputCeiling(limit: PartitionLimit, partitionCount: number, total: Load, hottest: Load, hottestKey: Load | undefined): ThroughputCeiling {
  const capFor = (load: Load): { events: number; boundBy: 'events' | 'bytes' } => {
    const byEvents = load.events > 0 ? (limit.eventsPerSecond * total.events) / load.events : Infinity;
    const byBytes = load.bytes > 0 ? (limit.bytesPerSecond * total.events) / load.bytes : Infinity;
    return byEvents <= byBytes ? { events: byEvents, boundBy: 'events' } : { events: byBytes, boundBy: 'bytes' };
  };
  const cap = capFor(hottest);
  const ideal = capFor({ events: total.events / partitionCount, bytes: total.bytes / partitionCount }).events;
  const meanBytes = total.events > 0 ? total.bytes / total.events : 0;
  return {
    eventsPerSecond: cap.events,
    bytesPerSecond: cap.events * meanBytes,
    boundBy: cap.boundBy,
    idealEventsPerSecond: ideal,
    efficiency: Number.isFinite(ideal) && ideal > 0 ? cap.events / ideal : 1,
    hotKeyCapEventsPerSecond: hottestKey ? capFor(hottestKey).events : Infinity,
  };
}

function groupKey(aggregation: AggregationSpec, fields: Readonly<Record<string, unknown>>): string | null {
  // A global aggregation (no group-by) is one group.
  if (aggregation.groupBy.length === 0) return '';
  return JSON.stringify(aggregation.groupBy.map((path) => keyText(readPath(fields, path))));
}

function ratio(numerator: number, denominator: number): number {
  return denominator > 0 ? numerator / denominator : 0;
}
