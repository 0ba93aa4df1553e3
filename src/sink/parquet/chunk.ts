/**
 * One column chunk: the value encoder for the column's kind fills the values section, then the pages go out
 * (a PLAIN dictionary page when the column has one, then one DATA_PAGE_V2 with definition levels from the
 * validity), with the chunk's metadata in the shape hyparquet-writer's footer code takes.
 *
 * Snappy where it pays: the values section is compressed only when that saves at least a tenth of its bytes
 * (random ids, hashes and prices do not compress); otherwise the page says is_compressed = false and readers
 * take it as is. A large section is first probed on a prefix, so incompressible columns cost no full pass.
 * The choice is a function of the bytes, so files stay deterministic.
 */
import type { ColumnChunk, Encoding, Statistics } from 'hyparquet';
import { ByteSink } from './byte-sink.js';
import type { ColumnInput, EncodedValues } from './column.js';
import { encodeBoolean, encodeFloating, encodeInt32, encodeInt64 } from './numeric.js';
import { writeDataPageV2Header, writeDictionaryPageHeader } from './page-header.js';
import { writeHybrid } from './rle.js';
import { columnElement } from './schema.js';
import { encodeBytes, encodeJson, encodeStrings } from './text.js';
import { encodeUtf8 } from './utf8.js';
import { contractError } from './errors.js';
import type { ColumnType, TypedColumn } from '../../core/table.js';

export type Compress = (bytes: Uint8Array) => Uint8Array;

const values = new ByteSink();
const dictionary = new ByteSink();
const levels = new ByteSink(1 << 12);

/** Scratch bytes a thread keeps between row groups (see ByteSink.release). */
export const RETAINED_BYTES = 8 << 20;

/** Lets go of scratch buffers a large row group grew. */
export function releaseScratch(): void {
  values.release(RETAINED_BYTES);
  dictionary.release(RETAINED_BYTES);
  levels.release(RETAINED_BYTES);
}

/** Compression keeps a page's values only when it saves at least this share. */
const PAYS = 0.9;
const PROBE_BYTES = 32 * 1024;

function encodeValues(input: ColumnInput, typed: TypedColumn | undefined): EncodedValues {
  values.reset();
  dictionary.reset();
  if (typed) return encodeTyped(input, typed);
  switch (input.spec.type) {
    case 'boolean':
      return encodeBoolean(input, values);
    case 'int32':
      return encodeInt32(input, values);
    case 'float':
      return encodeFloating(input, values, true);
    case 'double':
      return encodeFloating(input, values, false);
    case 'int64':
      return encodeInt64(input, values, 0);
    case 'timestamp_ms':
      return encodeInt64(input, values, 1);
    case 'timestamp_us':
      return encodeInt64(input, values, 1000);
    case 'string':
      return encodeStrings(input, values, dictionary, true);
    case 'json_text':
      return encodeStrings(input, values, dictionary, false, 'JSON text (string)');
    case 'json':
      return encodeJson(input, values, dictionary);
    case 'bytes':
      return encodeBytes(input, values);
  }
}

/** Which typed form each column kind takes (see TypedColumn). */
const TYPED_KIND: Record<ColumnType, TypedColumn['kind'] | undefined> = {
  boolean: undefined,
  int32: 'int32',
  int64: 'float64',
  float: 'float64',
  double: 'float64',
  string: 'utf8',
  bytes: undefined,
  timestamp_ms: 'float64',
  timestamp_us: 'float64',
  json: undefined,
  json_text: 'utf8',
};

function encodeTyped(input: ColumnInput, typed: TypedColumn): EncodedValues {
  const { spec, table } = input;
  if (TYPED_KIND[spec.type] !== typed.kind) {
    throw contractError(table, `column "${spec.name}" (${spec.type}) cannot be given in the typed form '${typed.kind}'`);
  }
  if (typed.kind === 'utf8') {
    return encodeUtf8({ ...input, bytes: typed.bytes, offsets: typed.offsets, nulls: typed.validity }, values, dictionary, spec.type === 'string');
  }
  // The JS-value encoders index their input; a typed array reads the same, nulls coming from the validity.
  return encodeValues({ ...input, values: typed.values, nulls: typed.validity }, undefined);
}

function compressIfPays(raw: Uint8Array, compress: Compress): Uint8Array | null {
  if (raw.length > 4 * PROBE_BYTES && compress(raw.subarray(0, PROBE_BYTES)).length > PROBE_BYTES * PAYS) return null;
  const compressed = compress(raw);
  return compressed.length <= raw.length * PAYS ? compressed : null;
}

/**
 * Appends the chunk of `input` to `out`, whose byte 0 sits at file position `base`; returns its metadata.
 * `compress` null writes the chunk UNCOMPRESSED.
 */
export function writeColumnChunk(out: ByteSink, input: ColumnInput, typed: TypedColumn | undefined, compress: Compress | null, base: number): ColumnChunk {
  const encoded = encodeValues(input, typed);
  const element = columnElement(input.spec);
  const rows = input.end - input.start;
  const chunkStart = out.offset;
  let uncompressedSize = 0;
  let dictionaryPageOffset: bigint | undefined;

  if (encoded.dictionary) {
    const raw = encoded.dictionary.bytes;
    // A dictionary page has no is_compressed flag: it always takes the chunk's codec.
    const stored = compress ? compress(raw) : raw;
    dictionaryPageOffset = BigInt(base + out.offset);
    const headerAt = out.offset;
    writeDictionaryPageHeader(out, raw.length, stored.length, encoded.dictionary.count);
    uncompressedSize += out.offset - headerAt + raw.length;
    out.append(stored);
  }

  levels.reset();
  const levelBytes = encoded.validity ? writeHybrid(levels, encoded.validity, rows, 1) : 0;
  const compressed = compress ? compressIfPays(encoded.values, compress) : null;
  const stored = compressed ?? encoded.values;
  const dataPageOffset = BigInt(base + out.offset);
  const headerAt = out.offset;
  writeDataPageV2Header(out, {
    uncompressedSize: levelBytes + encoded.values.length,
    compressedSize: levelBytes + stored.length,
    numValues: rows,
    numNulls: rows - encoded.count,
    numRows: rows,
    encoding: encoded.encoding,
    definitionLevelsBytes: levelBytes,
    compressed: compress === null || compressed !== null,
  });
  uncompressedSize += out.offset - headerAt + levelBytes + encoded.values.length;
  out.append(levels.written());
  out.append(stored);

  const encodings: Encoding[] = encoded.dictionary ? ['PLAIN', encoded.encoding] : [encoded.encoding];
  return {
    file_offset: BigInt(base + chunkStart),
    meta_data: {
      type: element.type!,
      encodings,
      path_in_schema: [input.spec.name],
      codec: compress ? 'SNAPPY' : 'UNCOMPRESSED',
      num_values: BigInt(rows),
      total_compressed_size: BigInt(out.offset - chunkStart),
      total_uncompressed_size: BigInt(uncompressedSize),
      data_page_offset: dataPageOffset,
      ...(dictionaryPageOffset !== undefined ? { dictionary_page_offset: dictionaryPageOffset } : {}),
      ...(encoded.statistics
        ? {
            // nan_count (parquet.thrift field 9) is written by hyparquet-writer's footer code but missing from hyparquet's type
            statistics: encoded.statistics as Statistics,
            encoding_stats: [
              ...(encoded.dictionary ? [{ page_type: 'DICTIONARY_PAGE' as const, encoding: 'PLAIN' as const, count: 1 }] : []),
              { page_type: 'DATA_PAGE_V2' as const, encoding: encoded.encoding, count: 1 },
            ],
          }
        : {}),
    },
  };
}
