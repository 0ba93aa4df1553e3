/**
 * The bounds guard against avsc: on every valid encoding it accepts exactly the bytes avsc decodes; whatever it
 * accepts, avsc decodes without error and to the same end; and every body of the poison corpus (length and count
 * bombs in every kind, multi-byte varints, truncations) is refused with the byte and the reason.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import avro from 'avsc';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BoundsGuard, MAX_NESTING, ZERO_BYTE_ITEM_ALLOWANCE } from '../../src/ingest/decode/avro-bounds.js';
import { CAPTURE_SCHEMA, captureType } from '../../src/ingest/capture/format.js';
import { avroValue } from '../support/avro-arbitrary.js';
import { KITCHEN_SINK_SCHEMA, bodyPoisons, captureRecord, encodeWithSites, kitchenSink, varint } from '../support/poison.js';
import { REPO_ROOT } from '../support/workspace.js';

const LINKED_LIST = {
  type: 'record',
  name: 'Node',
  fields: [
    { name: 'value', type: 'int' },
    { name: 'next', type: ['null', 'Node'] },
    { name: 'children', type: { type: 'array', items: 'Node' } },
  ],
};

const schemas: Record<string, avro.Type> = {
  orders: avro.Type.forSchema(JSON.parse(readFileSync(path.join(REPO_ROOT, 'examples/schemas/orders.avsc'), 'utf8')) as avro.Schema),
  telemetry: avro.Type.forSchema(JSON.parse(readFileSync(path.join(REPO_ROOT, 'examples/schemas/telemetry.avsc'), 'utf8')) as avro.Schema),
  kitchenSink: avro.Type.forSchema(KITCHEN_SINK_SCHEMA as unknown as avro.Schema),
  captureEnvelope: captureType,
  captureEnvelopeUnwrapped: avro.Type.forSchema({ ...CAPTURE_SCHEMA, fields: CAPTURE_SCHEMA.fields.slice(0, 3) } as unknown as avro.Schema),
  linkedList: avro.Type.forSchema(LINKED_LIST as avro.Schema),
};

/** A body with some bytes changed: flips, insertions, deletions, and varints (often multi-byte) written over it. */
const mutated = (bytes: Buffer) =>
  fc
    .array(
      fc.oneof(
        fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
        fc.record({ op: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
        fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
        fc.record({ op: fc.constant('varint' as const), at: fc.nat(), value: fc.oneof(fc.integer(), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })) }),
      ),
      { minLength: 1, maxLength: 3 },
    )
    .map((ops) => {
      let out = Buffer.from(bytes);
      for (const op of ops) {
        const at = out.length === 0 ? 0 : op.at % out.length;
        if (op.op === 'flip' && out.length > 0) out[at]! ^= 1 << op.bit;
        else if (op.op === 'insert') out = Buffer.concat([out.subarray(0, at), Buffer.from([op.byte]), out.subarray(at)]);
        else if (op.op === 'delete') out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1)]);
        else if (op.op === 'varint') out = Buffer.concat([out.subarray(0, at), varint(op.value), out.subarray(at + 1)]);
      }
      return out;
    });

describe('avro-bounds', () => {
  for (const [name, type] of Object.entries(schemas)) {
    it(`accepts exactly the bytes avsc encodes and decodes (${name})`, () => {
      const guard = BoundsGuard.for(type);
      fc.assert(
        fc.property(avroValue(type), fc.uint8Array({ maxLength: 4 }), (value, tail) => {
          const bytes = type.toBuffer(value);
          expect(guard.check(bytes)).toBeUndefined();
          // one value inside a longer buffer: the guard finds where avsc's decode ends
          const longer = Buffer.concat([bytes, tail]);
          expect(guard.skip(longer, 0, longer.length, longer.length)).toBe(type.decode(longer, 0).offset);
          expect(type.toBuffer(type.fromBuffer(bytes)).equals(bytes)).toBe(true);
        }),
        { seed: 0x5eed, numRuns: 300 },
      );
    });

    it(`whatever it accepts, avsc decodes to the same end (${name}, mutated bodies)`, () => {
      const guard = BoundsGuard.for(type);
      let accepted = 0;
      fc.assert(
        fc.property(avroValue(type).chain((value) => mutated(type.toBuffer(value))), (bytes) => {
          const failure = guard.check(bytes);
          if (failure === undefined) {
            accepted++;
            expect(() => type.fromBuffer(bytes)).not.toThrow();
          } else {
            expect(failure.offset).toBeGreaterThanOrEqual(0);
            expect(failure.offset).toBeLessThanOrEqual(bytes.length);
            expect(failure.message.length).toBeGreaterThan(0);
          }
        }),
        { seed: 0xbad, numRuns: 1000 },
      );
      // the property says something only if some mutations survive (a flipped bit inside a string, say)
      expect(accepted).toBeGreaterThan(0);
    });
  }

  it('refuses every body of the poison corpus, naming the byte and the reason', () => {
    const cases = [
      { type: schemas.kitchenSink!, value: kitchenSink('id-1', 1_700_000_000_000, '#NaN', 2) },
      { type: schemas.kitchenSink!, value: kitchenSink('id-2', 1_700_000_000_000, 'null', 4) },
      { type: captureType, value: { ...captureRecord(5, 1_700_000_000_000, Buffer.from('body'), 'key'), Properties: { a: { string: 'x' }, b: { long: 1 } } } },
    ];
    const kinds = new Set<string>();
    for (const { type, value } of cases) {
      const guard = BoundsGuard.for(type);
      const poisons = bodyPoisons(type, value);
      expect(poisons.length).toBeGreaterThan(40);
      for (const poison of poisons) {
        const failure = guard.check(poison.bytes);
        expect(failure, poison.name).toBeDefined();
        expect(failure!.offset, poison.name).toBeLessThanOrEqual(poison.bytes.length);
        kinds.add(poison.kind);
      }
    }
    expect([...kinds].sort()).toEqual(['array', 'boolean', 'bytes', 'enum', 'int', 'long', 'map', 'string', 'truncated', 'union']);
  });

  it('says what the bomb was and where', () => {
    const type = schemas.kitchenSink!;
    const guard = BoundsGuard.for(type);
    const { bytes, sites } = encodeWithSites(type, kitchenSink('x', 1, 'g', 1));
    const tags = sites.find((s) => s.kind === 'array')!;
    const bomb = Buffer.concat([bytes.subarray(0, tags.start), varint(2 ** 31), bytes.subarray(tags.end)]);
    expect(guard.check(bomb)).toEqual({ offset: tags.start, message: expect.stringMatching(/^array: block count 2147483648 needs at least 2147483648 bytes, \d+ remain$/) as unknown as string });
    const blob = sites.find((s) => s.kind === 'bytes')!;
    const long = Buffer.concat([bytes.subarray(0, blob.start), varint(2n ** 62n), bytes.subarray(blob.end)]);
    expect(guard.check(long)?.message).toMatch(/^bytes: length \d+ exceeds the \d+ bytes that remain$/);
  });

  it('bounds arrays of zero-byte items by the body size, where bytes cannot bound them', () => {
    const type = avro.Type.forSchema({ type: 'array', items: 'null' });
    const guard = BoundsGuard.for(type);
    // 10 bytes, 2^31 nulls: the poison pill of the issue
    const bomb = Buffer.concat([varint(2 ** 31), varint(0)]);
    expect(guard.check(bomb)?.message).toBe('array: block count 2147483648 of zero-byte items exceeds what the body\'s size allows');
    const fits = Buffer.concat([varint(ZERO_BYTE_ITEM_ALLOWANCE), varint(0)]);
    expect(guard.check(fits)).toBeUndefined();
    expect(type.fromBuffer(fits)).toHaveLength(ZERO_BYTE_ITEM_ALLOWANCE);
    const emptyRecords = avro.Type.forSchema({ type: 'array', items: { type: 'record', name: 'E', fields: [{ name: 'n', type: 'null' }] } });
    expect(BoundsGuard.for(emptyRecords).check(Buffer.concat([varint(-(2 ** 40)), varint(0), varint(0)]))?.message).toContain('zero-byte items');
  });

  it('checks blocks with byte sizes: the size must fit and the items must fill it', () => {
    const type = avro.Type.forSchema({ type: 'array', items: 'int' });
    const guard = BoundsGuard.for(type);
    const items = Buffer.concat([varint(1), varint(2), varint(3)]);
    const sized = Buffer.concat([varint(-3), varint(items.length), items, varint(0)]);
    expect(guard.check(sized)).toBeUndefined();
    expect(type.fromBuffer(sized)).toEqual([1, 2, 3]);
    expect(guard.check(Buffer.concat([varint(-3), varint(items.length + 1), items, varint(0), varint(0)]))?.message).toBe('array: block size says 4 bytes, its 3 items take 3');
  });

  it('stops recursion the bytes ask for at MAX_NESTING', () => {
    const type = schemas.linkedList!;
    // value 0, next = branch 1 (Node) ... repeated: each level costs two bytes
    const deep = Buffer.concat([...Array.from({ length: MAX_NESTING + 5 }, () => Buffer.from([0, 2])), Buffer.from([0, 0, 0])]);
    expect(BoundsGuard.for(type).check(deep)?.message).toBe(`nesting deeper than ${MAX_NESTING}`);
  });
});
