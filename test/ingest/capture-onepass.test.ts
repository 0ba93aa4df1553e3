/**
 * The one-pass EventData reader (onepass-reader.ts) against the avsc-based reader it stands in for (the oracle):
 * over random Capture blocks, valid and hostile, written by an encoder of the test's own (duplicate keys,
 * `__proto__`, negative map block counts, US and ISO times, bad offsets...), then bit flips, truncations, extra
 * bytes, wrong counts and the envelope bombs of the poison suite:
 * - whenever the one-pass reader takes a block, avsc reads it without failure or envelope error, and the columns
 *   and lazily decoded property maps equal avsc's events; plainly good blocks are always taken;
 * - a whole lane batch (captureBlockColumns: blocks, unreadable regions, deflate, resume point, redeliveries)
 *   gives the same events, columns, dead-letter inputs, failures, warnings and read state as the avsc-only read
 *   followed by a brute-force model of the lane's redelivery filter.
 */
import { deflateRawSync } from 'node:zlib';
import type avro from 'avsc';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CaptureBlocks, CaptureItem, SourceEvent } from '../../src/core/source.js';
import { CAPTURE_SCHEMA } from '../../src/ingest/capture/format.js';
import { captureBlockReader } from '../../src/ingest/capture/event-reader.js';
import { captureBlockColumns, captureBlockEvents, captureScratch, type CaptureReadState } from '../../src/ingest/capture/lane-blocks.js';
import { offsetText, onePassReader, partitionKeyText } from '../../src/ingest/capture/onepass-reader.js';
import { stringAt, stringOrNullAt } from '../../src/core/column-builder.js';
import { envelopePoisons } from '../support/poison.js';
import { observableEvent } from '../support/source-event.js';

const SCHEMA = CAPTURE_SCHEMA as unknown as avro.Schema;
const T0 = Date.UTC(2026, 0, 1);

function varint(value: number | bigint): Buffer {
  let n = BigInt(value);
  n = n >= 0n ? n << 1n : (-n << 1n) - 1n;
  const out: number[] = [];
  do {
    let b = Number(n & 0x7fn);
    n >>= 7n;
    if (n > 0n) b |= 0x80;
    out.push(b);
  } while (n > 0n);
  return Buffer.from(out);
}

const text = (s: string): Buffer => {
  const bytes = Buffer.from(s, 'utf8');
  return Buffer.concat([varint(bytes.length), bytes]);
};

/** A map value: [union branch, value]; branches of SystemProperties are long, double, string, bytes (+ null for Properties). */
type MapValue = ['long', number] | ['double', number] | ['string', string] | ['bytes', Buffer] | ['null', null];

function value(branches: string[], [kind, v]: MapValue): Buffer {
  const index = varint(branches.indexOf(kind));
  switch (kind) {
    case 'long':
      return Buffer.concat([index, varint(v)]);
    case 'double': {
      const b = Buffer.alloc(8);
      b.writeDoubleLE(v);
      return Buffer.concat([index, b]);
    }
    case 'string':
      return Buffer.concat([index, text(v)]);
    case 'bytes':
      return Buffer.concat([index, varint(v.length), v]);
    case 'null':
      return index;
  }
}

/** Map entries in blocks of `split` items; a negative-count block carries its byte size, as Avro allows. */
function map(branches: string[], entries: Array<[string, MapValue]>, split: number, negative: boolean): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < entries.length; i += split) {
    const items = Buffer.concat(entries.slice(i, i + split).map(([k, v]) => Buffer.concat([text(k), value(branches, v)])));
    const n = Math.min(split, entries.length - i);
    parts.push(negative ? Buffer.concat([varint(-n), varint(items.length), items]) : Buffer.concat([varint(n), items]));
  }
  parts.push(varint(0));
  return Buffer.concat(parts);
}

const SYSTEM = ['long', 'double', 'string', 'bytes'];
const PROPS = ['long', 'double', 'string', 'bytes', 'null'];

const systemValue: fc.Arbitrary<MapValue> = fc.oneof(
  fc.tuple(fc.constant('long' as const), fc.integer({ min: -1e6, max: 1e12 })),
  fc.tuple(fc.constant('double' as const), fc.double({ noNaN: true })),
  fc.tuple(fc.constant('string' as const), fc.string({ maxLength: 12 })),
  fc.tuple(fc.constant('bytes' as const), fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b))),
);
const propertyValue: fc.Arbitrary<MapValue> = fc.oneof(systemValue, fc.constant<MapValue>(['null', null]));
const key = fc.oneof(fc.constantFrom('x-opt-partition-key', 'x-opt-sequence-number', 'region', '1', '__proto__', 'toString', '', 'é'), fc.string({ maxLength: 8 }));

interface RecordPlan {
  sequence: number;
  offset: string;
  time: string;
  system: Array<[string, MapValue]>;
  properties: Array<[string, MapValue]>;
  split: number;
  negative: boolean;
  body: Buffer | null;
}

const recordPlan: fc.Arbitrary<RecordPlan> = fc.record({
  sequence: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 1e6 }) }, { weight: 1, arbitrary: fc.integer({ min: -5, max: -1 }) }, { weight: 1, arbitrary: fc.integer({ min: 2 ** 47, max: 9007199254740990 }) }),
  offset: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 1e9 }).map(String) }, { weight: 2, arbitrary: fc.string({ maxLength: 70 }) }),
  time: fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 0, max: 86_400_000 }).map((ms) => new Date(T0 + ms).toISOString()) },
    { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 28 }), fc.integer({ min: 1, max: 12 }), fc.boolean()).map(([mo, d, h, pm]) => `${mo}/${d}/2026 ${h}:04:05 ${pm ? 'PM' : 'AM'}`) },
    { weight: 1, arbitrary: fc.string({ maxLength: 10 }) },
    // ISO-shaped edges of the reader's minute cache: hour 24, impossible days, months, minutes and seconds
    { weight: 1, arbitrary: fc.constantFrom('2026-01-01T24:00:00.000Z', '2026-01-01T24:00:07.000Z', '2026-02-30T10:00:00.000Z', '2026-13-01T00:00:00.000Z', '2026-01-01T23:60:00.000Z', '2026-01-01T23:59:60.000Z', '2026-01-01T10:00:07.123z', '+02026-01-01T00:00:00.000Z') },
  ),
  system: fc.array(fc.tuple(key, systemValue), { maxLength: 4 }),
  properties: fc.array(fc.tuple(key, propertyValue), { maxLength: 4 }),
  split: fc.integer({ min: 1, max: 3 }),
  negative: fc.boolean(),
  body: fc.option(fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)), { nil: null }),
});

function encode(r: RecordPlan): Buffer {
  return Buffer.concat([
    varint(r.sequence),
    text(r.offset),
    text(r.time),
    map(SYSTEM, r.system, r.split, r.negative),
    map(PROPS, r.properties, r.split, r.negative),
    r.body === null ? varint(0) : Buffer.concat([varint(1), varint(r.body.length), r.body]),
  ]);
}

/** What the fast path must take: nothing unusual anywhere in the record. */
function plain(r: RecordPlan): boolean {
  return (
    r.sequence >= 0 &&
    r.sequence < 2 ** 47 &&
    /^[0-9]{1,64}$/.test(r.offset) &&
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(r.time) &&
    Number.isFinite(Date.parse(r.time)) &&
    !r.negative &&
    r.properties.every(([k]) => k !== '__proto__')
  );
}

type Mutation = { kind: 'none' } | { kind: 'flip'; at: number; bit: number } | { kind: 'cut'; at: number } | { kind: 'extra'; bytes: Buffer } | { kind: 'count'; delta: number } | { kind: 'poison'; which: number; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 5, arbitrary: fc.constant<Mutation>({ kind: 'none' }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('extra' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }).map((b) => Buffer.from(b)) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('count' as const), delta: fc.constantFrom(-1, 1, 2 ** 31) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('poison' as const), which: fc.integer({ min: 0, max: 6 }), at: fc.nat() }) },
);

function block(records: RecordPlan[], m: Mutation): { data: Buffer; count: number } {
  const encoded = records.map(encode);
  let count = records.length;
  if (m.kind === 'poison' && encoded.length > 0) encoded[m.at % encoded.length] = envelopePoisons(m.at, T0, Buffer.from('x'))[m.which]!.raw;
  let data = Buffer.concat(encoded);
  if (m.kind === 'flip' && data.length > 0) {
    data = Buffer.from(data);
    data[m.at % data.length]! ^= 1 << m.bit;
  } else if (m.kind === 'cut' && data.length > 0) data = data.subarray(0, m.at % data.length);
  else if (m.kind === 'extra') data = Buffer.concat([data, m.bytes]);
  else if (m.kind === 'count') count = Math.max(0, count + m.delta);
  return { data, count };
}


describe('the one-pass Capture reader', () => {
  it('takes only blocks avsc reads cleanly, always the plainly good ones, and gives the same events', () => {
    const fast = onePassReader(SCHEMA)!;
    const oracle = captureBlockReader(SCHEMA);
    let taken = 0;
    let refused = 0;
    fc.assert(
      fc.property(fc.array(recordPlan, { maxLength: 6 }), mutation, (records, m) => {
        const { data, count } = block(records, m);
        const expected = oracle(data, count, { name: 'f.avro', fallbackTimeMs: 0, previousPosition: undefined });
        const columns = fast.read(data, count);
        if (m.kind === 'none' && records.every(plain)) expect(columns).toBeDefined();
        if (!columns) {
          refused++;
          return;
        }
        taken++;
        expect(expected.failure).toBeUndefined();
        expect(expected.events.every((e) => e.envelopeError === undefined)).toBe(true);
        const events: SourceEvent[] = Array.from({ length: columns.count }, (_, i) => ({
          body: data.subarray(columns.bodyStarts[i]!, columns.bodyEnds[i]!),
          position: columns.positions[i]!,
          offset: offsetText(data, columns, i),
          enqueuedTimeMs: columns.enqueuedTimes[i]!,
          partitionKey: partitionKeyText(data, columns, i),
          properties: fast.properties(data, columns.propertyStarts[i]!, columns.propertyEnds[i]!),
        }));
        expect(events.map(observableEvent)).toEqual(expected.events.map(observableEvent));
      }),
      { numRuns: 3000 },
    );
    expect(taken).toBeGreaterThan(200);
    expect(refused).toBeGreaterThan(300);
  });

  it('is not offered for a schema of another shape (avsc reads those)', () => {
    const fields = (CAPTURE_SCHEMA.fields as ReadonlyArray<{ name: string; type: unknown }>).map((f) => ({ ...f }));
    expect(onePassReader({ ...CAPTURE_SCHEMA, fields: [{ name: 'SequenceNumber', type: ['long', 'string'] }, ...fields.slice(1)] } as unknown as avro.Schema)).toBeUndefined();
    expect(onePassReader({ ...CAPTURE_SCHEMA, fields: [fields[1], fields[0], ...fields.slice(2)] } as unknown as avro.Schema)).toBeUndefined();
    expect(onePassReader({ ...CAPTURE_SCHEMA, fields: [...fields.slice(0, 3), { name: 'SystemProperties', type: { type: 'map', values: { type: 'array', items: 'long' } } }, ...fields.slice(4)] } as unknown as avro.Schema)).toBeUndefined();
  });
});

interface BatchPlan {
  codec: 'null' | 'deflate';
  policy: 'fail' | 'deadletter';
  blocks: Array<{ records: RecordPlan[]; mutation: Mutation; unreadable: boolean; badDeflate: boolean }>;
  resumeAt: number;
  nextPosition: number;
  previous: number | undefined;
  highest: number;
  newPass: boolean;
  names: string[];
}

const smallSequence = fc.integer({ min: 0, max: 12 });
const batchPlan: fc.Arbitrary<BatchPlan> = fc.record({
  codec: fc.constantFrom<'null' | 'deflate'>('null', 'deflate'),
  policy: fc.constantFrom<'fail' | 'deadletter'>('fail', 'deadletter'),
  blocks: fc.array(
    fc.record({
      // positions from a small range, so redeliveries, resume points and positions going backwards all happen
      records: fc.array(fc.tuple(recordPlan, smallSequence).map(([r, s]) => ({ ...r, sequence: r.sequence < 0 ? r.sequence : s })), { maxLength: 4 }),
      mutation: fc.oneof({ weight: 4, arbitrary: fc.constant<Mutation>({ kind: 'none' }) }, { weight: 1, arbitrary: mutation }),
      unreadable: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
      badDeflate: fc.oneof({ weight: 8, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    }),
    { minLength: 1, maxLength: 5 },
  ),
  resumeAt: fc.integer({ min: 0, max: 8 }),
  nextPosition: fc.integer({ min: 0, max: 10 }),
  previous: fc.option(smallSequence, { nil: undefined }),
  highest: fc.integer({ min: -1, max: 10 }),
  newPass: fc.boolean(),
  // property columns: a name twice, one an Object method's name, the empty and a non-ASCII one
  names: fc.constantFrom([], ['region'], ['region', '1', 'x-opt-partition-key'], ['toString', 'region', 'region', '', 'é']),
});

function batchInput(plan: BatchPlan): CaptureBlocks {
  const stored: Buffer[] = [];
  const items: CaptureItem[] = [];
  let from = 0;
  let start = 100;
  for (const b of plan.blocks) {
    const { data, count } = block(b.records, b.mutation);
    const bytes = b.unreadable ? Buffer.from('not a block') : plan.codec === 'deflate' ? (b.badDeflate ? Buffer.from([0xff, 0xfe, 0x01]) : deflateRawSync(data)) : data;
    const to = from + bytes.length;
    items.push(b.unreadable ? { reason: 'sync marker mismatch', from, to, start, end: start + bytes.length } : { count, from, to, start, end: start + bytes.length + 20, dataStart: start + 4 });
    stored.push(bytes);
    from = to;
    start += bytes.length + 20;
  }
  const data = Buffer.concat(stored);
  return {
    name: 'ns/orders/0/f.avro',
    windowStartMs: T0,
    schema: JSON.stringify(CAPTURE_SCHEMA),
    codec: plan.codec,
    onCorruptBlock: plan.policy,
    newPass: plan.newPass,
    data: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer,
    items,
  };
}

describe('a lane batch read in one pass', () => {
  it('gives the columns of the avsc-only read with the redelivery filter, and the same failures and state', () => {
    // one scratch for every run, as a lane lends one to every batch: nothing of a batch may show in the next
    const scratch = captureScratch();
    fc.assert(
      fc.property(batchPlan, (plan) => {
        const input = batchInput(plan);
        const state = (): CaptureReadState => ({ resumeAt: plan.resumeAt, previousPosition: plan.previous, highest: plan.highest });
        const oracleState = state();
        const oracleWarnings: Array<{ message: string; fields: Record<string, unknown> }> = [];
        const expected = captureBlockEvents(input, oracleState, oracleWarnings, { oracle: true });
        // the lane's redelivery filter, brute force: below nextPosition is dropped unless it goes backwards
        const kept = expected.events.filter((e, i, all) => e.position >= plan.nextPosition || (i > 0 && e.position <= all[i - 1]!.position));
        const laneState = state();
        const laneWarnings: Array<{ message: string; fields: Record<string, unknown> }> = [];
        const { columns, failure } = captureBlockColumns(input, laneState, laneWarnings, plan.names, plan.nextPosition, scratch);
        expect(failure).toEqual(expected.failure);
        expect(laneWarnings).toEqual(oracleWarnings);
        expect(laneState).toEqual(oracleState);
        const events: SourceEvent[] = Array.from({ length: columns.count }, (_, i) => {
          const envelope = columns.envelope.get(i);
          return {
            body: columns.bodies.subarray(columns.starts[i]!, columns.ends[i]!),
            position: columns.positions[i]!,
            offset: stringAt(columns.serviceOffsets, i),
            enqueuedTimeMs: columns.enqueuedTimes[i]!,
            partitionKey: stringOrNullAt(columns.partitionKeys, i),
            properties: columns.properties(i),
            ...(envelope ? { envelopeError: envelope.error, envelopeReason: envelope.reason } : {}),
          };
        });
        expect(events.map(observableEvent)).toEqual(kept.map((e) => observableEvent({ ...e, envelopeReason: e.envelopeError === undefined ? undefined : (e.envelopeReason ?? 'schema') })));
        // a property column holds the text of the event's own property of that name, else null
        const own = (e: SourceEvent, name: string): unknown => (Object.prototype.hasOwnProperty.call(e.properties, name) ? e.properties[name] : undefined);
        const propertyTexts = columns.propertyColumns.map((column) => Array.from({ length: columns.count }, (_, i) => stringOrNullAt(column, i)));
        expect(propertyTexts).toEqual(plan.names.map((name) => kept.map((e) => (own(e, name) === undefined || own(e, name) === null ? null : String(own(e, name))))));
      }),
      { numRuns: 1500 },
    );
  });
});
