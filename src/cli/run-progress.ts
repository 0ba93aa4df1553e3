/**
 * What a person watching a run wants to know, gathered from the pipeline without touching it: an observer (events
 * in, consumer lag, files written) and a wrapper around the partition handler (assignments and where each
 * partition resumed, which partitions are busy with what). Once a second it updates the Progress; when no event
 * has arrived for a while it says what the run is waiting on.
 */
import type { PartitionBatch, PartitionHandler, ResumePoint } from '../core/source.js';
import type { PipelineObserver } from '../runtime/observer.js';
import type { Progress } from './progress.js';

const STALL_MS = 5_000;
const RESUME_SETTLE_MS = 500;
const LIST_AT_MOST = 6;

/** What a partition is busy with, as the handler sees it: a batch handed over but not accepted means its in-flight
 * window is full, i.e. processing (decoding, writing cells) is what the source waits on. */
export type Activity = 'restoring its snapshot' | 'processing a full window of batches' | 'writing open files after catching up' | 'releasing';

const id = (stream: string, partition: string): string => `${stream}/${partition}`;

function list(ids: string[]): string {
  const sorted = [...ids].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  return sorted.length <= LIST_AT_MOST ? sorted.join(', ') : `${sorted.slice(0, LIST_AT_MOST).join(', ')}, … ${sorted.length - LIST_AT_MOST} more`;
}

/** "resumed 2 partitions from checkpoints (orders/0 at 150000, orders/1 at 150000)" */
export function describeResumes(resumes: Map<string, ResumePoint>): string[] {
  const resumed = [...resumes].filter(([, r]) => r !== undefined).map(([p, r]) => `${p} at ${r!.position}`);
  const fresh = [...resumes].filter(([, r]) => r === undefined).map(([p]) => p);
  const lines: string[] = [];
  if (resumed.length > 0) lines.push(`resumed ${resumed.length} partition${resumed.length === 1 ? '' : 's'} from checkpoints (${list(resumed)})`);
  if (fresh.length > 0) lines.push(`started ${fresh.length} partition${fresh.length === 1 ? '' : 's'} from the source's start position (${list(fresh)})`);
  return lines;
}

/** "no events for 7 s: waiting on 12 partitions writing open files after catching up (orders/0, …); 9 files written meanwhile" */
export function describeStall(stalledMs: number, busy: ReadonlyMap<string, Activity>, filesWritten: number): string {
  const byActivity = new Map<Activity, string[]>();
  for (const [partition, activity] of busy) byActivity.set(activity, [...(byActivity.get(activity) ?? []), partition]);
  const parts = [...byActivity].map(([activity, ids]) => `${ids.length} partition${ids.length === 1 ? '' : 's'} ${activity} (${list(ids)})`);
  const waiting = parts.length > 0 ? parts.join('; ') : 'the source to deliver events';
  const files = filesWritten > 0 ? `; ${filesWritten} file${filesWritten === 1 ? '' : 's'} written meanwhile` : '';
  return `no events for ${Math.round(stalledMs / 1000)} s: waiting on ${waiting}${files}`;
}

export class RunProgress implements PipelineObserver {
  private eventsRead = 0;
  private lastEventAt: number;
  private filesSinceLastEvent = 0;
  private readonly lagBy = new Map<string, number>();
  private readonly owned = new Set<string>();
  private readonly busy = new Map<string, Activity[]>();
  private pendingResumes = new Map<string, ResumePoint>();
  private resumeTimer: NodeJS.Timeout | undefined;
  private caughtUpSaid = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly progress: Progress,
    private readonly label = 'processing',
    private readonly now: () => number = Date.now,
  ) {
    this.lastEventAt = now();
  }

  start(intervalMs = 1000): void {
    this.progress.start(this.label, 'events');
    this.timer = setInterval(() => this.tick(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.flushResumes();
    this.tick();
    this.progress.note('');
    this.progress.end();
  }

  /**
   * Events read plus what the partitions still hold. Percentage needs every owned partition's end; until each has
   * reported one the total is unknown. A released partition holds nothing more for this run.
   */
  total(): number | undefined {
    if (this.lagBy.size === 0 || [...this.owned].some((p) => !this.lagBy.has(p))) return undefined;
    let left = 0;
    for (const lag of this.lagBy.values()) left += lag;
    return this.eventsRead + left;
  }

  tick(): void {
    this.progress.update({ done: this.eventsRead, total: this.total() });
    const stalled = this.now() - this.lastEventAt;
    const busy = new Map([...this.busy].map(([p, activities]) => [p, activities[activities.length - 1]!] as const));
    if (stalled < STALL_MS || this.owned.size === 0) this.progress.note('');
    // a new line only when what the run waits on changes kind, not as the seconds and partitions tick by
    else this.progress.note(describeStall(stalled, busy, this.filesSinceLastEvent), [...new Set(busy.values())].sort().join(','));
  }

  /** The handler the source calls, reporting to this object and otherwise unchanged. */
  wrap(inner: PartitionHandler): PartitionHandler {
    // A source may have several batches of one partition in flight; a partition shows its latest activity.
    const during = async <T>(stream: string, partition: string, activity: Activity, work: () => Promise<T>): Promise<T> => {
      const key = id(stream, partition);
      const activities = this.busy.get(key) ?? [];
      activities.push(activity);
      this.busy.set(key, activities);
      try {
        return await work();
      } finally {
        activities.splice(activities.indexOf(activity), 1);
        if (activities.length === 0) this.busy.delete(key);
      }
    };
    const wrapped: PartitionHandler = {
      ...(inner.takesCaptureBlocks ? { takesCaptureBlocks: true } : {}),
      onAssigned: async (stream, partition, feed) => {
        const resume = await during(stream, partition, 'restoring its snapshot', () => inner.onAssigned(stream, partition, feed));
        this.owned.add(id(stream, partition));
        this.noteResume(id(stream, partition), resume);
        return resume;
      },
      onBatch: (batch: PartitionBatch): Promise<void> => during(batch.stream, batch.partition, 'processing a full window of batches', () => inner.onBatch(batch)),
      ...(inner.onReadFailed ? { onReadFailed: inner.onReadFailed.bind(inner) } : {}),
      onRevoked: async (stream, partition, reason) => {
        await during(stream, partition, 'releasing', () => inner.onRevoked(stream, partition, reason));
        this.owned.delete(id(stream, partition));
        if (this.lagBy.has(id(stream, partition))) this.lagBy.set(id(stream, partition), 0);
      },
    };
    if (inner.onCaughtUp) {
      const caughtUp = inner.onCaughtUp.bind(inner);
      wrapped.onCaughtUp = (stream, partition) => {
        if (!this.caughtUpSaid) {
          this.caughtUpSaid = true;
          this.progress.stage(`${id(stream, partition)} caught up with the source: writing open files as partitions catch up`);
        }
        return during(stream, partition, 'writing open files after catching up', () => caughtUp(stream, partition));
      };
    }
    return wrapped;
  }

  private noteResume(partition: string, resume: ResumePoint): void {
    this.pendingResumes.set(partition, resume);
    // assignments come in a burst; one summary line for the burst
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.resumeTimer = setTimeout(() => this.flushResumes(), RESUME_SETTLE_MS);
    this.resumeTimer.unref();
  }

  private flushResumes(): void {
    this.resumeTimer = undefined;
    if (this.pendingResumes.size === 0) return;
    for (const line of describeResumes(this.pendingResumes)) this.progress.stage(line);
    this.pendingResumes = new Map();
  }

  eventsIn(_stream: string, _partition: string, count: number): void {
    if (count === 0) return;
    this.eventsRead += count;
    this.lastEventAt = this.now();
    this.filesSinceLastEvent = 0;
  }
  lag(stream: string, partition: string, events: number): void {
    this.lagBy.set(id(stream, partition), events);
  }
  fileWritten(): void {
    this.filesSinceLastEvent++;
  }
  duplicates(): void {}
  rowsLanded(): void {}
  deadLettered(): void {}
  batchProcessed(): void {}
  watermark(): void {}
  checkpointed(): void {}
}
