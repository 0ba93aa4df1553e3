/**
 * One run of the Kafka source: a kafkajs consumer-group member whose partitions feed the PartitionHandler.
 *
 * - Fetching and processing are decoupled: eachBatch only queues into the partition's lane, and a loop per owned
 *   partition calls handler.onBatch in order. kafkajs keeps fetching and heartbeating meanwhile, so a long batch
 *   never costs the group membership; a lane that fills up pauses its partition (backpressure), and resumes when
 *   it has drained to half.
 * - Assignment (GROUP_JOIN): new partitions are paused at once, restored through onAssigned, sought to the resume
 *   point (the snapshot's position, else the group's committed offset, else `startFrom`) and resumed. Partitions
 *   kept across a rebalance are sought back to where their lane stands, because kafkajs restarts every partition
 *   at its committed offset after a rejoin. Partitions no longer assigned stop at once: queued events are dropped,
 *   the in-flight batch is aborted, onRevoked(..., 'lost') is called and nothing more is committed for them.
 * - Offsets are committed only from a batch's `commitBelow` (the processor has made everything below it durable),
 *   and only while the partition is ours. A commit the group refuses mid-rebalance stays pending and is retried
 *   after the rejoin; the snapshot, not the committed offset, decides where processing resumes.
 */
import type { Admin, Batch, Consumer, EachBatchPayload } from 'kafkajs';
import { TributaryError, errorMessage, isRestartable } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { PartitionFeed, PartitionHandler } from '../../core/source.js';
import type { KafkaStartFrom } from './config.js';
import { isMembershipLost, translateKafkaError } from './errors.js';
import { PartitionLane, laneKey, type LaneStats } from './lane.js';
import { toSourceEvent } from './records.js';

const EARLIEST_SENTINEL = -2;

export interface GroupRunOptions {
  consumer: Consumer;
  admin: Admin;
  groupId: string;
  /** topic -> stream */
  streams: ReadonlyMap<string, string>;
  startFrom: KafkaStartFrom;
  handler: PartitionHandler;
  signal: AbortSignal;
  /** bounded mode: topic -> partition -> high-water mark seen at start */
  targets: ReadonlyMap<string, ReadonlyMap<number, number>> | undefined;
  /** bounded mode: per partition, a position at which reading stops if it comes first (a range replay's end; see KafkaSourceOptions) */
  until?: (stream: string, partition: string) => number | undefined;
  batchSize: number;
  maxQueuedEvents: number;
  log: Logger;
}

export class GroupRun {
  private readonly lanes = new Map<string, PartitionLane>();
  /** setups and revocations in progress; awaited before shutdown finishes */
  private readonly background = new Set<Promise<void>>();
  /** revocations still finishing, by lane key: a partition regained meanwhile waits for its old lane to let go */
  private readonly revoking = new Map<string, Promise<void>>();
  private assignedOnce = false;
  private rebalancing = false;
  private stopping = false;
  private failure: TributaryError | undefined;
  private finished!: () => void;
  private readonly done: Promise<void>;
  private offsetLookups = new Map<string, Promise<Map<number, number>>>();

  constructor(private readonly options: GroupRunOptions) {
    this.done = new Promise((resolve) => {
      this.finished = resolve;
    });
  }

  stats(): LaneStats[] {
    return [...this.lanes.values()].map((lane) => lane.stats());
  }

  /** Joins the group and feeds the handler until bounded mode caught up, the signal aborted or a fault. */
  async run(): Promise<void> {
    const { consumer, signal } = this.options;
    const onAbort = (): void => this.finished();
    signal.addEventListener('abort', onAbort, { once: true });
    const listeners = [
      consumer.on(consumer.events.GROUP_JOIN, (event) => this.onAssignment(event.payload.memberAssignment)),
      consumer.on(consumer.events.REBALANCING, () => this.onRebalancing()),
      consumer.on(consumer.events.CRASH, (event) => this.onCrash(event.payload.error, event.payload.restart)),
      consumer.on(consumer.events.END_BATCH_PROCESS, (event) => this.onPassedOver(event.payload)),
    ];
    try {
      if (!signal.aborted) {
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: true,
          eachBatch: async (payload: EachBatchPayload) => this.onFetched(payload.batch),
        });
        await this.done;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      await this.shutdown();
      for (const remove of listeners) remove();
    }
    if (this.failure) throw this.failure;
  }

  private fail(error: unknown, context: string): void {
    if (this.failure) return;
    this.failure = translateKafkaError(error, context);
    this.options.log.error({ err: this.failure }, 'kafka source failed');
    this.finished();
  }

  private track(work: Promise<void>): void {
    this.background.add(work);
    void work.finally(() => this.background.delete(work));
  }

  // ---------------------------------------------------------------- group events

  private onAssignment(assignment: Record<string, number[] | undefined>): void {
    if (this.stopping) return;
    this.assignedOnce = true;
    this.rebalancing = false;
    this.offsetLookups = new Map();
    const { consumer, streams } = this.options;
    const assigned = new Set<string>();
    for (const [topic, partitions] of Object.entries(assignment)) {
      if (!streams.has(topic)) continue;
      for (const partition of partitions ?? []) assigned.add(laneKey(topic, partition));
    }
    for (const lane of [...this.lanes.values()]) {
      if (!assigned.has(lane.key)) this.revoke(lane);
    }
    for (const [topic, partitions] of Object.entries(assignment)) {
      const stream = streams.get(topic);
      if (stream === undefined) continue;
      for (const partition of partitions ?? []) {
        const kept = this.lanes.get(laneKey(topic, partition));
        if (kept) {
          // kafkajs restarts every partition at its committed offset after a rejoin; this lane is further along.
          if (kept.ready) consumer.seek({ topic, partition, offset: String(kept.nextFetchOffset) });
          kept.held = false;
          kept.notify();
          if (kept.pendingCommit) this.track(this.flushCommit(kept));
        } else {
          const lane = new PartitionLane(stream, topic, partition);
          this.lanes.set(lane.key, lane);
          // Nothing may be fetched before the resume point is known.
          this.pause(lane);
          lane.setup = this.setUp(lane);
          this.track(lane.setup);
        }
      }
    }
    this.options.log.info({ partitions: [...assigned].sort() }, 'kafka partitions assigned');
    this.checkCaughtUp();
  }

  private onRebalancing(): void {
    this.rebalancing = true;
    for (const lane of this.lanes.values()) lane.held = true;
  }

  private onCrash(error: Error, restart: boolean): void {
    if (this.stopping) return;
    // kafkajs left the group before reporting the crash: every partition is gone.
    for (const lane of [...this.lanes.values()]) this.revoke(lane);
    if (restart) {
      this.options.log.warn({ err: translateKafkaError(error, 'consumer') }, 'kafka consumer crashed; kafkajs restarts it');
      return;
    }
    this.fail(error, 'consumer stopped');
  }

  // ---------------------------------------------------------------- partitions

  private async setUp(lane: PartitionLane): Promise<void> {
    const { handler, consumer, log } = this.options;
    try {
      await this.revoking.get(lane.key);
      if (lane.revoked || this.stopping) return;
      const feed: PartitionFeed = { commit: (position, offset) => this.commit(lane, { position, offset }) };
      const resume = await handler.onAssigned(lane.stream, String(lane.partition), feed);
      lane.handlerOwns = true;
      const start = resume?.position ?? (await this.startOffset(lane.topic, lane.partition));
      if (lane.revoked || this.stopping) return;
      lane.start(start, this.options.until?.(lane.stream, String(lane.partition)), this.options.targets?.get(lane.topic)?.get(lane.partition));
      consumer.seek({ topic: lane.topic, partition: lane.partition, offset: String(start) });
      // a partition that starts at its end (a range that lies behind its snapshot) has nothing to fetch
      if (!lane.fetchedToEnd) {
        consumer.resume([{ topic: lane.topic, partitions: [lane.partition] }]);
        lane.paused = false;
      }
      lane.held = this.rebalancing;
      log.info({ stream: lane.stream, topic: lane.topic, partition: lane.partition, offset: start, from: resume ? 'snapshot' : 'group' }, 'kafka partition starts');
      lane.loop = this.process(lane);
      this.checkCaughtUp();
    } catch (error) {
      if (!lane.revoked) this.fail(error, `assigning ${lane.topic}/${lane.partition}`);
    }
  }

  /** The group's committed offset, else the configured start. */
  private async startOffset(topic: string, partition: number): Promise<number> {
    const { admin, groupId, startFrom } = this.options;
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    const offset = Number(committed.find((t) => t.topic === topic)?.partitions.find((p) => p.partition === partition)?.offset ?? -1);
    if (offset >= 0) return offset;
    // kafkajs's admin.resetOffsets({ earliest: true }) commits the sentinel -2 itself.
    const offsets = await this.lookupStart(topic, offset === EARLIEST_SENTINEL ? 'earliest' : startFrom);
    const start = offsets.get(partition);
    if (start === undefined) throw new TributaryError('BROKER_PERMANENT', `kafka: no offsets for ${topic}/${partition}`);
    return start;
  }

  private lookupStart(topic: string, startFrom: KafkaStartFrom): Promise<Map<number, number>> {
    let lookup = this.offsetLookups.get(topic);
    if (!lookup) {
      const { admin } = this.options;
      lookup = (async () => {
        if (typeof startFrom === 'object') {
          const at = typeof startFrom.timestamp === 'number' ? startFrom.timestamp : Date.parse(startFrom.timestamp);
          const offsets = await admin.fetchTopicOffsetsByTimestamp(topic, at);
          return new Map(offsets.map((o) => [o.partition, Number(o.offset)]));
        }
        const offsets = await admin.fetchTopicOffsets(topic);
        return new Map(offsets.map((o) => [o.partition, Number(startFrom === 'earliest' ? o.low : o.high)]));
      })();
      this.offsetLookups.set(topic, lookup);
    }
    return lookup;
  }

  private onFetched(batch: Batch): void {
    const lane = this.lanes.get(laneKey(batch.topic, batch.partition));
    if (!lane || !lane.ready || lane.isStopped) return;
    lane.highWatermark = Number(batch.highWatermark);
    // A fetch made from beyond where this lane stands was started before a seek back (a restart from the snapshot,
    // a rebalance): its events would leave a hole between the lane's position and theirs. The fetch from the
    // lane's position follows. (Regression: positions right after a cell boundary lost after a rebalance.)
    const fetchedOffset = (batch as Batch & { fetchedOffset?: string }).fetchedOffset;
    if (fetchedOffset !== undefined && Number(fetchedOffset) > lane.nextFetchOffset) {
      this.checkDeleted(lane);
      return;
    }
    // kafkajs fetches next after the batch's last offset, control records and aborted messages included.
    lane.enqueue(batch.messages.map(toSourceEvent), Number(batch.lastOffset()) + 1);
    if (!lane.paused && (lane.queuedEvents >= this.options.maxQueuedEvents || lane.fetchedToEnd)) this.pause(lane);
  }

  /**
   * A fetch whose offsets hold no event (only a transaction's markers or aborted records) is not handed to
   * eachBatch; kafkajs moves its own position past it and reports it here. A bounded run waits for the lane to reach
   * its target, and a partition written in transactions ends in a marker: without this it never would.
   */
  private onPassedOver(batch: { topic: string; partition: number; batchSize: number; firstOffset: string | null; lastOffset: string }): void {
    if (batch.batchSize > 0 || batch.firstOffset === null) return;
    const lane = this.lanes.get(laneKey(batch.topic, batch.partition));
    if (!lane || !lane.ready || lane.isStopped) return;
    lane.skip(Number(batch.firstOffset), Number(batch.lastOffset));
    if (!lane.paused && lane.fetchedToEnd) this.pause(lane);
  }

  /**
   * A fetch from beyond the lane is usually one started before a seek back, and the seek's fetch follows. But the
   * broker may have deleted the records the lane waits for (retention): its fetch is then OFFSET_OUT_OF_RANGE, and
   * kafkajs commits the sentinel -2 and fetches from the new log start, so the lane would wait for ever. Checked
   * against the partition's log start; records gone before they were read fail the run, naming them, rather than
   * being skipped without a word.
   */
  private checkDeleted(lane: PartitionLane): void {
    if (lane.checkingDeleted) return;
    lane.checkingDeleted = true;
    const { admin, groupId } = this.options;
    const check = (async () => {
      const offsets = await admin.fetchTopicOffsets(lane.topic);
      const low = Number(offsets.find((o) => o.partition === lane.partition)?.low ?? 0);
      if (lane.revoked || lane.isStopped || low <= lane.nextFetchOffset) return;
      this.fail(
        new TributaryError(
          'BROKER_PERMANENT',
          `kafka: records ${lane.nextFetchOffset}..${low - 1} of ${lane.topic}/${lane.partition} were deleted by the broker (retention.ms or retention.bytes of the topic) ` +
            `before group ${groupId} read them; the partition now starts at ${low}. Nothing is skipped silently: to go on without them, move the group ` +
            `to the new start (tributary reset --to-earliest --partitions ${lane.partition} --execute).`,
        ),
        `reading ${lane.topic}/${lane.partition}`,
      );
    })()
      .catch((error: unknown) => this.options.log.warn({ topic: lane.topic, partition: lane.partition, reason: errorMessage(error) }, 'kafka: could not read the log start offset'))
      .finally(() => {
        lane.checkingDeleted = false;
      });
    this.track(check);
  }

  /** The partition's loop: hands batches over in order until the lane stops (the driver commits through the feed). */
  private async process(lane: PartitionLane): Promise<void> {
    const { handler, consumer, batchSize, maxQueuedEvents, signal } = this.options;
    const partition = String(lane.partition);
    try {
      for (;;) {
        await this.maybeCaughtUp(lane);
        const events = await lane.take(batchSize);
        if (!events) return;
        if (events.length === 0) continue;
        const endPosition = lane.highWatermark >= 0 ? lane.highWatermark - 1 : undefined;
        await handler.onBatch({ stream: lane.stream, partition, events, ...(endPosition !== undefined ? { endPosition } : {}) });
        lane.processedBelow = events[events.length - 1]!.position + 1;
        if (lane.paused && !lane.caughtUp && !lane.isStopped && !lane.fetchedToEnd && lane.queuedEvents <= maxQueuedEvents / 2) {
          consumer.resume([{ topic: lane.topic, partitions: [lane.partition] }]);
          lane.paused = false;
        }
      }
    } catch (error) {
      // A batch cut short because the partition was revoked or the run is stopping is not a fault.
      const cutShort = lane.revoked || signal.aborted || (error instanceof TributaryError && (error.code === 'ABORTED' || error.code === 'OWNERSHIP_LOST'));
      if (cutShort) return;
      if (isRestartable(error) && !this.stopping) this.restart(lane);
      else this.fail(error, `processing ${lane.topic}/${lane.partition}`);
    }
  }

  /**
   * The partition failed (its processor is discarded): release it and set it up again, which restores its last
   * snapshot (after the router's backoff) and seeks back to that position.
   */
  private restart(failed: PartitionLane): void {
    this.options.log.warn({ topic: failed.topic, partition: failed.partition }, 'kafka partition restarts from its last snapshot');
    this.revoke(failed, 'shutdown');
    const lane = new PartitionLane(failed.stream, failed.topic, failed.partition);
    this.lanes.set(lane.key, lane);
    this.pause(lane);
    lane.setup = this.setUp(lane);
    this.track(lane.setup);
  }

  private pause(lane: PartitionLane): void {
    this.options.consumer.pause([{ topic: lane.topic, partitions: [lane.partition] }]);
    lane.paused = true;
  }

  private async maybeCaughtUp(lane: PartitionLane): Promise<void> {
    if (lane.caughtUp || lane.queuedEvents > 0 || !lane.processedToTarget) return;
    const { handler } = this.options;
    // Bounded: what arrived after the start is not this run's; stop fetching it.
    this.pause(lane);
    if (handler.onCaughtUp) await handler.onCaughtUp(lane.stream, String(lane.partition));
    lane.caughtUp = true;
    this.checkCaughtUp();
  }

  /**
   * Bounded: done once every partition this member owns has reached its target. A member that owns none is not
   * done: the partitions belong to others that may finish (their targets, read at their start, can be lower than
   * ours) and leave, and the rebalance then hands them here to be read up to our targets. Ending on an empty
   * assignment lost exactly those events.
   */
  private checkCaughtUp(): void {
    if (!this.options.targets || !this.assignedOnce || this.rebalancing) return;
    if (this.lanes.size === 0) {
      this.options.log.info({ groupId: this.options.groupId }, 'kafka: bounded run owns no partition; waiting for one (other members hold them all)');
      return;
    }
    if ([...this.lanes.values()].every((lane) => lane.caughtUp)) this.finished();
  }

  private revoke(lane: PartitionLane, reason: 'lost' | 'shutdown' = 'lost'): void {
    lane.revoked = true;
    lane.stop();
    lane.abort.abort(new TributaryError('OWNERSHIP_LOST', `partition ${lane.topic}/${lane.partition} was assigned to another member`));
    this.lanes.delete(lane.key);
    const { handler, log } = this.options;
    const previous = this.revoking.get(lane.key);
    const released = (async () => {
      await previous;
      await lane.setup;
      await lane.loop;
      if (lane.handlerOwns) await handler.onRevoked(lane.stream, String(lane.partition), reason);
      log.info({ stream: lane.stream, topic: lane.topic, partition: lane.partition }, 'kafka partition revoked');
    })().catch((error: unknown) => this.fail(error, `revoking ${lane.topic}/${lane.partition}`));
    this.revoking.set(lane.key, released);
    void released.finally(() => {
      if (this.revoking.get(lane.key) === released) this.revoking.delete(lane.key);
    });
    this.track(released);
  }

  // ---------------------------------------------------------------- commits

  private async commit(lane: PartitionLane, below: { position: number; offset: string }): Promise<void> {
    if (lane.revoked) throw new TributaryError('OWNERSHIP_LOST', `partition ${lane.topic}/${lane.partition} is no longer assigned to this member`);
    if (!lane.pendingCommit || below.position > lane.pendingCommit.position) lane.pendingCommit = below;
    await this.flushCommit(lane);
  }

  private async flushCommit(lane: PartitionLane): Promise<void> {
    const pending = lane.pendingCommit;
    if (!pending || lane.revoked) return;
    try {
      await this.options.consumer.commitOffsets([{ topic: lane.topic, partition: lane.partition, offset: String(pending.position) }]);
      if (lane.pendingCommit === pending) lane.pendingCommit = undefined;
      lane.committedBelow = Math.max(lane.committedBelow ?? 0, pending.position);
    } catch (error) {
      const translated = translateKafkaError(error, `committing ${lane.topic}/${lane.partition}`);
      if (isMembershipLost(error) || translated.retriable) {
        // The snapshot already records this position; the commit is retried after the rejoin or the next batch.
        this.options.log.warn({ topic: lane.topic, partition: lane.partition, offset: pending.position, reason: errorMessage(error) }, 'kafka commit deferred');
        return;
      }
      throw translated;
    }
  }

  // ---------------------------------------------------------------- shutdown

  /** Stops reading, lets in-flight batches end, releases every partition (flush), commits, leaves the group. */
  private async shutdown(): Promise<void> {
    this.stopping = true;
    const { consumer, handler, log } = this.options;
    const lanes = [...this.lanes.values()];
    if (lanes.length > 0) {
      try {
        consumer.pause(lanes.map((lane) => ({ topic: lane.topic, partitions: [lane.partition] })));
      } catch (error) {
        log.debug({ reason: errorMessage(error) }, 'pausing before shutdown failed (consumer not running)');
      }
    }
    for (const lane of lanes) lane.stop();
    while (this.background.size > 0) await Promise.all([...this.background]);
    await Promise.all(lanes.map((lane) => lane.loop));
    for (const lane of lanes) {
      if (!lane.handlerOwns) continue;
      try {
        await handler.onRevoked(lane.stream, String(lane.partition), 'shutdown');
        await this.flushCommit(lane);
      } catch (error) {
        this.fail(error, `releasing ${lane.topic}/${lane.partition}`);
      }
    }
    this.lanes.clear();
    try {
      await consumer.disconnect();
    } catch (error) {
      this.fail(error, 'leaving the group');
    }
  }
}
