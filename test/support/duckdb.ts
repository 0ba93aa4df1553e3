/**
 * Reads the lake back the way a user points DuckDB at it: `read_parquet('<lake>/<table>/**\/*.parquet',
 * hive_partitioning = true)`. Values come back as plain JS (timestamps as epoch milliseconds, BIGINT as number
 * when safe); column types as DuckDB names them (`DESCRIBE`), so tests can assert what a reader sees.
 */
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

export interface LakeQueryResult {
  rows: Array<Record<string, unknown>>;
  /** column name -> DuckDB type name ('TIMESTAMP WITH TIME ZONE', 'BIGINT', 'JSON', ...) */
  types: Record<string, string>;
}

/** The `read_parquet(...)` expression over one table of a local lake. */
export function lakeTable(lakeDir: string, table: string, options: { filename?: boolean } = {}): string {
  const glob = path.join(lakeDir, table, '**', '*.parquet').replaceAll("'", "''");
  return `read_parquet('${glob}', hive_partitioning = true${options.filename ? ', filename = true' : ''})`;
}

/** Runs SQL on a fresh in-memory DuckDB; `{table}` placeholders are not expanded, use `lakeTable`. */
export async function queryDuckDb(sql: string): Promise<LakeQueryResult> {
  const instance = await DuckDBInstance.create(':memory:');
  let connection: DuckDBConnection | undefined;
  try {
    connection = await instance.connect();
    const described = await connection.runAndReadAll(`DESCRIBE ${sql}`);
    const types: Record<string, string> = {};
    for (const row of described.getRowObjectsJS()) types[String(row.column_name)] = String(row.column_type);
    const reader = await connection.runAndReadAll(sql);
    const rows = reader.getRowObjectsJS().map((row) => Object.fromEntries(Object.entries(row).map(([name, value]) => [name, plain(value)])));
    return { rows, types };
  } finally {
    connection?.closeSync();
    instance.closeSync();
  }
}

/** Every row of a table, with the path keys (date, hour, partition) as columns. */
export async function readLakeTable(lakeDir: string, table: string, options: { filename?: boolean } = {}): Promise<LakeQueryResult> {
  return queryDuckDb(`SELECT * FROM ${lakeTable(lakeDir, table, options)}`);
}

function plain(value: unknown): unknown {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value;
  return value;
}
