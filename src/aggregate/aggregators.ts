/** Builds or restores the aggregation state an aggregation's window kind needs. */
import { SessionAggregator, type SessionSnapshot } from './session-aggregator.js';
import { WindowAggregator, type AggregationSpec, type Aggregator, type AggregatorSnapshot } from './window-aggregator.js';

export function createAggregator(spec: AggregationSpec): Aggregator {
  return spec.sessionGapMs !== undefined ? new SessionAggregator(spec) : new WindowAggregator(spec);
}

export function restoreAggregator(spec: AggregationSpec, snapshot: AggregatorSnapshot | SessionSnapshot): Aggregator {
  return 'kind' in snapshot ? SessionAggregator.restore(spec, snapshot) : WindowAggregator.restore(spec, snapshot);
}
