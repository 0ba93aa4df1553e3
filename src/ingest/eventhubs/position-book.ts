/**
 * The per-partition start positions handed to `subscribe({ startPosition })`.
 *
 * Why objects that change: the SDK fixes a partition's start before it calls our initialize handler, but the
 * start we want is only known there (the partition's snapshot, restored by `onAssigned`). The SDK keeps a
 * reference to the partition's entry of this map and reads it when it opens the receive link, which happens
 * after initialize returns (PartitionPump.start in @azure/event-hubs 6). So initialize writes the real start
 * into the same object. The source also drops events below the resume point, so even an SDK that read the
 * position earlier could only cause re-reading, never a gap; the tests pin this behaviour.
 *
 * Partitions the hub gains while running get an entry on first access (otherwise the SDK would fall back to
 * its shared "latest" constant).
 */
import type { EventPosition } from '@azure/event-hubs';
import { assignPosition } from './start-position.js';

export class PositionBook {
  /** What `subscribe` receives. */
  readonly positions: Record<string, EventPosition>;

  constructor(partitionIds: readonly string[], private readonly initial: (partitionId: string) => EventPosition) {
    const target: Record<string, EventPosition> = {};
    for (const id of partitionIds) target[id] = initial(id);
    this.positions = new Proxy(target, {
      get: (object, property, receiver) => {
        if (typeof property === 'string' && /^\d+$/.test(property) && !(property in object)) object[property] = initial(property);
        return Reflect.get(object, property, receiver) as unknown;
      },
    });
  }

  /** Sets where the partition's next receive link starts. */
  set(partitionId: string, position: EventPosition): void {
    assignPosition(this.positions[partitionId]!, position);
  }

  /** Back to the configured start (a new owner without snapshot or checkpoint). */
  reset(partitionId: string): void {
    this.set(partitionId, this.initial(partitionId));
  }
}
