/** What a column's value encoder hands the page writer. */
import type { ColumnSpec } from '../../core/table.js';
import type { EncodingName } from './page-header.js';

/** A statistic as hyparquet-writer's footer code takes it (it turns these into the physical bytes). */
export type StatisticValue = number | bigint | boolean | Uint8Array;

export interface ChunkStatistics {
  min_value?: StatisticValue;
  max_value?: StatisticValue;
  null_count: bigint;
  nan_count?: bigint;
}

export interface ColumnInput {
  table: string;
  spec: ColumnSpec;
  values: ArrayLike<unknown>;
  /** A typed column's validity (row i null when 0), indexed like `values`. */
  nulls?: Uint8Array | undefined;
  /** Rows [start, end) of `values` make this chunk; row numbers in errors count from 0 of `values`. */
  start: number;
  end: number;
}

export interface EncodedValues {
  encoding: EncodingName;
  /** Non-null values written. */
  count: number;
  /** Per row of the chunk: 1 present, 0 null; only for nullable columns. */
  validity: Uint8Array | null;
  /** The PLAIN dictionary page body and its size in values, for dictionary-encoded columns. */
  dictionary: { bytes: Uint8Array; count: number } | null;
  /** The data page's values section, uncompressed. */
  values: Uint8Array;
  statistics: ChunkStatistics | undefined;
}

export function isNull(value: unknown): value is null | undefined {
  return value === null || value === undefined;
}
