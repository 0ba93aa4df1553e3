/**
 * A partition's state snapshot: everything needed to resume exactly at `position` (an inclusive source position
 * at the start of a raw-file cell).
 *
 * Encoding: an 8-byte header (magic "TRBS", a uint16 format version, two reserved bytes) and the snapshot as
 * Node's structured-clone serialization (node:v8). That keeps every value's type: strings stay strings whatever
 * their text ("#NaN", "Infinity"), numbers keep NaN, ±Infinity and -0, and the dedup set travels as typed arrays
 * (16 bytes per id) instead of text. v8.deserialize reads the formats of older Node versions, so an upgrade of
 * Node never strands a snapshot.
 *
 * Format 1 (JSON text, with non-finite numbers written as "#Infinity" / "#NaN") is still read so that state
 * written before format 2 resumes; it could not tell such text apart from numbers, which is why it was replaced.
 */
import { deserialize, serialize } from 'node:v8';
import { TributaryError } from '../core/errors.js';
import { DedupSet } from '../state/dedup-set.js';
import type { GateSnapshot } from './event-time-gate.js';
import type { AggregatorSnapshot } from './window-aggregator.js';
import type { SessionSnapshot } from './session-aggregator.js';

export const SNAPSHOT_VERSION = 2;
const MAGIC = Buffer.from('TRBS', 'latin1');
const HEADER_BYTES = 8;

export interface PartitionSnapshot {
  version: number;
  stream: string;
  partition: string;
  /** settings that decide file names and verdicts; a snapshot taken under other settings cannot be resumed */
  fingerprint: string;
  position: number;
  /** the service offset of the last event before `position` ('' if none) */
  offsetBefore: string;
  gate: GateSnapshot;
  aggregators: Record<string, AggregatorSnapshot | SessionSnapshot>;
}

export function encodeSnapshot(snapshot: PartitionSnapshot): Uint8Array {
  const body = serialize({ ...snapshot, version: SNAPSHOT_VERSION });
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt16BE(SNAPSHOT_VERSION, 4);
  return Buffer.concat([header, body]);
}

/** Decodes a snapshot; `name` (its key) appears in the error when the bytes are not a snapshot this code reads. */
export function decodeSnapshot(bytes: Uint8Array, name = 'snapshot'): PartitionSnapshot {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length >= HEADER_BYTES && buf.subarray(0, 4).equals(MAGIC)) {
    const version = buf.readUInt16BE(4);
    if (version !== SNAPSHOT_VERSION) {
      throw new TributaryError('CONFIG_INVALID', `${name}: state snapshot format ${version} is newer than this build reads (${SNAPSHOT_VERSION}); run the version that wrote it`);
    }
    let value: unknown;
    try {
      value = deserialize(buf.subarray(HEADER_BYTES));
    } catch (error) {
      throw new TributaryError('INPUT_UNREADABLE', `${name}: corrupt state snapshot (${(error as Error).message})`);
    }
    return checked(value, name);
  }
  if (buf[0] === 0x7b /* { */) return decodeJsonSnapshot(buf, name);
  throw new TributaryError('INPUT_UNREADABLE', `${name}: not a state snapshot (bad magic bytes)`);
}

function checked(value: unknown, name: string): PartitionSnapshot {
  const s = value as Partial<PartitionSnapshot> | null;
  if (!s || typeof s !== 'object' || typeof s.position !== 'number' || typeof s.stream !== 'string' || !s.gate || !(s.gate.seen?.hashes instanceof Uint32Array)) {
    throw new TributaryError('INPUT_UNREADABLE', `${name}: the state snapshot lacks its position, stream or dedup set`);
  }
  return s as PartitionSnapshot;
}

const NON_FINITE: Record<string, number> = { '#Infinity': Infinity, '#-Infinity': -Infinity, '#NaN': NaN };

/** Format 1: JSON text; its dedup ids are rehashed into the typed set. */
function decodeJsonSnapshot(buf: Buffer, name: string): PartitionSnapshot {
  let legacy: Omit<PartitionSnapshot, 'gate'> & { gate: { maxEventTime: number | null; seen: Array<[string, number]> } };
  try {
    legacy = JSON.parse(buf.toString('utf8'), (_key, value: unknown) => {
      if (typeof value === 'string' && value in NON_FINITE) return NON_FINITE[value];
      return value;
    }) as typeof legacy;
  } catch (error) {
    throw new TributaryError('INPUT_UNREADABLE', `${name}: corrupt state snapshot (${(error as Error).message})`);
  }
  const seen = new DedupSet(legacy.gate.seen.length);
  for (const [id, time] of legacy.gate.seen) seen.set(String(id), time);
  return { ...legacy, version: SNAPSHOT_VERSION, gate: { maxEventTime: legacy.gate.maxEventTime, seen: seen.entries() } };
}
