import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { columnValues } from '../../src/core/column-builder.js';
import decodeBatch from '../../src/ingest/decode/worker.js';
import { packBodies } from '../../src/ingest/decode/pool.js';
import { DecodeStatus, type StreamDecodeSpec } from '../../src/ingest/decode/task.js';
import { decodedIds } from '../support/decoded-ids.js';
import { confluentFrame } from '../../src/gen/body.js';

const readerSchema = {
  type: 'record',
  name: 'Order',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'amount', type: 'double' },
    { name: 'coupon', type: ['null', 'string'], default: null },
  ],
};
const writerV1 = { type: 'record', name: 'Order', fields: readerSchema.fields.slice(0, 3) };

const pack = (bodies: Buffer[]) => packBodies(bodies.map((body) => ({ body })));

const spec = (bodyFormat: StreamDecodeSpec['bodyFormat']): StreamDecodeSpec => ({
  stream: `orders-${bodyFormat}`,
  schema: JSON.stringify(readerSchema),
  bodyFormat,
  eventIdPath: ['id'],
  eventTimePath: ['at'],
  maxEventBytes: 64,
});

describe('decode worker', () => {
  it('resolves Confluent-framed bodies whose writer schema gains an optional field mid-stream', () => {
    const v1 = avro.Type.forSchema(writerV1 as avro.Schema);
    const v2 = avro.Type.forSchema(readerSchema as avro.Schema);
    const bodies = [
      confluentFrame(1, v1.toBuffer({ id: 'a', at: 1000, amount: 1.5 })),
      confluentFrame(2, v2.toBuffer({ id: 'b', at: 2000, amount: 2.5, coupon: 'X' })),
      confluentFrame(3, v2.toBuffer({ id: 'c', at: 3000, amount: 3.5, coupon: null })),
    ];
    const result = decodeBatch({ spec: spec('confluent-avro'), ...pack(bodies), writerSchemas: { 1: JSON.stringify(writerV1), 2: JSON.stringify(readerSchema) } });
    expect([...result.status]).toEqual([DecodeStatus.Ok, DecodeStatus.Ok, DecodeStatus.Decode]);
    expect(result.errors).toEqual([[2, 'unknown schema id 3']]);
    expect(decodedIds(result)).toEqual(['a', 'b']);
    expect([...result.eventTimes]).toEqual([1000, 2000]);
    expect(result.columns.map(columnValues)).toEqual([['a', 'b'], [1000, 2000], [1.5, 2.5], [null, 'X']]);
  });

  it('classifies truncated bytes as decode, a missing id as schema and a large body as oversize', () => {
    const type = avro.Type.forSchema(readerSchema as avro.Schema);
    const good = type.toBuffer({ id: 'a', at: 1, amount: 1, coupon: null });
    const noId = type.toBuffer({ id: '', at: 1, amount: 1, coupon: null });
    const big = type.toBuffer({ id: 'b', at: 1, amount: 1, coupon: 'x'.repeat(100) });
    const trailing = Buffer.concat([good, Buffer.from([1, 2, 3])]);
    const result = decodeBatch({ spec: spec('avro'), ...pack([good, good.subarray(0, 4), noId, big, trailing]) });
    expect([...result.status]).toEqual([DecodeStatus.Ok, DecodeStatus.Decode, DecodeStatus.Schema, DecodeStatus.Oversize, DecodeStatus.Decode]);
    expect(result.errors.map(([i]) => i)).toEqual([1, 2, 3, 4]);
    expect(result.errors[1]![1]).toContain('event id field "id" is missing');
  });
});
