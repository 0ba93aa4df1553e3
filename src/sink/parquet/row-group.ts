/**
 * Row groups and files. A row group is encoded on its own (its column chunks back to back, as they follow the
 * 4-byte magic in a file holding only this group, which is what the metadata's offsets assume) and a file is put
 * together from groups by moving their offsets; the footer is hyparquet-writer's thrift code, run once per file.
 */
import type { ColumnChunk, RowGroup } from 'hyparquet';
import { ByteWriter } from 'hyparquet-writer';
import { writeMetadata } from 'hyparquet-writer/src/metadata.js';
import { typedLength, type TableData, type TableSchema } from '../../core/table.js';
import { ByteSink } from './byte-sink.js';
import { RETAINED_BYTES, releaseScratch, writeColumnChunk, type Compress } from './chunk.js';
import { contractError } from './errors.js';
import { schemaElements } from './schema.js';

export interface EncodedRowGroup {
  bytes: Uint8Array;
  rowGroup: RowGroup;
}

const MAGIC = 0x31524150; // "PAR1"
const group = new ByteSink(1 << 20);

/** Checks that `table` has one value array per column spec, all of one length; returns that length. */
export function checkShape(table: TableData): number {
  const { schema } = table;
  if (table.columns.length !== schema.columns.length) {
    throw contractError(schema.name, `has ${schema.columns.length} column specs but ${table.columns.length} value arrays`);
  }
  const length = (index: number): number => {
    const typed = table.typed?.[index];
    return typed ? typedLength(typed) : (table.columns[index]?.length ?? 0);
  };
  const rows = length(0);
  schema.columns.forEach((spec, index) => {
    if (length(index) !== rows) throw contractError(schema.name, `column "${spec.name}" has ${length(index)} values, expected ${rows}`);
    const validity = table.typed?.[index]?.validity;
    if (validity && validity.length < rows) throw contractError(schema.name, `column "${spec.name}" has a validity of ${validity.length} rows, expected ${rows}`);
  });
  return rows;
}

/** Rows [start, end) of `table` as one row group. */
export function encodeGroup(table: TableData, start: number, end: number, compress: Compress | null): EncodedRowGroup {
  group.reset();
  const columns: ColumnChunk[] = [];
  let totalByteSize = 0n;
  table.schema.columns.forEach((spec, index) => {
    const chunk = writeColumnChunk(group, { table: table.schema.name, spec, values: table.columns[index]!, start, end }, table.typed?.[index], compress, 4);
    totalByteSize += chunk.meta_data!.total_uncompressed_size;
    columns.push(chunk);
  });
  const bytes = group.copy();
  group.release(RETAINED_BYTES);
  releaseScratch();
  return {
    bytes,
    rowGroup: { columns, total_byte_size: totalByteSize, num_rows: BigInt(end - start), total_compressed_size: BigInt(bytes.length) },
  };
}

/** A whole file from groups encoded with `schema`, offsets moved to where each group lands. */
export function assembleFile(schema: TableSchema, groups: readonly EncodedRowGroup[], createdBy: string): Uint8Array {
  const size = groups.reduce((sum, g) => sum + g.bytes.length, 0);
  const writer = new ByteWriter(size + 8 + 1024 * (1 + groups.length));
  writer.appendUint32(MAGIC);
  const rowGroups: RowGroup[] = [];
  let rows = 0n;
  for (const { bytes, rowGroup } of groups) {
    const shift = BigInt(writer.offset - 4);
    writer.appendBytes(bytes);
    rowGroups.push(shiftRowGroup(rowGroup, shift));
    rows += rowGroup.num_rows;
  }
  writeMetadata(writer, { version: 2, created_by: createdBy, schema: schemaElements(schema), num_rows: rows, row_groups: rowGroups, metadata_length: 0 });
  writer.appendUint32(MAGIC);
  // An exact-size buffer: callers transfer `bytes.buffer` to other threads whole.
  const bytes = new Uint8Array(writer.buffer.byteLength === writer.offset ? writer.buffer : writer.buffer.slice(0, writer.offset));
  return groups.length === 0 ? fixEmptyRowGroupList(bytes, schema.name, createdBy) : bytes;
}

/** A group's metadata as encoded alone (data right after the magic), moved `shift` bytes further into the file. */
export function shiftRowGroup(rowGroup: RowGroup, shift: bigint): RowGroup {
  if (shift === 0n) return rowGroup;
  return { ...rowGroup, columns: rowGroup.columns.map((chunk) => shiftChunk(chunk, shift)) };
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

/**
 * hyparquet-writer 0.17 writes an empty thrift list with element type 0, which arrow-rs (and so parquet-wasm,
 * DataFusion, Polars) rejects: "Expected list element type of Struct". With zero rows the only empty list in
 * the footer is row_groups, right before created_by, so the bytes num_rows=0, row_groups header, list header,
 * created_by header + the fixed string identify it exactly; the list header becomes size 0, type struct.
 */
function fixEmptyRowGroupList(bytes: Uint8Array, table: string, createdBy: string): Uint8Array {
  const name = Buffer.from(createdBy, 'utf8');
  const marker = Buffer.concat([Buffer.from([0x16, 0x00, 0x19, 0x00, 0x28, name.length]), name]);
  const at = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).lastIndexOf(marker);
  if (at < 0) throw contractError(table, 'has no rows and the writer footer has an unexpected shape; cannot write an empty file');
  const COMPACT_STRUCT = 0x0c;
  bytes[at + 3] = COMPACT_STRUCT;
  return bytes;
}
