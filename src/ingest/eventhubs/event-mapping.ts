/**
 * ReceivedEventData -> SourceEvent. Bodies arrive as bytes because the source subscribes with
 * `skipParsingBodyAsJson`; application properties keep their scalar values (a W3C `traceparent` among them) and
 * anything else the AMQP type system allows is turned into text, so dead letters can always carry it.
 */
import type { ReceivedEventData } from '@azure/event-hubs';
import type { ApplicationProperties, SourceEvent } from '../../core/source.js';

const utf8 = new TextEncoder();

export function toSourceEvent(event: ReceivedEventData): SourceEvent {
  return {
    body: bodyBytes(event.body),
    position: event.sequenceNumber,
    offset: String(event.offset),
    enqueuedTimeMs: event.enqueuedTimeUtc.getTime(),
    partitionKey: event.partitionKey ?? null,
    properties: toApplicationProperties(event.properties),
  };
}

function bodyBytes(body: unknown): Uint8Array {
  if (body instanceof Uint8Array) return body;
  if (typeof body === 'string') return utf8.encode(body);
  if (body === undefined || body === null) return new Uint8Array(0);
  // AMQP value or sequence bodies (not what Event Hubs producers send): keep them as JSON text.
  return utf8.encode(JSON.stringify(body, jsonReplacer));
}

export function toApplicationProperties(properties: Record<string, unknown> | undefined): ApplicationProperties {
  const out: ApplicationProperties = {};
  if (!properties) return out;
  for (const [name, value] of Object.entries(properties)) {
    if (value === null || typeof value === 'string' || typeof value === 'boolean') out[name] = value;
    else if (typeof value === 'number') out[name] = value;
    else if (value === undefined) continue;
    else if (value instanceof Uint8Array) out[name] = Buffer.from(value).toString('base64');
    else if (typeof value === 'bigint') out[name] = value.toString();
    else out[name] = JSON.stringify(value, jsonReplacer);
  }
  return out;
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  return value;
}
