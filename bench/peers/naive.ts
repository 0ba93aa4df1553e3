/**
 * What a user would write from the obvious packages: avsc to read the Capture files and decode each body,
 * parquetjs-lite to write the raw rows (every column of the raw table, metadata included) and a 1-minute
 * tumbling aggregate by channel and currency. No dedup, no lateness, no checkpoints: a lower bound on the work.
 *   node dist/bench/peers/naive.js <capture dir> <out dir> <schema.avsc>  -> one JSON line
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import avro from 'avsc';
import { forEachCaptureEvent } from './capture-bodies.js';

interface ParquetjsWriter {
  appendRow(row: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}
interface Parquetjs {
  ParquetSchema: new (fields: Record<string, { type: string; optional?: boolean; compression?: string }>) => object;
  ParquetWriter: { openFile(schema: object, file: string): Promise<ParquetjsWriter> };
}
const parquetjs = createRequire(import.meta.url)('parquetjs-lite') as Parquetjs;

const [captureDir, outDir, schemaFile] = process.argv.slice(2) as [string, string, string];
const cpuBefore = process.cpuUsage();
const started = performance.now();
const type = avro.Type.forSchema(JSON.parse(await readFile(schemaFile, 'utf8')) as avro.Schema);
const rows = new Map<string, Record<string, unknown>[]>();
const windows = new Map<string, { start: number; channel: string; currency: string; count: number; sum: number }>();
let events = 0;
let bad = 0;
await forEachCaptureEvent(captureDir, (event) => {
  events++;
  let order: Record<string, unknown>;
  try {
    order = type.fromBuffer(event.body) as Record<string, unknown>;
  } catch {
    bad++;
    return;
  }
  const row = { ...order, lines: JSON.stringify(order.lines), _partition: event.partition, _position: event.sequenceNumber, _offset: event.offset, _enqueued_time: event.enqueuedTimeMs, _traceparent: event.traceparent };
  let list = rows.get(event.partition);
  if (!list) rows.set(event.partition, (list = []));
  list.push(row);
  const start = Math.floor((order.createdAt as number) / 60_000) * 60_000;
  const key = `${start}|${String(order.channel)}|${String(order.currency)}`;
  const cell = windows.get(key) ?? { start, channel: String(order.channel), currency: String(order.currency), count: 0, sum: 0 };
  cell.count++;
  cell.sum += order.totalAmount as number;
  windows.set(key, cell);
});
await rm(outDir, { recursive: true, force: true });
await mkdir(outDir, { recursive: true });
const s = (type: string, optional = false) => ({ type, optional, compression: 'SNAPPY' });
const rawSchema = new parquetjs.ParquetSchema({
  orderId: s('UTF8'), customerId: s('UTF8'), lines: s('UTF8'), totalAmount: s('DOUBLE'), currency: s('UTF8'), channel: s('UTF8'),
  shippingCountry: s('UTF8'), createdAt: s('TIMESTAMP_MILLIS'), couponCode: s('UTF8', true),
  _partition: s('UTF8'), _position: s('INT64'), _offset: s('UTF8'), _enqueued_time: s('TIMESTAMP_MILLIS'), _partition_key: s('UTF8', true), _traceparent: s('UTF8', true),
});
for (const [partition, list] of rows) {
  const writer = await parquetjs.ParquetWriter.openFile(rawSchema, path.join(outDir, `orders-${partition}.parquet`));
  for (const row of list) await writer.appendRow(row);
  await writer.close();
}
const aggSchema = new parquetjs.ParquetSchema({ window_start: s('TIMESTAMP_MILLIS'), channel: s('UTF8'), currency: s('UTF8'), count: s('INT64'), sum: s('DOUBLE'), mean: s('DOUBLE') });
const agg = await parquetjs.ParquetWriter.openFile(aggSchema, path.join(outDir, 'orders_by_channel_1m.parquet'));
for (const w of windows.values()) await agg.appendRow({ window_start: w.start, channel: w.channel, currency: w.currency, count: w.count, sum: w.sum, mean: w.sum / w.count });
await agg.close();
const cpu = process.cpuUsage(cpuBefore);
process.stdout.write(`${JSON.stringify({ events, bad, seconds: (performance.now() - started) / 1000, cpuUs: cpu.user + cpu.system, peakRssMiB: process.resourceUsage().maxRSS / 1024 })}\n`);
