/**
 * The decode worker (runs inside piscina threads). Compiles each stream's schema once per thread and caches
 * writer -> reader resolvers for Confluent-framed bodies; decodes strictly (trailing bytes are an error).
 */
import avro from 'avsc';
import { Piscina } from 'piscina';
import { assembleParquet, encodeParquet, encodeRowGroup, type EncodedRowGroup } from '../../sink/parquet.js';
import type { TableData, TableSchema } from '../../sink/table.js';
import { BoundsGuard } from './avro-bounds.js';
import { compileGetter, projectColumns } from './projection.js';
import { DEFAULT_EVENT_TIME_RANGE, DecodeStatus, type AppendRowsTask, type DecodeResult, type DecodeTask, type LaneDecodeTask, type StreamDecodeSpec } from './task.js';

interface CompiledStream {
  type: avro.Type;
  /** checks lengths and counts of raw Avro bodies before avsc allocates for them */
  guard: BoundsGuard;
  getters: Array<(record: Record<string, unknown>) => unknown>;
  getId: (record: Record<string, unknown>) => unknown;
  getTime: (record: Record<string, unknown>) => unknown;
  timeIsMicros: boolean;
  resolvers: Map<number, { resolver: avro.Resolver; guard: BoundsGuard }>;
}

const compiled = new Map<string, CompiledStream>();

function compile(spec: StreamDecodeSpec): CompiledStream {
  const key = `${spec.stream}\u0000${spec.schema}`;
  let entry = compiled.get(key);
  if (entry) return entry;
  const schema = JSON.parse(spec.schema) as avro.Schema;
  const columns = projectColumns(schema);
  const byPath = (path: string[]) => columns.find((c) => c.path.join('.') === path.join('.'));
  const timeColumn = byPath(spec.eventTimePath);
  const type = avro.Type.forSchema(schema);
  entry = {
    type,
    guard: BoundsGuard.for(type),
    getters: columns.map(compileGetter),
    getId: pathGetter(spec.eventIdPath),
    getTime: pathGetter(spec.eventTimePath),
    timeIsMicros: timeColumn?.type === 'timestamp_us',
    resolvers: new Map(),
  };
  compiled.set(key, entry);
  return entry;
}

function pathGetter(path: string[]): (record: Record<string, unknown>) => unknown {
  return (record) => {
    let value: unknown = record;
    for (const key of path) {
      if (value === null || value === undefined || typeof value !== 'object') return undefined;
      value = (value as Record<string, unknown>)[key];
    }
    return value;
  };
}

function toEventTime(value: unknown, micros: boolean): number {
  if (typeof value === 'number') return micros ? Math.floor(value / 1000) : value;
  if (typeof value === 'string') return Date.parse(value);
  if (value instanceof Date) return value.getTime();
  return Number.NaN;
}

/** Bodies are checked with the schema they were written with; a failure names the byte (counted in the body). */
function guard(bounds: BoundsGuard, body: Buffer, start: number): void {
  const failure = bounds.check(body, start);
  if (failure) throw new Error(`bad Avro bytes at byte ${failure.offset}: ${failure.message}`);
}

function decodeBody(stream: CompiledStream, spec: StreamDecodeSpec, body: Buffer, writerSchemas: Record<number, string> | undefined): Record<string, unknown> {
  switch (spec.bodyFormat) {
    case 'avro':
      guard(stream.guard, body, 0);
      return stream.type.fromBuffer(body) as Record<string, unknown>;
    case 'json': {
      const value: unknown = JSON.parse(body.toString('utf8'));
      if (!stream.type.isValid(value)) throw new Error(`JSON body does not match schema ${spec.stream}`);
      return value as Record<string, unknown>;
    }
    case 'confluent-avro': {
      if (body.length < 5 || body[0] !== 0) throw new Error('not Confluent wire format (magic byte 0 expected)');
      const schemaId = body.readUInt32BE(1);
      let writer = stream.resolvers.get(schemaId);
      if (!writer) {
        const schema = writerSchemas?.[schemaId];
        if (schema === undefined) throw new Error(`unknown schema id ${schemaId}`);
        const writerType = avro.Type.forSchema(JSON.parse(schema) as avro.Schema);
        writer = { resolver: stream.type.createResolver(writerType), guard: BoundsGuard.for(writerType) };
        stream.resolvers.set(schemaId, writer);
      }
      guard(writer.guard, body, 5);
      return stream.type.fromBuffer(body.subarray(5), writer.resolver) as Record<string, unknown>;
    }
  }
}

/**
 * Decodes a batch. `enqueuedTimes` (one per event) is what streams without a time field use as event time; it is
 * range-checked here like a body's time, so both reach the watermark only when they are within eventTimeRange.
 */
function describeTime(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? `${ms} ms` : `${date.toISOString()} (${ms} ms)`;
}

export default function decodeBatch(task: DecodeTask, enqueuedTimes?: Float64Array): DecodeResult {
  const { spec, offsets } = task;
  const range = spec.eventTimeRange ?? DEFAULT_EVENT_TIME_RANGE;
  const stream = compile(spec);
  const all = Buffer.from(task.bodies);
  const count = offsets.length - 1;
  const status = new Uint8Array(count);
  const errors: Array<[number, string]> = [];
  const ids: string[] = [];
  const times: number[] = [];
  const columns: unknown[][] = stream.getters.map(() => []);
  const getters = stream.getters;
  for (let i = 0; i < count; i++) {
    const start = offsets[i]!;
    const end = offsets[i + 1]!;
    if (end - start > spec.maxEventBytes) {
      status[i] = DecodeStatus.Oversize;
      errors.push([i, `event body of ${end - start} bytes exceeds maxEventBytes ${spec.maxEventBytes}`]);
      continue;
    }
    let record: Record<string, unknown>;
    try {
      record = decodeBody(stream, spec, all.subarray(start, end), task.writerSchemas);
    } catch (error) {
      status[i] = DecodeStatus.Decode;
      errors.push([i, error instanceof Error ? error.message : String(error)]);
      continue;
    }
    const id = stream.getId(record);
    // NaN marks "use the enqueued time", which only the main thread knows.
    const time = spec.eventTimePath.length === 0 ? Number.NaN : toEventTime(stream.getTime(record), stream.timeIsMicros);
    if (id === undefined || id === null || id === '') {
      status[i] = DecodeStatus.Schema;
      errors.push([i, `event id field "${spec.eventIdPath.join('.')}" is missing`]);
      continue;
    }
    if (spec.eventTimePath.length > 0 && !Number.isFinite(time)) {
      status[i] = DecodeStatus.Schema;
      errors.push([i, `event time field "${spec.eventTimePath.join('.')}" is missing or not a time`]);
      continue;
    }
    const checked = spec.eventTimePath.length > 0 ? time : (enqueuedTimes?.[i] ?? range.minMs);
    if (!(checked >= range.minMs && checked <= range.maxMs)) {
      status[i] = DecodeStatus.Schema;
      const field = spec.eventTimePath.length > 0 ? `event time field "${spec.eventTimePath.join('.')}"` : 'enqueued time (the event time)';
      errors.push([i, `${field} is ${describeTime(checked)}, outside processing.eventTimeRange ${describeTime(range.minMs)} .. ${describeTime(range.maxMs)}`]);
      continue;
    }
    ids.push(String(id));
    times.push(time);
    for (let c = 0; c < getters.length; c++) columns[c]!.push(getters[c]!(record));
  }
  return { status, errors, ids, eventTimes: Float64Array.from(times), columns };
}

/**
 * Parquet encoding runs here too: it is the heaviest per-row work after decoding, and the main thread is the
 * one serial stage. The finished file moves back in the transfer list.
 */
export function encodeTable(table: TableData): Uint8Array {
  const bytes = encodeParquet(table);
  return Piscina.move(bytes) as Uint8Array;
}


/*
 * Partition-affine lane state. Each lane is a pool of one thread and a partition always uses the same lane, so
 * a batch's decoded rows can wait here for the main thread's verdicts, and an open file's rows and encoded row
 * groups live here until the file is written. It is all derived state: a restart rebuilds it from the source.
 */
const pendingBatches = new Map<number, unknown[][]>();

interface LaneFile {
  schema: TableSchema;
  rowGroupRows: number;
  tail: unknown[][];
  tailRows: number;
  groups: EncodedRowGroup[];
}
const openFiles = new Map<string, LaneFile>();

export function laneDecode(task: LaneDecodeTask): DecodeResult {
  const result = decodeBatch(task, task.metadata.enqueuedTimes);
  const { metadata } = task;
  const okCount = result.ids.length;
  const meta: unknown[][] = [new Array(okCount).fill(metadata.partition), [], [], [], [], ...metadata.properties.map(() => [])];
  for (let i = 0; i < result.status.length; i++) {
    if (result.status[i] !== DecodeStatus.Ok) continue;
    meta[1]!.push(metadata.positions[i]);
    meta[2]!.push(metadata.offsets[i]);
    meta[3]!.push(metadata.enqueuedTimes[i]);
    meta[4]!.push(metadata.partitionKeys[i]);
    for (let p = 0; p < metadata.properties.length; p++) meta[5 + p]!.push(metadata.properties[p]![i]);
  }
  pendingBatches.set(task.batchId, [...result.columns, ...meta]);
  const wanted = new Set(task.returnColumns);
  return { ...result, columns: result.columns.map((column, c) => (wanted.has(c) ? column : [])) };
}

export function appendRows(tasks: AppendRowsTask[]): number {
  let appended = 0;
  for (const task of tasks) {
    const rows = pendingBatches.get(task.batchId);
    if (!rows) throw new Error(`lane has no decoded batch ${task.batchId}`);
    let file = openFiles.get(task.fileId);
    if (!file) {
      file = { schema: task.schema, rowGroupRows: task.rowGroupRows, tail: task.schema.columns.map(() => []), tailRows: 0, groups: [] };
      openFiles.set(task.fileId, file);
    }
    const columnCount = file.tail.length;
    for (const row of task.rows) {
      for (let c = 0; c < columnCount; c++) file.tail[c]!.push(rows[c]![row]);
      if (++file.tailRows === file.rowGroupRows) {
        file.groups.push(encodeRowGroup({ schema: file.schema, columns: file.tail }));
        file.tail = file.schema.columns.map(() => []);
        file.tailRows = 0;
      }
    }
    appended += task.rows.length;
  }
  return appended;
}

export function releaseBatch(batchId: number): void {
  pendingBatches.delete(batchId);
}

/** The file as it stands: its row groups plus the tail, which stays open for more rows. */
export function fileBytes(fileId: string): Uint8Array | null {
  const file = openFiles.get(fileId);
  if (!file) return null;
  const groups = file.tailRows > 0 ? [...file.groups, encodeRowGroup({ schema: file.schema, columns: file.tail })] : file.groups;
  return Piscina.move(assembleParquet(file.schema, groups)) as Uint8Array;
}

export function dropFile(fileId: string): void {
  openFiles.delete(fileId);
}
