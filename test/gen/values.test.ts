import { readFileSync } from 'node:fs';
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { TributaryError } from '../../src/core/errors.js';
import { uuidFor } from '../../src/gen/ids.js';
import { Prng } from '../../src/gen/prng.js';
import { compileRecordGenerator, type FieldOverride, type ValueContext } from '../../src/gen/values.js';

const KITCHEN_SINK = {
  type: 'record',
  name: 'Everything',
  namespace: 'test.gen',
  fields: [
    { name: 'id', type: 'long' },
    { name: 'flag', type: 'boolean', gen: { probability: 1 } },
    { name: 'small', type: 'int', gen: { min: -5, max: 5 } },
    { name: 'ratio', type: 'float' },
    { name: 'price', type: 'double', gen: { min: 1, max: 2, decimals: 2 } },
    { name: 'name', type: 'string', gen: { length: [3, 3] } },
    { name: 'raw', type: 'bytes' },
    { name: 'nothing', type: 'null' },
    { name: 'day', type: { type: 'int', logicalType: 'date' } },
    { name: 'clock', type: { type: 'int', logicalType: 'time-millis' } },
    { name: 'clockMicros', type: { type: 'long', logicalType: 'time-micros' } },
    { name: 'at', type: { type: 'long', logicalType: 'timestamp-micros' } },
    { name: 'shipped', type: { type: 'long', logicalType: 'timestamp-millis' }, gen: { offsetMs: [1000, 2000] } },
    { name: 'ref', type: { type: 'string', logicalType: 'uuid' } },
    { name: 'amount', type: { type: 'bytes', logicalType: 'decimal', precision: 9, scale: 2 } },
    { name: 'hash', type: { type: 'fixed', name: 'Md5', size: 16 } },
    { name: 'hash2', type: 'Md5' },
    { name: 'color', type: { type: 'enum', name: 'Color', symbols: ['RED', 'GREEN', 'BLUE'] }, gen: { weights: [1, 0.000001, 0.000001] } },
    { name: 'otherColor', type: 'test.gen.Color' },
    { name: 'tags', type: { type: 'array', items: 'string' }, gen: { minItems: 2, maxItems: 2, choices: ['a', 'b'] } },
    { name: 'scores', type: { type: 'map', values: 'double' }, gen: { keys: ['x', 'y'], min: 10, max: 20 } },
    { name: 'nested', type: { type: 'record', name: 'Inner', namespace: 'other.ns', fields: [{ name: 'deep', type: { type: 'array', items: { type: 'map', values: ['null', 'int'] } } }] } },
    { name: 'inner2', type: 'other.ns.Inner' },
    { name: 'maybe', type: ['null', 'string'], gen: { nullProbability: 0 } },
    { name: 'ambiguous', type: ['int', 'long', 'string', 'Color', { type: 'record', name: 'A', fields: [{ name: 'v', type: 'int' }] }, { type: 'map', values: 'int' }] },
    {
      name: 'list',
      type: { type: 'record', name: 'Node', fields: [{ name: 'value', type: 'int' }, { name: 'next', type: ['null', 'Node'] }] },
    },
    { name: 'when', type: ['null', { type: 'long', logicalType: 'timestamp-millis' }] },
    { name: 'meta', type: { type: 'record', name: 'Meta', fields: [{ name: 'key', type: ['null', 'string'] }, { name: 'seen', type: 'double' }] } },
  ],
};

const OVERRIDES: FieldOverride[] = [
  { kind: 'eventId', path: 'id', configPath: 'streams.s.eventId' },
  { kind: 'eventTime', path: 'meta.seen', configPath: 'streams.s.eventTime' },
  { kind: 'partitionKey', path: 'meta.key', configPath: 'streams.s.partitionKey' },
];

function context(rng: Prng, i: number, keyIndex: number, key: string): ValueContext {
  return { rng, eventTimeMs: 1_700_000_000_000 + i * 1000, ordinal: i, eventId: uuidFor(i, 1), keyIndex, key };
}

describe('schema-driven value generator', () => {
  it('produces values that conform to a schema using every Avro type, and round-trip through Avro', () => {
    const generator = compileRecordGenerator(KITCHEN_SINK, { overrides: OVERRIDES, origin: 'kitchen sink', salt: 3 });
    const reader = avro.Type.forSchema(KITCHEN_SINK as avro.Schema); // what a decoder builds (wrapUnions: auto)
    const rng = new Prng(1, 'values');
    const branches = new Set<string>();
    let recursive = 0;
    for (let i = 0; i < 2000; i++) {
      const key = generator.keyString(i % 7);
      const value = generator.generate(context(rng, i, i % 7, key));
      expect(reader.isValid(value, { errorHook: (path) => expect.fail(`invalid at ${path.join('.')}`) })).toBe(true);
      const decoded = reader.fromBuffer(generator.type.toBuffer(value)) as Record<string, unknown>;
      expect(reader.isValid(decoded)).toBe(true);
      expect(value.id).toBe(i + 1);
      expect(value.flag).toBe(true);
      expect(value.small).toBeGreaterThanOrEqual(-5);
      expect(value.small).toBeLessThanOrEqual(5);
      expect(Math.round((value.price as number) * 100) / 100).toBe(value.price);
      expect((value.name as string).length).toBe(3);
      expect(value.day).toBe(Math.floor((1_700_000_000_000 + i * 1000) / 86_400_000));
      expect(value.at).toBe((1_700_000_000_000 + i * 1000) * 1000);
      expect((value.shipped as number) - (1_700_000_000_000 + i * 1000)).toBeGreaterThanOrEqual(1000);
      expect(value.ref).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect((value.hash as Buffer).length).toBe(16);
      expect(value.color).toBe('RED');
      expect((value.tags as string[]).every((t) => t === 'a' || t === 'b')).toBe(true);
      expect(Object.keys(value.scores as object)).toEqual(['x', 'y']);
      expect(value.maybe).not.toBeNull();
      expect(value.meta).toEqual({ key, seen: 1_700_000_000_000 + i * 1000 });
      const ambiguous = value.ambiguous as Record<string, unknown>;
      branches.add(Object.keys(ambiguous)[0]!);
      if ((value.list as { next: unknown }).next !== null) recursive++;
    }
    // The ambiguous union is wrapped, and every branch gets generated.
    expect([...branches].sort()).toEqual(['int', 'long', 'map', 'string', 'test.gen.A', 'test.gen.Color']);
    expect(recursive).toBeGreaterThan(500);
  });

  it('fills the example schemas realistically: totals are the sum of the lines, sticky fields follow the key', () => {
    const orders = JSON.parse(readFileSync('examples/schemas/orders.avsc', 'utf8')) as avro.Schema;
    const generator = compileRecordGenerator(orders, {
      origin: 'orders',
      salt: 9,
      overrides: [
        { kind: 'eventId', path: 'orderId', configPath: 'a' },
        { kind: 'eventTime', path: 'createdAt', configPath: 'b' },
        { kind: 'partitionKey', path: 'customerId', configPath: 'c' },
      ],
    });
    const rng = new Prng(5, 'orders');
    const countryOf = new Map<string, unknown>();
    const ids = new Set<unknown>();
    for (let i = 0; i < 3000; i++) {
      const keyIndex = i % 50;
      const key = generator.keyString(keyIndex);
      const order = generator.generate(context(rng, i, keyIndex, key));
      expect(generator.type.isValid(order)).toBe(true);
      expect(order.customerId).toBe(key);
      expect(key).toBe(`C${String(keyIndex).padStart(7, '0')}`);
      ids.add(order.orderId);
      const lines = order.lines as Array<{ quantity: number; unitPrice: number }>;
      expect(lines.length).toBeGreaterThanOrEqual(1);
      expect(lines.length).toBeLessThanOrEqual(5);
      const total = lines.reduce((sum, l) => sum + l.quantity * l.unitPrice, 0);
      expect(order.totalAmount).toBeCloseTo(total, 2);
      const country = countryOf.get(key) ?? order.shippingCountry;
      countryOf.set(key, country);
      expect(order.shippingCountry).toBe(country);
    }
    expect(ids.size).toBe(3000);
  });

  it('formats eventId, eventTime and partition key for any compatible field type', () => {
    const schema = {
      type: 'record',
      name: 'R',
      fields: [
        { name: 'id', type: ['null', { type: 'fixed', name: 'Id', size: 16 }] },
        { name: 't', type: 'string' },
        { name: 'k', type: { type: 'string', logicalType: 'uuid' } },
      ],
    };
    const generator = compileRecordGenerator(schema, {
      origin: 'r',
      salt: 1,
      overrides: [
        { kind: 'eventId', path: 'id', configPath: 'a' },
        { kind: 'eventTime', path: 't', configPath: 'b' },
        { kind: 'partitionKey', path: 'k', configPath: 'c' },
      ],
    });
    const value = generator.generate(context(new Prng(1), 0, 4, generator.keyString(4)));
    expect(Buffer.from(value.id as Buffer).toString('hex')).toBe(uuidFor(0, 1).replace(/-/g, ''));
    expect(value.t).toBe(new Date(1_700_000_000_000).toISOString());
    expect(value.k).toBe(uuidFor(4, 1));
    expect(generator.type.isValid(value)).toBe(true);
  });

  it('names the config field when an override does not fit the schema', () => {
    const schema = { type: 'record', name: 'R', fields: [{ name: 'flag', type: 'boolean' }, { name: 'items', type: { type: 'array', items: 'string' } }] };
    const attempt = (overrides: FieldOverride[]) => () => compileRecordGenerator(schema, { origin: 'r.avsc', salt: 1, overrides });
    expect(attempt([{ kind: 'eventTime', path: 'flag', configPath: 'streams.x.eventTime' }])).toThrowError(/streams\.x\.eventTime: field "flag".*expected long/);
    expect(attempt([{ kind: 'eventId', path: 'missing', configPath: 'streams.x.eventId' }])).toThrowError(/streams\.x\.eventId: no field "missing" in r\.avsc/);
    expect(attempt([{ kind: 'eventId', path: 'items.x', configPath: 'streams.x.eventId' }])).toThrowError(TributaryError);
  });

  it('rejects misspelt or inconsistent generator hints, naming the field', () => {
    const bad = (gen: unknown) => () =>
      compileRecordGenerator({ type: 'record', name: 'R', fields: [{ name: 'n', type: 'int', gen }] }, { origin: 'r.avsc', salt: 1, overrides: [] });
    expect(bad({ minimum: 3 })).toThrowError(/r\.avsc field n: invalid gen hints/);
    expect(bad({ min: 5, max: 1 })).toThrowError(/min must not exceed max/);
    expect(bad({ choices: [1, 2], weights: [1] })).toThrowError(/weights/);
  });

  it('is reproducible: the same seed gives the same values', () => {
    const run = () => {
      const generator = compileRecordGenerator(KITCHEN_SINK, { overrides: OVERRIDES, origin: 'k', salt: 3 });
      const rng = new Prng(77, 'x');
      return Array.from({ length: 50 }, (_, i) => generator.type.toBuffer(generator.generate(context(rng, i, 1, generator.keyString(1)))).toString('hex'));
    };
    expect(run()).toEqual(run());
  });
});
