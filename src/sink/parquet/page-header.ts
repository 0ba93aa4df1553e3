/**
 * Parquet page headers in the Thrift compact protocol, written field by field (a header per page, so no object
 * tree and no generic serializer). Field ids and types follow parquet.thrift's PageHeader,
 * DictionaryPageHeader and DataPageHeaderV2.
 */
import type { ByteSink } from './byte-sink.js';

const I32 = 5;
const STRUCT = 12;
const FALSE = 2;

const PAGE_DATA_V2 = 3;
const PAGE_DICTIONARY = 2;

export const ENCODING = { PLAIN: 0, RLE: 3, DELTA_BINARY_PACKED: 5, RLE_DICTIONARY: 8 } as const;
export type EncodingName = keyof typeof ENCODING;

function field(out: ByteSink, delta: number, type: number): void {
  out.u8((delta << 4) | type);
}

function i32(out: ByteSink, delta: number, value: number): void {
  field(out, delta, I32);
  out.zigzag(value);
}

export interface DataPageV2 {
  uncompressedSize: number;
  compressedSize: number;
  numValues: number;
  numNulls: number;
  numRows: number;
  encoding: EncodingName;
  definitionLevelsBytes: number;
  /** False when the values section is stored as is, though the chunk's codec compresses. */
  compressed: boolean;
}

export function writeDataPageV2Header(out: ByteSink, page: DataPageV2): void {
  out.reserve(64);
  i32(out, 1, PAGE_DATA_V2);
  i32(out, 1, page.uncompressedSize);
  i32(out, 1, page.compressedSize);
  field(out, 5, STRUCT); // field 8: data_page_header_v2
  i32(out, 1, page.numValues);
  i32(out, 1, page.numNulls);
  i32(out, 1, page.numRows);
  i32(out, 1, ENCODING[page.encoding]);
  i32(out, 1, page.definitionLevelsBytes);
  i32(out, 1, 0); // repetition_levels_byte_length: flat columns
  if (!page.compressed) field(out, 1, FALSE); // is_compressed, default true
  out.u8(0); // end of data_page_header_v2
  out.u8(0); // end of PageHeader
}

export function writeDictionaryPageHeader(out: ByteSink, uncompressedSize: number, compressedSize: number, numValues: number): void {
  out.reserve(48);
  i32(out, 1, PAGE_DICTIONARY);
  i32(out, 1, uncompressedSize);
  i32(out, 1, compressedSize);
  field(out, 4, STRUCT); // field 7: dictionary_page_header
  i32(out, 1, numValues);
  i32(out, 1, ENCODING.PLAIN);
  out.u8(0);
  out.u8(0);
}
