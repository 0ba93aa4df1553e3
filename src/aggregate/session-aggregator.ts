/**
 * Session windows over one partition: per group, a session holds events less than `gapMs` apart and spans
 * [first event, last event + gap). The gap is exclusive, as in Flink: events exactly `gap` apart are two
 * sessions. An event that bridges two sessions merges them (the partial aggregates are mergeable). A session
 * fires once the watermark passes its end + allowed lateness; with the stream's lateness rule no accepted event
 * can reach a fired session, so results depend on the data alone.
 *
 * A session's row lives in the file span of its start. A merge can move an open session's start back into an
 * earlier span; the span it left is then reported as changed, so a file written for it while the session was
 * open (by a flush) is rewritten without it.
 */
import { accumulate, initialState, merge, result } from './accumulators.js';
import { GroupKeys } from './group-key.js';
import type { AggregateRow, AggregationSpec, Aggregator, LateRow } from './window-aggregator.js';
import { countLate, sortRows, sortedLate } from './window-aggregator.js';

interface Session {
  start: number;
  end: number;
  group: unknown[];
  states: number[][];
}

export interface SessionSnapshot {
  kind: 'session';
  sessions: Array<[string, Session[]]>;
  fired: Array<[number, AggregateRow[]]>;
  late: Array<[string, LateRow]>;
  vacated: number[];
}

export class SessionAggregator implements Aggregator {
  /** group key -> open sessions, ordered by start */
  private sessions = new Map<string, Session[]>();
  private fired = new Map<number, AggregateRow[]>();
  private lateCounts = new Map<string, LateRow>();
  /** spans an open session left by merging into an earlier one, reported as changed by the next advance */
  private vacated = new Set<number>();
  private readonly gapMs: number;
  private readonly groups: GroupKeys;

  constructor(readonly spec: AggregationSpec) {
    if (spec.sessionGapMs === undefined) throw new TypeError(`aggregation ${spec.name} has no session gap`);
    this.gapMs = spec.sessionGapMs;
    this.groups = new GroupKeys(spec.groupColumns);
  }

  add(eventTime: number, columns: readonly ArrayLike<unknown>[], row: number): void {
    const { group, key } = this.groups.of(columns, row);
    const sessions = this.sessions.get(key) ?? [];
    const measures = this.spec.measures;
    let session: Session = { start: eventTime, end: eventTime + this.gapMs, group, states: measures.map((m) => initialState(m.fn)) };
    const kept: Session[] = [];
    const merged: Session[] = [];
    for (const other of sessions) {
      // overlapping [start, end) intervals belong to one session
      if (other.start < session.end && eventTime < other.end) {
        merged.push(other);
        session = {
          start: Math.min(session.start, other.start),
          end: Math.max(session.end, other.end),
          group,
          states: session.states.map((state, m) => {
            const combined = [...other.states[m]!];
            merge(measures[m]!.fn, combined, state);
            return combined;
          }),
        };
      } else {
        kept.push(other);
      }
    }
    for (const other of merged) if (this.spanStart(other.start) !== this.spanStart(session.start)) this.vacated.add(this.spanStart(other.start));
    for (let m = 0; m < measures.length; m++) {
      const measure = measures[m]!;
      accumulate(measure.fn, session.states[m]!, measure.column < 0 ? undefined : columns[measure.column]![row], measure.column < 0);
    }
    kept.push(session);
    kept.sort((a, b) => a.start - b.start);
    this.sessions.set(key, kept);
  }

  /** A late event is counted against the session it would have opened, [eventTime, eventTime + gap). */
  late(eventTime: number, columns: readonly ArrayLike<unknown>[], row: number): void {
    const { group } = this.groups.of(columns, row);
    countLate(this.lateCounts, eventTime, eventTime + this.gapMs, group);
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

  advance(watermark: number): { changed: number[]; complete: number[] } {
    const changed = new Set<number>(this.vacated);
    this.vacated.clear();
    for (const [key, sessions] of this.sessions) {
      const open = sessions.filter((session) => {
        if (session.end + this.spec.allowedLatenessMs > watermark) return true;
        const span = this.spanStart(session.start);
        let rows = this.fired.get(span);
        if (!rows) this.fired.set(span, (rows = []));
        rows.push(this.toRow(session));
        changed.add(span);
        return false;
      });
      if (open.length === 0) this.sessions.delete(key);
      else this.sessions.set(key, open);
    }
    // A span is complete once no open session can start in it: every later event starts at or after the
    // watermark minus the lateness, and a merge only moves a start back to an open session's start.
    let earliestOpen = watermark - this.spec.allowedLatenessMs;
    for (const sessions of this.sessions.values()) for (const session of sessions) earliestOpen = Math.min(earliestOpen, session.start);
    const complete = [...this.fired.keys()].filter((span) => span + this.spec.fileSpanMs <= earliestOpen);
    return { changed: [...changed], complete };
  }

  rowsOf(span: number, includeOpen: boolean): AggregateRow[] {
    const rows = [...(this.fired.get(span) ?? [])];
    if (includeOpen) {
      for (const sessions of this.sessions.values()) {
        for (const session of sessions) if (this.spanStart(session.start) === span) rows.push(this.toRow(session));
      }
    }
    return sortRows(rows);
  }

  spans(): number[] {
    const spans = new Set<number>(this.fired.keys());
    for (const sessions of this.sessions.values()) for (const session of sessions) spans.add(this.spanStart(session.start));
    return [...spans].sort((a, b) => a - b);
  }

  forget(span: number): void {
    this.fired.delete(span);
  }

  private toRow(session: Session): AggregateRow {
    return {
      windowStart: session.start,
      windowEnd: session.end,
      group: session.group,
      values: this.spec.measures.map((m, i) => result(m.fn, session.states[i]!)),
    };
  }

  snapshot(): SessionSnapshot {
    return { kind: 'session', sessions: [...this.sessions], fired: [...this.fired], late: [...this.lateCounts], vacated: [...this.vacated] };
  }

  static restore(spec: AggregationSpec, snapshot: SessionSnapshot): SessionAggregator {
    const aggregator = new SessionAggregator(spec);
    aggregator.sessions = new Map(snapshot.sessions);
    aggregator.fired = new Map(snapshot.fired);
    aggregator.lateCounts = new Map(snapshot.late ?? []);
    aggregator.vacated = new Set(snapshot.vacated ?? []);
    return aggregator;
  }
}
