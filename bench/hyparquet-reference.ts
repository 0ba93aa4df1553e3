/**
 * The previous TableData -> Parquet encoder, on hyparquet-writer's ParquetWriter, kept as it was when
 * src/sink/parquet.ts got its own page encoder: the bench's "before" for the encode stage, and in tests an
 * independent writer whose statistics the new encoder must match. Not used by the product.
 *
 * Encodings (measured in bench/parquet-writers.ts, 200k order rows): strings and json RLE_DICTIONARY when
 * dictionary + indexes at most halve the plain bytes, decided on the whole column; int64 and timestamps
 * DELTA_BINARY_PACKED; everything else the writer's choice. Deterministic: fixed created_by, no clock.
 */
import { ByteWriter, ParquetWriter, type ColumnSource, type SchemaElement } from 'hyparquet-writer';
import { writeMetadata } from 'hyparquet-writer/src/metadata.js';
import type { ColumnChunk, RowGroup } from 'hyparquet';
import { TributaryError } from '../src/core/errors.js';
import type { ColumnSpec, ColumnType, TableData, TableSchema } from '../src/core/table.js';
import { snappyCompress } from 'hyparquet-writer/src/snappy.js';
import { nativeSnappy, type Compress, type SnappyImplementation } from '../src/sink/snappy.js';

/** The compressors as they were: native, or hyparquet-writer's own JavaScript Snappy. */
function snappyCompressor(implementation: SnappyImplementation): Compress {
  return implementation === 'native' ? (nativeSnappy() ?? snappyCompress) : snappyCompress;
}


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
export const PARQUET_CREATED_BY = 'tributary (hyparquet-writer 0.17)';

type ColumnData = ColumnSource['data'];
type Encoding = NonNullable<ColumnSource['encoding']>;

interface PreparedColumn {
  element: SchemaElement;
  source: ColumnSource;
}

export function encodeParquet(table: TableData, options: ParquetEncodeOptions = {}): Uint8Array {
  const { schema } = table;
  const prepared = prepareTable(table);
  const rowCount = table.columns[0]?.length ?? 0;
  const compression = options.compression ?? 'SNAPPY';
  const rowGroupSize = options.rowGroupSize ?? DEFAULT_ROW_GROUP_SIZE;
  if (!Number.isSafeInteger(rowGroupSize) || rowGroupSize <= 0) {
    throw new RangeError(`parquet: rowGroupSize must be a positive integer, got ${rowGroupSize}`);
  }
  const writer = new ByteWriter();
  const parquet = new ParquetWriter({
    writer,
    schema: schemaElements(prepared),
    codec: compression,
    compressors: { SNAPPY: snappyCompressor(options.snappy ?? DEFAULT_SNAPPY) },
    createdBy: PARQUET_CREATED_BY,
  });
  void parquet.write({ columnData: prepared.map((column) => column.source), rowGroupSize });
  // The footer names JSON columns with the converted type too (see footerElements); the pages are the same.
  parquet.schema = footerElements(prepared);
  void parquet.finish();
  const bytes = new Uint8Array(writer.getBuffer());
  return rowCount === 0 ? fixEmptyRowGroupList(bytes, schema.name) : bytes;
}

/**
 * One row group, encoded on its own so a file that grows (an open cell) is encoded once per row, as its rows
 * arrive, instead of whole at every rewrite; `assembleParquet` puts groups together into a file. The bytes are
 * what follows the 4-byte magic in a file holding only this group, which is what the metadata's offsets assume.
 */
export interface EncodedRowGroup {
  bytes: Uint8Array;
  rowGroup: RowGroup;
}

const MAGIC = 0x31524150; // "PAR1"

export function encodeRowGroup(table: TableData, options: { compression?: ParquetCompression; snappy?: SnappyImplementation } = {}): EncodedRowGroup {
  const prepared = prepareTable(table);
  const rows = table.columns[0]?.length ?? 0;
  if (rows === 0) throw contractError(table.schema.name, 'cannot encode an empty row group');
  const writer = new ByteWriter();
  const parquet = new ParquetWriter({
    writer,
    schema: schemaElements(prepared),
    codec: options.compression ?? 'SNAPPY',
    compressors: { SNAPPY: snappyCompressor(options.snappy ?? DEFAULT_SNAPPY) },
    createdBy: PARQUET_CREATED_BY,
  });
  // Page indexes live after all row groups and point into them; per-group encoding cannot place them.
  void parquet.write({ columnData: prepared.map((c) => ({ ...c.source, offsetIndex: false, columnIndex: false })), rowGroupSize: rows });
  const rowGroup = parquet.row_groups[0];
  if (!rowGroup || parquet.row_groups.length !== 1) throw contractError(table.schema.name, 'row group encoding produced an unexpected number of groups');
  return { bytes: new Uint8Array(writer.getBuffer().slice(4, writer.offset)), rowGroup };
}

/** A whole file from groups encoded by `encodeRowGroup` with the same schema, offsets moved to where each group lands. */
export function assembleParquet(schema: TableSchema, groups: readonly EncodedRowGroup[]): Uint8Array {
  const elements = footerElements(schema.columns.map((spec) => prepareColumn(schema.name, spec, [])));
  const writer = new ByteWriter();
  writer.appendUint32(MAGIC);
  const rowGroups: RowGroup[] = [];
  let rows = 0n;
  for (const group of groups) {
    const shift = BigInt(writer.offset - 4);
    writer.appendBytes(group.bytes);
    rowGroups.push({ ...group.rowGroup, columns: group.rowGroup.columns.map((chunk) => shiftChunk(chunk, shift)) });
    rows += group.rowGroup.num_rows;
  }
  writeMetadata(writer, { version: 2, created_by: PARQUET_CREATED_BY, schema: elements, num_rows: rows, row_groups: rowGroups, metadata_length: 0 });
  writer.appendUint32(MAGIC);
  const bytes = new Uint8Array(writer.getBuffer().slice(0, writer.offset));
  return groups.length === 0 ? fixEmptyRowGroupList(bytes, schema.name) : bytes;
}

function shiftChunk(chunk: ColumnChunk, shift: bigint): ColumnChunk {
  const meta = chunk.meta_data;
  return {
    ...chunk,
    file_offset: chunk.file_offset + shift,
    ...(meta
      ? {
          meta_data: {
            ...meta,
            data_page_offset: meta.data_page_offset + shift,
            ...(meta.dictionary_page_offset !== undefined ? { dictionary_page_offset: meta.dictionary_page_offset + shift } : {}),
          },
        }
      : {}),
  };
}

function schemaElements(prepared: readonly PreparedColumn[]): SchemaElement[] {
  return [{ name: 'schema', num_children: prepared.length }, ...prepared.map((column) => column.element)];
}

/**
 * The schema as the footer states it. JSON columns carry the JSON converted type beside the JSON logical type:
 * DuckDB and older readers look only at the converted type (without it DuckDB reads the column as BLOB). The
 * writer is given the schema without it, because with it the writer would re-serialise every value through
 * JSON.stringify, and the values here are already JSON text; the bytes written are the same either way.
 */
function footerElements(prepared: readonly PreparedColumn[]): SchemaElement[] {
  return schemaElements(prepared).map((element) => (element.logical_type?.type === 'JSON' ? { ...element, converted_type: 'JSON' as const } : element));
}

function prepareTable(table: TableData): PreparedColumn[] {
  const { schema } = table;
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

  return prepared;
}

/**
 * hyparquet-writer 0.17 writes an empty thrift list with element type 0, which arrow-rs (and so parquet-wasm,
 * DataFusion, Polars) rejects: "Expected list element type of Struct". With zero rows the only empty list in
 * the footer is row_groups, right before created_by, so the bytes num_rows=0, row_groups header, list header,
 * created_by header + our fixed string identify it exactly; the list header becomes size 0, type struct.
 */
function fixEmptyRowGroupList(bytes: Uint8Array, table: string): Uint8Array {
  const createdBy = Buffer.from(PARQUET_CREATED_BY, 'utf8');
  const marker = Buffer.concat([Buffer.from([0x16, 0x00, 0x19, 0x00, 0x28, createdBy.length]), createdBy]);
  const at = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).lastIndexOf(marker);
  if (at < 0) throw contractError(table, 'has no rows and the writer footer has an unexpected shape; cannot write an empty file');
  const COMPACT_STRUCT = 0x0c;
  bytes[at + 3] = COMPACT_STRUCT;
  return bytes;
}

function prepareColumn(table: string, spec: ColumnSpec, values: unknown[]): PreparedColumn {
  const repetition_type = spec.nullable ? 'OPTIONAL' : 'REQUIRED';
  const base = { name: spec.name, repetition_type } as const;
  const check = (ok: (value: unknown) => boolean, expected: string): ColumnData => {
    checkValues(table, spec, values, ok, expected);
    return values as ColumnData;
  };
  switch (spec.type) {
    case 'boolean':
      return column({ ...base, type: 'BOOLEAN' }, check((v) => typeof v === 'boolean', 'boolean'));
    case 'int32':
      return column({ ...base, type: 'INT32' }, check(isInt32, 'int32 (integer number)'));
    case 'int64':
      return column({ ...base, type: 'INT64' }, check(isInt64, 'int64 (safe integer number or bigint)'), 'DELTA_BINARY_PACKED');
    case 'float':
      return column({ ...base, type: 'FLOAT' }, check(isNumber, 'number'));
    case 'double':
      return column({ ...base, type: 'DOUBLE' }, check(isNumber, 'number'));
    case 'string': {
      const strings = check((v) => typeof v === 'string', 'string') as (string | null)[];
      return textColumn({ ...base, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } }, strings, true);
    }
    case 'bytes':
      return column({ ...base, type: 'BYTE_ARRAY' }, check((v) => v instanceof Uint8Array, 'Uint8Array'));
    case 'timestamp_ms':
      return column(
        { ...base, type: 'INT64', converted_type: 'TIMESTAMP_MILLIS', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MILLIS' } },
        toTimestamps(table, spec, values, 1),
        'DELTA_BINARY_PACKED',
      );
    case 'timestamp_us':
      return column(
        { ...base, type: 'INT64', converted_type: 'TIMESTAMP_MICROS', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' } },
        toTimestamps(table, spec, values, 1000),
        'DELTA_BINARY_PACKED',
      );
    case 'json': {
      // Logical type only: with the JSON converted type the writer re-serialises every value through a deep copy.
      // Min/max statistics of JSON text help no reader and would put whole documents in the footer.
      return textColumn({ ...base, type: 'BYTE_ARRAY', logical_type: { type: 'JSON' } }, toJsonText(table, spec, values), false);
    }
    case 'json_text': {
      const texts = check((v) => typeof v === 'string', 'JSON text (string)') as (string | null)[];
      return textColumn({ ...base, type: 'BYTE_ARRAY', logical_type: { type: 'JSON' } }, texts, false);
    }
    default:
      return assertNever(spec.type);
  }
}

function column(element: SchemaElement, data: ColumnData, encoding?: Encoding, statistics = true): PreparedColumn {
  return { element, source: { name: element.name, data, encoding, statistics } };
}

/**
 * A dictionary column stays as JS strings (the writer encodes only the distinct values). A PLAIN column is
 * encoded here into shared chunks, one view per value: the writer would otherwise allocate a fresh ArrayBuffer
 * per value, and those backing stores dominate its garbage collection.
 */
function textColumn(element: SchemaElement, strings: (string | null)[], statistics: boolean): PreparedColumn {
  const encoding = stringEncoding(strings);
  return column(element, encoding === 'PLAIN' ? utf8Views(strings) : strings, encoding, statistics);
}

const UTF8_CHUNK_BYTES = 1 << 20;

function utf8Views(strings: readonly (string | null)[]): (Uint8Array | null)[] {
  const out: (Uint8Array | null)[] = new Array(strings.length);
  let chunk = Buffer.allocUnsafe(0);
  let offset = 0;
  for (let row = 0; row < strings.length; row++) {
    const value = strings[row];
    if (value === null || value === undefined) {
      out[row] = null;
      continue;
    }
    const worstCase = value.length * 3;
    if (offset + worstCase > chunk.length) {
      chunk = Buffer.allocUnsafe(Math.max(worstCase, Math.min(UTF8_CHUNK_BYTES, worstCase * (strings.length - row))));
      offset = 0;
    }
    const written = chunk.write(value, offset, 'utf8');
    out[row] = new Uint8Array(chunk.buffer, chunk.byteOffset + offset, written);
    offset += written;
  }
  return out;
}

/**
 * The writer's own rule (keep a dictionary when dictionary values + bit-packed indexes are at most half the
 * PLAIN bytes), applied to the whole column. Unique-id columns are recognised from a sample, so they cost no
 * full pass; otherwise the pass stops as soon as the distinct values alone exceed the budget. Sizes count UTF-16
 * units: exact for ASCII, close enough to choose an encoding.
 */
function stringEncoding(values: readonly (string | null)[]): Encoding {
  const LENGTH_PREFIX = 4;
  let plainBytes = 0;
  let nonNull = 0;
  for (const value of values) {
    if (value !== null && value !== undefined) {
      plainBytes += value.length + LENGTH_PREFIX;
      nonNull++;
    }
  }
  if (nonNull === 0 || looksUnique(values, nonNull)) return 'PLAIN';
  const seen = new Set<string>();
  let dictionaryBytes = 0;
  for (const value of values) {
    if (value === null || value === undefined || seen.has(value)) continue;
    seen.add(value);
    dictionaryBytes += value.length + LENGTH_PREFIX;
    if (2 * dictionaryBytes > plainBytes) return 'PLAIN';
  }
  const indexBytes = Math.ceil((nonNull * Math.ceil(Math.log2(Math.max(seen.size, 2)))) / 8);
  return 2 * (dictionaryBytes + indexBytes) <= plainBytes ? 'RLE_DICTIONARY' : 'PLAIN';
}

const PROBE_SIZE = 1024;

/**
 * No repeat among PROBE_SIZE distinct positions drawn at random means a dictionary cannot pay: for one to pay,
 * each value must occur about three times or more, and then such a sample repeats almost surely (birthday
 * bound). The positions are not a stride: an arithmetic progression of positions meets a column that cycles
 * through its values with an arithmetic progression of values, and sees no repeat. The generator has a fixed
 * seed, so the decision, and with it the file, is still a function of the input.
 */
function looksUnique(values: readonly (string | null)[], nonNull: number): boolean {
  if (nonNull < 4 * PROBE_SIZE) return false;
  const positions = new Set<number>();
  const sample = new Set<string>();
  let state = 0x9e3779b9;
  while (positions.size < PROBE_SIZE) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const position = (state >>> 0) % values.length;
    if (positions.has(position)) continue;
    positions.add(position);
    const value = values[position];
    if (value === null || value === undefined) continue;
    if (sample.has(value)) return false;
    sample.add(value);
  }
  return true;
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

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function isInt64(value: unknown): boolean {
  return typeof value === 'number' ? Number.isSafeInteger(value) : typeof value === 'bigint' && value >= INT64_MIN && value <= INT64_MAX;
}

function checkValues(table: string, spec: ColumnSpec, values: unknown[], ok: (value: unknown) => boolean, expected: string): void {
  for (let row = 0; row < values.length; row++) {
    const value = values[row];
    if (isNull(value) ? !spec.nullable : !ok(value)) throw valueError(table, spec, row, value, expected);
  }
}

/**
 * Epoch milliseconds (possibly fractional) -> integer count of the column's unit. Integral millisecond columns
 * pass through untouched; only a scaled or fractional column is copied.
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

function toJsonText(table: string, spec: ColumnSpec, values: unknown[]): (string | null)[] {
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
