/**
 * The Parquet schema of a table. Physical and logical types follow the spec so any reader (Arrow, Spark, DuckDB)
 * sees real types: int64 and timestamps are INT64 (timestamps annotated TIMESTAMP(unit, UTC) and the legacy
 * converted type), strings are BYTE_ARRAY annotated STRING/UTF8, json is BYTE_ARRAY annotated JSON with the JSON
 * converted type too (DuckDB and older readers look only at the converted type; without it DuckDB reads a BLOB),
 * nullable columns are OPTIONAL.
 */
import type { SchemaElement } from 'hyparquet';
import type { ColumnSpec, ColumnType, TableSchema } from '../../core/table.js';

export function columnElement(spec: ColumnSpec): SchemaElement {
  const base = { name: spec.name, repetition_type: spec.nullable ? 'OPTIONAL' : 'REQUIRED' } as const;
  switch (spec.type) {
    case 'boolean':
      return { ...base, type: 'BOOLEAN' };
    case 'int32':
      return { ...base, type: 'INT32' };
    case 'int64':
      return { ...base, type: 'INT64' };
    case 'float':
      return { ...base, type: 'FLOAT' };
    case 'double':
      return { ...base, type: 'DOUBLE' };
    case 'string':
      return { ...base, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } };
    case 'bytes':
      return { ...base, type: 'BYTE_ARRAY' };
    case 'timestamp_ms':
      return { ...base, type: 'INT64', converted_type: 'TIMESTAMP_MILLIS', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MILLIS' } };
    case 'timestamp_us':
      return { ...base, type: 'INT64', converted_type: 'TIMESTAMP_MICROS', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' } };
    case 'json':
    case 'json_text':
      return { ...base, type: 'BYTE_ARRAY', converted_type: 'JSON', logical_type: { type: 'JSON' } };
    default:
      return assertNever(spec.type);
  }
}

/** The footer's schema: a root group, then one leaf per column. */
export function schemaElements(schema: TableSchema): SchemaElement[] {
  return [{ name: 'schema', num_children: schema.columns.length }, ...schema.columns.map(columnElement)];
}

function assertNever(type: never): never {
  throw new TypeError(`parquet: unsupported column type ${String(type as ColumnType)}`);
}
