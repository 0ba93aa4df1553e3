/**
 * TableData -> Parquet bytes, with hyparquet-writer.
 *
 * Physical and logical types follow the Parquet spec so any reader (Arrow, Spark, DuckDB) sees real types:
 * int64 and timestamps are INT64 (timestamps annotated TIMESTAMP(unit, UTC) and the legacy converted type),
 * strings are BYTE_ARRAY annotated STRING/UTF8, json is BYTE_ARRAY annotated JSON, nullable columns are OPTIONAL.
 *
 * The writer decides per column chunk whether a dictionary pays (it keeps one only when dictionary + indexes
 * at most halve the plain bytes), so low-cardinality columns get RLE_DICTIONARY and unique ids stay PLAIN.
 *
 * The output is a pure function of the input: the footer carries a fixed created_by and no clock, so a replay
 * rewrites a file with the same bytes (the commit protocol relies on that).
 */
import { parquetWriteBuffer, type ColumnSource, type SchemaElement } from 'hyparquet-writer';
import { TributaryError } from '../core/errors.js';
import type { ColumnSpec, ColumnType, TableData } from './table.js';

export type ParquetCompression = 'SNAPPY' | 'UNCOMPRESSED';

export interface ParquetEncodeOptions {
  /** Default SNAPPY. */
  compression?: ParquetCompression;
  /** Rows per row group; default 131072. */
  rowGroupSize?: number;
}

export const DEFAULT_ROW_GROUP_SIZE = 131_072;

/** Fixed, clock-free writer id: part of the footer, so part of the bytes that must not change across replays. */
export const PARQUET_CREATED_BY = 'tributary (hyparquet-writer 0.17)';

type ColumnData = ColumnSource['data'];

interface PreparedColumn {
  element: SchemaElement;
  source: ColumnSource;
}

export function encodeParquet(table: TableData, options: ParquetEncodeOptions = {}): Uint8Array {
  const { schema } = table;
  const compression = options.compression ?? 'SNAPPY';
  const rowGroupSize = options.rowGroupSize ?? DEFAULT_ROW_GROUP_SIZE;
  if (!Number.isSafeInteger(rowGroupSize) || rowGroupSize <= 0) {
    throw new RangeError(`parquet: rowGroupSize must be a positive integer, got ${rowGroupSize}`);
  }
  if (table.columns.length !== schema.columns.length) {
    throw contractError(schema.name, `has ${schema.columns.length} column specs but ${table.columns.length} value arrays`);
  }
  const rowCount = table.columns[0]?.length ?? 0;
  const prepared = schema.columns.map((spec, index) => {
    const values = table.columns[index] ?? [];
    if (values.length !== rowCount) {
      throw contractError(schema.name, `column "${spec.name}" has ${values.length} values, expected ${rowCount}`);
    }
    return prepareColumn(schema.name, spec, values);
  });

  const buffer = parquetWriteBuffer({
    columnData: prepared.map((column) => column.source),
    schema: [{ name: 'schema', num_children: prepared.length }, ...prepared.map((column) => column.element)],
    codec: compression,
    rowGroupSize,
    createdBy: PARQUET_CREATED_BY,
  });
  return new Uint8Array(buffer);
}

function prepareColumn(table: string, spec: ColumnSpec, values: unknown[]): PreparedColumn {
  const repetition_type = spec.nullable ? 'OPTIONAL' : 'REQUIRED';
  const check = (ok: (value: unknown) => boolean, expected: string): void => {
    checkValues(table, spec, values, ok, expected);
  };
  const base = { name: spec.name, repetition_type } as const;
  switch (spec.type) {
    case 'boolean':
      check((v) => typeof v === 'boolean', 'boolean');
      return column({ ...base, type: 'BOOLEAN' }, values as ColumnData);
    case 'int32':
      check(isInt32, 'int32 (integer number)');
      return column({ ...base, type: 'INT32' }, values as ColumnData);
    case 'int64':
      return column({ ...base, type: 'INT64' }, toBigInts(table, spec, values));
    case 'float':
      check(isNumber, 'number');
      return column({ ...base, type: 'FLOAT' }, values as ColumnData);
    case 'double':
      check(isNumber, 'number');
      return column({ ...base, type: 'DOUBLE' }, values as ColumnData);
    case 'string':
      check((v) => typeof v === 'string', 'string');
      return column({ ...base, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } }, values as ColumnData);
    case 'bytes':
      check((v) => v instanceof Uint8Array, 'Uint8Array');
      return column({ ...base, type: 'BYTE_ARRAY' }, values as ColumnData);
    case 'timestamp_ms':
      return column(
        { ...base, type: 'INT64', converted_type: 'TIMESTAMP_MILLIS', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MILLIS' } },
        toTimestamps(table, spec, values, 1),
      );
    case 'timestamp_us':
      return column(
        { ...base, type: 'INT64', converted_type: 'TIMESTAMP_MICROS', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' } },
        toTimestamps(table, spec, values, 1000),
      );
    case 'json':
      // Logical type only: the writer's JSON converted type would re-serialise every value through a deep copy.
      // Min/max statistics of JSON text help no reader and would put whole documents in the footer.
      return column({ ...base, type: 'BYTE_ARRAY', logical_type: { type: 'JSON' } }, toJsonText(table, spec, values), false);
    default:
      return assertNever(spec.type);
  }
}

function column(element: SchemaElement, data: ColumnData, statistics = true): PreparedColumn {
  return { element, source: { name: element.name, data, statistics } };
}

function isNull(value: unknown): value is null | undefined {
  return value === null || value === undefined;
}

function isNumber(value: unknown): boolean {
  return typeof value === 'number';
}

function isInt32(value: unknown): boolean {
  return typeof value === 'number' && (value | 0) === value;
}

function checkValues(table: string, spec: ColumnSpec, values: unknown[], ok: (value: unknown) => boolean, expected: string): void {
  for (let row = 0; row < values.length; row++) {
    const value = values[row];
    if (isNull(value) ? !spec.nullable : !ok(value)) throw valueError(table, spec, row, value, expected);
  }
}

/** hyparquet-writer writes INT64 only from bigint (its PLAIN and dictionary encoders reject numbers). */
function toBigInts(table: string, spec: ColumnSpec, values: unknown[]): ColumnData {
  const out: (bigint | null)[] = new Array(values.length);
  for (let row = 0; row < values.length; row++) {
    const value = values[row];
    if (typeof value === 'number' && Number.isSafeInteger(value)) out[row] = BigInt(value);
    else if (typeof value === 'bigint') out[row] = value;
    else if (isNull(value) && spec.nullable) out[row] = null;
    else throw valueError(table, spec, row, value, 'int64 (safe integer number or bigint)');
  }
  return out;
}

/**
 * Epoch milliseconds (possibly fractional) -> integer count of the column's unit. The writer converts numbers
 * to bigint itself, so integral values pass through; only a scaled or fractional column is copied.
 */
function toTimestamps(table: string, spec: ColumnSpec, values: unknown[], perMillisecond: number): ColumnData {
  let out: unknown[] | undefined = perMillisecond === 1 ? undefined : new Array<unknown>(values.length);
  for (let row = 0; row < values.length; row++) {
    const value = values[row];
    if (typeof value === 'number') {
      // A millisecond column truncates sub-millisecond digits; a microsecond column rounds off float noise.
      const units = perMillisecond === 1 ? Math.floor(value) : Math.round(value * perMillisecond);
      if (!Number.isSafeInteger(units)) throw valueError(table, spec, row, value, 'finite epoch milliseconds');
      if (units !== value) out ??= values.slice(0, row);
      if (out) out[row] = units;
    } else if (isNull(value) && spec.nullable) {
      if (out) out[row] = null;
    } else {
      throw valueError(table, spec, row, value, 'epoch milliseconds (number)');
    }
  }
  return (out ?? values) as ColumnData;
}

function toJsonText(table: string, spec: ColumnSpec, values: unknown[]): ColumnData {
  const out: (string | null)[] = new Array(values.length);
  for (let row = 0; row < values.length; row++) {
    const value = values[row];
    let text: string | undefined;
    if (!isNull(value)) {
      try {
        text = JSON.stringify(value);
      } catch (error) {
        throw contractError(table, `column "${spec.name}" row ${row}: value is not JSON-serialisable`, error);
      }
    }
    if (text === undefined && !spec.nullable) throw valueError(table, spec, row, value, 'a JSON-serialisable value');
    out[row] = text ?? null;
  }
  return out;
}

function valueError(table: string, spec: ColumnSpec, row: number, value: unknown, expected: string): TributaryError {
  const got = value === null ? 'null' : value instanceof Uint8Array ? 'Uint8Array' : typeof value;
  return contractError(table, `column "${spec.name}" (${spec.type}${spec.nullable ? ', nullable' : ''}) row ${row}: expected ${expected}, got ${got}`);
}

/** Rows reach the sink already validated against the table schema, so a mismatch here is a bug upstream. */
function contractError(table: string, detail: string, cause?: unknown): TributaryError {
  return new TributaryError('INTERNAL', `parquet: table "${table}" ${detail}`, { cause });
}

function assertNever(type: never): never {
  throw new TypeError(`parquet: unsupported column type ${String(type as ColumnType)}`);
}
