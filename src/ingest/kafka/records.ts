import type { IHeaders, KafkaMessage } from 'kafkajs';
import type { ApplicationProperties, SourceEvent } from '../../core/source.js';

const EMPTY = new Uint8Array(0);

/**
 * A Kafka record as a SourceEvent: the offset is the position (dense and stable across redeliveries), the record
 * timestamp the enqueued time, the key (UTF-8) the partition key, and headers (UTF-8) the properties, which is
 * how W3C `traceparent` travels in Kafka. A header sent more than once keeps its last value, as Java's
 * `Headers.lastHeader` reads it. A tombstone (null value) has an empty body and fails decoding into the dead
 * letters rather than vanishing.
 */
export function toSourceEvent(message: KafkaMessage): SourceEvent {
  return {
    body: message.value ?? EMPTY,
    position: Number(message.offset),
    offset: message.offset,
    enqueuedTimeMs: Number(message.timestamp),
    partitionKey: message.key ? message.key.toString('utf8') : null,
    properties: headerProperties(message.headers),
  };
}

function headerProperties(headers: IHeaders | undefined): ApplicationProperties {
  const properties: ApplicationProperties = {};
  if (!headers) return properties;
  for (const [name, raw] of Object.entries(headers)) {
    const value = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    if (value === undefined) continue;
    properties[name] = typeof value === 'string' ? value : value.toString('utf8');
  }
  return properties;
}
