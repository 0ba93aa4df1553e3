/**
 * An independent Parquet reader for tests: parquet-wasm (arrow-rs compiled to WebAssembly) decodes, apache-arrow
 * exposes the result. A different implementation than the writer (hyparquet-writer), so a test that reads back
 * what it wrote checks the file, not one library's agreement with itself.
 *
 * parquet-wasm's Node build (the "node" export condition) is CommonJS and instantiates its wasm synchronously
 * on import, so no init call is needed here.
 */
import { tableFromIPC, type Table } from 'apache-arrow';
import { Compression, Encoding, ParquetFile, readParquet as readParquetWasm } from 'parquet-wasm';

export interface ParquetColumn {
  name: string;
  /** Arrow's rendering of the logical type: 'Int64', 'Utf8', 'Timestamp<MILLISECOND, UTC>', 'Binary', ... */
  type: string;
  nullable: boolean;
}

export interface ParquetContents {
  columns: ParquetColumn[];
  /**
   * Row objects: timestamps as epoch milliseconds (number), int64 as number when safe (else bigint), strings as
   * strings, binary as Uint8Array, null for missing values.
   */
  rows: Record<string, unknown>[];
}

export interface ParquetColumnChunkInfo {
  path: string;
  codec: string;
  encodings: string[];
}

export interface ParquetFileInfo {
  createdBy: string | undefined;
  numRows: number;
  keyValueMetadata: Map<unknown, unknown>;
  rowGroups: { numRows: number; columns: ParquetColumnChunkInfo[] }[];
}

export async function readParquet(bytes: Uint8Array): Promise<ParquetContents> {
  const table = readArrow(bytes);
  const columns = table.schema.fields.map((field) => ({ name: field.name, type: String(field.type), nullable: field.nullable }));
  const rows: Record<string, unknown>[] = [];
  for (let index = 0; index < table.numRows; index++) {
    const row: Record<string, unknown> = {};
    for (const { name } of columns) row[name] = plainValue(table.getChild(name)?.get(index));
    rows.push(row);
  }
  return { columns, rows };
}

export async function readParquetMetadata(bytes: Uint8Array): Promise<ParquetFileInfo> {
  const file = await ParquetFile.fromFile(new Blob([new Uint8Array(bytes)]));
  try {
    const metadata = file.metadata();
    const fileMetadata = metadata.fileMetadata();
    return {
      createdBy: fileMetadata.createdBy(),
      numRows: fileMetadata.numRows(),
      keyValueMetadata: fileMetadata.keyValueMetadata(),
      rowGroups: metadata.rowGroups().map((group) => ({
        numRows: group.numRows(),
        columns: group.columns().map((chunk) => ({
          path: chunk.columnPath().join('.'),
          codec: Compression[chunk.compression()],
          encodings: chunk.encodings().map((encoding) => Encoding[encoding]),
        })),
      })),
    };
  } finally {
    file.free();
  }
}

function readArrow(bytes: Uint8Array): Table {
  const wasmTable = readParquetWasm(bytes);
  // intoIPCStream consumes the wasm-side table; the IPC bytes are copied into JS memory
  return tableFromIPC(wasmTable.intoIPCStream());
}

function plainValue(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value;
  return value;
}
