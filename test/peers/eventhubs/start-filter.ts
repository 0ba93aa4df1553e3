/**
 * The receive-link start filters the SDK sends (an `apache.org:selector-filter:string`), for example
 * `amqp.annotation.x-opt-offset > '-1'` (earliest), `amqp.annotation.x-opt-offset > '@latest'`,
 * `amqp.annotation.x-opt-sequence-number >= '42'` or `amqp.annotation.x-opt-enqueued-time > '1700000000000'`.
 * The result says whether an event is at or after the start; a link streams from the first event that is.
 */
import type { StoredEvent } from './partition-log.js';

export type StartPredicate = (event: StoredEvent) => boolean;

export class FilterError extends Error {
  override readonly name = 'FilterError';
}

const FILTER = /^\s*amqp\.annotation\.(x-opt-offset|x-opt-sequence-number|x-opt-enqueued-time)\s*(>=|>)\s*'([^']*)'\s*$/;

/**
 * @param lastSequenceNumber the partition's last sequence number when the link attached (`@latest` means after it)
 */
export function parseStartFilter(filter: string | undefined, lastSequenceNumber: number): StartPredicate {
  if (filter === undefined || filter.trim() === '') return () => true;
  const match = FILTER.exec(filter);
  if (!match) throw new FilterError(`unsupported selector filter: ${filter}`);
  const [, field, operator, text] = match as unknown as [string, string, '>' | '>=', string];
  const inclusive = operator === '>=';
  if (field === 'x-opt-offset' && text === '@latest') {
    return (event) => event.sequenceNumber > lastSequenceNumber;
  }
  const value = Number(text);
  if (!Number.isFinite(value)) throw new FilterError(`the filter value '${text}' is not a number: ${filter}`);
  const pick: (event: StoredEvent) => number =
    field === 'x-opt-offset' ? (e) => e.offset : field === 'x-opt-sequence-number' ? (e) => e.sequenceNumber : (e) => e.enqueuedTimeMs;
  return inclusive ? (event) => pick(event) >= value : (event) => pick(event) > value;
}
