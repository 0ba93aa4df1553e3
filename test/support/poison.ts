/**
 * The poison corpus: hostile Avro bodies and hostile Capture files, built from valid ones so every length, count
 * and index of a schema gets its own bomb. Any decoder of Tributary's bodies (avsc behind the bounds guard, or a
 * compiled decoder) must turn each of these into an error, never an allocation in proportion to a number it read.
 *
 * - `encodeWithSites(type, value)`: a value's Avro encoding plus where every length, count, index and varint sits.
 * - `bodyPoisons(type, value)`: for each site, length and count bombs (2^31 and 2^62 as multi-byte varints,
 *   negative counts with huge block sizes, negative lengths, 11-byte varints), bad union and enum indexes, a
 *   32-bit-overflowing int, a boolean that is neither 0 nor 1, and truncations.
 * - `KITCHEN_SINK_SCHEMA`: one record with every Avro kind, including arrays of zero-byte items.
 * - `captureFile(...)`: a Capture (Avro container) file from EventData records or raw record bytes, with block
 *   level corruption on request; `envelopePoisons()`: EventData records with bombs in the envelope.
 */
import { createHash } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import avro from 'avsc';
import { CAPTURE_SCHEMA, captureType, type CaptureRecord } from '../../src/ingest/capture/format.js';

export type SiteKind = 'string' | 'bytes' | 'fixed' | 'array' | 'map' | 'union' | 'enum' | 'int' | 'long' | 'boolean';

/** Where a length, count, index or scalar varint sits in an encoding: [start, end) of its varint (or byte). */
export interface Site {
  kind: SiteKind;
  start: number;
  end: number;
  /** for string / bytes / fixed: where the payload ends; for array / map: where the block's items end */
  payloadEnd: number;
  /** the zero-byte size of an array's item type (array<null>, array<empty record>) */
  zeroByteItems?: boolean;
}

export interface Poison {
  name: string;
  bytes: Buffer;
  /** the kind of hostility, for reports */
  kind: SiteKind | 'truncated';
}

/** Zig-zag varint of any integer (bigint so 2^62 is exact). */
export function varint(value: number | bigint): Buffer {
  let n = BigInt(value);
  n = n >= 0n ? n << 1n : (-n << 1n) - 1n;
  const out: number[] = [];
  do {
    let byte = Number(n & 0x7fn);
    n >>= 7n;
    if (n > 0n) byte |= 0x80;
    out.push(byte);
  } while (n > 0n);
  return Buffer.from(out);
}

/** A varint of `value` padded to `bytes` bytes with continuation bits (legal up to 10 bytes for Avro's long). */
export function paddedVarint(value: number, bytes: number): Buffer {
  const minimal = varint(value);
  if (minimal.length >= bytes) return minimal;
  const out = Buffer.alloc(bytes, 0x80);
  minimal.copy(out);
  out[minimal.length - 1]! |= 0x80;
  out[bytes - 1] = 0x00;
  return out;
}

function zeroBytes(type: avro.Type, seen = new Set<avro.Type>()): boolean {
  const name = type.typeName;
  if (name.startsWith('logical:')) return zeroBytes((type as avro.types.LogicalType).underlyingType, seen);
  if (name === 'null') return true;
  if (name === 'fixed') return (type as avro.types.FixedType).size === 0;
  if (name === 'record' || name === 'error') {
    if (seen.has(type)) return false;
    seen.add(type);
    return (type as avro.types.RecordType).fields.every((f) => zeroBytes(f.type, seen));
  }
  return false;
}

/** Encodes `value` as `type` (positive block counts, as avsc writes) and records every site. */
export function encodeWithSites(type: avro.Type, value: unknown): { bytes: Buffer; sites: Site[] } {
  const chunks: Buffer[] = [];
  const sites: Site[] = [];
  let pos = 0;
  const put = (b: Buffer) => {
    chunks.push(b);
    pos += b.length;
  };
  const walk = (t: avro.Type, v: unknown): void => {
    const name = t.typeName;
    if (name.startsWith('logical:')) return walk((t as avro.types.LogicalType).underlyingType, v);
    const start = pos;
    switch (name) {
      case 'null':
        return;
      case 'boolean':
        put(Buffer.from([v ? 1 : 0]));
        sites.push({ kind: 'boolean', start, end: pos, payloadEnd: pos });
        return;
      case 'int':
      case 'long':
        // avsc's own bytes: beyond 2^52 it rounds, and the site must cover what it wrote
        put(t.toBuffer(v));
        sites.push({ kind: name, start, end: pos, payloadEnd: pos });
        return;
      case 'float':
      case 'double':
        put(t.toBuffer(v));
        return;
      case 'string':
      case 'bytes': {
        const payload = name === 'string' ? Buffer.from(v as string, 'utf8') : (v as Buffer);
        put(varint(payload.length));
        const end = pos;
        put(payload);
        sites.push({ kind: name, start, end, payloadEnd: pos });
        return;
      }
      case 'fixed':
        put(v as Buffer);
        sites.push({ kind: 'fixed', start, end: start, payloadEnd: pos });
        return;
      case 'enum':
        put(varint((t as avro.types.EnumType).symbols.indexOf(v as string)));
        sites.push({ kind: 'enum', start, end: pos, payloadEnd: pos });
        return;
      case 'array': {
        const items = v as unknown[];
        const itemType = (t as avro.types.ArrayType).itemsType;
        if (items.length > 0) put(varint(items.length));
        const end = pos;
        for (const item of items) walk(itemType, item);
        const payloadEnd = pos;
        put(varint(0));
        sites.push({ kind: 'array', start, end: items.length > 0 ? end : start, payloadEnd, zeroByteItems: zeroBytes(itemType) });
        return;
      }
      case 'map': {
        const entries = Object.entries(v as Record<string, unknown>);
        const valueType = (t as avro.types.MapType).valuesType as avro.Type;
        if (entries.length > 0) put(varint(entries.length));
        const end = pos;
        for (const [key, item] of entries) {
          walk(avro.Type.forSchema('string'), key);
          walk(valueType, item);
        }
        const payloadEnd = pos;
        put(varint(0));
        sites.push({ kind: 'map', start, end: entries.length > 0 ? end : start, payloadEnd });
        return;
      }
      case 'union:unwrapped':
      case 'union:wrapped': {
        const branches = (t as avro.types.UnwrappedUnionType).types;
        let index: number;
        let inner = v;
        if (name === 'union:wrapped' && v !== null && typeof v === 'object') {
          const [branchName, branchValue] = Object.entries(v as Record<string, unknown>)[0]!;
          index = branches.findIndex((b) => (b.branchName ?? b.typeName) === branchName);
          inner = branchValue;
        } else index = branches.findIndex((b) => b.isValid(v));
        put(varint(index));
        sites.push({ kind: 'union', start, end: pos, payloadEnd: pos });
        walk(branches[index]!, inner);
        return;
      }
      case 'record':
      case 'error':
        for (const field of (t as avro.types.RecordType).fields) walk(field.type, (v as Record<string, unknown>)[field.name]);
        return;
      default:
        throw new Error(`encodeWithSites: unsupported type ${name}`);
    }
  };
  walk(type, value);
  const bytes = Buffer.concat(chunks);
  if (!bytes.equals(type.toBuffer(value))) throw new Error('encodeWithSites: encoding differs from avsc (a bug in this helper)');
  return { bytes, sites };
}

const splice = (bytes: Buffer, start: number, end: number, replacement: Buffer): Buffer =>
  Buffer.concat([bytes.subarray(0, start), replacement, bytes.subarray(end)]);

/** Every hostile variant of one valid encoding (see the file comment). None of them is a valid body. */
export function bodyPoisons(type: avro.Type, value: unknown): Poison[] {
  const { bytes, sites } = encodeWithSites(type, value);
  const out: Poison[] = [];
  const add = (site: Site, what: string, replacement: Buffer, end = site.end) =>
    out.push({ name: `${site.kind}@${site.start}: ${what}`, kind: site.kind, bytes: splice(bytes, site.start, end, replacement) });
  for (const site of sites) {
    switch (site.kind) {
      case 'string':
      case 'bytes':
        add(site, 'length 2^31 (5-byte varint)', varint(2 ** 31));
        add(site, 'length 2^62 (9-byte varint)', varint(2n ** 62n));
        add(site, 'negative length', varint(-1));
        add(site, 'length 2^53 + 1', varint(2n ** 53n + 1n));
        add(site, '11-byte varint', Buffer.concat([Buffer.alloc(10, 0xff), Buffer.from([0x01])]));
        break;
      case 'array':
      case 'map': {
        // Replace the first block's count (or the empty terminator) with a bomb; the items stay behind it.
        const end = site.end === site.start ? site.start + 1 : site.end;
        add(site, 'count 2^31 (5-byte varint)', varint(2 ** 31), end);
        add(site, 'count 2^62 (9-byte varint)', varint(2n ** 62n), end);
        add(site, 'count -2^31 with block size 2^40', Buffer.concat([varint(-(2 ** 31)), varint(2 ** 40)]), end);
        add(site, 'count -1 with negative block size', Buffer.concat([varint(-1), varint(-5)]), end);
        add(site, 'count -2^31 with a block size that fits', Buffer.concat([varint(-(2 ** 31)), varint(site.payloadEnd - site.end)]), end);
        add(site, 'count 2^31 padded to 10 bytes', paddedVarint(2 ** 31, 10), end);
        add(site, '11-byte count', Buffer.concat([Buffer.alloc(10, 0xff), Buffer.from([0x01])]), end);
        break;
      }
      case 'union':
        add(site, 'branch index 1000', varint(1000));
        add(site, 'branch index -1', varint(-1));
        break;
      case 'enum':
        add(site, 'symbol index 1000', varint(1000));
        break;
      case 'int':
        add(site, 'int beyond 32 bits', varint(2 ** 33));
        add(site, '6-byte int varint', paddedVarint(1, 6));
        break;
      case 'long':
        add(site, 'long beyond 2^53', varint(2n ** 60n));
        add(site, '11-byte long varint', Buffer.concat([Buffer.alloc(10, 0x80), Buffer.from([0x00])]));
        break;
      case 'boolean':
        add(site, 'boolean byte 7', Buffer.from([7]));
        break;
      case 'fixed':
        break;
    }
  }
  // Truncations: inside the first varint of every site, and the last byte.
  for (const site of sites) {
    if (site.end - site.start > 1) out.push({ name: `truncated inside the varint at ${site.start}`, kind: 'truncated', bytes: bytes.subarray(0, site.start + 1) });
    if (site.payloadEnd > site.end) out.push({ name: `truncated inside the ${site.kind} at ${site.end}`, kind: 'truncated', bytes: bytes.subarray(0, site.payloadEnd - 1) });
  }
  if (bytes.length > 0) out.push({ name: 'last byte missing', kind: 'truncated', bytes: bytes.subarray(0, bytes.length - 1) });
  return out;
}

/** One record with every Avro kind; `empties` and `nulls` are arrays of zero-byte items. */
export const KITCHEN_SINK_SCHEMA = {
  type: 'record',
  name: 'KitchenSink',
  namespace: 'tributary.poison',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'group', type: 'string' },
    { name: 'flag', type: 'boolean' },
    { name: 'small', type: 'int' },
    { name: 'ratio', type: 'float' },
    { name: 'amount', type: 'double' },
    { name: 'blob', type: 'bytes' },
    { name: 'hash', type: { type: 'fixed', name: 'Hash', size: 4 } },
    { name: 'color', type: { type: 'enum', name: 'Color', symbols: ['RED', 'GREEN', 'BLUE'] } },
    { name: 'tags', type: { type: 'array', items: 'string' } },
    { name: 'counts', type: { type: 'map', values: 'long' } },
    { name: 'nulls', type: { type: 'array', items: 'null' } },
    { name: 'empties', type: { type: 'array', items: { type: 'record', name: 'Empty', fields: [] } } },
    { name: 'maybe', type: ['null', 'string', { type: 'record', name: 'Inner', fields: [{ name: 'xs', type: { type: 'array', items: 'int' } }] }], default: null },
  ],
} as const;

export interface KitchenSink {
  id: string;
  at: number;
  group: string;
  flag: boolean;
  small: number;
  ratio: number;
  amount: number;
  blob: Buffer;
  hash: Buffer;
  color: 'RED' | 'GREEN' | 'BLUE';
  tags: string[];
  counts: Record<string, number>;
  nulls: null[];
  empties: Array<Record<string, never>>;
  maybe: null | string | { xs: number[] };
}

/** A valid kitchen-sink value; every site kind appears in it (non-empty arrays and maps, a record branch). */
export function kitchenSink(id: string, at: number, group: string, n: number): KitchenSink {
  return {
    id,
    at,
    group,
    flag: n % 2 === 0,
    small: n % 1000,
    ratio: 0.5,
    amount: n * 1.25,
    blob: Buffer.from([n & 0xff, 1, 2]),
    hash: Buffer.from([1, 2, 3, n & 0xff]),
    color: (['RED', 'GREEN', 'BLUE'] as const)[n % 3]!,
    tags: ['a', `t${n % 7}`],
    counts: { x: n, y: -n },
    nulls: [null, null],
    empties: [{}],
    maybe: n % 3 === 0 ? null : n % 3 === 1 ? `m${n}` : { xs: [n, n + 1] },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Capture files

/** One record of a file: an EventData value, or its raw bytes (for envelopes avsc could not write). */
export type FileRecord = CaptureRecord | { raw: Buffer };

export interface BlockSpec {
  records: FileRecord[];
  /** block-level corruption */
  corrupt?: 'sync' | 'count-bomb' | 'size-bomb' | 'deflate' | 'deflate-bomb' | 'negative-count';
}

export interface CaptureFileSpec {
  blocks: BlockSpec[];
  codec?: 'null' | 'deflate';
  /** another writer schema (say SequenceNumber as a union with string); records must then be raw or fit it */
  schema?: object;
  /** seeds the sync marker */
  seed?: string;
}

export function captureRecord(sequence: number, enqueuedMs: number, body: Buffer | null, key: string | null = null): CaptureRecord {
  const system: CaptureRecord['SystemProperties'] = { 'x-opt-sequence-number': { long: sequence } };
  if (key !== null) system['x-opt-partition-key'] = { string: key };
  return {
    SequenceNumber: sequence,
    Offset: String(sequence * 100),
    EnqueuedTimeUtc: new Date(enqueuedMs).toISOString(),
    SystemProperties: system,
    Properties: {},
    Body: body,
  };
}

/** An Avro container file, written byte by byte so that its blocks can be broken on purpose. */
export function captureFile(spec: CaptureFileSpec): Buffer {
  const codec = spec.codec ?? 'null';
  const schema = spec.schema ?? CAPTURE_SCHEMA;
  const type = spec.schema ? avro.Type.forSchema(spec.schema as avro.Schema, { wrapUnions: 'auto' }) : captureType;
  const sync = createHash('sha256').update(spec.seed ?? 'poison').digest().subarray(0, 16);
  const header = Buffer.concat([
    Buffer.from('Obj\x01', 'latin1'),
    varint(2),
    ...[
      ['avro.codec', Buffer.from(codec)],
      ['avro.schema', Buffer.from(JSON.stringify(schema))],
    ].flatMap(([k, v]) => [varint((k as string).length), Buffer.from(k as string), varint((v as Buffer).length), v as Buffer]),
    varint(0),
    sync,
  ]);
  const parts: Buffer[] = [header];
  for (const block of spec.blocks) {
    const data = Buffer.concat(block.records.map((r) => ('raw' in r ? r.raw : type.toBuffer(r))));
    let stored = codec === 'deflate' ? deflateRawSync(data) : data;
    let count = varint(block.records.length);
    let size = varint(stored.length);
    let marker: Buffer = sync;
    switch (block.corrupt) {
      case 'sync':
        marker = Buffer.from(sync.map((b) => b ^ 0xff));
        break;
      case 'count-bomb':
        count = varint(2 ** 31);
        break;
      case 'negative-count':
        count = varint(-3);
        break;
      case 'size-bomb':
        size = varint(2 ** 40);
        break;
      case 'deflate':
        stored = Buffer.from(stored.map((b, i) => (i < 4 ? 0xff : b)));
        size = varint(stored.length);
        break;
      case 'deflate-bomb':
        stored = deflateRawSync(Buffer.alloc(80 * 1024 ** 2));
        size = varint(stored.length);
        break;
      case undefined:
        break;
    }
    parts.push(count, size, stored, marker);
  }
  return Buffer.concat(parts);
}

/** The header of a file with no blocks: what Capture writes for an empty window when asked to. */
export function headerOnlyCaptureFile(): Buffer {
  return captureFile({ blocks: [] });
}

/** Raw EventData records whose envelope holds a bomb: each of them makes its block unreadable. */
export function envelopePoisons(sequence: number, enqueuedMs: number, body: Buffer): Array<{ name: string; raw: Buffer }> {
  const record = captureRecord(sequence, enqueuedMs, body, 'k');
  record.Properties = { traceparent: { string: 'x' } };
  const { bytes, sites } = encodeWithSites(captureType, record);
  // Field order: SequenceNumber (long), Offset (string), EnqueuedTimeUtc (string), SystemProperties (map),
  // Properties (map), Body (union + bytes).
  const seq = sites.find((s) => s.kind === 'long' && s.start === 0)!;
  const strings = sites.filter((s) => s.kind === 'string');
  const offset = strings.find((s) => s.start === seq.end)!;
  const time = strings.find((s) => s.start === offset.payloadEnd)!;
  const maps = sites.filter((s) => s.kind === 'map');
  const system = maps.find((s) => s.start === time.payloadEnd)!;
  const properties = maps.find((s) => s.start > system.start)!;
  const bodyBytes = sites.filter((s) => s.kind === 'bytes').at(-1)!;
  const at = (site: Site, replacement: Buffer, end = site.end) => Buffer.concat([bytes.subarray(0, site.start), replacement, bytes.subarray(end)]);
  return [
    { name: 'Body length 2^31', raw: at(bodyBytes, varint(2 ** 31)) },
    { name: 'Body length 2^62', raw: at(bodyBytes, varint(2n ** 62n)) },
    { name: 'Offset length 2^31', raw: at(offset, varint(2 ** 31)) },
    { name: 'EnqueuedTimeUtc negative length', raw: at(time, varint(-7)) },
    { name: 'SystemProperties count 2^31', raw: at(system, varint(2 ** 31)) },
    { name: 'Properties count -2^31 with block size 2^40', raw: at(properties, Buffer.concat([varint(-(2 ** 31)), varint(2 ** 40)])) },
    { name: 'SequenceNumber 11-byte varint', raw: at(seq, Buffer.concat([Buffer.alloc(10, 0x80), Buffer.from([0x00])])) },
  ];
}
