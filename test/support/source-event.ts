import type { SourceEvent } from '../../src/core/source.js';

/** What a handler can observe of an event, as plain data to compare (the body as hex). */
export function observableEvent(event: SourceEvent): Record<string, unknown> {
  return {
    position: event.position,
    offset: event.offset,
    enqueuedTimeMs: event.enqueuedTimeMs,
    partitionKey: event.partitionKey,
    properties: event.properties,
    body: Buffer.from(event.body).toString('hex'),
    envelopeError: event.envelopeError,
    envelopeReason: event.envelopeReason,
  };
}
