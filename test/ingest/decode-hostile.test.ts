/**
 * The decode worker on hostile bodies: every body of the poison corpus (raw Avro and Confluent-framed, checked
 * with the writer schema) becomes a decode dead letter naming the byte, never an allocation; event times outside
 * processing.eventTimeRange, from the body or from the enqueued time, become schema dead letters.
 */
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { packBodies } from '../../src/ingest/decode/pool.js';
import { DEFAULT_EVENT_TIME_RANGE, DecodeStatus, type StreamDecodeSpec } from '../../src/ingest/decode/task.js';
import decodeBatch from '../../src/ingest/decode/worker.js';
import { confluentFrame } from '../../src/gen/body.js';
import { KITCHEN_SINK_SCHEMA, bodyPoisons, kitchenSink } from '../support/poison.js';

const type = avro.Type.forSchema(KITCHEN_SINK_SCHEMA as unknown as avro.Schema);
const schema = JSON.stringify(KITCHEN_SINK_SCHEMA);
const spec = (bodyFormat: StreamDecodeSpec['bodyFormat'], extra: Partial<StreamDecodeSpec> = {}): StreamDecodeSpec => ({
  stream: `sink-${bodyFormat}`,
  schema,
  bodyFormat,
  eventIdPath: ['id'],
  eventTimePath: ['at'],
  maxEventBytes: 1024 ** 2,
  ...extra,
});
const T = Date.UTC(2026, 0, 1);
const pack = (bodies: Buffer[]) => packBodies(bodies.map((body) => ({ body })));

describe('decode worker on hostile bodies', () => {
  const good = type.toBuffer(kitchenSink('#NaN', T, '#Infinity', 1));
  const poisons = bodyPoisons(type, kitchenSink('1e3', T, 'null', 2));

  it('dead-letters every poison body as decode, naming the byte, and decodes the good ones around them', () => {
    const bodies = [good, ...poisons.map((p) => p.bytes), good];
    const result = decodeBatch({ spec: spec('avro'), ...pack(bodies) });
    expect(result.status[0]).toBe(DecodeStatus.Ok);
    expect(result.status[bodies.length - 1]).toBe(DecodeStatus.Ok);
    const errors = new Map(result.errors);
    poisons.forEach((poison, p) => {
      expect(result.status[p + 1], poison.name).toBe(DecodeStatus.Decode);
      expect(errors.get(p + 1), poison.name).toMatch(/^bad Avro bytes at byte \d+: /);
    });
    // text that looks like a number stays text
    expect(result.ids).toEqual(['#NaN', '#NaN']);
  });

  it('checks Confluent-framed bodies with their writer schema, counting bytes in the whole body', () => {
    const bodies = [confluentFrame(7, good), ...poisons.map((p) => confluentFrame(7, p.bytes))];
    const result = decodeBatch({ spec: spec('confluent-avro'), ...pack(bodies), writerSchemas: { 7: schema } });
    expect([...result.status]).toEqual([DecodeStatus.Ok, ...poisons.map(() => DecodeStatus.Decode)]);
    const first = result.errors[0]![1];
    const offset = Number(/at byte (\d+)/.exec(first)![1]);
    expect(offset).toBeGreaterThanOrEqual(5);
  });

  it('dead-letters event times outside the configured range as schema, before they reach the watermark', () => {
    const at = (ms: number) => type.toBuffer(kitchenSink(`t${ms}`, ms, 'g', 1));
    const times = [T, -1, DEFAULT_EVENT_TIME_RANGE.maxMs, DEFAULT_EVENT_TIME_RANGE.maxMs + 1, 8.64e15 + 1, 0];
    const result = decodeBatch({ spec: spec('avro'), ...pack(times.map(at)) });
    expect([...result.status]).toEqual([DecodeStatus.Ok, DecodeStatus.Schema, DecodeStatus.Ok, DecodeStatus.Schema, DecodeStatus.Schema, DecodeStatus.Ok]);
    expect(result.errors.map(([, e]) => e)).toEqual([
      'event time field "at" is 1969-12-31T23:59:59.999Z (-1 ms), outside processing.eventTimeRange 1970-01-01T00:00:00.000Z (0 ms) .. 2200-01-01T00:00:00.000Z (7258118400000 ms)',
      'event time field "at" is 2200-01-01T00:00:00.001Z (7258118400001 ms), outside processing.eventTimeRange 1970-01-01T00:00:00.000Z (0 ms) .. 2200-01-01T00:00:00.000Z (7258118400000 ms)',
      'event time field "at" is 8640000000000001 ms, outside processing.eventTimeRange 1970-01-01T00:00:00.000Z (0 ms) .. 2200-01-01T00:00:00.000Z (7258118400000 ms)',
    ]);
    expect([...result.eventTimes]).toEqual([T, DEFAULT_EVENT_TIME_RANGE.maxMs, 0]);
    // a configured range replaces the default
    const narrow = decodeBatch({ spec: spec('avro', { eventTimeRange: { minMs: T, maxMs: T + 1 } }), ...pack(times.map(at)) });
    expect([...narrow.status]).toEqual([DecodeStatus.Ok, ...times.slice(1).map(() => DecodeStatus.Schema)]);
  });

  it('range-checks the enqueued time where it is the event time', () => {
    const bodies = [good, good, good];
    const result = decodeBatch({ spec: spec('avro', { eventTimePath: [] }), ...pack(bodies) }, Float64Array.from([T, Date.UTC(2300, 0, 1), -5]));
    expect([...result.status]).toEqual([DecodeStatus.Ok, DecodeStatus.Schema, DecodeStatus.Schema]);
    expect(result.errors[0]![1]).toMatch(/^enqueued time \(the event time\) is 2300-01-01T00:00:00.000Z/);
  });
});
