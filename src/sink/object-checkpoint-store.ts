import type { Checkpoint, CheckpointStore } from '../core/checkpoint-store.js';
import type { ObjectStore } from '../core/object-store.js';

/**
 * Checkpoints as small JSON objects in any ObjectStore (`checkpoints/<stream>/partition=<p>.json`): the store
 * used by the Capture-archive source, locally or on blob. Event Hubs deployments use the
 * @azure/eventhubs-checkpointstore-blob format instead, so other tools can read their lag.
 */
export class ObjectCheckpointStore implements CheckpointStore {
  constructor(private readonly store: ObjectStore) {}

  get location(): string {
    return `${this.store.location}/checkpoints`;
  }

  async list(stream: string): Promise<Checkpoint[]> {
    const objects = await this.store.list(`checkpoints/${stream}/`);
    const checkpoints: Checkpoint[] = [];
    for (const object of objects) {
      const bytes = await this.store.get(object.key);
      if (bytes) checkpoints.push(JSON.parse(Buffer.from(bytes).toString('utf8')) as Checkpoint);
    }
    return checkpoints;
  }

  async update(checkpoint: Checkpoint): Promise<void> {
    await this.store.put(`checkpoints/${checkpoint.stream}/partition=${checkpoint.partition}.json`, Buffer.from(JSON.stringify(checkpoint)));
  }
}
