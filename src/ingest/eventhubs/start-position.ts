/**
 * Start positions: config -> the SDK's EventPosition, and whether a partition has anything to read from a
 * position up to the end it had when a bounded run started.
 */
import type { EventPosition, PartitionProperties } from '@azure/event-hubs';
import type { StartPositionConfig } from './config.js';

/** A fresh object every call: the source updates the position it hands the SDK in place (see stream-consumer.ts). */
export function toEventPosition(start: StartPositionConfig): EventPosition {
  if (start === 'earliest') return { offset: '-1' };
  if (start === 'latest') return { offset: '@latest' };
  if ('enqueuedTime' in start) return { enqueuedOn: Date.parse(start.enqueuedTime) };
  if ('sequenceNumber' in start) return { sequenceNumber: start.sequenceNumber, isInclusive: start.inclusive };
  return { offset: start.offset, isInclusive: start.inclusive };
}

/** Makes `target` an exact copy of `source` (the SDK keeps a reference to `target`). */
export function assignPosition(target: EventPosition, source: EventPosition): void {
  for (const key of Object.keys(target) as Array<keyof EventPosition>) delete target[key];
  Object.assign(target, source);
}

const DECIMAL = /^\d+$/;

/**
 * True when reading from `position` cannot reach any event at or before the partition's last event at start
 * (`end`): a bounded run has nothing to do there. Conservative: false whenever it cannot tell.
 */
export function nothingToRead(position: EventPosition, end: Pick<PartitionProperties, 'isEmpty' | 'lastEnqueuedSequenceNumber' | 'lastEnqueuedOffset' | 'lastEnqueuedOnUtc'>): boolean {
  if (end.isEmpty) return true;
  const inclusive = position.isInclusive === true;
  if (position.offset !== undefined) {
    const offset = String(position.offset);
    if (offset === '@latest') return true;
    if (offset === '-1') return false;
    if (!DECIMAL.test(offset) || !DECIMAL.test(end.lastEnqueuedOffset)) return false;
    const start = BigInt(offset);
    const last = BigInt(end.lastEnqueuedOffset);
    return inclusive ? start > last : start >= last;
  }
  if (position.sequenceNumber !== undefined) {
    return inclusive ? position.sequenceNumber > end.lastEnqueuedSequenceNumber : position.sequenceNumber >= end.lastEnqueuedSequenceNumber;
  }
  if (position.enqueuedOn !== undefined) {
    const time = position.enqueuedOn instanceof Date ? position.enqueuedOn.getTime() : position.enqueuedOn;
    // The service's time filter is strictly "enqueued after".
    return time >= end.lastEnqueuedOnUtc.getTime();
  }
  return false;
}
