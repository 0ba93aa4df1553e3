import { describe, expect, it } from 'vitest';
import { assembleParquet, encodeParquet, encodeRowGroup } from '../../src/sink/parquet.js';
import type { TableData, TableSchema } from '../../src/sink/table.js';
import { readParquet, readParquetMetadata } from '../support/read-parquet.js';

const schema: TableSchema = {
  name: 'orders_raw',
  columns: [
    { name: 'id', type: 'string', nullable: false },
    { name: 'channel', type: 'string', nullable: true },
    { name: 'amount', type: 'double', nullable: false },
    { name: 'position', type: 'int64', nullable: false },
    { name: 'at', type: 'timestamp_ms', nullable: false },
    { name: 'lines', type: 'json_text', nullable: true },
  ],
};

function rows(from: number, count: number): TableData {
  const columns: unknown[][] = schema.columns.map(() => []);
  for (let i = from; i < from + count; i++) {
    columns[0]!.push(`order-${i}`);
    columns[1]!.push(i % 7 === 0 ? null : ['web', 'app', 'store'][i % 3]);
    columns[2]!.push(i * 1.25);
    columns[3]!.push(1_000_000 + i);
    columns[4]!.push(1_700_000_000_000 + i * 1000);
    columns[5]!.push(i % 5 === 0 ? null : JSON.stringify([{ sku: `S${i}`, quantity: i % 4 }]));
  }
  return { schema, columns };
}

describe('row groups encoded apart and assembled', () => {
  it('read back (with another library) as the rows of all groups in order', async () => {
    const groups = [rows(0, 1000), rows(1000, 37), rows(1037, 2500)].map((t) => encodeRowGroup(t));
    const file = assembleParquet(schema, groups);
    const { rows: back } = await readParquet(file);
    const whole = await readParquet(encodeParquet(rows(0, 3537)));
    expect(back).toHaveLength(3537);
    expect(back).toEqual(whole.rows);
    expect(back[1038]).toMatchObject({ id: 'order-1038', channel: 'web', amount: 1297.5, lines: JSON.stringify([{ sku: 'S1038', quantity: 2 }]) });
    expect(back[1036]!.channel).toBeNull();
    const meta = await readParquetMetadata(file);
    expect(meta.rowGroups.map((g) => Number(g.numRows))).toEqual([1000, 37, 2500]);
  });

  it('assembles the same bytes from the same groups and an empty file from none', async () => {
    const groups = [rows(0, 10), rows(10, 10)].map((t) => encodeRowGroup(t));
    expect(Buffer.from(assembleParquet(schema, groups)).equals(Buffer.from(assembleParquet(schema, [rows(0, 10), rows(10, 10)].map((t) => encodeRowGroup(t)))))).toBe(true);
    expect((await readParquet(assembleParquet(schema, []))).rows).toEqual([]);
  });
});
