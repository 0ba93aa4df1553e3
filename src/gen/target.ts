/**
 * Where generated events go. The generator hands each target ordered batches of one partition; the target
 * assigns positions the way its broker would (a Capture archive numbers them itself, Event Hubs and Kafka do it
 * on the service), so events carry only what a producer sends.
 */
export interface GeneratedEvent {
  /** the encoded body (Avro or JSON), or deliberately corrupt bytes */
  body: Uint8Array;
  /** '' when the stream has no partition-key field (events are then spread round-robin) */
  partitionKey: string;
  /** when the broker enqueued the event; non-decreasing within a partition */
  enqueuedTimeMs: number;
  /** application properties (a W3C `traceparent` on every event) */
  properties: Record<string, string>;
}

export interface TargetStats {
  files: number;
  bytes: number;
  byStream: Record<string, { files: number; bytes: number }>;
}

export interface GenTarget {
  /**
   * Events of one partition, in order. Resolves once the target accepted them (backpressure). Calls for
   * different partitions may overlap; calls for the same partition never do.
   */
  write(stream: string, partition: string, events: GeneratedEvent[]): Promise<void>;
  /** Flushes everything still buffered. */
  close(): Promise<void>;
  /** What was written, for targets that produce files. */
  stats?(): TargetStats;
}
