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

let shared: Promise<DuckDBInstance> | undefined;

/** Runs SQL on an in-memory DuckDB shared by the test file (one connection per query). */
export async function queryDuckDb(sql: string, options: { types?: boolean } = {}): Promise<LakeQueryResult> {
  const instance = await (shared ??= DuckDBInstance.create(':memory:'));
  const connection: DuckDBConnection = await instance.connect();
  try {
    const types: Record<string, string> = {};
    if (options.types !== false) {
      const described = await connection.runAndReadAll(`DESCRIBE ${sql}`);
      for (const row of described.getRowObjectsJS()) types[String(row.column_name)] = String(row.column_type);
    }
    const reader = await connection.runAndReadAll(sql);
    const rows = reader.getRowObjectsJS().map((row) => Object.fromEntries(Object.entries(row).map(([name, value]) => [name, plain(value)])));
    return { rows, types };
  } finally {
    connection.closeSync();
  }
}

/** Every row of a table, with the path keys (date, hour, partition) as columns. */
export async function readLakeTable(lakeDir: string, table: string, options: { filename?: boolean; types?: boolean } = {}): Promise<LakeQueryResult> {
  return queryDuckDb(`SELECT * FROM ${lakeTable(lakeDir, table, options)}`, options);
}

function plain(value: unknown): unknown {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value;
  return value;
}
