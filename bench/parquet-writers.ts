/**
 * Bare Parquet writing of one table with encodeParquet (what the sink uses) and with
 * parquetjs-lite (for comparison), same rows, same column types, snappy. `npm run bench` calls
 * measureParquetWriters on rows decoded from the generated archive; run this file directly for a synthetic table:
 *   npm run build && node dist/bench/parquet-writers.js [rows] [repeats]
 *
 * Each timed run includes what the caller must do to feed the writer from column-major TableData (encodeParquet
 * validates and converts inside; parquetjs-lite needs row objects, built inside its timed run), so the figures
 * compare the cost of landing the same TableData, not just the libraries' inner loops.
 */
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { encodeParquet } from '../src/sink/parquet.js';
import type { ColumnSpec, ColumnType, TableData } from '../src/core/table.js';

export interface ParquetWriterFigures {
  writer: 'tributary' | 'parquetjs-lite';
  rows: number;
  repeats: number;
  /** Median of the timed runs. */
  seconds: number;
  rowsPerSecond: number;
  bestRowsPerSecond: number;
  /** Size of the file written (identical on every run for encodeParquet). */
  bytes: number;
}

export async function measureParquetWriters(table: TableData, repeats: number): Promise<ParquetWriterFigures[]> {
  if (!Number.isInteger(repeats) || repeats < 1) throw new RangeError(`repeats must be a positive integer, got ${repeats}`);
  const rows = table.columns[0]?.length ?? 0;
  return [
    await measure('tributary', rows, repeats, async () => encodeParquet(table).byteLength),
    await measure('parquetjs-lite', rows, repeats, () => writeWithParquetjs(table)),
  ];
}

async function measure(
  writer: ParquetWriterFigures['writer'],
  rows: number,
  repeats: number,
  run: () => Promise<number>,
): Promise<ParquetWriterFigures> {
  let bytes = await run(); // warm-up: JIT and lazy module state are not what we measure
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = process.hrtime.bigint();
    bytes = await run();
    times.push(Number(process.hrtime.bigint() - start) / 1e9);
  }
  times.sort((a, b) => a - b);
  const seconds = times[Math.floor(times.length / 2)] ?? Number.NaN;
  const best = times[0] ?? Number.NaN;
  return { writer, rows, repeats, seconds, rowsPerSecond: rows / seconds, bestRowsPerSecond: rows / best, bytes };
}

/** The slice of parquetjs-lite this benchmark uses (the package ships no types). */
interface ParquetjsWriter {
  appendRow(row: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}
interface ParquetjsModule {
  ParquetSchema: new (fields: Record<string, { type: string; optional: boolean; compression: string }>) => object;
  ParquetWriter: { openStream(schema: object, stream: Writable, options: { rowGroupSize: number }): Promise<ParquetjsWriter> };
}

const parquetjs = createRequire(import.meta.url)('parquetjs-lite') as ParquetjsModule;

const PARQUETJS_TYPE: Record<ColumnType, string> = {
  boolean: 'BOOLEAN',
  int32: 'INT32',
  int64: 'INT64',
  float: 'FLOAT',
  double: 'DOUBLE',
  string: 'UTF8',
  bytes: 'BYTE_ARRAY',
  timestamp_ms: 'TIMESTAMP_MILLIS',
  timestamp_us: 'TIMESTAMP_MICROS',
  // parquetjs-lite's JSON type shreds a top-level array as a repeated field, so the text is passed as UTF8
  json: 'UTF8',
  json_text: 'UTF8',
};

async function writeWithParquetjs(table: TableData): Promise<number> {
  const specs = table.schema.columns;
  const schema = new parquetjs.ParquetSchema(
    Object.fromEntries(specs.map((spec) => [spec.name, { type: PARQUETJS_TYPE[spec.type], optional: spec.nullable, compression: 'SNAPPY' }])),
  );
  let bytes = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      bytes += chunk.byteLength;
      callback();
    },
  });
  const writer = await parquetjs.ParquetWriter.openStream(schema, sink, { rowGroupSize: 131_072 });
  const rows = table.columns[0]?.length ?? 0;
  const toRowValue = specs.map((spec) => rowValueConverter(spec));
  for (let row = 0; row < rows; row++) {
    const record: Record<string, unknown> = {};
    for (let c = 0; c < specs.length; c++) {
      const value = table.columns[c]?.[row];
      if (value !== null && value !== undefined) record[specs[c]!.name] = toRowValue[c]!(value);
    }
    await writer.appendRow(record);
  }
  await writer.close();
  return bytes;
}

function rowValueConverter(spec: ColumnSpec): (value: unknown) => unknown {
  switch (spec.type) {
    case 'timestamp_ms':
      return (value) => Math.floor(value as number);
    case 'timestamp_us':
      return (value) => BigInt(Math.round((value as number) * 1000));
    case 'json':
      return (value) => JSON.stringify(value);
    default:
      return (value) => value;
  }
}

/** An order-shaped table for running this file on its own: ids, keys of mixed cardinality, amounts, times. */
export function syntheticOrdersTable(rows: number): TableData {
  const columns: ColumnSpec[] = [
    { name: 'order_id', type: 'string', nullable: false },
    { name: 'customer_id', type: 'string', nullable: false },
    { name: 'sku', type: 'string', nullable: false },
    { name: 'quantity', type: 'int32', nullable: false },
    { name: 'amount', type: 'double', nullable: false },
    { name: 'currency', type: 'string', nullable: false },
    { name: 'channel', type: 'string', nullable: true },
    { name: 'created_at', type: 'timestamp_ms', nullable: false },
    { name: 'offset', type: 'int64', nullable: false },
    { name: 'lines', type: 'json', nullable: true },
  ];
  const values: unknown[][] = columns.map(() => new Array<unknown>(rows));
  const currencies = ['EUR', 'USD', 'GBP', 'CHF'];
  const channels = ['web', 'app', 'store', null];
  let seed = 42;
  const random = (): number => {
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
    return seed / 2 ** 32;
  };
  const start = Date.UTC(2024, 0, 1);
  for (let row = 0; row < rows; row++) {
    const sku = `SKU-${Math.floor(random() * 500)}`;
    const quantity = 1 + Math.floor(random() * 5);
    const set = (column: number, value: unknown): void => {
      values[column]![row] = value;
    };
    set(0, `ord-${row.toString(36).padStart(8, '0')}-${Math.floor(random() * 1e9).toString(36)}`);
    set(1, `cust-${Math.floor(random() * 20_000)}`);
    set(2, sku);
    set(3, quantity);
    set(4, Math.round(random() * 50_000) / 100);
    set(5, currencies[Math.floor(random() * currencies.length)]);
    set(6, channels[Math.floor(random() * channels.length)]);
    set(7, start + row * 37 + Math.floor(random() * 1000));
    set(8, row * 512);
    set(9, random() < 0.1 ? null : [{ sku, quantity }]);
  }
  return { schema: { name: 'orders_raw', columns }, columns: values };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = Number(process.argv[2] ?? 200_000);
  const repeats = Number(process.argv[3] ?? 3);
  const figures = await measureParquetWriters(syntheticOrdersTable(rows), repeats);
  for (const f of figures) {
    console.log(`${f.writer.padEnd(17)} ${Math.round(f.rowsPerSecond).toLocaleString('en-US').padStart(10)} rows/s (best ${Math.round(f.bestRowsPerSecond).toLocaleString('en-US')})  ${f.bytes.toLocaleString('en-US')} bytes`);
  }
}
