/**
 * A table as the sink sees it: typed columns, values column-major. Raw tables derive their columns from the
 * stream's Avro schema plus source metadata; aggregate tables from the aggregation's config.
 *
 * Value conventions per type (what producers put in `values`):
 * - boolean: boolean; int32: number; int64: number (safe integer) or bigint; float/double: number;
 * - string: string; bytes: Uint8Array; timestamp_ms / timestamp_us: epoch milliseconds as number;
 * - json: any JSON-serialisable value, stored as a UTF-8 string column annotated JSON;
 * - json_text: the same column, from values already serialised to JSON text (the decode threads do that, so
 *   nested values cross the thread boundary as one string each).
 * Every column may hold null when `nullable`.
 */
export type ColumnType =
  | 'boolean'
  | 'int32'
  | 'int64'
  | 'float'
  | 'double'
  | 'string'
  | 'bytes'
  | 'timestamp_ms'
  | 'timestamp_us'
  | 'json'
  | 'json_text';

export interface ColumnSpec {
  name: string;
  type: ColumnType;
  nullable: boolean;
}

export interface TableSchema {
  name: string;
  columns: ColumnSpec[];
}

export type ColumnValues = unknown[];

/** Column-major rows: `columns[i]` holds the values of `schema.columns[i]`, all of the same length. */
export interface TableData {
  schema: TableSchema;
  columns: ColumnValues[];
}
