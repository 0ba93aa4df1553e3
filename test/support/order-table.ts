/** A small raw order table of every common column kind (nulls, JSON text), the same for every Parquet file test. */
import type { TableData, TableSchema } from '../../src/core/table.js';

export const orderSchema: TableSchema = {
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

/** Rows `from` .. `from + count - 1`: each value a function of its row number. */
export function orderRows(from: number, count: number): TableData {
  const columns: unknown[][] = orderSchema.columns.map(() => []);
  for (let i = from; i < from + count; i++) {
    columns[0]!.push(`order-${i}`);
    columns[1]!.push(i % 7 === 0 ? null : ['web', 'app', 'store'][i % 3]);
    columns[2]!.push(i * 1.25);
    columns[3]!.push(1_000_000 + i);
    columns[4]!.push(1_700_000_000_000 + i * 1000);
    columns[5]!.push(i % 5 === 0 ? null : JSON.stringify([{ sku: `S${i}`, quantity: i % 4 }]));
  }
  return { schema: orderSchema, columns };
}
