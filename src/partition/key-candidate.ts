/**
 * A candidate partition key: one field, a combination of fields, or none (round-robin). Written on the command
 * line as `customerId`, `customerId+channel`, `none`; fields may be dotted paths into nested records.
 */
import { TributaryError } from '../core/errors.js';
import { kafkaPartitionForKey } from './kafka-murmur2.js';
import { mapPartitionKeyToId } from './eventhubs-hash.js';

export interface KeyCandidate {
  /** As written by the user: `customerId`, `customerId+channel`, `none`. */
  readonly name: string;
  /** Field paths whose values form the key; empty = no key (round-robin). */
  readonly fields: readonly string[];
}

/** How producers turn a key into a partition. */
export type PartitionHash = 'eventhubs' | 'kafka';

export const ROUND_ROBIN = 'none';

/** Separator between field values of a composite key, as a producer would build `${a}|${b}`. */
export const COMPOSITE_SEPARATOR = '|';

export function parseKeyCandidate(spec: string): KeyCandidate {
  const name = spec.trim();
  if (name === ROUND_ROBIN) return { name, fields: [] };
  const fields = name.split('+').map((field) => field.trim());
  if (name === '' || fields.some((field) => !/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(field))) {
    throw new TributaryError(
      'CONFIG_INVALID',
      `invalid key candidate "${spec}": expected "none", a field path (a.b) or fields joined by "+"`,
    );
  }
  if (new Set(fields).size !== fields.length) {
    throw new TributaryError('CONFIG_INVALID', `key candidate "${spec}" names a field twice`);
  }
  return { name: fields.join('+'), fields };
}

/** `customerId,channel+region,none` -> three candidates. */
export function parseKeyCandidates(list: string): KeyCandidate[] {
  const candidates = list.split(',').filter((part) => part.trim() !== '').map(parseKeyCandidate);
  if (candidates.length === 0) throw new TributaryError('CONFIG_INVALID', 'at least one key candidate is required');
  const names = new Set<string>();
  for (const candidate of candidates) {
    if (names.has(candidate.name)) throw new TributaryError('CONFIG_INVALID', `key candidate "${candidate.name}" is listed twice`);
    names.add(candidate.name);
  }
  return candidates;
}

export function readPath(record: Readonly<Record<string, unknown>>, path: string): unknown {
  let value: unknown = record;
  for (const part of path.split('.')) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** The text a producer would send as the key for this field value; null when the field is absent. */
export function keyText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex');
  return JSON.stringify(value);
}

/**
 * The partition key of one record under a candidate, or null when the record has no key (the candidate is
 * `none`, or a key field is missing): such events are spread round-robin.
 */
export function candidateKey(candidate: KeyCandidate, record: Readonly<Record<string, unknown>>): string | null {
  if (candidate.fields.length === 0) return null;
  const parts: string[] = [];
  for (const field of candidate.fields) {
    const text = keyText(readPath(record, field));
    if (text === null) return null;
    parts.push(text);
  }
  return parts.join(COMPOSITE_SEPARATOR);
}

export function partitionForKey(hash: PartitionHash, key: string, partitionCount: number): number {
  return hash === 'eventhubs' ? mapPartitionKeyToId(key, partitionCount) : kafkaPartitionForKey(key, partitionCount);
}

/** Which entity's events keep their order under this candidate. */
export function orderingScope(candidate: KeyCandidate): string {
  if (candidate.fields.length === 0) {
    return 'none: events are spread round-robin, so no two events are guaranteed to be read in send order';
  }
  if (candidate.fields.length === 1) {
    return `per ${candidate.fields[0]}: all events of one ${candidate.fields[0]} share a partition and stay in send order`;
  }
  const tuple = `(${candidate.fields.join(', ')})`;
  return `per ${tuple}: events of one ${tuple} stay in order; events of one ${candidate.fields[0]} may span partitions and interleave`;
}
