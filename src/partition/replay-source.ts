/**
 * A Source that replays a sample partitioned by one candidate key, so the real pipeline (decode, aggregate,
 * sink, commit protocol) processes it exactly as it would process a hub partitioned that way.
 *
 * The replay runs in rounds. Each round the next events of the sample arrive, in sample order, routed to their
 * partitions: `offeredLoad` times what perfectly balanced partitions could take per round (partitions x
 * batchSize). Then every partition with events waiting processes one batch of at most `batchSize`, in order, all
 * partitions concurrently, the way one consumer owns one partition and reads it sequentially. A partition that
 * receives more than its share cannot catch up inside the round and builds a backlog: its lag.
 *
 * Lag in events (the backlog) follows from the rounds alone, so it is the same on every machine. Lag in time is
 * measured: how long each partition still needed after the last event of the sample had arrived (catch-up), and
 * the longest any event waited from arrival until the pipeline had processed its batch.
 */
import { setMaxListeners } from 'node:events';
import { abortError } from '../core/errors.js';
import type { PartitionHandler, RunOptions, Source, SourceEvent } from '../core/source.js';
import { candidateKey, partitionForKey, type KeyCandidate, type PartitionHash } from './key-candidate.js';
import type { MeasuredPartition } from './measured.js';
import type { SampleEvent } from './sample.js';

export interface ReplayOptions {
  readonly stream: string;
  readonly candidate: KeyCandidate;
  readonly partitionCount: number;
  readonly hash: PartitionHash;
  /** Events one partition processes per round. */
  readonly batchSize: number;
  /** Arrivals per round as a share of partitionCount x batchSize; below 1 so balanced partitions keep up. */
  readonly offeredLoad: number;
  /** Time source (performance.now by default). */
  readonly now?: () => number;
}

export interface ReplayStats {
  readonly rounds: number;
  readonly wallMs: number;
  readonly partitions: readonly MeasuredPartition[];
}

interface Waiting {
  event: SourceEvent;
  arrivedAt: number;
}

interface PartitionState {
  readonly id: string;
  readonly queue: Waiting[];
  /** index of the next waiting event in `queue` (a moving head instead of shift()) */
  head: number;
  nextPosition: number;
  events: number;
  maxLagEvents: number;
  maxLagMs: number;
  drainedAt: number;
}

export class PartitionedReplaySource implements Source {
  readonly description: string;
  private lastStats: ReplayStats | undefined;

  constructor(private readonly events: readonly SampleEvent[], private readonly options: ReplayOptions) {
    if (!(options.offeredLoad > 0)) throw new RangeError(`offeredLoad must be positive, got ${options.offeredLoad}`);
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${options.batchSize}`);
    this.description = `sample of ${events.length} events keyed by ${options.candidate.name} over ${options.partitionCount} partitions`;
  }

  /** What the last run measured; undefined before a run completed. */
  get stats(): ReplayStats | undefined {
    return this.lastStats;
  }

  async run(handler: PartitionHandler, options: RunOptions): Promise<void> {
    const { partitionCount } = this.options;
    // Every partition's in-flight batch listens on the signal (decode tasks, writes); with many partitions that is
    // more than Node's default of 10 listeners, which is expected here, not a leak.
    const linked = new AbortController();
    setMaxListeners(partitionCount * 4 + 16, linked.signal);
    const forward = (): void => linked.abort(options.signal.reason);
    if (options.signal.aborted) forward();
    else options.signal.addEventListener('abort', forward, { once: true });
    try {
      await this.replay(handler, linked.signal);
    } finally {
      options.signal.removeEventListener('abort', forward);
    }
  }

  private async replay(handler: PartitionHandler, signal: AbortSignal): Promise<void> {
    const { stream, partitionCount, batchSize } = this.options;
    const now = this.options.now ?? (() => performance.now());
    const partitions: PartitionState[] = Array.from({ length: partitionCount }, (_, p) => ({
      id: String(p),
      queue: [],
      head: 0,
      nextPosition: 0,
      events: 0,
      maxLagEvents: 0,
      maxLagMs: 0,
      drainedAt: 0,
    }));
    // A fresh lake has no snapshot; if the pipeline does have one, resume where it says, as a real source would.
    // The measured run lands in a throwaway lake: there is no source position to commit.
    const feed = { commit: async (): Promise<void> => undefined };
    const resume = await Promise.all(partitions.map((p) => handler.onAssigned(stream, p.id, feed)));
    const skipBelow = resume.map((r) => r?.position ?? 0);

    const arrivalsPerRound = Math.max(1, Math.round(this.options.offeredLoad * partitionCount * batchSize));
    const started = now();
    let next = 0;
    let rounds = 0;
    let keyless = 0;
    let revoked = false;
    let inputEnded = started;
    try {
      for (;;) {
        if (signal.aborted) throw abortError(signal);
        const roundStart = now();
        const arriveUntil = Math.min(this.events.length, next + arrivalsPerRound);
        if (next < this.events.length && arriveUntil === this.events.length) inputEnded = roundStart;
        for (; next < arriveUntil; next++) {
          const sample = this.events[next]!;
          const key = candidateKey(this.options.candidate, sample.fields);
          const p = key === null ? keyless++ % partitionCount : partitionForKey(this.options.hash, key, partitionCount);
          const partition = partitions[p]!;
          const position = partition.nextPosition++;
          partition.events++;
          if (position < skipBelow[p]!) continue;
          partition.queue.push({
            arrivedAt: roundStart,
            event: {
              body: sample.body,
              position,
              offset: String(position),
              enqueuedTimeMs: sample.enqueuedTimeMs,
              partitionKey: key,
              properties: sample.properties,
            },
          });
        }
        const busy = partitions.filter((p) => p.head < p.queue.length);
        if (busy.length === 0 && next >= this.events.length) break;
        rounds++;
        await Promise.all(
          busy.map(async (partition) => {
            const taken = partition.queue.slice(partition.head, partition.head + batchSize);
            partition.head += taken.length;
            if (signal.aborted) throw abortError(signal);
            await handler.onBatch({ stream, partition: partition.id, events: taken.map((w) => w.event) });
            const done = now();
            for (const waiting of taken) partition.maxLagMs = Math.max(partition.maxLagMs, done - waiting.arrivedAt);
            if (partition.head === partition.queue.length) {
              partition.drainedAt = done - started;
              // Release processed events; the queue only ever holds the backlog.
              partition.queue.length = 0;
              partition.head = 0;
            }
          }),
        );
        for (const partition of partitions) {
          partition.maxLagEvents = Math.max(partition.maxLagEvents, partition.queue.length - partition.head);
        }
      }
      if (handler.onCaughtUp) await Promise.all(partitions.map((p) => handler.onCaughtUp!(stream, p.id)));
      const wallMs = now() - started;
      await Promise.all(partitions.map((p) => handler.onRevoked(stream, p.id, 'shutdown')));
      revoked = true;
      this.lastStats = {
        rounds,
        wallMs,
        partitions: partitions.map((p, index) => ({
          partition: index,
          events: p.events,
          maxLagEvents: p.maxLagEvents,
          maxLagMs: p.maxLagMs,
          drainedAtMs: p.drainedAt,
          catchUpMs: p.events > 0 ? Math.max(0, started + p.drainedAt - inputEnded) : 0,
        })),
      };
    } finally {
      if (!revoked) {
        // Release ownership on failure or abort too; the failure itself still propagates.
        await Promise.allSettled(partitions.map((p) => handler.onRevoked(stream, p.id, 'shutdown')));
      }
    }
  }
}
