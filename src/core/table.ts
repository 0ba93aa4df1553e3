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

/**
 * A column held in buffers instead of JS values, for producers that decode straight into them (the Parquet
 * encoder then copies bytes instead of converting values). Row i is null when `validity[i]` is 0; a null row's
 * slot holds anything (its span may be empty). Which kinds take which form:
 * - float64: double, float, int64 (safe integers), timestamp_ms / timestamp_us (epoch milliseconds, as above);
 * - int32: int32;
 * - utf8: string and json_text; row i is `bytes[offsets[i] .. offsets[i + 1])`, valid UTF-8 (not checked).
 */
export type TypedColumn =
  | { kind: 'float64'; values: Float64Array; validity?: Uint8Array }
  | { kind: 'int32'; values: Int32Array; validity?: Uint8Array }
  | { kind: 'utf8'; bytes: Uint8Array; offsets: Uint32Array; validity?: Uint8Array };

export type Utf8Column = Extract<TypedColumn, { kind: 'utf8' }>;

/** Column-major rows: `columns[i]` holds the values of `schema.columns[i]`, all of the same length. */
export interface TableData {
  schema: TableSchema;
  columns: ColumnValues[];
  /**
   * Optional typed form per column: where `typed[i]` is set, it is column i's values and `columns[i]` is not
   * read (only the Parquet encoder takes this form; other consumers read `columns`).
   */
  typed?: (TypedColumn | undefined)[];
}

/** Rows in a typed column. */
export function typedLength(column: TypedColumn): number {
  return column.kind === 'utf8' ? Math.max(0, column.offsets.length - 1) : column.values.length;
}
