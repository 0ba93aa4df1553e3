/**
 * TableData -> Parquet bytes. The pages are written by the encoder in ./parquet/ straight from the column arrays
 * into reused buffers (no object or buffer per value, no BigInt per int64); the footer by hyparquet-writer's
 * thrift code. Schema and types: ./parquet/schema.ts. Encodings, per column:
 * - strings and JSON text: RLE_DICTIONARY when dictionary + indexes at most halve the PLAIN bytes, decided on
 *   the whole chunk (unique-id columns are recognised from a sample and cost no dictionary pass), else PLAIN;
 * - int64 and timestamps: DELTA_BINARY_PACKED (offsets, sequence numbers and event times rise almost
 *   monotonically: 3x smaller than PLAIN for event times), computed on doubles; PLAIN for a column holding a
 *   bigint or spanning 2^52 or more;
 * - booleans RLE; int32, float, double and bytes PLAIN;
 * - definition levels of nullable columns RLE / bit-packed from the validity; one data page (v2) per chunk;
 * - Snappy (native, or JavaScript where the binding cannot load) on every dictionary page and on the data pages
 *   where it saves a tenth or more; statistics (min / max / null count / NaN count) as hyparquet-writer states
 *   them, except for JSON columns, which carry none.
 *
 * The output is a pure function of the input: the footer carries a fixed created_by and no clock, so a replay
 * rewrites a file with the same bytes (the commit protocol relies on that).
 */
import type { TableData, TableSchema } from '../core/table.js';
import type { Compress } from './parquet/chunk.js';
import { contractError } from './parquet/errors.js';
import { assembleFile, checkShape, encodeGroup, type EncodedRowGroup } from './parquet/row-group.js';
import { snappyCompressor, type SnappyImplementation } from './snappy.js';

export type { EncodedRowGroup } from './parquet/row-group.js';

export type ParquetCompression = 'SNAPPY' | 'UNCOMPRESSED';

export interface ParquetEncodeOptions {
  /** Default SNAPPY. */
  compression?: ParquetCompression;
  /** Rows per row group; default 131072. */
  rowGroupSize?: number;
  /** Which Snappy compresses pages; default DEFAULT_SNAPPY. */
  snappy?: SnappyImplementation;
}

/** See bench/RESULTS.md for the measurement behind this choice. */
export const DEFAULT_SNAPPY: SnappyImplementation = (process.env.TRIBUTARY_SNAPPY as SnappyImplementation | undefined) === 'js' ? 'js' : 'native';

export const DEFAULT_ROW_GROUP_SIZE = 131_072;

/** Fixed, clock-free writer id: part of the footer, so part of the bytes that must not change across replays. */
export const PARQUET_CREATED_BY = 'tributary 0.1 (column encoder; footer by hyparquet-writer 0.17)';

function compressor(options: { compression?: ParquetCompression; snappy?: SnappyImplementation }): Compress | null {
  return (options.compression ?? 'SNAPPY') === 'SNAPPY' ? snappyCompressor(options.snappy ?? DEFAULT_SNAPPY) : null;
}

export function encodeParquet(table: TableData, options: ParquetEncodeOptions = {}): Uint8Array {
  const rowGroupSize = options.rowGroupSize ?? DEFAULT_ROW_GROUP_SIZE;
  if (!Number.isSafeInteger(rowGroupSize) || rowGroupSize <= 0) {
    throw new RangeError(`parquet: rowGroupSize must be a positive integer, got ${rowGroupSize}`);
  }
  const rows = checkShape(table);
  const compress = compressor(options);
  const groups: EncodedRowGroup[] = [];
  for (let start = 0; start < rows; start += rowGroupSize) groups.push(encodeGroup(table, start, Math.min(rows, start + rowGroupSize), compress));
  return assembleFile(table.schema, groups, PARQUET_CREATED_BY);
}

/**
 * One row group, encoded on its own so a file that grows (an open cell) is encoded once per row, as its rows
 * arrive, instead of whole at every rewrite; `assembleParquet` puts groups together into a file.
 */
export function encodeRowGroup(table: TableData, options: { compression?: ParquetCompression; snappy?: SnappyImplementation } = {}): EncodedRowGroup {
  const rows = checkShape(table);
  if (rows === 0) throw contractError(table.schema.name, 'cannot encode an empty row group');
  return encodeGroup(table, 0, rows, compressor(options));
}

/** A whole file from groups encoded by `encodeRowGroup` with the same schema. */
export function assembleParquet(schema: TableSchema, groups: readonly EncodedRowGroup[]): Uint8Array {
  return assembleFile(schema, groups, PARQUET_CREATED_BY);
}
