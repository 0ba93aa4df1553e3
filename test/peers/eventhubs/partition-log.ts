/**
 * One Event Hubs partition as the service keeps it: an append-only log where each event gets the next sequence
 * number (from 0), an offset (the byte position of the event in the partition, so offsets are not sequence
 * numbers, as on the real service) and an enqueued time that never goes backwards.
 */
import type { Message } from 'rhea';

export interface StoredEvent {
  readonly sequenceNumber: number;
  /** Byte position of the event inside the partition. */
  readonly offset: number;
  readonly enqueuedTimeMs: number;
  readonly partitionKey: string | null;
  /** The event as the producer sent it (decoded AMQP message, without the service's annotations). */
  readonly message: Message;
}

export interface PartitionProperties {
  partitionId: string;
  beginSequenceNumber: number;
  lastEnqueuedSequenceNumber: number;
  lastEnqueuedOffset: string;
  lastEnqueuedTimeMs: number;
  isEmpty: boolean;
}

export class PartitionLog {
  readonly events: StoredEvent[] = [];
  private nextOffset = 0;
  private readonly listeners = new Set<() => void>();

  constructor(readonly partitionId: string, private readonly now: () => number) {}

  append(message: Message, encodedSize: number, partitionKey: string | null): StoredEvent {
    const previous = this.events.at(-1);
    const event: StoredEvent = {
      sequenceNumber: this.events.length,
      offset: this.nextOffset,
      enqueuedTimeMs: Math.max(this.now(), previous?.enqueuedTimeMs ?? 0),
      partitionKey,
      message,
    };
    this.nextOffset += Math.max(1, encodedSize);
    this.events.push(event);
    for (const listener of this.listeners) listener();
    return event;
  }

  /** Calls `listener` after every append; returns the unsubscribe function. */
  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  properties(): PartitionProperties {
    const last = this.events.at(-1);
    if (!last) {
      return {
        partitionId: this.partitionId,
        beginSequenceNumber: -1,
        lastEnqueuedSequenceNumber: -1,
        lastEnqueuedOffset: '-1',
        lastEnqueuedTimeMs: 0,
        isEmpty: true,
      };
    }
    return {
      partitionId: this.partitionId,
      beginSequenceNumber: this.events[0]!.sequenceNumber,
      lastEnqueuedSequenceNumber: last.sequenceNumber,
      lastEnqueuedOffset: String(last.offset),
      lastEnqueuedTimeMs: last.enqueuedTimeMs,
      isEmpty: false,
    };
  }
}
