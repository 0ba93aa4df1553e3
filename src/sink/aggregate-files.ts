/**
 * Aggregate and late-event rows -> the tables and object names they are written as. Kept apart from the
 * processor so the layout rules (one hour folder per file, the source partition as a column) live with the lake.
 */
import type { AggregateRow, LateRow } from '../aggregate/window-aggregator.js';
import { hourOf, lateFileKey } from './lake-layout.js';
import type { TableData, TableSchema } from '../core/table.js';

/** An aggregate file's table: window_start, window_end, the group columns, the measures, _partition. */
export function aggregateTable(schema: TableSchema, groupCount: number, windowMs: number, partition: string, rows: readonly AggregateRow[]): TableData {
  const columns: unknown[][] = schema.columns.map(() => []);
  for (const row of rows) {
    columns[0]!.push(row.windowStart);
    columns[1]!.push(row.windowEnd ?? row.windowStart + windowMs);
    for (let g = 0; g < groupCount; g++) columns[2 + g]!.push(row.group[g] ?? null);
    for (let m = 0; m < row.values.length; m++) columns[2 + groupCount + m]!.push(row.values[m]);
    columns[2 + groupCount + row.values.length]!.push(partition);
  }
  return { schema, columns };
}

export interface LateFile {
  key: string;
  table: TableData;
  rows: number;
}

/**
 * The late-event files of one position cell: one per hour of window start, so that the path's hour holds
 * every row's window start, as in the aggregate table itself.
 */
export function lateFiles(schema: TableSchema, groupCount: number, partition: string, cellStart: number, rows: readonly LateRow[]): LateFile[] {
  const byHour = new Map<number, LateRow[]>();
  for (const row of rows) {
    const hour = hourOf(row.windowStart);
    const list = byHour.get(hour);
    if (list) list.push(row);
    else byHour.set(hour, [row]);
  }
  return [...byHour].map(([hour, hourRows]) => {
    const columns: unknown[][] = schema.columns.map(() => []);
    for (const row of hourRows) {
      columns[0]!.push(row.windowStart);
      columns[1]!.push(row.windowEnd);
      for (let g = 0; g < groupCount; g++) columns[2 + g]!.push(row.group[g] ?? null);
      columns[2 + groupCount]!.push(row.count);
      columns[3 + groupCount]!.push(partition);
    }
    return { key: lateFileKey(schema.name, partition, cellStart, hour), table: { schema, columns }, rows: hourRows.length };
  });
}
