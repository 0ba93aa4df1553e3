/**
 * A partition's state snapshot: everything needed to resume exactly at `position` (an inclusive source position
 * at the start of a raw-file cell), and the bytes it is stored as.
 *
 * Format 3. A snapshot is stored as a manifest and the dedup segments it names (see state/snapshot-store.ts):
 * - the manifest: an 8-byte header (magic "TRBS", a uint16 format version, two reserved bytes) and the snapshot
 *   without its dedup entries as Node's structured-clone serialization (node:v8), plus the segments that hold
 *   those entries. Structured clone keeps every value's type: strings stay strings whatever their text ("#NaN",
 *   "Infinity"), numbers keep NaN, ±Infinity and -0. v8.deserialize reads the formats of older Node versions,
 *   so an upgrade of Node never strands a snapshot.
 * - a segment: an 8-byte header (magic "TRBD", the version), the seq of its first entry and its entry count
 *   (float64 and uint32, 4 bytes reserved), then the entries' hash words and times as raw little-endian arrays:
 *   16 bytes per id, and no per-entry framing, so a segment is read with two copies.
 * `encodeSnapshot` without segments writes the whole snapshot (dedup entries inline) as one manifest.
 *
 * Formats 1 (JSON) and 2 (one structured-clone object, the dedup set in hash order) are decoded with their
 * version number so that the processor refuses them with its "other processing settings" error, which says how to
 * forget the old state, and `tributary reset` can still plan from them.
 */
import { deserialize, serialize } from 'node:v8';
import { TributaryError } from '../core/errors.js';
import type { DedupEntries } from '../state/dedup-set.js';
import type { GateSnapshot } from './event-time-gate.js';
import type { AggregatorSnapshot } from './window-aggregator.js';
import type { SessionSnapshot } from './session-aggregator.js';

export const SNAPSHOT_VERSION = 3;
const MAGIC = Buffer.from('TRBS', 'latin1');
const SEGMENT_MAGIC = Buffer.from('TRBD', 'latin1');
const HEADER_BYTES = 8;
const SEGMENT_HEADER_BYTES = 24;

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

/**
 * A dedup segment a manifest names: the entries with seq in [from, to), written with the snapshot at `position`
 * by the owner of fencing epoch `epoch` (0 unfenced).
 */
export interface SegmentRef {
  position: number;
  epoch: number;
  from: number;
  to: number;
}

/** A decoded manifest: the snapshot, and when its dedup entries are not inline, where they are. */
export interface StoredSnapshot {
  /** with `segments`, its dedup entries are empty and `seen.first` / `end` say which ones to read */
  snapshot: PartitionSnapshot;
  segments: SegmentRef[] | undefined;
  /** the seq after the snapshot's last dedup entry */
  end: number;
}

interface ManifestBody extends PartitionSnapshot {
  dedup?: { end: number; segments: SegmentRef[] };
}

/**
 * A gate's snapshot as a lane sends it: its dedup entries copied into buffers of their own, only those from
 * `sentEnd` on (the end of what the lane's previous snapshot carried; all of them without it). The live entries
 * before that are in the store already: `liveFirst` says where they start.
 */
export function gateSnapshotSince(gate: GateSnapshot, sentEnd: number | undefined): GateSnapshot {
  const seen = gate.seen;
  const from = Math.max(seen.first, sentEnd ?? seen.first);
  const skip = from - seen.first;
  const added = { first: from, hashes: seen.hashes.slice(skip * 2), times: seen.times.slice(skip) };
  return skip > 0 ? { maxEventTime: gate.maxEventTime, seen: added, liveFirst: seen.first } : { maxEventTime: gate.maxEventTime, seen: added };
}

/** Encodes a manifest; with `segments`, the dedup entries are left out (they are in those segments). */
export function encodeSnapshot(snapshot: PartitionSnapshot, segments?: SegmentRef[]): Uint8Array {
  const { liveFirst, ...gate } = snapshot.gate;
  const seen = gate.seen;
  if (liveFirst !== undefined && !segments) throw new TributaryError('INTERNAL', 'a snapshot holding only the dedup entries added cannot be written inline');
  const body: ManifestBody = segments
    ? {
        ...snapshot,
        version: SNAPSHOT_VERSION,
        gate: { ...gate, seen: { first: liveFirst ?? seen.first, hashes: new Uint32Array(0), times: new Float64Array(0) } },
        dedup: { end: seen.first + seen.times.length, segments },
      }
    : { ...snapshot, version: SNAPSHOT_VERSION };
  return withHeader(MAGIC, serialize(body));
}

/** Decodes a whole snapshot (one that carries its dedup entries inline, or one of an older format). */
export function decodeSnapshot(bytes: Uint8Array, name = 'snapshot'): PartitionSnapshot {
  const stored = decodeManifest(bytes, name);
  if (stored.segments && stored.segments.length > 0) {
    throw new TributaryError('INTERNAL', `${name}: the state snapshot keeps its dedup entries in segments; read it through the snapshot store`);
  }
  return stored.snapshot;
}

/** Decodes a manifest; `name` (its key) appears in the error when the bytes are not a snapshot this code reads. */
export function decodeManifest(bytes: Uint8Array, name = 'snapshot'): StoredSnapshot {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length >= HEADER_BYTES && buf.subarray(0, 4).equals(MAGIC)) {
    const version = buf.readUInt16BE(4);
    if (version > SNAPSHOT_VERSION) {
      throw new TributaryError('CONFIG_INVALID', `${name}: state snapshot format ${version} is newer than this build reads (${SNAPSHOT_VERSION}); run the version that wrote it`);
    }
    let value: unknown;
    try {
      value = deserialize(buf.subarray(HEADER_BYTES));
    } catch (error) {
      throw new TributaryError('INPUT_UNREADABLE', `${name}: corrupt state snapshot (${(error as Error).message})`);
    }
    if (version < SNAPSHOT_VERSION) return older(checked(value, name), version);
    const body = checked(value, name) as ManifestBody;
    const { dedup, ...snapshot } = body;
    const seen = snapshot.gate.seen;
    if (typeof seen.first !== 'number') throw new TributaryError('INPUT_UNREADABLE', `${name}: the state snapshot's dedup set has no first seq`);
    if (!dedup) return { snapshot, segments: undefined, end: seen.first + seen.times.length };
    if (!Array.isArray(dedup.segments) || typeof dedup.end !== 'number') {
      throw new TributaryError('INPUT_UNREADABLE', `${name}: the state snapshot's dedup segment list is unreadable`);
    }
    return { snapshot, segments: dedup.segments, end: dedup.end };
  }
  if (buf[0] === 0x7b /* { */) return older(decodeJsonSnapshot(buf, name), 1);
  throw new TributaryError('INPUT_UNREADABLE', `${name}: not a state snapshot (bad magic bytes)`);
}

/** An older format's snapshot keeps its version, which the processor refuses; its dedup set is not read. */
function older(snapshot: PartitionSnapshot, version: number): StoredSnapshot {
  const seen: DedupEntries = { first: 0, hashes: new Uint32Array(0), times: new Float64Array(0) };
  return { snapshot: { ...snapshot, version, gate: { maxEventTime: snapshot.gate.maxEventTime, seen } }, segments: undefined, end: 0 };
}

function checked(value: unknown, name: string): PartitionSnapshot {
  const s = value as Partial<PartitionSnapshot> | null;
  if (!s || typeof s !== 'object' || typeof s.position !== 'number' || typeof s.stream !== 'string' || !s.gate || !(s.gate.seen?.hashes instanceof Uint32Array)) {
    throw new TributaryError('INPUT_UNREADABLE', `${name}: the state snapshot lacks its position, stream or dedup set`);
  }
  return s as PartitionSnapshot;
}

/** Encodes dedup entries [from, from + count) as a segment (one copy of the arrays, no per-entry work). */
export function encodeSegment(entries: DedupEntries): Uint8Array {
  const count = entries.times.length;
  const bytes = Buffer.alloc(SEGMENT_HEADER_BYTES + count * 16);
  SEGMENT_MAGIC.copy(bytes, 0);
  bytes.writeUInt16BE(SNAPSHOT_VERSION, 4);
  bytes.writeDoubleLE(entries.first, 8);
  bytes.writeUInt32LE(count, 16);
  const hashes = new Uint32Array(bytes.buffer, bytes.byteOffset + SEGMENT_HEADER_BYTES, count * 2);
  const times = new Float64Array(bytes.buffer, bytes.byteOffset + SEGMENT_HEADER_BYTES + count * 8, count);
  if (!LITTLE_ENDIAN) throw new TributaryError('INTERNAL', 'dedup segments are written on little-endian machines only');
  hashes.set(entries.hashes);
  times.set(entries.times);
  return bytes;
}

export function decodeSegment(bytes: Uint8Array, name: string): DedupEntries {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < SEGMENT_HEADER_BYTES || !buf.subarray(0, 4).equals(SEGMENT_MAGIC)) {
    throw new TributaryError('INPUT_UNREADABLE', `${name}: not a dedup segment (bad magic bytes)`);
  }
  const version = buf.readUInt16BE(4);
  if (version !== SNAPSHOT_VERSION) {
    throw new TributaryError('CONFIG_INVALID', `${name}: dedup segment format ${version} is not the one this build reads (${SNAPSHOT_VERSION})`);
  }
  const first = buf.readDoubleLE(8);
  const count = buf.readUInt32LE(16);
  if (buf.length !== SEGMENT_HEADER_BYTES + count * 16 || !Number.isSafeInteger(first) || first < 0) {
    throw new TributaryError('INPUT_UNREADABLE', `${name}: corrupt dedup segment (${buf.length} bytes for ${count} entries from seq ${first})`);
  }
  if (!LITTLE_ENDIAN) throw new TributaryError('INTERNAL', 'dedup segments are read on little-endian machines only');
  // Copies, so the arrays are aligned whatever the buffer's offset in its pool.
  const hashes = new Uint32Array(count * 2);
  const times = new Float64Array(count);
  new Uint8Array(hashes.buffer).set(buf.subarray(SEGMENT_HEADER_BYTES, SEGMENT_HEADER_BYTES + count * 8));
  new Uint8Array(times.buffer).set(buf.subarray(SEGMENT_HEADER_BYTES + count * 8));
  return { first, hashes, times };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function withHeader(magic: Buffer, body: Uint8Array): Uint8Array {
  const header = Buffer.alloc(HEADER_BYTES);
  magic.copy(header, 0);
  header.writeUInt16BE(SNAPSHOT_VERSION, 4);
  return Buffer.concat([header, body]);
}

const NON_FINITE: Record<string, number> = { '#Infinity': Infinity, '#-Infinity': -Infinity, '#NaN': NaN };

/** Format 1: JSON text (its dedup ids are not read: the processor refuses the snapshot, reset only plans from it). */
function decodeJsonSnapshot(buf: Buffer, name: string): PartitionSnapshot {
  let legacy: Omit<PartitionSnapshot, 'gate'> & { gate?: { maxEventTime: number | null } };
  try {
    legacy = JSON.parse(buf.toString('utf8'), (_key, value: unknown) => {
      if (typeof value === 'string' && value in NON_FINITE) return NON_FINITE[value];
      return value;
    }) as typeof legacy;
  } catch (error) {
    throw new TributaryError('INPUT_UNREADABLE', `${name}: corrupt state snapshot (${(error as Error).message})`);
  }
  if (typeof legacy.position !== 'number' || typeof legacy.stream !== 'string' || !legacy.gate) {
    throw new TributaryError('INPUT_UNREADABLE', `${name}: the state snapshot lacks its position, stream or dedup set`);
  }
  const seen: DedupEntries = { first: 0, hashes: new Uint32Array(0), times: new Float64Array(0) };
  return { ...legacy, gate: { maxEventTime: legacy.gate.maxEventTime, seen } };
}
