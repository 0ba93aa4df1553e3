/**
 * Event Hubs Capture's archive format: Avro object container files whose records are
 * `Microsoft.ServiceBus.Messaging.EventData`, stored under
 * `{namespace}/{hub}/{partition}/{year}/{month}/{day}/{hour}/{minute}/{second}` (Capture's default name format,
 * every component zero-padded). Shared by the generator (writer) and the capture source (reader).
 */
import avro from 'avsc';

export const CAPTURE_SCHEMA = {
  type: 'record',
  name: 'EventData',
  namespace: 'Microsoft.ServiceBus.Messaging',
  fields: [
    { name: 'SequenceNumber', type: 'long' },
    { name: 'Offset', type: 'string' },
    { name: 'EnqueuedTimeUtc', type: 'string' },
    { name: 'SystemProperties', type: { type: 'map', values: ['long', 'double', 'string', 'bytes'] } },
    { name: 'Properties', type: { type: 'map', values: ['long', 'double', 'string', 'bytes', 'null'] } },
    { name: 'Body', type: ['null', 'bytes'] },
  ],
} as const;

// avsc refuses to unwrap a union holding both long and double ("ambiguous unwrapped union"), so the property
// maps' unions stay wrapped (`{ long: 5 }`, `{ string: 'x' }`) while Body's ["null","bytes"] is unwrapped.
export const captureType = avro.Type.forSchema(CAPTURE_SCHEMA as unknown as avro.Schema, { wrapUnions: 'auto' });

/** A property value of a Capture record: a union branch wrapped in an object named after its type. */
export type CaptureValue = { long: number } | { double: number } | { string: string } | { bytes: Buffer };

/** A Capture record as `captureType` encodes and decodes it. */
export interface CaptureRecord {
  SequenceNumber: number;
  Offset: string;
  EnqueuedTimeUtc: string;
  SystemProperties: Record<string, CaptureValue>;
  Properties: Record<string, CaptureValue | null>;
  Body: Buffer | null;
}

export interface CapturePathParts {
  namespace: string;
  hub: string;
  partition: string;
  /** start of the capture window the file covers */
  windowStart: Date;
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

export function captureKey(parts: CapturePathParts, extension = 'avro'): string {
  const t = parts.windowStart;
  return [
    parts.namespace,
    parts.hub,
    parts.partition,
    pad(t.getUTCFullYear(), 4),
    pad(t.getUTCMonth() + 1),
    pad(t.getUTCDate()),
    pad(t.getUTCHours()),
    pad(t.getUTCMinutes()),
    `${pad(t.getUTCSeconds())}.${extension}`,
  ].join('/');
}

/** Parses a Capture blob path; undefined for paths that are not Capture files (so readers can skip them). */
export function parseCaptureKey(key: string): CapturePathParts | undefined {
  const segments = key.split('/');
  if (segments.length < 9) return undefined;
  const tail = segments.slice(-9);
  const [namespace, hub, partition, y, mo, d, h, mi, sFile] = tail as [string, string, string, string, string, string, string, string, string];
  const match = /^(\d{1,2})\.avro$/.exec(sFile);
  if (!match || !/^\d+$/.test(partition)) return undefined;
  const nums = [y, mo, d, h, mi, match[1]!].map(Number);
  if (nums.some((n) => !Number.isInteger(n))) return undefined;
  const [year, month, day, hour, minute, second] = nums as [number, number, number, number, number, number];
  return { namespace, hub, partition, windowStart: new Date(Date.UTC(year, month - 1, day, hour, minute, second)) };
}

/**
 * EnqueuedTimeUtc is written by the service as a culture-formatted string (`11/16/2016 4:44:11 PM`, invariant
 * culture: month/day/year, 12-hour clock); newer files and our generator write ISO 8601. Returns epoch ms or NaN.
 */
export function parseEnqueuedTimeUtc(text: string): number {
  const us = /^(\d{1,2})\/(\d{1,2})\/(\d{4}) (\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))? ?(AM|PM)?$/i.exec(text.trim());
  if (us) {
    const [, mo, d, y, h, mi, s, frac, ampm] = us;
    let hour = Number(h);
    if (ampm) {
      const pm = ampm.toUpperCase() === 'PM';
      if (hour === 12) hour = pm ? 12 : 0;
      else if (pm) hour += 12;
    }
    const ms = frac ? Math.round(Number(`0.${frac}`) * 1000) : 0;
    return Date.UTC(Number(y), Number(mo) - 1, Number(d), hour, Number(mi), Number(s), ms);
  }
  const iso = Date.parse(/[zZ]|[+-]\d{2}:?\d{2}$/.test(text) ? text : `${text}Z`);
  return iso;
}
