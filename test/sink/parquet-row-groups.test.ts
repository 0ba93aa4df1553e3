import { describe, expect, it } from 'vitest';
import { assembleParquet, encodeParquet, encodeRowGroup } from '../../src/sink/parquet.js';
import { orderRows, orderSchema } from '../support/order-table.js';
import { readParquet, readParquetMetadata } from '../support/read-parquet.js';

const schema = orderSchema;
const rows = orderRows;

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
