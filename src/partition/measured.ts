/** What a measured run of one candidate key reports (see replay-source.ts for how it is measured). */

export interface MeasuredPartition {
  readonly partition: number;
  readonly events: number;
  /** Most events this partition ever had waiting (arrived, not yet processed). */
  readonly maxLagEvents: number;
  /** Longest any of its events waited from arrival until the pipeline had processed it. */
  readonly maxLagMs: number;
  /** When its last event was processed, from the start of the run. */
  readonly drainedAtMs: number;
  /**
   * How long it still needed after the last event of the sample had arrived: its lag in time when the input
   * stops, the way consumer lag is read off a hub whose producers paused.
   */
  readonly catchUpMs: number;
}

export interface MeasuredRun {
  readonly candidate: string;
  readonly partitionCount: number;
  readonly events: number;
  readonly wallMs: number;
  readonly eventsPerSecond: number;
  /** Replay rounds until every partition had caught up. */
  readonly rounds: number;
  /** Events arriving per round, as a share of what perfectly balanced partitions process per round. */
  readonly offeredLoad: number;
  readonly slowestPartition: number;
  readonly slowestLagEvents: number;
  /** The slowest partition's catch-up time after the input stopped (see MeasuredPartition.catchUpMs). */
  readonly slowestLagMs: number;
  readonly partitions: readonly MeasuredPartition[];
  /** Rows the pipeline landed in the raw table (a check that the run processed the sample). */
  readonly rowsLanded: number;
}
