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

/**
 * An application property as a raw-table property column holds it: its text, or null when the event has no such
 * property (own properties only: a column named like an Object method is not a property every event has).
 */
export function propertyText(properties: ApplicationProperties, name: string): string | null {
  const value = Object.hasOwn(properties, name) ? properties[name] : undefined;
  return value === undefined || value === null ? null : String(value);
}

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

/**
 * Part of one Capture file handed over unparsed, for the partition's lane to read (see `takesCaptureBlocks`): the
 * stored bytes of consecutive container blocks and, under onCorruptBlock: deadletter, of the unreadable regions
 * between them, in file order. Plain data, so it crosses to a worker thread as one buffer.
 */
export interface CaptureBlocks {
  /** the file as errors and dead letters name it */
  name: string;
  /** the start of the file's capture window: the enqueued time of events whose own cannot be read */
  windowStartMs: number;
  /** the file's writer schema, JSON text */
  schema: string;
  codec: string;
  onCorruptBlock: 'fail' | 'deadletter';
  /** the first batch of a pass over the partition's files: positions going backwards are judged within a pass */
  newPass: boolean;
  /** the items' stored bytes, back to back */
  data: ArrayBuffer;
  items: CaptureItem[];
}

/** A block (`count` records) or an unreadable region (`reason`); `from`/`to` in `data`, `start`/`end` in the file. */
export type CaptureItem =
  | { count: number; from: number; to: number; start: number; end: number; dataStart: number }
  | { reason: string; from: number; to: number; start: number; end: number };

/** A record's place in the archive, as the Capture index keeps a file's first and last. */
export interface CaptureEdge {
  position: number;
  enqueuedTimeMs: number;
  offset: string;
}

/** A block's first and last record, from a handler that read it in one pass (`start`: its byte offset in the file). */
export interface CaptureBlockEdges {
  start: number;
  first: CaptureEdge;
  last: CaptureEdge;
}

export interface PartitionBatch {
  /** Logical stream name from config (`orders`, `telemetry`). */
  stream: string;
  partition: string;
  /** the events, read by the source (empty when `capture` carries them unparsed) */
  events: SourceEvent[];
  /** Capture blocks for the handler to read (only to a handler that `takesCaptureBlocks`) */
  capture?: CaptureBlocks;
  /** called with the edges of the `capture` blocks the handler read whole, once it has read them: what the source's
   * archive index would otherwise inflate the blocks a second time for */
  onCaptureEdges?: (edges: CaptureBlockEdges[]) => void;
  /** the last position the source knows to exist in the partition (Kafka high watermark - 1, Event Hubs last
   * enqueued sequence number), when it knows one: the consumer lag is reported from it */
  endPosition?: number;
}

/** Where to resume a partition: an inclusive position, or the source's configured start when undefined. */
export type ResumePoint = { position: number } | undefined;

/**
 * What a source offers the runtime for one partition it has assigned: the runtime's partition driver commits
 * through it, after the outcome of the work below that position is durable, never before.
 */
export interface PartitionFeed {
  /**
   * Advances the source's committed position: every position below `position` is durably done, `offset` is the
   * service offset of the last event below it. Rejects on a store or broker fault (the driver treats the
   * partition as failed, so nothing later commits).
   */
  commit(position: number, offset: string, signal: AbortSignal): Promise<void>;
}

export interface PartitionHandler {
  /**
   * The handler reads Capture container blocks itself (in the partition's lane): a Capture source then hands over
   * `capture` batches with their records unparsed, and leaves resume filtering to the handler (every event below
   * the resume point is skipped, except one whose position goes backwards).
   */
  readonly takesCaptureBlocks?: boolean;
  /**
   * Ownership gained: restore state, say where to resume. Called before any batch of that partition. Rejects
   * with a non-restartable error when the partition has failed too often in a row: the source must stop.
   */
  onAssigned(stream: string, partition: string, feed: PartitionFeed): Promise<ResumePoint>;
  /**
   * Hands over the next batch of one partition, in order. Resolves once the batch is accepted (there is room in
   * the partition's in-flight window): awaiting it is the source's backpressure. Rejects when the partition has
   * failed: the source must then release the partition (onRevoked) and assign it again, which restores the last
   * snapshot and re-reads from its position (`isRestartable`), or stop when the error is not restartable.
   */
  onBatch(batch: PartitionBatch): Promise<void>;
  /** The partition has caught up with the source: resolves once everything handed over is processed and the
   * open files are written (without moving the checkpoint). Rejects like onBatch. */
  onCaughtUp?(stream: string, partition: string): Promise<void>;
  /**
   * The source could not read the partition: a transient store or broker fault outlasted its retries. It counts
   * as a failure of the partition, like a failed batch (restart backoff, maxConsecutiveFailures). Returns the
   * error to end the reading session with: restartable, so the source assigns the partition again, which waits
   * the restart backoff and restores the last snapshot, or stops the run once the partition failed too often.
   */
  onReadFailed?(stream: string, partition: string, error: unknown): Error;
  /** Ownership lost or shutting down. 'lost': in-flight work is abandoned and nothing more is written.
   * 'shutdown': in-flight work finishes and open files are written. Resolves when the partition is released. */
  onRevoked(stream: string, partition: string, reason: 'lost' | 'shutdown'): Promise<void>;
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
