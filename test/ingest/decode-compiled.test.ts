/**
 * The compiled Avro decoder against the avsc path (the reference: avsc's value, then projection.ts's getters),
 * through the worker's own decodeBatch, on random schemas, values, evolved writer schemas and corrupt bodies:
 * the same status per body, the same ids, event times and typed columns: the same column kind, the same numbers
 * (-0 and NaN included) and validity, and for strings and JSON text the same UTF-8 bytes (the compiled decoder
 * copies them from the body; avsc's path encodes the string it decoded, so invalid UTF-8 must come out repaired
 * exactly as a string would be).
 *
 * Bodies the compiled decoder rejects at an array or map block header (a count or size it will not trust) or by
 * one of the bounds guard's stricter rules (avro-bounds: booleans 0 or 1, varints no longer than their type
 * allows, ints within 32 bits, sized blocks filled exactly, a cap on zero-byte items) are not given to avsc: it
 * would allocate and loop for the count (17 s for one 16-byte body here), which is what the guard is for. They
 * must fail; every other body must get the same verdict from both.
 */
import avro from 'avsc';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileBodyDecoder } from '../../src/ingest/decode/compiled/decoder.js';
import { packBodies } from '../../src/ingest/decode/pool.js';
import { projectColumns } from '../../src/ingest/decode/projection.js';
import { builderKind, valueAt, type BatchColumn, type ColumnBuilder } from '../../src/core/column-builder.js';
import { DecodeStatus, type DecodeResult, type StreamDecodeSpec } from '../../src/ingest/decode/task.js';
import { decodedId, decodedIds } from '../support/decoded-ids.js';
import decodeBatch from '../../src/ingest/decode/worker.js';
import { confluentFrame } from '../../src/gen/body.js';

type Schema = unknown;
const STRICTER = /invalid boolean byte|varint longer|not a 32-bit integer|block size|empty items/;

let names = 0;
const fresh = (prefix: string) => `${prefix}${names++}`;

/** A random Avro type (as JSON), nested at most `depth` deep. */
function typeArb(depth: number): fc.Arbitrary<Schema> {
  const leaves: Array<fc.Arbitrary<Schema>> = [
    fc.constantFrom('null', 'boolean', 'int', 'long', 'float', 'double', 'string', 'bytes'),
    fc.constant({ type: 'long', logicalType: 'timestamp-millis' }),
    fc.integer({ min: 0, max: 6 }).map((size) => ({ type: 'fixed', name: fresh('F'), size })),
    fc.uniqueArray(fc.stringMatching(/^[A-Z][a-z0-9_]{0,4}$/), { minLength: 1, maxLength: 5 }).map((symbols) => ({ type: 'enum', name: fresh('E'), symbols })),
  ];
  if (depth === 0) return fc.oneof(...leaves);
  const inner = typeArb(depth - 1);
  return fc.oneof(
    { weight: 4, arbitrary: fc.oneof(...leaves) },
    { weight: 1, arbitrary: inner.map((items) => ({ type: 'array', items })) },
    { weight: 1, arbitrary: inner.map((values) => ({ type: 'map', values })) },
    { weight: 1, arbitrary: inner.filter((t) => t !== 'null' && !Array.isArray(t)).map((t) => ['null', t]) },
    { weight: 1, arbitrary: recordArb(depth - 1) },
  );
}

function recordArb(depth: number): fc.Arbitrary<Schema> {
  return fc
    .uniqueArray(fc.tuple(fc.stringMatching(/^[a-z][a-z0-9]{0,3}$/).filter((n) => n !== 'id' && n !== 'at'), typeArb(depth)), { maxLength: 4, selector: ([name]) => name })
    .map((fields) => ({ type: 'record', name: fresh('R'), fields: fields.map(([name, type]) => ({ name, type })) }));
}

/** A stream schema: an id and a time at the root, then random fields. */
const streamSchemaArb = recordArb(2).map((extra) => ({
  type: 'record',
  name: 'Root',
  fields: [{ name: 'id', type: 'string' }, { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } }, ...(extra as { fields: unknown[] }).fields],
}));

const spec = (schema: Schema, bodyFormat: StreamDecodeSpec['bodyFormat'], decoder: 'compiled' | 'avsc'): StreamDecodeSpec => ({
  stream: `s${names++}`,
  schema: JSON.stringify(schema),
  bodyFormat,
  eventIdPath: ['id'],
  eventTimePath: ['at'],
  maxEventBytes: 1 << 20,
  decoder,
});

/** Corrupt variants of valid bodies: truncated, extended, bytes flipped, random bytes. */
function corruptions(valid: Buffer[], rng: () => number): Buffer[] {
  const out: Buffer[] = [];
  for (const body of valid) {
    out.push(body.subarray(0, Math.floor(rng() * body.length)));
    out.push(Buffer.concat([body, Buffer.from([Math.floor(rng() * 256)])]));
    const flipped = Buffer.from(body);
    for (let n = 0; n < 3 && flipped.length > 0; n++) flipped[Math.floor(rng() * flipped.length)] = Math.floor(rng() * 256);
    out.push(flipped);
    out.push(Buffer.from(Array.from({ length: Math.floor(rng() * 24) }, () => Math.floor(rng() * 256))));
  }
  return out;
}

/** Runs both paths over the bodies and checks they agree. */
function expectSameRows(schemaJson: Schema, bodies: Buffer[], format: StreamDecodeSpec['bodyFormat'] = 'avro', writerSchemas?: Record<number, string>): DecodeResult {
  const compiled = decodeBatch({ spec: spec(schemaJson, format, 'compiled'), ...packBodies(bodies.map((body) => ({ body }))), ...(writerSchemas ? { writerSchemas } : {}) });
  // Bodies the compiled decoder refused for a count (avsc would try to allocate for it) or by a stricter rule
  // (avsc would read on, possibly into such a count) are not given to avsc.
  const bombs = new Set(compiled.errors.filter(([, message]) => / block |empty items/.test(message) || STRICTER.test(message)).map(([i]) => i));
  const safe = bodies.map((body, i) => (bombs.has(i) ? Buffer.alloc(0) : body));
  const reference = decodeBatch({ spec: spec(schemaJson, format, 'avsc'), ...packBodies(safe.map((body) => ({ body }))), ...(writerSchemas ? { writerSchemas } : {}) });
  const compiledErrors = new Map(compiled.errors);
  const keep: boolean[] = [];
  for (let i = 0; i < bodies.length; i++) {
    const a = compiled.status[i];
    const b = reference.status[i];
    if (bombs.has(i)) {
      expect(a).toBe(DecodeStatus.Decode);
      keep.push(false);
    } else {
      expect(a, `body ${i}: ${bodies[i]!.toString('hex')}: ${compiledErrors.get(i) ?? 'ok'}`).toBe(b);
      keep.push(a === DecodeStatus.Ok);
    }
  }
  // Rows of bodies both accepted are equal, in order.
  const okIndex = (result: DecodeResult) => {
    const map = new Map<number, number>();
    let row = 0;
    for (let i = 0; i < result.status.length; i++) if (result.status[i] === DecodeStatus.Ok) map.set(i, row++);
    return map;
  };
  const rowsA = okIndex(compiled);
  const rowsB = okIndex(reference);
  for (let i = 0; i < bodies.length; i++) {
    if (!keep[i] || compiled.status[i] !== DecodeStatus.Ok || reference.status[i] !== DecodeStatus.Ok) continue;
    const ra = rowsA.get(i)!;
    const rb = rowsB.get(i)!;
    expect(decodedId(compiled, ra)).toBe(decodedId(reference, rb));
    expect(compiled.eventTimes[ra]).toBe(reference.eventTimes[rb]);
    expect(
      compiled.columns.map((c) => cell(c, ra)),
      `body ${i}`,
    ).toEqual(reference.columns.map((c) => cell(c, rb)));
    expect(compiled.columns.map((c) => valueAt(c, ra))).toEqual(reference.columns.map((c) => valueAt(c, rb)));
  }
  // Both paths give every column the typed form its kind takes.
  const columns = projectColumns(schemaJson);
  for (const result of [compiled, reference]) expect(result.columns.map((c) => c.kind)).toEqual(columns.map((c) => builderKind(c.type)));
  return compiled;
}

/** One row of a typed column as comparable data: null, the number (Object.is: -0 and NaN kept), or the UTF-8 bytes. */
function cell(column: BatchColumn, row: number): unknown {
  if (column.validity !== undefined && column.validity[row] === 0) return null;
  switch (column.kind) {
    case 'float64':
    case 'int32': {
      const value = column.values[row]!;
      return Object.is(value, -0) ? '-0' : Number.isNaN(value) ? 'NaN' : value;
    }
    case 'utf8':
      return Buffer.from(column.bytes.subarray(column.offsets[row]!, column.offsets[row + 1]!)).toString('hex');
    default:
      return column.values[row];
  }
}

function valuesOf(schemaJson: Schema, count: number, rng: () => number): unknown[] {
  const type = avro.Type.forSchema(schemaJson as avro.Schema);
  return Array.from({ length: count }, () => {
    const value = type.random() as unknown as Record<string, unknown>;
    value.id = rng() < 0.05 ? '' : `id-${Math.floor(rng() * 1e6)}`;
    value.at = Math.floor(rng() * 2 ** 41);
    return value;
  });
}

const seededRng = (seed: number) => {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
};

describe('compiled Avro decoder vs avsc', () => {
  it('decodes random schemas and values to the same rows, and fails on the same corrupt bodies', () => {
    fc.assert(
      fc.property(streamSchemaArb, fc.integer(), (schemaJson, seed) => {
        const rng = seededRng(seed);
        const type = avro.Type.forSchema(schemaJson as avro.Schema);
        expect('decoder' in compileBodyDecoder(schemaJson, undefined, projectColumns(schemaJson))).toBe(true);
        const valid = valuesOf(schemaJson, 8, rng).map((v) => type.toBuffer(v));
        const result = expectSameRows(schemaJson, [...valid, ...corruptions(valid, rng)]);
        expect([...result.status.subarray(0, valid.length)].every((s) => s !== DecodeStatus.Decode)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('gives every batch the same result whether it fills builders of its own or reused ones (what a lane does)', () => {
    fc.assert(
      fc.property(streamSchemaArb, fc.integer(), fc.constantFrom<'compiled' | 'avsc'>('compiled', 'avsc'), (schemaJson, seed, decoder) => {
        const rng = seededRng(seed);
        const type = avro.Type.forSchema(schemaJson as avro.Schema);
        const streamSpec = spec(schemaJson, 'avro', decoder);
        const reuse: ColumnBuilder[] = [];
        // batches of valid and corrupt bodies (nulls, failed rows dropped half-way) one after the other
        for (let batch = 0; batch < 4; batch++) {
          const valid = valuesOf(schemaJson, 1 + Math.floor(rng() * 8), rng).map((v) => type.toBuffer(v));
          const bodies = rng() < 0.5 ? [...valid, ...corruptions(valid, rng)] : valid;
          const packed = packBodies(bodies.map((body) => ({ body })));
          const own = decodeBatch({ spec: streamSpec, ...packed });
          const reused = decodeBatch({ spec: streamSpec, ...packBodies(bodies.map((body) => ({ body }))) }, undefined, reuse);
          expect(reuse.length).toBe(own.columns.length);
          expect([...reused.status]).toEqual([...own.status]);
          expect(reused.errors).toEqual(own.errors);
          expect(decodedIds(reused)).toEqual(decodedIds(own));
          expect([...reused.eventTimes]).toEqual([...own.eventTimes]);
          const rows = own.ids.length;
          for (let c = 0; c < own.columns.length; c++) {
            for (let row = 0; row < rows; row++) expect(cell(reused.columns[c]!, row)).toEqual(cell(own.columns[c]!, row));
          }
        }
      }),
      { numRuns: 60 },
    );
  });

  it('handles values avsc.random does not make: -0, NaN, infinities, escapes, non-ASCII, array-index and __proto__ map keys', () => {
    const schemaJson = {
      type: 'record',
      name: 'Root',
      fields: [
        { name: 'id', type: 'string' },
        { name: 'at', type: 'long' },
        { name: 'd', type: 'double' },
        { name: 'f', type: 'float' },
        { name: 'm', type: { type: 'map', values: ['null', 'double'] } },
        { name: 'a', type: { type: 'array', items: 'string' } },
        { name: 'b', type: ['null', 'bytes'] },
      ],
    };
    const type = avro.Type.forSchema(schemaJson as avro.Schema);
    const bodies = [
      { id: 'é"\\\n\u0001😀', at: 1_700_000_000_000, d: -0, f: Number.NaN, m: { b: 1, '2': -0, '1': null, __proto__x: 3, '': Infinity }, a: ['"', '\u2028', 'ü'], b: null },
      { id: 'x', at: 1_800_000_000_000, d: Number.NEGATIVE_INFINITY, f: 1.1, m: { '4294967295': 1, '4294967294': 2, '01': 3 }, a: [], b: Buffer.from([0, 255]) },
    ].map((v) => type.toBuffer(v));
    // A map with a repeated key, a __proto__ key and array-index keys out of order, written by hand (avsc
    // cannot encode them from an object, whose own order puts index keys first).
    const keys = ['k', '__proto__', '10', 'k', '2', 'x', '07'];
    const map = Buffer.concat([
      Buffer.from([2 * keys.length]),
      ...keys.map((key, i) => Buffer.concat([Buffer.from([2 * key.length]), Buffer.from(key), Buffer.from([2]), doubleLE(i)])),
      Buffer.from([0]),
    ]);
    // ... and an array of strings holding invalid UTF-8 (a stray byte, a truncated sequence, an encoded surrogate)
    const badUtf8 = Buffer.from([2 * 3, 2 * 2, 0xff, 0x41, 2 * 2, 0xe2, 0x82, 2 * 4, 0xed, 0xa0, 0x80, 0x22, 0]);
    const handMade = Buffer.concat([Buffer.from([2, 0x79, 0]), doubleLE(1), Buffer.from([0, 0, 0, 0]), map, badUtf8, Buffer.from([0])]);
    const result = expectSameRows(schemaJson, [...bodies, handMade]);
    expect([...result.status.subarray(0, 2)]).toEqual([DecodeStatus.Ok, DecodeStatus.Ok]);
  });

  it('resolves evolved writer schemas (promotions, added and removed fields, enum and union changes) like avsc', () => {
    const reader = {
      type: 'record',
      name: 'Order',
      fields: [
        { name: 'id', type: 'string' },
        { name: 'at', type: 'long' },
        { name: 'qty', type: 'long' },
        { name: 'price', type: 'double' },
        { name: 'label', type: 'bytes' },
        { name: 'coupon', type: ['null', 'string'], default: null },
        { name: 'channel', type: { type: 'enum', name: 'Channel', symbols: ['web', 'app', 'other'], default: 'other' } },
        { name: 'ship', type: ['null', { type: 'record', name: 'Ship', fields: [{ name: 'country', type: 'string' }, { name: 'zip', type: 'string', default: '-' }] }], default: null },
        { name: 'lines', type: { type: 'array', items: { type: 'record', name: 'Line', fields: [{ name: 'sku', type: 'string' }, { name: 'n', type: 'long', default: 1 }] } }, default: [] },
        { name: 'tags', type: { type: 'map', values: 'double' }, default: { a: 1 } },
      ],
    };
    const writer = {
      type: 'record',
      name: 'Order',
      fields: [
        { name: 'extra', type: { type: 'array', items: ['null', { type: 'map', values: 'string' }] } },
        { name: 'at', type: 'int' },
        { name: 'id', type: 'string' },
        { name: 'qty', type: 'int' },
        { name: 'price', type: 'float' },
        { name: 'label', type: 'string' },
        { name: 'coupon', type: 'string' },
        { name: 'channel', type: { type: 'enum', name: 'Channel', symbols: ['store', 'app', 'web'] } },
        { name: 'ship', type: { type: 'record', name: 'Ship', fields: [{ name: 'gone', type: 'boolean' }, { name: 'country', type: 'string' }] } },
        { name: 'lines', type: { type: 'array', items: { type: 'record', name: 'Line', fields: [{ name: 'old', type: 'double' }, { name: 'sku', type: 'string' }] } } },
      ],
    };
    const writerType = avro.Type.forSchema(writer as avro.Schema);
    expect('decoder' in compileBodyDecoder(reader, writer, projectColumns(reader))).toBe(true);
    const rng = seededRng(7);
    const valid = Array.from({ length: 50 }, (_, i) => {
      const v = writerType.random() as unknown as Record<string, unknown>;
      v.id = `o${i}`;
      return confluentFrame(9, writerType.toBuffer(v));
    });
    const readerOwn = avro.Type.forSchema(reader as avro.Schema);
    const same = Array.from({ length: 20 }, (_, i) => confluentFrame(3, readerOwn.toBuffer({ ...(readerOwn.random() as object), id: `r${i}` })));
    const bodies = [...valid, ...same, ...corruptions(valid, rng).map((b) => (b.length > 5 ? b : confluentFrame(9, b))), confluentFrame(4, Buffer.alloc(3)), Buffer.from([1, 2])];
    const result = expectSameRows(reader, bodies, 'confluent-avro', { 9: JSON.stringify(writer), 3: JSON.stringify(reader) });
    expect(decodedIds(result).slice(0, 3)).toEqual(['o0', 'o1', 'o2']);
  });

  it('writes string columns holding invalid UTF-8 as the bytes a decoded string encodes to, short and long', () => {
    const schemaJson = {
      type: 'record',
      name: 'Root',
      fields: [
        { name: 'id', type: 'string' },
        { name: 'at', type: 'long' },
        { name: 's', type: 'string' },
        { name: 'n', type: ['null', 'string'] },
        { name: 'j', type: { type: 'map', values: 'string' } },
      ],
    };
    const str = (bytes: Buffer) => Buffer.concat([Buffer.from([bytes.length * 2]), bytes]);
    const bad = [
      Buffer.from([0xff, 0x41]),
      Buffer.from([0xe2, 0x82]),
      Buffer.from([0xed, 0xa0, 0x80, 0x22]),
      Buffer.from('ok é 😀', 'utf8'),
      Buffer.concat([Buffer.alloc(40, 0x61), Buffer.from([0xc3])]), // past the short-copy loop
      Buffer.concat([Buffer.from('ü', 'utf8'), Buffer.alloc(40, 0x62)]),
    ];
    const bodies = bad.flatMap((b, i) => [
      Buffer.concat([str(Buffer.from(`i${i}`)), Buffer.from([2]), str(b), Buffer.from([2]), str(b), Buffer.from([2]), str(Buffer.from('k')), str(b), Buffer.from([0])]),
      Buffer.concat([str(b), Buffer.from([4]), str(Buffer.from('x')), Buffer.from([0]), Buffer.from([0])]),
    ]);
    const result = expectSameRows(schemaJson, bodies);
    expect([...result.status].every((s) => s === DecodeStatus.Ok)).toBe(true);
    // and the bytes are those of the decoded string (the reference path's conversion, checked here directly)
    const s = result.columns[2]!;
    if (s.kind !== 'utf8') throw new Error('string column is not utf8');
    expect(Buffer.from(s.bytes.subarray(s.offsets[0]!, s.offsets[1]!))).toEqual(Buffer.from(bad[0]!.toString('utf8'), 'utf8'));
  });

  it('makes the ids of a batch as the avsc path does: ASCII ones around dropped rows, and a batch with one non-ASCII or invalid UTF-8 id', () => {
    const schemaJson = { type: 'record', name: 'Ids', fields: [{ name: 'id', type: 'string' }, { name: 'at', type: 'long' }, { name: 's', type: 'string' }] };
    const type = avro.Type.forSchema(schemaJson as avro.Schema);
    const body = (id: string, at = 1_700_000_000_000) => type.toBuffer({ id, at, s: `s-${id}` });
    // ids of 1 to 40 characters (a slice of the batch's string is a copy below 13), rows dropped in between: a
    // corrupt body, an empty id, a time outside eventTimeRange
    const ascii = Array.from({ length: 40 }, (_, i) => body(`${'x'.repeat(i)}${i}`));
    const dropped = [...ascii.slice(0, 10), body('a').subarray(0, 3), ...ascii.slice(10, 20), body(''), ...ascii.slice(20, 30), body('late', -5), ...ascii.slice(30)];
    const result = expectSameRows(schemaJson, dropped);
    expect(decodedIds(result)).toEqual(Array.from({ length: 40 }, (_, i) => `${'x'.repeat(i)}${i}`));
    const invalid = Buffer.concat([Buffer.from([2 * 3, 0x61, 0xff, 0x62]), Buffer.from(type.toBuffer({ id: '', at: 1, s: 'q' }).subarray(1))]);
    expectSameRows(schemaJson, [...ascii.slice(0, 5), body('é😀'), ...ascii.slice(5, 10)]);
    expect(decodedId(expectSameRows(schemaJson, [...ascii.slice(0, 5), invalid, ...ascii.slice(5, 10)]), 5)).toBe('a\ufffdb');
  });

  it('writes JSON text into its column in place: values past the room of the column, a body failing half-way through one, batches sized by the one before', () => {
    const schemaJson = {
      type: 'record',
      name: 'Big',
      fields: [
        { name: 'id', type: 'string' },
        { name: 'at', type: 'long' },
        { name: 'a', type: { type: 'array', items: 'string' } },
        { name: 'm', type: { type: 'map', values: { type: 'array', items: 'string' } } },
        { name: 's', type: 'string' },
      ],
    };
    const type = avro.Type.forSchema(schemaJson as avro.Schema);
    const long = (n: number, text: string) => Array.from({ length: n }, (_, i) => `${text}${i}`);
    const body = (i: number, n: number) => type.toBuffer({ id: `i${i}`, at: 1_700_000_000_000 + i, a: long(n, 'x'.repeat(40)), m: { k: long(n, 'é"') }, s: `s${i}` });
    const big = body(1, 200);
    const bodies = [body(0, 1), big, big.subarray(0, big.length - 300), body(2, 3), big.subarray(0, 2000), body(3, 0), body(4, 500)];
    // the same stream (so the same builders' sizing) for one batch of large rows, then one of small rows, twice over
    const compiled = spec(schemaJson, 'avro', 'compiled');
    const reference = spec(schemaJson, 'avro', 'avsc');
    const batches = [bodies, [body(5, 1), body(6, 2)], bodies, [body(7, 0)]];
    for (const batch of batches) {
      const a = decodeBatch({ spec: compiled, ...packBodies(batch.map((b) => ({ body: b }))) });
      const r = decodeBatch({ spec: reference, ...packBodies(batch.map((b) => ({ body: b }))) });
      expect([...a.status]).toEqual([...r.status]);
      expect(decodedIds(a)).toEqual(decodedIds(r));
      expect(a.columns.map((c) => Array.from({ length: a.ids.length }, (_, row) => cell(c, row)))).toEqual(r.columns.map((c) => Array.from({ length: r.ids.length }, (_, row) => cell(c, row))));
    }
    expect(decodeBatch({ spec: compiled, ...packBodies(bodies.map((b) => ({ body: b }))) }).status.filter((s) => s === DecodeStatus.Decode).length).toBe(2);
  });

  it('falls back to avsc for unions other than null + one type, and says so', () => {
    const schemaJson = { type: 'record', name: 'U', fields: [{ name: 'id', type: 'string' }, { name: 'at', type: 'long' }, { name: 'u', type: ['null', 'string', 'long'] }] };
    const outcome = compileBodyDecoder(schemaJson, undefined, projectColumns(schemaJson));
    expect('fallback' in outcome && outcome.fallback).toMatch(/only \["null", T\] unions/);
    const type = avro.Type.forSchema(schemaJson as avro.Schema);
    expectSameRows(schemaJson, [type.toBuffer({ id: 'a', at: 1, u: 5 }), type.toBuffer({ id: 'b', at: 2, u: 'x' })]);
  });

  it('rejects length and count bombs before allocating for them', () => {
    const schemaJson = {
      type: 'record',
      name: 'B',
      fields: [
        { name: 'id', type: 'string' },
        { name: 'at', type: 'long' },
        { name: 'xs', type: { type: 'array', items: 'null' } },
        { name: 'ys', type: { type: 'array', items: 'long' } },
        { name: 'm', type: { type: 'map', values: 'string' } },
      ],
    };
    const head = Buffer.from([2, 0x61, 2]); // id "a", at 1
    const varint = (n: number) => {
      const out: number[] = [];
      let z = n * 2; // zig-zag of a non-negative number
      while (z >= 128) {
        out.push((z % 128) | 128);
        z = Math.floor(z / 128);
      }
      out.push(z);
      return Buffer.from(out);
    };
    const bombs = [
      Buffer.concat([Buffer.from([2 * 2 ** 6 - 1 + 1]), head.subarray(1)]), // string longer than the body
      Buffer.concat([head, varint(2 ** 31), Buffer.from([0, 0, 0])]), // 2^31 nulls
      Buffer.concat([head, Buffer.from([0]), varint(2 ** 40), Buffer.from([0, 0])]), // 2^40 longs in 3 bytes
      Buffer.concat([head, Buffer.from([0, 0]), varint(1e9), Buffer.from([0])]), // a billion map entries
      Buffer.concat([head, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])]), // an 11-byte varint
    ];
    const result = decodeBatch({ spec: spec(schemaJson, 'avro', 'compiled'), ...packBodies(bombs.map((body) => ({ body }))) });
    expect([...result.status]).toEqual(bombs.map(() => DecodeStatus.Decode));
    // The bounds guard (run first on both paths) or the decoder's own checks name the bad count or length.
    expect(result.errors.map(([, m]) => m).every((m) => /bad Avro bytes|truncated|block|varint/.test(m))).toBe(true);
  });
});

function doubleLE(value: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeDoubleLE(value);
  return out;
}
