/**
 * One stream = one event hub, read by an EventHubConsumerClient subscription whose load balancing shares the
 * hub's partitions with the other instances of the consumer group. The SDK's handlers map onto the
 * PartitionHandler contract:
 *
 * - processInitialize -> onAssigned; the partition starts at the resume point it returns, else right after the
 *   checkpoint, else at the configured start position (see position-book.ts for how the start reaches the SDK);
 * - processEvents -> onBatch, awaited, so a slow sink stops this partition's receiving (the SDK only prefetches
 *   up to its credit); a batch that returns `commitBelow` advances the checkpoint to the last done event;
 * - processClose -> onRevoked ('lost' when another reader took the partition, 'shutdown' otherwise), after the
 *   batch in flight settled; a lost partition's batch is aborted, a shutdown lets it finish.
 *
 * Bounded mode stops once every partition of the hub reached the last sequence number it had at start (or the
 * end given for it, when that comes first).
 *
 * Without a store (a range replay's reader) the client reads every partition with no owner level, keeping nothing
 * of ownership or checkpoints outside the process: commits are dropped.
 */
import type {
  Checkpoint,
  CheckpointStore,
  EventHubConsumerClient,
  EventPosition,
  PartitionContext,
  PartitionProperties,
  ReceivedEventData,
  Subscription,
} from '@azure/event-hubs';
import type { TokenCredential } from '@azure/identity';
import os from 'node:os';
import { TributaryError, errorMessage, isRestartable } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { DEFAULT_RETRY, withRetry, type RetryPolicy } from '../../core/retry.js';
import type { PartitionFeed, PartitionHandler } from '../../core/source.js';
import { OwnershipOnlyStore } from './checkpoint-stores.js';
import { createConsumerClient, sdkRetryOptions } from './client.js';
import type { EventHubsSourceConfig, HubPlan } from './config.js';
import { stopsTheRun, translateEventHubsError } from './errors.js';
import { toSourceEvent } from './event-mapping.js';
import { PositionBook } from './position-book.js';
import { nothingToRead, toEventPosition } from './start-position.js';

export interface StreamConsumerOptions {
  plan: HubPlan;
  config: EventHubsSourceConfig;
  /** the real store: ownership for the SDK, checkpoints for us; undefined: none (nothing is checkpointed) */
  store: CheckpointStore | undefined;
  /** bounded mode: per partition, the position to stop before when it comes before the partition's end */
  until?: ((partition: string) => number | undefined) | undefined;
  handler: PartitionHandler;
  bounded: boolean;
  /** aborted on shutdown (the run's signal) and on a fatal error anywhere in the source */
  signal: AbortSignal;
  /** reports a fault that must end the run */
  onFatal: (error: TributaryError) => void;
  log: Logger;
  credential?: TokenCredential | undefined;
  retry?: RetryPolicy;
}

/** One ownership period of one partition (one SDK partition processor). */
class Lease {
  readonly abort = new AbortController();
  assigned = false;
  closed = false;
  /** events below this position were processed already (resume point) or are being */
  nextPosition = 0;
  /** the sequence number the checkpoint holds */
  checkpointed = -1;
  inflight: Promise<void> | undefined;
  failure: TributaryError | undefined;
  /** a write was refused because a newer owner holds the partition (OWNERSHIP_LOST from the handler): whatever
   * reason the SDK closes with, the partition is lost, so nothing more is flushed for it */
  fencedOff = false;
  /** settles when initialize finished (a close waits for it, so it never misses an assignment) */
  initialized: Promise<void> = Promise.resolve();

  constructor(
    readonly partitionId: string,
    /** where the SDK keeps ownership and checkpoints of this partition (its namespace, hub, group) */
    readonly scope: Pick<Checkpoint, 'fullyQualifiedNamespace' | 'eventHubName' | 'consumerGroup'>,
  ) {}
}

export class StreamConsumer {
  private readonly leases = new WeakMap<PartitionContext, Lease>();
  /** the close of the previous lease per partition, which a new lease of it waits for */
  private readonly releasing = new Map<string, Promise<void>>();
  private readonly caughtUp = new Set<string>();
  private readonly handled = new WeakSet<object>();
  private readonly log: Logger;
  private readonly retry: RetryPolicy;
  private targets: Map<string, PartitionProperties> | undefined;
  private partitionIds: string[] = [];
  private book: PositionBook | undefined;
  private done: (() => void) | undefined;
  private fatal = false;

  constructor(private readonly options: StreamConsumerOptions) {
    this.log = options.log.child({ stream: options.plan.stream, hub: options.plan.hub });
    this.retry = options.retry ?? DEFAULT_RETRY;
  }

  /** Resolves when the signal aborts (or bounded mode caught up); faults go to `onFatal`. */
  async run(): Promise<void> {
    const { plan, config, signal } = this.options;
    if (signal.aborted) return;
    let client: EventHubConsumerClient | undefined;
    let subscription: Subscription | undefined;
    try {
      client = createConsumerClient(
        config,
        config.consumerGroup,
        plan.hub,
        this.options.store ? new OwnershipOnlyStore(this.options.store) : undefined,
        {
          identifier: config.identifier ?? `${os.hostname()}-${process.pid}`,
          retryOptions: sdkRetryOptions(config.clientRetry),
          loadBalancingOptions: {
            // A bounded run reads the whole hub: claim everything unowned at once.
            strategy: this.options.bounded ? 'greedy' : config.loadBalancing.strategy,
            updateIntervalInMs: config.loadBalancing.updateInterval,
            partitionOwnershipExpirationIntervalInMs: config.loadBalancing.ownershipExpiration,
          },
        },
        this.options.credential,
      );
      const consumer = client;
      const hub = await this.step('reading the hub properties', () => consumer.getEventHubProperties({ abortSignal: signal }));
      this.partitionIds = hub.partitionIds;
      if (this.options.bounded) {
        const targets = new Map<string, PartitionProperties>();
        for (const id of hub.partitionIds) {
          const properties = await this.step(`reading the properties of partition ${id}`, () => consumer.getPartitionProperties(id, { abortSignal: signal }));
          targets.set(id, cappedAt(properties, this.options.until?.(id)));
        }
        this.targets = targets;
        for (const [id, target] of targets) if (target.isEmpty) this.caughtUp.add(id);
        this.log.info({ targets: Object.fromEntries([...targets].map(([id, t]) => [id, t.lastEnqueuedSequenceNumber])) }, 'bounded run: reading up to these sequence numbers');
      }
      this.book = new PositionBook(hub.partitionIds, (id) => toEventPosition(plan.partitionStartPositions[id] ?? plan.startPosition));
      const finished = new Promise<void>((resolve) => {
        this.done = resolve;
        if (signal.aborted) resolve();
        signal.addEventListener('abort', () => resolve(), { once: true });
        if (this.allCaughtUp()) resolve();
      });
      subscription = consumer.subscribe(
        {
          processInitialize: (context) => this.initialize(context),
          processEvents: (events, context) => this.events(events, context),
          processClose: (reason, context) => this.close(reason === 'OwnershipLost' ? 'lost' : 'shutdown', context),
          processError: (error, context) => this.error(error, context),
        },
        {
          startPosition: this.book.positions,
          maxBatchSize: config.maxBatchSize,
          maxWaitTimeInSeconds: config.maxWaitTime / 1000,
          prefetchCount: config.prefetchCount,
          skipParsingBodyAsJson: true,
          // the last enqueued sequence number rides along with each receive: the lag metric comes from it
          trackLastEnqueuedEventProperties: true,
        },
      );
      this.log.info({ consumerGroup: config.consumerGroup, partitions: hub.partitionIds.length, bounded: this.options.bounded }, 'subscribed');
      await finished;
    } catch (error) {
      if (!signal.aborted || !(error instanceof TributaryError && error.code === 'ABORTED')) this.raise(translateEventHubsError(error, `event hub ${plan.hub}`));
    } finally {
      // Closing the subscription stops the pumps (each one's processClose -> onRevoked('shutdown')) and gives
      // up ownership so other instances take over at once instead of after the expiration.
      if (subscription) {
        await subscription.close().catch((error: unknown) => {
          this.log.warn({ err: error }, 'could not release partition ownership on close; it expires on its own');
        });
      }
      if (client) {
        await client.close().catch((error: unknown) => this.log.warn({ err: error }, 'event hubs client did not close cleanly'));
      }
    }
  }

  // --- SDK handlers ---------------------------------------------------------------------------------------

  private initialize(context: PartitionContext): Promise<void> {
    const lease = new Lease(context.partitionId, {
      fullyQualifiedNamespace: context.fullyQualifiedNamespace,
      eventHubName: context.eventHubName,
      consumerGroup: context.consumerGroup,
    });
    this.leases.set(context, lease);
    const run = this.assign(lease);
    lease.initialized = run.then(noop, noop);
    return run;
  }

  private async assign(lease: Lease): Promise<void> {
    const { handler, plan } = this.options;
    const partitionId = lease.partitionId;
    const previous = this.releasing.get(partitionId);
    if (previous) await previous;
    try {
      const feed: PartitionFeed = { commit: (position, offset) => this.commit(lease, { position, offset }) };
      const resume = await handler.onAssigned(plan.stream, partitionId, feed);
      lease.assigned = true;
      let position: EventPosition;
      if (resume) {
        position = { sequenceNumber: resume.position, isInclusive: true };
        lease.nextPosition = resume.position;
      } else {
        const checkpoint = await this.readCheckpoint(lease);
        if (checkpoint) {
          position = { sequenceNumber: checkpoint.sequenceNumber, isInclusive: false };
          lease.nextPosition = checkpoint.sequenceNumber + 1;
          lease.checkpointed = checkpoint.sequenceNumber;
        } else {
          position = toEventPosition(plan.partitionStartPositions[partitionId] ?? plan.startPosition);
        }
      }
      this.book!.set(partitionId, position);
      this.log.info({ partition: partitionId, start: position }, 'partition assigned');
      const target = this.targets?.get(partitionId);
      if (target && !this.caughtUp.has(partitionId) && nothingToRead(position, target)) await this.reachEnd(lease);
    } catch (error) {
      // A restartable failure (a store fault while restoring) waits for the SDK to start the partition again.
      if (isRestartable(error)) {
        lease.failure = error as TributaryError;
        this.handled.add(lease.failure);
      } else lease.failure = this.handlerFailure(error, `assigning partition ${partitionId}`);
      // Nothing of this partition is processed: its events are refused until the SDK restarts the partition.
      this.book!.set(partitionId, { offset: '@latest' });
      throw lease.failure;
    }
  }

  private async events(received: ReceivedEventData[], context: PartitionContext): Promise<void> {
    const lease = this.leases.get(context);
    if (!lease || lease.closed) return;
    if (lease.failure) throw lease.failure;
    const target = this.targets?.get(context.partitionId);
    if (target && this.caughtUp.has(context.partitionId)) return;
    let events = received.filter((e) => e.sequenceNumber >= lease.nextPosition);
    if (target) events = events.filter((e) => e.sequenceNumber <= target.lastEnqueuedSequenceNumber);
    if (events.length > 0) {
      lease.nextPosition = events[events.length - 1]!.sequenceNumber + 1;
      const work = this.deliver(lease, events, context.lastEnqueuedEventProperties?.sequenceNumber);
      lease.inflight = work;
      try {
        await work;
      } finally {
        lease.inflight = undefined;
      }
    }
    if (target && !lease.closed && lease.nextPosition > target.lastEnqueuedSequenceNumber) await this.reachEnd(lease);
  }

  private async close(reason: 'lost' | 'shutdown', context: PartitionContext): Promise<void> {
    const lease = this.leases.get(context);
    if (!lease || lease.closed) return;
    lease.closed = true;
    // A lost partition is being read by its new owner already: stop our batch. On shutdown it may finish.
    if (reason === 'lost' || this.fatal) lease.abort.abort(new TributaryError('OWNERSHIP_LOST', `partition ${lease.partitionId} was revoked (${reason})`));
    const release = (async () => {
      // The assignment's and the batch's own failures were reported where they happened; here only their end
      // matters.
      await lease.initialized;
      if (lease.inflight) await lease.inflight.then(noop, noop);
      if (!lease.assigned) return;
      // The SDK closes a pump whose handler threw as a shutdown; a pump fenced off by a newer owner is lost.
      const revoked = lease.fencedOff ? 'lost' : reason;
      try {
        await this.options.handler.onRevoked(this.options.plan.stream, lease.partitionId, revoked);
        this.log.info({ partition: lease.partitionId, reason: revoked }, 'partition revoked');
      } catch (error) {
        this.handlerFailure(error, `revoking partition ${lease.partitionId}`);
      }
    })();
    this.releasing.set(lease.partitionId, release);
    await release;
    if (this.releasing.get(lease.partitionId) === release) this.releasing.delete(lease.partitionId);
  }

  private async error(error: Error, context: PartitionContext): Promise<void> {
    if (this.handled.has(error)) return;
    const translated = translateEventHubsError(error, context.partitionId ? `partition ${context.partitionId}` : 'load balancing');
    if (translated.code === 'ABORTED') return;
    if (stopsTheRun(translated)) return this.raise(translated);
    if (translated.code === 'OWNERSHIP_LOST') this.log.info({ partition: context.partitionId, err: translated.message }, 'another reader took the partition');
    else this.log.warn({ partition: context.partitionId || undefined, code: translated.code, err: translated.message }, 'event hubs error; the client recovers');
  }

  // --- work -----------------------------------------------------------------------------------------------

  private async deliver(lease: Lease, received: ReceivedEventData[], lastEnqueued: number | undefined): Promise<void> {
    const { handler, plan } = this.options;
    const batch = {
      stream: plan.stream,
      partition: lease.partitionId,
      events: received.map(toSourceEvent),
      ...(lastEnqueued !== undefined ? { endPosition: lastEnqueued } : {}),
    };
    try {
      await handler.onBatch(batch);
    } catch (error) {
      if (isFencedOff(error)) lease.fencedOff = true;
      if (lease.abort.signal.aborted) {
        this.log.info({ partition: lease.partitionId, err: errorMessage(error) }, 'batch abandoned: the partition was revoked');
        return;
      }
      if (isRestartable(error)) {
        // Thrown to the SDK as not retryable, so it closes this partition's pump (our onRevoked runs) and the load
        // balancer starts it again: initialize restores the snapshot and reading resumes from its position.
        this.log.warn({ partition: lease.partitionId, err: errorMessage(error) }, 'partition failed; the SDK restarts it');
        lease.failure = error as TributaryError;
        this.handled.add(lease.failure);
        throw lease.failure;
      }
      lease.failure = this.handlerFailure(error, `processing partition ${lease.partitionId}`);
      throw lease.failure;
    }
  }

  /** The end of a bounded run's range: flush what the handler holds and commit it. */
  private async reachEnd(lease: Lease): Promise<void> {
    const { handler, plan } = this.options;
    this.caughtUp.add(lease.partitionId);
    this.log.info({ partition: lease.partitionId, nextPosition: lease.nextPosition }, 'partition caught up');
    if (handler.onCaughtUp && lease.assigned) {
      try {
        await handler.onCaughtUp(plan.stream, lease.partitionId);
      } catch (error) {
        if (isFencedOff(error)) lease.fencedOff = true;
        lease.failure = this.handlerFailure(error, `finishing partition ${lease.partitionId}`);
        throw lease.failure;
      }
    }
    if (this.allCaughtUp()) this.done?.();
  }

  /** Advances the checkpoint to the last event below `commitBelow` (sequence number + its offset). */
  private async commit(lease: Lease, below: { position: number; offset: string }): Promise<void> {
    if (lease.closed && lease.abort.signal.aborted) throw new TributaryError('OWNERSHIP_LOST', `partition ${lease.partitionId} was revoked; its checkpoint stays`);
    const sequenceNumber = below.position - 1;
    // '' = the handler does not know the offset of that event; a checkpoint without one would break readers
    // that resume by offset (the SDK's default), so wait for the next commit.
    if (sequenceNumber <= lease.checkpointed || below.offset === '') return;
    const checkpoint: Checkpoint = {
      ...lease.scope,
      partitionId: lease.partitionId,
      sequenceNumber,
      offset: below.offset,
    };
    const { store } = this.options;
    if (!store) return;
    await this.step(`writing the checkpoint of partition ${lease.partitionId}`, () => store.updateCheckpoint(checkpoint), lease.abort.signal);
    lease.checkpointed = sequenceNumber;
  }

  private async readCheckpoint(lease: Lease): Promise<Checkpoint | undefined> {
    const { store } = this.options;
    if (!store) return undefined;
    const { fullyQualifiedNamespace, eventHubName, consumerGroup } = lease.scope;
    const all = await this.step('reading checkpoints', () => store.listCheckpoints(fullyQualifiedNamespace, eventHubName, consumerGroup), lease.abort.signal);
    return all.find((c) => c.partitionId === lease.partitionId);
  }

  /** Runs an SDK or store call, retrying what translates to a transient fault. */
  private step<T>(what: string, call: () => Promise<T>, signal: AbortSignal = this.options.signal): Promise<T> {
    return withRetry(
      async () => {
        try {
          return await call();
        } catch (error) {
          throw translateEventHubsError(error, what);
        }
      },
      {
        policy: this.retry,
        signal,
        onRetry: (error, attempt, delayMs) => this.log.warn({ attempt, delayMs, err: errorMessage(error) }, `${what} failed; retrying`),
      },
    );
  }

  /** A handler (or checkpoint) failure that retrying did not cure ends the run; returns it for the SDK. */
  private handlerFailure(error: unknown, doing: string): TributaryError {
    const translated = error instanceof TributaryError ? error : translateEventHubsError(error, doing);
    this.handled.add(translated);
    if (translated.code !== 'ABORTED' && translated.code !== 'OWNERSHIP_LOST') this.raise(translated);
    return translated;
  }

  private raise(error: TributaryError): void {
    this.handled.add(error);
    if (!this.fatal) this.log.error({ err: error.message, code: error.code }, 'event hubs source stops');
    this.fatal = true;
    this.options.onFatal(error);
  }

  private allCaughtUp(): boolean {
    return this.targets !== undefined && this.partitionIds.every((id) => this.caughtUp.has(id));
  }
}

function noop(): void {}

/**
 * The end a bounded run reads to: the partition's last event, or the one before `until` when that comes first.
 * The capped end's offset is unknown (''), so an offset start position is never judged past it.
 */
function cappedAt(properties: PartitionProperties, until: number | undefined): PartitionProperties {
  if (until === undefined || properties.isEmpty || until > properties.lastEnqueuedSequenceNumber) return properties;
  return { ...properties, isEmpty: until <= properties.beginningSequenceNumber, lastEnqueuedSequenceNumber: until - 1, lastEnqueuedOffset: '' };
}

function isFencedOff(error: unknown): boolean {
  return error instanceof TributaryError && error.code === 'OWNERSHIP_LOST';
}
