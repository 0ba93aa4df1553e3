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

  /** Starts the lane at `offset`: nothing below it is fetched or processed, nothing at or past `end` either. */
  start(offset: number, end = Number.POSITIVE_INFINITY): void {
    this.nextFetchOffset = offset;
    this.processedBelow = Math.min(offset, end);
    this.end = end;
    this.ready = true;
  }

  /** Everything below the lane's end has been fetched: fetch no more. */
  get fetchedToEnd(): boolean {
    return this.nextFetchOffset >= this.end;
  }

  /**
   * Queues fetched events in order, dropping redeliveries below the fetch position and events at or past the end.
   * A fetch that reaches the end with nothing left to queue marks everything below it processed once the queue
   * drains (take answers an empty batch), so a partition whose range ends in a gap of offsets still finishes.
   */
  enqueue(events: SourceEvent[], nextOffset: number): void {
    for (const event of events) if (event.position >= this.nextFetchOffset && event.position < this.end) this.queue.push(event);
    this.nextFetchOffset = Math.max(this.nextFetchOffset, nextOffset);
    this.notify();
  }

  /** Resolves with up to `max` events, or undefined once the lane is stopped. Waits while empty or held. */
  async take(max: number): Promise<SourceEvent[] | undefined> {
    while (!this.stopped && (this.held || (this.queuedEvents === 0 && !this.reachedEnd))) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
    if (this.stopped) return undefined;
    if (this.queuedEvents === 0) {
      // fetched past the end, and every event below it taken (and, the caller's loop being sequential, processed)
      this.processedBelow = this.end;
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

  /** fetched to the end, with something below the end still to mark processed */
  private get reachedEnd(): boolean {
    return this.fetchedToEnd && this.processedBelow < this.end;
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
