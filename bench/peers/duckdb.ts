/**
 * DuckDB as the native reference: the same rows (every raw-table column) written as Parquet (snappy) and the same
 * 1-minute tumbling aggregate by channel and currency, by DuckDB's own engine. DuckDB does not read Capture's
 * Avro bodies, so avsc decodes them into newline-delimited JSON first; that step is timed apart.
 *   node dist/bench/peers/duckdb.js <capture dir> <out dir> <schema.avsc>  -> one JSON line
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { DuckDBInstance } from '@duckdb/node-api';
import avro from 'avsc';
import { forEachCaptureEvent } from './capture-bodies.js';

const [captureDir, outDir, schemaFile] = process.argv.slice(2) as [string, string, string];
await rm(outDir, { recursive: true, force: true });
await mkdir(outDir, { recursive: true });
const type = avro.Type.forSchema(JSON.parse(await readFile(schemaFile, 'utf8')) as avro.Schema);
const ndjson = path.join(outDir, 'orders.ndjson');
let cpu = process.cpuUsage();
const out = createWriteStream(ndjson);
let events = 0;
let chunk = '';
await forEachCaptureEvent(captureDir, (event) => {
  events++;
  let order: Record<string, unknown>;
  try {
    order = type.fromBuffer(event.body) as Record<string, unknown>;
  } catch {
    return;
  }
  chunk += `${JSON.stringify({ ...order, _partition: event.partition, _position: event.sequenceNumber, _offset: event.offset, _enqueued_time: event.enqueuedTimeMs, _partition_key: null, _traceparent: event.traceparent })}\n`;
  if (chunk.length > 1 << 20) {
    out.write(chunk);
    chunk = '';
  }
});
out.end(chunk);
await once(out, 'close');
const decode = process.cpuUsage(cpu);
cpu = process.cpuUsage();
const started = performance.now();
const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
const connection = await instance.connect();
await connection.run(`create table orders as select * exclude (lines, createdAt, _enqueued_time), to_json(lines) as lines, epoch_ms(createdAt) as createdAt, epoch_ms(_enqueued_time) as _enqueued_time from read_ndjson('${ndjson}', maximum_object_size=1048576)`);
await connection.run(`copy orders to '${path.join(outDir, 'orders_raw.parquet')}' (format parquet, compression snappy)`);
await connection.run(
  `copy (select time_bucket(interval 1 minute, createdAt) as window_start, channel, currency, count(*) as count, sum(totalAmount) as sum, avg(totalAmount) as mean from orders group by all order by all) to '${path.join(outDir, 'orders_by_channel_1m.parquet')}' (format parquet, compression snappy)`,
);
connection.closeSync();
instance.closeSync();
const duck = process.cpuUsage(cpu);
process.stdout.write(
  `${JSON.stringify({ events, decodeCpuUs: decode.user + decode.system, duckdbCpuUs: duck.user + duck.system, duckdbSeconds: (performance.now() - started) / 1000, peakRssMiB: process.resourceUsage().maxRSS / 1024 })}\n`,
);
