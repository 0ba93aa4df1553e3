/**
 * Ranks candidate keys and says which to choose, in one line, with the reason.
 *
 * Candidates are compared at the largest partition count asked for (the hub the user is about to buy): first by
 * the throughput ceiling, i.e. how much of the bought per-partition capacity the key can use before its hottest
 * partition throttles. Round-robin (`none`) always balances best but keeps no order, so a keyed candidate is
 * recommended whenever it reaches at least `minKeyedEfficiency` of round-robin's ceiling; among keyed candidates
 * within `tieTolerance` of the best, the one whose aggregations stay complete per partition wins, then the one of
 * fewest fields (the widest ordering scope).
 */
import type { CandidateAnalysis, SkewResult } from './skew.js';

export interface RankedCandidate {
  readonly candidate: string;
  readonly keyed: boolean;
  /** The analysis at the partition count the ranking is made at. */
  readonly analysis: CandidateAnalysis;
  readonly ceilingEventsPerSecond: number;
  readonly completeAggregations: number;
}

export interface Recommendation {
  readonly candidate: string;
  readonly partitionCount: number;
  /** One line: what to choose and why. */
  readonly line: string;
  /** Best first. */
  readonly ranking: readonly RankedCandidate[];
}

export interface RecommendOptions {
  readonly minKeyedEfficiency?: number;
  readonly tieTolerance?: number;
}

export function recommend(result: SkewResult, options: RecommendOptions = {}): Recommendation {
  const minKeyed = options.minKeyedEfficiency ?? 0.5;
  const tie = options.tieTolerance ?? 0.25;
  const partitionCount = Math.max(...result.analyses.map((a) => a.partitionCount));
  const ranked = result.analyses
    .filter((analysis) => analysis.partitionCount === partitionCount)
    .map(
      (analysis): RankedCandidate => ({
        candidate: analysis.candidate.name,
        keyed: analysis.candidate.fields.length > 0,
        analysis,
        ceilingEventsPerSecond: analysis.ceiling.eventsPerSecond,
        completeAggregations: analysis.aggregations.filter((a) => a.alignment === 'complete').length,
      }),
    )
    .sort(
      (x, y) =>
        y.ceilingEventsPerSecond - x.ceilingEventsPerSecond ||
        y.completeAggregations - x.completeAggregations ||
        Number(y.keyed) - Number(x.keyed) ||
        (x.candidate < y.candidate ? -1 : 1),
    );

  const roundRobin = ranked.find((r) => !r.keyed);
  const keyed = ranked.filter((r) => r.keyed);
  const bestKeyed = keyed[0];
  const pct = (x: number): string => `${(x * 100).toFixed(x < 0.1 ? 1 : 0)}%`;
  const rate = (x: number): string => formatRate(x);

  if (bestKeyed && (!roundRobin || bestKeyed.ceilingEventsPerSecond >= minKeyed * roundRobin.ceilingEventsPerSecond)) {
    // Among near-ties prefer complete aggregates, then the key of fewer fields: its ordering scope is wider
    // (every event of one customer in order, not only those of one customer on one channel).
    const nearBest = keyed.filter((r) => r.ceilingEventsPerSecond >= (1 - tie) * bestKeyed.ceilingEventsPerSecond);
    const chosen =
      [...nearBest].sort(
        (x, y) =>
          y.completeAggregations - x.completeAggregations ||
          x.analysis.candidate.fields.length - y.analysis.candidate.fields.length ||
          y.ceilingEventsPerSecond - x.ceilingEventsPerSecond,
      )[0] ?? bestKeyed;
    const a = chosen.analysis;
    const runnerUp = keyed.find((r) => r !== chosen);
    let against = '';
    if (runnerUp && runnerUp.ceilingEventsPerSecond > chosen.ceilingEventsPerSecond) {
      against = `; ${runnerUp.candidate} reaches ${rate(runnerUp.ceilingEventsPerSecond)} but keeps order only ${runnerUp.analysis.orderingScope.split(':')[0]}`;
    } else if (runnerUp) {
      against = `; ${runnerUp.candidate} would cap at ${rate(runnerUp.ceilingEventsPerSecond)} (max/mean ${runnerUp.analysis.maxMeanEvents.toFixed(2)}, ${runnerUp.analysis.idlePartitions} idle)`;
    }
    const aggregates =
      a.aggregations.length > 0 ? `, ${chosen.completeAggregations}/${a.aggregations.length} aggregations complete per partition` : '';
    const line =
      `Use ${chosen.candidate} at ${partitionCount} partitions: ceiling ${rate(chosen.ceilingEventsPerSecond)} ` +
      `(${pct(a.ceiling.efficiency)} of ideal, max/mean ${a.maxMeanEvents.toFixed(2)}, hottest key ${pct(a.hotKeys[0]?.share ?? 0)}), ` +
      `keeps order ${a.orderingScope.split(':')[0]}${aggregates}${against}.`;
    return { candidate: chosen.candidate, partitionCount, line, ranking: ranked };
  }

  const chosen = roundRobin ?? ranked[0]!;
  const why = bestKeyed
    ? `every keyed candidate throttles early (best: ${bestKeyed.candidate} at ${rate(bestKeyed.ceilingEventsPerSecond)}, ` +
      `${pct(bestKeyed.ceilingEventsPerSecond / chosen.ceilingEventsPerSecond)} of round-robin's ${rate(chosen.ceilingEventsPerSecond)}); ` +
      'send without a key unless per-entity ordering is required'
    : `no keyed candidate given; round-robin reaches ${rate(chosen.ceilingEventsPerSecond)}`;
  return {
    candidate: chosen.candidate,
    partitionCount,
    line: `Use ${chosen.candidate} at ${partitionCount} partitions: ${why}.`,
    ranking: ranked,
  };
}

export function formatRate(eventsPerSecond: number): string {
  if (!Number.isFinite(eventsPerSecond)) return 'unbounded';
  if (eventsPerSecond >= 10_000) return `${(eventsPerSecond / 1000).toFixed(0)}k events/s`;
  if (eventsPerSecond >= 1000) return `${(eventsPerSecond / 1000).toFixed(1)}k events/s`;
  return `${Math.round(eventsPerSecond)} events/s`;
}
