/**
 * Capture records -> SourceEvents. Capture files are the bulk of what the capture source reads and their records
 * are parsed on the thread that orders events, so the usual schema (Capture's EventData) gets a direct reader
 * that builds each SourceEvent straight from the bytes: avsc would first build two maps of wrapped union values
 * per event (measured: ~2 us per event of the ~9 us the main thread spends per event, see bench/RESULTS.md).
 * Any other writer schema goes through avsc.
 */
import avro from 'avsc';
import { TributaryError } from '../../core/errors.js';
import type { ApplicationProperties, SourceEvent } from '../source.js';
import { decodeBlock } from './container.js';
import { parseEnqueuedTimeUtc } from './format.js';

export type CaptureEventReader = (data: Buffer, count: number, name: string) => SourceEvent[];

const readers = new Map<string, CaptureEventReader>();

export function captureEventReader(schema: avro.Schema): CaptureEventReader {
  const key = JSON.stringify(schema);
  let reader = readers.get(key);
  if (!reader) {
    const branches = canonicalBranches(schema);
    reader = branches ? directReader(branches.system, branches.properties) : avscReader(avro.Type.forSchema(schema));
    readers.set(key, reader);
  }
  return reader;
}

type Branch = 'null' | 'boolean' | 'int' | 'long' | 'float' | 'double' | 'bytes' | 'string';
const BRANCHES = new Set<string>(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);

/** The branch lists of the two property maps when the schema is Capture's EventData field for field, else undefined. */
function canonicalBranches(schema: avro.Schema): { system: Branch[]; properties: Branch[] } | undefined {
  const fields = (schema as { fields?: Array<{ name: string; type: unknown }> }).fields;
  if (!fields || fields.length !== 6) return undefined;
  const [seq, offset, enqueued, system, properties, body] = fields as [
    { name: string; type: unknown },
    { name: string; type: unknown },
    { name: string; type: unknown },
    { name: string; type: unknown },
    { name: string; type: unknown },
    { name: string; type: unknown },
  ];
  const mapBranches = (field: { name: string; type: unknown }, name: string): Branch[] | undefined => {
    const type = field.type as { type?: unknown; values?: unknown };
    if (field.name !== name || type.type !== 'map' || !Array.isArray(type.values)) return undefined;
    return type.values.every((b) => typeof b === 'string' && BRANCHES.has(b)) ? (type.values as Branch[]) : undefined;
  };
  const systemBranches = mapBranches(system, 'SystemProperties');
  const propertyBranches = mapBranches(properties, 'Properties');
  const ok =
    seq.name === 'SequenceNumber' && seq.type === 'long' &&
    offset.name === 'Offset' && offset.type === 'string' &&
    enqueued.name === 'EnqueuedTimeUtc' && enqueued.type === 'string' &&
    body.name === 'Body' && JSON.stringify(body.type) === '["null","bytes"]';
  return ok && systemBranches && propertyBranches ? { system: systemBranches, properties: propertyBranches } : undefined;
}

const EMPTY = new Uint8Array(0);

function directReader(systemBranches: Branch[], propertyBranches: Branch[]): CaptureEventReader {
  return (data, count, name) => {
    const events: SourceEvent[] = new Array(count);
    const cursor = { pos: 0 };
    const fail = (what: string): never => {
      throw new TributaryError('INPUT_UNREADABLE', `${name}: corrupt Capture record (${what} at byte ${cursor.pos})`);
    };
    const long = (): number => {
      let result = 0;
      let shift = 1;
      let byte: number;
      do {
        if (cursor.pos >= data.length) fail('truncated number');
        byte = data[cursor.pos++]!;
        result += (byte & 0x7f) * shift;
        shift *= 128;
      } while (byte & 0x80);
      // zigzag
      return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
    };
    const bytes = (): Buffer => {
      const length = long();
      const end = cursor.pos + length;
      if (length < 0 || end > data.length) fail('truncated bytes');
      const value = data.subarray(cursor.pos, end);
      cursor.pos = end;
      return value;
    };
    const string = (): string => {
      const length = long();
      const end = cursor.pos + length;
      if (length < 0 || end > data.length) fail('truncated string');
      const value = data.toString('utf8', cursor.pos, end);
      cursor.pos = end;
      return value;
    };
    const value = (branch: Branch): string | number | boolean | null => {
      switch (branch) {
        case 'null':
          return null;
        case 'boolean':
          return data[cursor.pos++] === 1;
        case 'int':
        case 'long':
          return long();
        case 'float': {
          const v = data.readFloatLE(cursor.pos);
          cursor.pos += 4;
          return v;
        }
        case 'double': {
          const v = data.readDoubleLE(cursor.pos);
          cursor.pos += 8;
          return v;
        }
        case 'string':
          return string();
        case 'bytes':
          return bytes().toString('utf8');
      }
    };
    const map = (branches: Branch[], keep: (key: string, v: string | number | boolean | null) => void): void => {
      for (;;) {
        let blockCount = long();
        if (blockCount === 0) return;
        if (blockCount < 0) {
          blockCount = -blockCount;
          long(); // block size in bytes, only useful for skipping
        }
        for (let i = 0; i < blockCount; i++) {
          const key = string();
          const branch = branches[long()];
          if (branch === undefined) return fail('union branch out of range');
          keep(key, value(branch));
        }
      }
    };
    for (let i = 0; i < count; i++) {
      const position = long();
      const offset = string();
      const enqueuedTimeMs = parseEnqueuedTimeUtc(string());
      let partitionKey: string | null = null;
      map(systemBranches, (key, v) => {
        if (key === 'x-opt-partition-key' && typeof v === 'string') partitionKey = v;
      });
      const properties: ApplicationProperties = {};
      map(propertyBranches, (key, v) => {
        properties[key] = v;
      });
      const hasBody = long();
      const body = hasBody === 1 ? bytes() : EMPTY;
      events[i] = { body, position, offset, enqueuedTimeMs, partitionKey, properties };
    }
    if (cursor.pos !== data.length) fail('trailing bytes after the last record');
    return events;
  };
}

function avscReader(type: avro.Type): CaptureEventReader {
  return (data, count, name) => decodeBlock(type, data, count, name).map((record) => toSourceEvent(record as CaptureRecordLike));
}

interface CaptureRecordLike {
  SequenceNumber: number;
  Offset: string;
  EnqueuedTimeUtc: string;
  SystemProperties: Record<string, unknown>;
  Properties: Record<string, unknown>;
  Body: Buffer | null;
}


/** Capture's property maps are unions (long | double | string | bytes); avsc wraps such values as { type: value }. */
function unwrap(value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    const entries = Object.values(value as Record<string, unknown>);
    if (entries.length === 1) return entries[0];
  }
  return value;
}

function toSourceEvent(record: CaptureRecordLike): SourceEvent {
  const key = unwrap(record.SystemProperties['x-opt-partition-key']);
  return {
    body: record.Body ?? EMPTY,
    position: Number(record.SequenceNumber),
    offset: String(record.Offset),
    enqueuedTimeMs: parseEnqueuedTimeUtc(record.EnqueuedTimeUtc),
    partitionKey: typeof key === 'string' ? key : key instanceof Uint8Array ? Buffer.from(key).toString('utf8') : null,
    properties: toProperties(record.Properties),
  };
}

function toProperties(properties: Record<string, unknown>): ApplicationProperties {
  const out: ApplicationProperties = {};
  for (const [name, wrapped] of Object.entries(properties ?? {})) {
    const value = unwrap(wrapped);
    if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[name] = value;
    else if (value instanceof Uint8Array) out[name] = Buffer.from(value).toString('utf8');
    else out[name] = JSON.stringify(value);
  }
  return out;
}
