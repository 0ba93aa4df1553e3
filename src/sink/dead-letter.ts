/**
 * The dead-letter stream. A record keeps everything needed to understand and replay the event: the original
 * bytes, the source coordinates (enqueued time included), the reason, the error text and the attempt count.
 * Dead letters of one position cell form one JSON-lines object, rewritten whole with the cell like the lake's
 * files, so a replay does not duplicate them. Every field comes from the event and its verdict, none from the
 * clock, so a replay or a crash rewrites the object with the same bytes. Counts per reason ride in the object's
 * metadata so they can be tallied by listing.
 */
import type { ApplicationProperties, SourceEvent } from '../core/source.js';

export const DEAD_LETTER_REASONS = ['decode', 'schema', 'late', 'sink', 'oversize'] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

export interface DeadLetterRecord {
  reason: DeadLetterReason;
  error: string;
  stream: string;
  partition: string;
  position: number;
  offset: string;
  enqueuedTime: string;
  partitionKey: string | null;
  properties: ApplicationProperties;
  attempts: number;
  /** the original body, base64 */
  body: string;
}

export function deadLetterRecord(
  stream: string,
  partition: string,
  event: SourceEvent,
  reason: DeadLetterReason,
  error: string,
): DeadLetterRecord {
  return {
    reason,
    error,
    stream,
    partition,
    position: event.position,
    offset: event.offset,
    enqueuedTime: new Date(event.enqueuedTimeMs).toISOString(),
    partitionKey: event.partitionKey,
    properties: event.properties,
    attempts: 1,
    body: Buffer.from(event.body.buffer, event.body.byteOffset, event.body.byteLength).toString('base64'),
  };
}

export function encodeDeadLetters(records: readonly DeadLetterRecord[]): { bytes: Uint8Array; metadata: Record<string, string> } {
  const counts: Record<string, number> = {};
  for (const record of records) counts[record.reason] = (counts[record.reason] ?? 0) + 1;
  const metadata: Record<string, string> = { total: String(records.length) };
  for (const [reason, count] of Object.entries(counts)) metadata[`count_${reason}`] = String(count);
  return { bytes: Buffer.from(records.map((r) => JSON.stringify(r)).join('\n') + (records.length ? '\n' : '')), metadata };
}

export function decodeDeadLetters(bytes: Uint8Array): DeadLetterRecord[] {
  return Buffer.from(bytes)
    .toString('utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as DeadLetterRecord);
}

/** Counts per reason from listing metadata alone (no download). */
export function countsFromMetadata(metadata: Record<string, string>): Partial<Record<DeadLetterReason, number>> {
  const counts: Partial<Record<DeadLetterReason, number>> = {};
  for (const reason of DEAD_LETTER_REASONS) {
    const value = metadata[`count_${reason}`];
    if (value !== undefined) counts[reason] = Number(value);
  }
  return counts;
}
