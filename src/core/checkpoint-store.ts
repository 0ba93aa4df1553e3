/**
 * Checkpoints: the last committed position per partition, with etag semantics like the Event Hubs
 * checkpoint store so a blob implementation can speak `@azure/eventhubs-checkpointstore-blob`'s format.
 */
export interface Checkpoint {
  stream: string;
  partition: string;
  /** every position below this is done; resume here */
  nextPosition: number;
  /** service offset of the last done event, as text ('' when none) */
  offset: string;
}

export interface CheckpointStore {
  readonly location: string;
  list(stream: string): Promise<Checkpoint[]>;
  update(checkpoint: Checkpoint): Promise<void>;
}
