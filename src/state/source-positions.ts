/**
 * What `tributary reset` needs of a source, whatever it is: the positions a partition holds, where its consumer
 * group stands, positions for times, how many events a replay from a position reads, and how to move the group.
 * Each source implements it with its own means (the Capture archive's index, Event Hubs partition properties and
 * checkpoint blobs, Kafka offsets and the admin client).
 */
export interface PartitionRange {
  partition: string;
  /** the first position the source still holds */
  earliest: number;
  /** the position after the last event (where a consumer that read everything resumes) */
  latest: number;
}

export interface SourcePositions {
  /** what the positions are, for messages: "Capture archive ...", "Event Hubs ...", "Kafka ..." */
  readonly description: string;
  /** how `countFrom` counts, when that is worth saying in the dry run (Kafka: offsets, not records) */
  readonly counting?: string;
  partitions(stream: string): Promise<PartitionRange[]>;
  /** the position the group resumes at, or undefined when it has none */
  current(stream: string, partition: string): Promise<number | undefined>;
  /** the first position whose enqueued time (Kafka: timestamp) is at or after `timeMs`; `latest` when none is */
  positionAtTime(stream: string, partition: string, timeMs: number): Promise<number>;
  /** the events at positions at or after `from`: what a bounded replay from `from` reads */
  countFrom(stream: string, partition: string, from: number): Promise<number>;
  /** fails, naming them, while other consumers are active in the group (Kafka refuses to move their offsets) */
  refuseIfActive?(): Promise<void>;
  /** moves the group's stored position so it resumes at `position`; `offsetBefore` is the service offset of the
   * event just before it ('' when unknown) */
  commit(stream: string, partition: string, position: number, offsetBefore: string): Promise<void>;
  close?(): Promise<void>;
}
