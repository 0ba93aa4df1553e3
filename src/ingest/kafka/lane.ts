/**
 * One owned partition between the fetcher and the handler: fetched events wait here (bounded; the source pauses
 * the partition when the lane is full) until the partition's processing loop takes them. Keeping this queue per
 * partition is what lets a slow partition stall only itself: kafkajs fetches the next round only after every
 * batch of the last one has been handed over, so handing over must be quick.
 */
import type { SourceEvent } from '../../core/source.js';

export interface LaneStats {
  stream: string;
  topic: string;
  partition: number;
  queuedEvents: number;
  paused: boolean;
  /** next offset to fetch: events below it have been queued */
  nextFetchOffset: number;
  /** every position below this has been processed by the handler */
  processedBelow: number;
  /** last committed offset, or undefined before the first commit */
  committedBelow: number | undefined;
}

export class PartitionLane {
  private readonly queue: SourceEvent[] = [];
  private head = 0;
  private wake: (() => void) | undefined;
  private stopped = false;
  /** A rebalance is in progress: take no new work until the new assignment says whether we keep the partition. */
  held = false;
  paused = false;
  /** set once onAssigned resolved and the start offset is known */
  ready = false;
  revoked = false;
  /** a check of the partition's log start is under way (records deleted before they were read) */
  checkingDeleted = false;
  caughtUp = false;
  nextFetchOffset = 0;
  /** the partition's high watermark as last fetched (-1 until known), for lag */
  highWatermark = -1;
  processedBelow = 0;
  /** where reading stops (a range replay's end): events at or past it are never queued */
  private end = Number.POSITIVE_INFINITY;
  /** bounded: the position the run reads up to (the high-water mark at the start, or `end` if lower); else none */
  private target = Number.POSITIVE_INFINITY;
  committedBelow: number | undefined;
  pendingCommit: { position: number; offset: string } | undefined;
  /** onAssigned resolved: the handler owns the partition until onRevoked */
  handlerOwns = false;
  /** assignment in progress (onAssigned, offset lookup, seek) */
  setup: Promise<void> | undefined;
  /** the processing loop, once started */
  loop: Promise<void> | undefined;
  readonly abort = new AbortController();

  constructor(
    readonly stream: string,
    readonly topic: string,
    readonly partition: number,
  ) {}

  get key(): string {
    return laneKey(this.topic, this.partition);
  }

  get queuedEvents(): number {
    return this.queue.length - this.head;
  }

  /**
   * Starts the lane at `offset`: nothing below it is fetched or processed, nothing at or past `end` is queued, and
   * (bounded) the lane is done once everything below `target` is.
   */
  start(offset: number, end = Number.POSITIVE_INFINITY, target = Number.POSITIVE_INFINITY): void {
    this.nextFetchOffset = offset;
    this.processedBelow = offset;
    this.end = end;
    this.target = Math.min(target, end);
    this.ready = true;
  }

  /** Everything below the lane's end has been fetched: fetch no more. */
  get fetchedToEnd(): boolean {
    return this.nextFetchOffset >= this.end;
  }

  /** Queues fetched events in order, dropping redeliveries below the fetch position and events at or past the end. */
  enqueue(events: SourceEvent[], nextOffset: number): void {
    for (const event of events) if (event.position >= this.nextFetchOffset && event.position < this.end) this.queue.push(event);
    this.nextFetchOffset = Math.max(this.nextFetchOffset, nextOffset);
    this.notify();
  }

  /**
   * kafkajs passed over offsets [first, last] that hold no event (a transaction's commit or abort marker, aborted
   * records) without handing them over: the fetch position moves past them, if they follow on from it.
   */
  skip(first: number, last: number): void {
    if (first > this.nextFetchOffset || last < this.nextFetchOffset) return;
    this.nextFetchOffset = last + 1;
    this.notify();
  }

  /** Resolves with up to `max` events, or undefined once the lane is stopped. Waits while empty or held. */
  async take(max: number): Promise<SourceEvent[] | undefined> {
    while (!this.stopped && (this.held || (this.queuedEvents === 0 && !this.reachedTarget))) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
    if (this.stopped) return undefined;
    if (this.queuedEvents === 0) {
      // Fetched to the target, and every event below it taken (and, the caller's loop being sequential, processed):
      // the offsets between the last event and the target hold none (markers, aborted records, compaction's gaps).
      this.processedBelow = this.target;
      return [];
    }
    const end = Math.min(this.queue.length, this.head + max);
    const events = this.queue.slice(this.head, end);
    this.head = end;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    return events;
  }

  /** bounded: everything below the target is processed */
  get processedToTarget(): boolean {
    return this.processedBelow >= this.target;
  }

  /** fetched to the target, with offsets below it not yet marked processed */
  private get reachedTarget(): boolean {
    return this.nextFetchOffset >= this.target && this.processedBelow < this.target;
  }

  /** Wakes a waiting take() (new events, released hold). */
  notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Stops the lane: queued events are dropped (the next owner fetches them again), take() returns undefined. */
  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
    this.head = 0;
    this.notify();
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  stats(): LaneStats {
    return {
      stream: this.stream,
      topic: this.topic,
      partition: this.partition,
      queuedEvents: this.queuedEvents,
      paused: this.paused,
      nextFetchOffset: this.nextFetchOffset,
      processedBelow: this.processedBelow,
      committedBelow: this.committedBelow,
    };
  }
}

export const laneKey = (topic: string, partition: number): string => `${topic}/${partition}`;
