/**
 * One configured aggregation over one partition: tumbling or hopping windows keyed by window start and group key,
 * fired by the watermark (the trigger), with fired rows collected per aggregate-file span until the span is
 * complete. State is plain data (Maps of numbers and group values) so it snapshots and restores exactly.
 *
 * A span is complete, and its rows forgotten, only when no window starting in it can still change: its last
 * window (starting at span + fileSpan - hop) has fired, and no accepted event can open a window starting in it
 * (an accepted event is at or after watermark - lateness, so its windows start after watermark - lateness - size).
 */
import { accumulate, initialState, result, type MeasureFn } from './accumulators.js';
import { GroupKeys, groupKey } from './group-key.js';
import { HoppingWindows } from './windows.js';
import type { SessionSnapshot } from './session-aggregator.js';

export interface MeasureSpec {
  fn: MeasureFn;
  /** index of the input column, or -1 for a count of rows */
  column: number;
  output: string;
}

export interface AggregationSpec {
  name: string;
  windowMs: number;
  /** distance between window starts; equal to windowMs for tumbling windows */
  hopMs: number;
  /** session windows: the inactivity gap that closes a session (windowMs and hopMs are then unused) */
  sessionGapMs?: number;
  allowedLatenessMs: number;
  /** event-time span of windows per output file */
  fileSpanMs: number;
  groupColumns: number[];
  measures: MeasureSpec[];
}

export interface AggregateRow {
  windowStart: number;
  /** session windows end where their data says; fixed-size windows at windowStart + windowMs */
  windowEnd?: number;
  group: unknown[];
  values: Array<number | null>;
}

/** Late events one window (and group) turned away. */
export interface LateRow {
  windowStart: number;
  windowEnd: number;
  group: unknown[];
  count: number;
}

interface GroupState {
  group: unknown[];
  states: number[][];
}

export interface AggregatorSnapshot {
  open: Array<[number, Array<[string, GroupState]>]>;
  fired: Array<[number, AggregateRow[]]>;
  late: Array<[string, LateRow]>;
}

/** What the partition processor needs of an aggregation's state, whatever its window kind. */
export interface Aggregator {
  readonly spec: AggregationSpec;
  add(eventTime: number, columns: readonly ArrayLike<unknown>[], row: number): void;
  /** Counts a late event against the window(s) it would have gone to. */
  late(eventTime: number, columns: readonly ArrayLike<unknown>[], row: number): void;
  /** Late counts since the last `clearLate`, sorted by window and group. */
  lateRows(): LateRow[];
  clearLate(): void;
  advance(watermark: number): { changed: number[]; complete: number[] };
  rowsOf(span: number, includeOpen: boolean): AggregateRow[];
  spans(): number[];
  forget(span: number): void;
  snapshot(): AggregatorSnapshot | SessionSnapshot;
}

export class WindowAggregator implements Aggregator {
  private readonly windows: HoppingWindows;
  private readonly starts: number[] = [];
  /** window start -> group key -> partial state */
  private open = new Map<number, Map<string, GroupState>>();
  /** file span start -> rows of fired windows not yet in a complete file */
  private fired = new Map<number, AggregateRow[]>();
  /** window start + group key -> late events turned away */
  private lateCounts = new Map<string, LateRow>();
  private readonly groups: GroupKeys;

  constructor(readonly spec: AggregationSpec) {
    this.windows = new HoppingWindows(spec.windowMs, spec.hopMs);
    this.groups = new GroupKeys(spec.groupColumns);
  }

  add(eventTime: number, columns: readonly ArrayLike<unknown>[], row: number): void {
    const { group, key } = this.groups.of(columns, row);
    const measures = this.spec.measures;
    const windows = this.windows.windowStarts(eventTime, this.starts);
    for (let w = 0; w < windows; w++) {
      const start = this.starts[w]!;
      let groups = this.open.get(start);
      if (!groups) {
        groups = new Map();
        this.open.set(start, groups);
      }
      let state = groups.get(key);
      if (!state) {
        state = { group, states: measures.map((m) => initialState(m.fn)) };
        groups.set(key, state);
      }
      for (let m = 0; m < measures.length; m++) {
        const measure = measures[m]!;
        accumulate(measure.fn, state.states[m]!, measure.column < 0 ? undefined : columns[measure.column]![row], measure.column < 0);
      }
    }
  }

  late(eventTime: number, columns: readonly ArrayLike<unknown>[], row: number): void {
    const { group } = this.groups.of(columns, row);
    const windows = this.windows.windowStarts(eventTime, this.starts);
    for (let w = 0; w < windows; w++) countLate(this.lateCounts, this.starts[w]!, this.windows.windowEnd(this.starts[w]!), group);
  }

  lateRows(): LateRow[] {
    return sortedLate(this.lateCounts);
  }

  clearLate(): void {
    this.lateCounts.clear();
  }

  spanStart(windowStart: number): number {
    return Math.floor(windowStart / this.spec.fileSpanMs) * this.spec.fileSpanMs;
  }

  /**
   * Fires every window the watermark has passed. Returns the spans whose content changed and which spans are
   * complete (no window of theirs can still change), so the caller rewrites exactly those files.
   */
  advance(watermark: number): { changed: number[]; complete: number[] } {
    const changed = new Set<number>();
    for (const [start, groups] of this.open) {
      if (this.windows.windowEnd(start) + this.spec.allowedLatenessMs > watermark) continue;
      const span = this.spanStart(start);
      let rows = this.fired.get(span);
      if (!rows) {
        rows = [];
        this.fired.set(span, rows);
      }
      for (const state of groups.values()) rows.push(this.toRow(start, state));
      this.open.delete(start);
      changed.add(span);
    }
    const { fileSpanMs, hopMs, windowMs, allowedLatenessMs } = this.spec;
    const complete = [...this.fired.keys()].filter((span) => span + fileSpanMs - hopMs + windowMs + allowedLatenessMs <= watermark);
    return { changed: [...changed], complete };
  }

  /** Rows of a span: fired ones, plus (when `includeOpen`) the current values of windows still open. */
  rowsOf(span: number, includeOpen: boolean): AggregateRow[] {
    const rows = [...(this.fired.get(span) ?? [])];
    if (includeOpen) {
      for (const [start, groups] of this.open) {
        if (this.spanStart(start) !== span) continue;
        for (const state of groups.values()) rows.push(this.toRow(start, state));
      }
    }
    return sortRows(rows);
  }

  /** Spans that have anything to show, fired or open. */
  spans(): number[] {
    const spans = new Set<number>(this.fired.keys());
    for (const start of this.open.keys()) spans.add(this.spanStart(start));
    return [...spans].sort((a, b) => a - b);
  }

  forget(span: number): void {
    this.fired.delete(span);
  }

  private toRow(windowStart: number, state: GroupState): AggregateRow {
    return {
      windowStart,
      group: state.group,
      values: this.spec.measures.map((m, i) => result(m.fn, state.states[i]!)),
    };
  }

  snapshot(): AggregatorSnapshot {
    return {
      open: [...this.open].map(([start, groups]) => [start, [...groups]]),
      fired: [...this.fired],
      late: [...this.lateCounts],
    };
  }

  static restore(spec: AggregationSpec, snapshot: AggregatorSnapshot): WindowAggregator {
    const aggregator = new WindowAggregator(spec);
    aggregator.open = new Map(snapshot.open.map(([start, groups]) => [start, new Map(groups)]));
    aggregator.fired = new Map(snapshot.fired);
    aggregator.lateCounts = new Map(snapshot.late ?? []);
    return aggregator;
  }
}

export function countLate(counts: Map<string, LateRow>, windowStart: number, windowEnd: number, group: unknown[]): void {
  const key = `${windowStart},${windowEnd},${groupKey(group)}`;
  const row = counts.get(key);
  if (row) row.count++;
  else counts.set(key, { windowStart, windowEnd, group, count: 1 });
}

export function sortedLate(counts: Map<string, LateRow>): LateRow[] {
  return [...counts.values()].sort((a, b) => a.windowStart - b.windowStart || a.windowEnd - b.windowEnd || compareKeys(groupKey(a.group), groupKey(b.group)));
}

/**
 * Rows in a deterministic order (window start, then end, then typed group key), so files are byte-stable. Each
 * row's key is made once, not once per comparison.
 */
export function sortRows(rows: AggregateRow[]): AggregateRow[] {
  const keyed = rows.map((row) => ({ row, key: groupKey(row.group) }));
  keyed.sort((a, b) => a.row.windowStart - b.row.windowStart || (a.row.windowEnd ?? 0) - (b.row.windowEnd ?? 0) || compareKeys(a.key, b.key));
  return keyed.map((k) => k.row);
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
