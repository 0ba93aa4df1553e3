import { describe, expect, it } from 'vitest';
import { compileGetter, projectColumns } from '../../src/ingest/decode/projection.js';

const schema = {
  type: 'record',
  name: 'R',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'where', type: ['null', { type: 'record', name: 'Where', fields: [{ name: 'site', type: 'string' }, { name: 'floor', type: 'int' }] }] },
    { name: 'lines', type: { type: 'array', items: { type: 'record', name: 'Line', fields: [{ name: 'sku', type: 'string' }] } } },
    { name: 'blobs', type: { type: 'map', values: 'bytes' } },
    { name: 'kind', type: { type: 'enum', name: 'Kind', symbols: ['A', 'B'] } },
  ],
};

describe('projection of an Avro schema onto raw-table columns', () => {
  const columns = projectColumns(schema);

  it('flattens records, makes ["null", T] nullable, and keeps arrays and maps as JSON text', () => {
    expect(columns.map(({ name, type, nullable }) => [name, type, nullable])).toEqual([
      ['id', 'string', false],
      ['at', 'timestamp_ms', false],
      ['where_site', 'string', true],
      ['where_floor', 'int32', true],
      ['lines', 'json_text', false],
      ['blobs', 'json_text', false],
      ['kind', 'string', false],
    ]);
    expect(columns.find((c) => c.name === 'lines')!.holdsBytes).toBe(false);
    expect(columns.find((c) => c.name === 'blobs')!.holdsBytes).toBe(true);
  });

  it('reads values, null through a null record, and bytes inside JSON as base64', () => {
    const record = { id: 'x', at: 5, where: null, lines: [{ sku: 'S1' }], blobs: { a: Buffer.from([1, 2, 255]) }, kind: 'B' };
    expect(columns.map(compileGetter).map((get) => get(record))).toEqual(['x', 5, null, null, '[{"sku":"S1"}]', '{"a":"AQL/"}', 'B']);
  });

  it('makes a union of null and several types (kept whole as JSON) nullable: a null value crashed the Parquet writer', () => {
    const [column] = projectColumns({ type: 'record', name: 'U', fields: [{ name: 'maybe', type: ['null', 'string', { type: 'record', name: 'In', fields: [{ name: 'n', type: 'int' }] }] }] });
    expect(column).toMatchObject({ name: 'maybe', type: 'json_text', nullable: true });
    expect(compileGetter(column!)({ maybe: null })).toBeNull();
  });
});
