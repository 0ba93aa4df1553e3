/**
 * The source stage boundary. Every source (Capture archive, Event Hubs, Kafka) adapts to this push-style contract:
 * Event Hubs' subscription handlers and kafkajs' eachBatch/group events both map onto it one to one, and partition
 * ownership changes (assign / revoke) are first-class because they drive snapshot restore and commit.
 *
 * Positions are integers that grow by at least one per event inside a partition: the Event Hubs / Capture
 * sequence number, or the Kafka offset. Output file names are derived from them, so they must be stable across
 * redeliveries.
 */
export type ApplicationProperties = Record<string, string | number | boolean | null>;

export interface SourceEvent {
  /** The event body as sent (Avro bytes, Confluent framed Avro, JSON...). */
  body: Uint8Array;
  /** Position inside the partition (sequence number or Kafka offset). */
  position: number;
  /** The service's offset as text (Event Hubs offset, Kafka offset), kept for dead letters and checkpoints. */
  offset: string;
  enqueuedTimeMs: number;
  partitionKey: string | null;
  properties: ApplicationProperties;
  /** set when the source could not read this event's envelope (say an unparseable enqueued time): the event is
   * dead-lettered with this text and its coordinates instead of being processed */
  envelopeError?: string;
  /** the dead-letter reason for `envelopeError`: schema (a field that cannot be used; the default) or decode
   * (bytes that cannot be read at all, such as a corrupt Capture block) */
  envelopeReason?: 'schema' | 'decode';
}

export interface PartitionBatch {
  /** Logical stream name from config (`orders`, `telemetry`). */
  stream: string;
  partition: string;
  events: SourceEvent[];
  /** the last position the source knows to exist in the partition (Kafka high watermark - 1, Event Hubs last
   * enqueued sequence number), when it knows one: the consumer lag is reported from it */
  endPosition?: number;
}

/** Where to resume a partition: an inclusive position, or the source's configured start when undefined. */
export type ResumePoint = { position: number } | undefined;

/** What processing a batch allows the source to commit: every position below `position` is durably done. */
export interface BatchOutcome {
  commitBelow?: { position: number; offset: string } | undefined;
}

export interface PartitionHandler {
  /** Ownership gained: restore state, say where to resume. Called before any batch of that partition. */
  onAssigned(stream: string, partition: string): Promise<ResumePoint>;
  /** Batches of one partition arrive in order and never overlap; different partitions run concurrently. */
  onBatch(batch: PartitionBatch, signal: AbortSignal): Promise<BatchOutcome>;
  /** Ownership lost or shutting down: stop, flush what is safe, leave the rest to the next owner. */
  onRevoked(stream: string, partition: string, reason: 'lost' | 'shutdown'): Promise<void>;
  /** Bounded mode: the partition has caught up with the end of the source. */
  onCaughtUp?(stream: string, partition: string): Promise<BatchOutcome>;
}

export interface RunOptions {
  signal: AbortSignal;
  /** Stop once every owned partition has caught up with what the source held at start. */
  bounded: boolean;
}

export interface Source {
  readonly description: string;
  /** Resolves when bounded mode caught up or the signal aborted; rejects on a permanent fault. */
  run(handler: PartitionHandler, options: RunOptions): Promise<void>;
}
