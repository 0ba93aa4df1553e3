/**
 * The lane worker (runs inside piscina threads, one per lane): the partitions pinned to this lane live here
 * (runtime/lane-partition.ts), and their bodies are decoded here. Compiles each stream's schema once per thread and
 * caches writer -> reader resolvers for Confluent-framed bodies; decodes strictly (trailing bytes are an error).
 */
import avro from 'avsc';
import { Piscina } from 'piscina';
import { BoundsGuard } from './avro-bounds.js';
import { detachBeforeCompiling } from './detach-early.js';
import { detach } from '../../core/release-bytes.js';
import { compileBodyDecoder, type BodyDecoder } from './compiled/decoder.js';
import { BodyError } from './compiled/cursor.js';
import { ColumnBuilder, builderKind } from '../../core/column-builder.js';
import { compileGetter, projectColumns, type ProjectedColumn } from './projection.js';
import { LanePartition, type LaneInput, type LanePlan, type LaneStep } from '../../runtime/lane-partition.js';
import type { PartitionSnapshot } from '../../aggregate/snapshot.js';
import { DEFAULT_EVENT_TIME_RANGE, DecodeStatus, type DecodeResult, type DecodeTask, type StreamDecodeSpec } from './task.js';

interface CompiledStream {
  type: avro.Type;
  /** checks lengths and counts of raw Avro bodies before avsc allocates for them */
  guard: BoundsGuard;
  columns: ProjectedColumn[];
  /** raw Avro bodies: the compiled decoder (same bounds rules as the guard), or undefined where avsc decodes */
  decoder: BodyDecoder | undefined;
  /** Confluent schema id -> compiled writer-to-reader decoder (null: avsc decodes that id) */
  decoders: Map<number, BodyDecoder | null>;
  /** the bounds guard of each compiled writer schema */
  writerGuards: Map<number, BoundsGuard>;
  idColumn: number;
  timeColumn: number;
  getters: Array<(record: Record<string, unknown>) => unknown>;
  getId: (record: Record<string, unknown>) => unknown;
  getTime: (record: Record<string, unknown>) => unknown;
  timeIsMicros: boolean;
  resolvers: Map<number, { resolver: avro.Resolver; guard: BoundsGuard }>;
  /** per column, the bytes per row of the last batch (utf8 columns): their builders start that large */
  bytesPerRow: number[];
}

// before any of this lane's code is optimized (see detach-early.ts)
detachBeforeCompiling();

const compiled = new Map<string, CompiledStream>();

function compile(spec: StreamDecodeSpec): CompiledStream {
  const key = `${spec.stream}\u0000${spec.decoder ?? 'compiled'}\u0000${spec.schema}`;
  let entry = compiled.get(key);
  if (entry) return entry;
  const schema = JSON.parse(spec.schema) as avro.Schema;
  const columns = projectColumns(schema);
  const byPath = (path: string[]) => columns.find((c) => c.path.join('.') === path.join('.'));
  const timeColumn = byPath(spec.eventTimePath);
  const idColumn = byPath(spec.eventIdPath);
  // The id and time must come from plain columns for the compiled path (a JSON column's text is not the value).
  const compilable = spec.decoder !== 'avsc' && process.env.TRIBUTARY_DECODER !== 'avsc' && idColumn !== undefined && !['json_text', 'bytes'].includes(idColumn.type) && (spec.eventTimePath.length === 0 || (timeColumn !== undefined && timeColumn.type !== 'json_text'));
  const type = avro.Type.forSchema(schema);
  entry = {
    type,
    guard: BoundsGuard.for(type),
    columns,
    decoder: compilable && spec.bodyFormat === 'avro' ? compiledOrFallback(schema, undefined, columns, spec.stream) : undefined,
    decoders: new Map(),
    writerGuards: new Map(),
    idColumn: compilable ? columns.indexOf(idColumn) : -1,
    timeColumn: compilable && timeColumn ? columns.indexOf(timeColumn) : -1,
    getters: columns.map(compileGetter),
    getId: pathGetter(spec.eventIdPath),
    getTime: pathGetter(spec.eventTimePath),
    timeIsMicros: timeColumn?.type === 'timestamp_us',
    resolvers: new Map(),
    bytesPerRow: columns.map(() => 0),
  };
  compiled.set(key, entry);
  return entry;
}

/** Schema features the compiled decoder does not handle, once per schema: avsc decodes those bodies. */
export const fallbacks: string[] = [];

function compiledOrFallback(reader: unknown, writer: unknown, columns: ProjectedColumn[], stream: string): BodyDecoder | undefined {
  const outcome = compileBodyDecoder(reader, writer, columns);
  if ('decoder' in outcome) return outcome.decoder;
  fallbacks.push(`${stream}: ${outcome.fallback}`);
  return undefined;
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
      if (body.length < 5 || body[0] !== 0) throw new Error(NOT_CONFLUENT);
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

const NOT_CONFLUENT = 'not Confluent wire format (magic byte 0 expected)';

/**
 * The compiled decoder for a body and where its Avro bytes start, or undefined when avsc decodes it (format not
 * compiled, schema feature not compiled, unknown id or malformed frame: avsc's path reports those errors).
 */
function bodyDecoder(
  stream: CompiledStream,
  spec: StreamDecodeSpec,
  all: Buffer,
  start: number,
  end: number,
  writerSchemas: Record<number, string> | undefined,
): { decode: BodyDecoder; start: number; guard: BoundsGuard } | undefined {
  if (spec.bodyFormat === 'avro') return stream.decoder ? { decode: stream.decoder, start, guard: stream.guard } : undefined;
  if (spec.bodyFormat !== 'confluent-avro' || stream.idColumn < 0) return undefined;
  if (end - start < 5 || all[start] !== 0) return undefined;
  const schemaId = all.readUInt32BE(start + 1);
  let decoder = stream.decoders.get(schemaId);
  if (decoder === undefined) {
    const writer = writerSchemas?.[schemaId];
    if (writer === undefined) return undefined;
    try {
      decoder = compiledOrFallback(JSON.parse(spec.schema), JSON.parse(writer), stream.columns, `${spec.stream} schema id ${schemaId}`) ?? null;
      if (decoder) stream.writerGuards.set(schemaId, BoundsGuard.for(avro.Type.forSchema(JSON.parse(writer) as avro.Schema)));
    } catch {
      // An unreadable writer schema: avsc's path turns it into each event's decode error, as it always has.
      decoder = null;
    }
    stream.decoders.set(schemaId, decoder);
  }
  return decoder ? { decode: decoder, start: start + 5, guard: stream.writerGuards.get(schemaId)! } : undefined;
}

/**
 * Decodes a batch. `enqueuedTimes` (one per event) is what streams without a time field use as event time; it is
 * range-checked here like a body's time, so both reach the watermark only when they are within eventTimeRange.
 */
function describeTime(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? `${ms} ms` : `${date.toISOString()} (${ms} ms)`;
}

/**
 * `reuse`: builders of an earlier batch of the same stream, emptied and filled again (the partition's lane passes
 * its own, whose columns it never keeps past a batch: fewer new buffers per batch, so fewer major GCs); an empty
 * array is filled with this batch's builders. Without it, every batch gets its own.
 */
export default function decodeBatch(task: DecodeTask, enqueuedTimes?: Float64Array, reuse?: ColumnBuilder[]): DecodeResult {
  const { spec, offsets, ends } = task;
  const range = spec.eventTimeRange ?? DEFAULT_EVENT_TIME_RANGE;
  const stream = compile(spec);
  const all = Buffer.from(task.bodies);
  const count = ends ? ends.length : offsets.length - 1;
  const status = new Uint8Array(count);
  const errors: Array<[number, string]> = [];
  const ids: string[] = [];
  // one per Ok event (at most one per event), written in place: no array grown per row
  const times = new Float64Array(count);
  // One builder per column for the batch: the compiled decoder appends to them as it reads, the avsc path appends
  // its projected values; either way the batch leaves as typed columns.
  // Strings and JSON start with room for what rows of the last batch held (+1/8), not grown (copied) as they fill;
  // at most twice this batch's bytes each (a batch of large bodies must not size the next one's builders).
  const byteCapacity = (k: number) => (stream.bytesPerRow[k]! > 0 ? Math.min(Math.ceil(stream.bytesPerRow[k]! * count * 1.125), 2 * task.bodies.byteLength + 1024) : undefined);
  // Pushed, not Array.map: a mapped array's elements kind differed from batch to batch, and every compiled op
  // that reads `columns[k]` was deoptimized ("wrong map", --trace-deopt) and compiled again.
  let columns: ColumnBuilder[] = [];
  if (reuse !== undefined && reuse.length === stream.columns.length && reuse.every((b, k) => b.kind === builderKind(stream.columns[k]!.type))) {
    for (const builder of reuse) builder.truncate(0);
    columns = reuse;
  } else {
    for (let k = 0; k < stream.columns.length; k++) columns.push(new ColumnBuilder(stream.columns[k]!.type, count, byteCapacity(k)));
    if (reuse !== undefined) reuse.splice(0, reuse.length, ...columns);
  }
  const getters = stream.getters;
  // Raw Avro bodies all take the stream's compiled decoder (or all avsc): looked up once, not per body.
  const avroDecoder = spec.bodyFormat === 'avro' && stream.decoder ? { decode: stream.decoder, guard: stream.guard } : undefined;
  // A utf8 id column the compiled decoder fills: its ids stay bytes there (no string per id; see DecodeResult.ids).
  const idBuilder = stream.idColumn >= 0 && columns[stream.idColumn]!.kind === 'utf8' ? columns[stream.idColumn]! : undefined;
  let idsInColumn = false;
  const drop = (rows: number) => {
    for (let c = 0; c < columns.length; c++) columns[c]!.truncate(rows);
  };
  for (let i = 0; i < count; i++) {
    const start = offsets[i]!;
    const end = ends ? ends[i]! : offsets[i + 1]!;
    if (end - start > spec.maxEventBytes) {
      status[i] = DecodeStatus.Oversize;
      errors.push([i, `event body of ${end - start} bytes exceeds maxEventBytes ${spec.maxEventBytes}`]);
      continue;
    }
    const framed = avroDecoder || spec.bodyFormat === 'avro' ? undefined : bodyDecoder(stream, spec, all, start, end, task.writerSchemas);
    const decoder = avroDecoder ?? framed;
    const from = framed ? framed.start : start;
    let id: unknown;
    let time: number;
    let record: Record<string, unknown> | undefined;
    try {
      if (decoder) {
        // The compiled decoder applies the guard's bounds rules as it reads (every length and count checked
        // before anything is allocated for it), so the guard runs only for a body it refuses: a hostile body
        // then gets the guard's error text, as on the avsc path (dead letters, tests).
        try {
          decoder.decode(all, from, end, columns);
        } catch (error) {
          if (!(error instanceof BodyError)) throw error;
          const failure = decoder.guard.check(all.subarray(start, end), from - start);
          if (failure) throw new BodyError(`bad Avro bytes at byte ${failure.offset}: ${failure.message}`);
          throw error;
        }
      } else {
        record = decodeBody(stream, spec, all.subarray(start, end), task.writerSchemas);
      }
    } catch (error) {
      if (decoder && !(error instanceof BodyError)) throw error; // a bug in the compiled decoder, not a bad body
      if (decoder) drop(ids.length);
      status[i] = DecodeStatus.Decode;
      errors.push([i, error instanceof Error ? error.message : String(error)]);
      continue;
    }
    if (record === undefined) {
      // The row the decoder just appended; it is dropped again below if the id or time is not acceptable.
      const row = ids.length;
      if (idBuilder) {
        // The id stays in the column's bytes; here only whether there is one.
        id = idBuilder.validity !== undefined && idBuilder.validity[row] === 0 ? null : idBuilder.offsets[row + 1] === idBuilder.offsets[row] ? '' : IN_COLUMN;
      } else id = columns[stream.idColumn]!.valueAt(row);
      // NaN marks "use the enqueued time", which only the main thread knows.
      time = spec.eventTimePath.length === 0 ? Number.NaN : toEventTime(columns[stream.timeColumn]!.valueAt(row), stream.timeIsMicros);
    } else {
      id = stream.getId(record);
      time = spec.eventTimePath.length === 0 ? Number.NaN : toEventTime(stream.getTime(record), stream.timeIsMicros);
    }
    if (id === undefined || id === null || id === '') {
      if (record === undefined) drop(ids.length);
      status[i] = DecodeStatus.Schema;
      errors.push([i, `event id field "${spec.eventIdPath.join('.')}" is missing`]);
      continue;
    }
    if (spec.eventTimePath.length > 0 && !Number.isFinite(time)) {
      if (record === undefined) drop(ids.length);
      status[i] = DecodeStatus.Schema;
      errors.push([i, `event time field "${spec.eventTimePath.join('.')}" is missing or not a time`]);
      continue;
    }
    const checked = spec.eventTimePath.length > 0 ? time : (enqueuedTimes?.[i] ?? range.minMs);
    if (!(checked >= range.minMs && checked <= range.maxMs)) {
      if (record === undefined) drop(ids.length);
      status[i] = DecodeStatus.Schema;
      const field = spec.eventTimePath.length > 0 ? `event time field "${spec.eventTimePath.join('.')}"` : 'enqueued time (the event time)';
      errors.push([i, `${field} is ${describeTime(checked)}, outside processing.eventTimeRange ${describeTime(range.minMs)} .. ${describeTime(range.maxMs)}`]);
      continue;
    }
    if (id === IN_COLUMN) idsInColumn = true;
    times[ids.length] = time;
    ids.push(id === IN_COLUMN ? '' : String(id));
    if (record !== undefined) for (let c = 0; c < getters.length; c++) columns[c]!.appendValue(getters[c]!(record));
  }
  for (let c = 0; c < columns.length; c++) if (columns[c]!.rows > 0 && columns[c]!.kind === 'utf8') stream.bytesPerRow[c] = columns[c]!.byteLength / columns[c]!.rows;
  const out = columns.map((c) => c.column());
  const idColumn = idsInColumn ? out[stream.idColumn] : undefined;
  return { status, errors, ids, eventTimes: times.subarray(0, ids.length), columns: out, ...(idColumn?.kind === 'utf8' ? { idColumn } : {}) };
}

/** Stands for an id the compiled decoder wrote into a utf8 id column (neither null nor empty): DecodeResult.idColumn. */
const IN_COLUMN = Symbol('id in the id column');

/*
 * Fused partitions: the whole data side of an owned partition (gate, dedup, aggregators, open cell, dead letters,
 * Parquet) lives here, one LanePartition per ownership period, keyed by the main thread's id for it.
 */
const partitions = new Map<string, LanePartition>();

export interface PartitionOpenTask {
  id: string;
  plan: LanePlan;
  snapshot: PartitionSnapshot | null;
}

export function partitionOpen(task: PartitionOpenTask): void {
  partitions.set(task.id, new LanePartition(task.plan, decodeBatch, task.snapshot ?? undefined));
}

export function partitionBatch(task: { id: string; input: LaneInput }): unknown {
  const outcome = lanePartition(task.id).batch(task.input);
  // The batch's bytes, moved here with it, are used up (what outlives the batch was copied: columns, dead letters'
  // base64): freed now, they no longer wait for a scavenge, nor count towards the next mark-compact meanwhile.
  detach(task.input.kind === 'capture' ? task.input.blocks.data : task.input.bodies);
  return movingSteps(outcome, outcome.steps);
}

export function partitionFlush(id: string): unknown {
  const steps = lanePartition(id).flush();
  return movingSteps(steps, steps);
}

export function partitionClose(id: string): void {
  partitions.delete(id);
}

function lanePartition(id: string): LanePartition {
  const partition = partitions.get(id);
  if (!partition) throw new Error(`lane has no partition ${id}`);
  return partition;
}

/**
 * The result with its files' bytes in the transfer list. Bytes that do not fill their own buffer (small ones come
 * from Buffer's shared pool slab) are copied first: transferring a slab would detach every other Buffer on it.
 */
function movingSteps<T>(value: T, steps: LaneStep[]): unknown {
  const buffers: ArrayBuffer[] = [];
  const own = (bytes: Uint8Array): Uint8Array => {
    const alone = bytes.buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && !buffers.includes(bytes.buffer);
    const owned = alone ? bytes : new Uint8Array(bytes);
    buffers.push(owned.buffer as ArrayBuffer);
    return owned;
  };
  for (const step of steps) {
    if (step.kind === 'put') step.bytes = own(step.bytes);
    else if (step.kind === 'stage') step.group = { ...step.group, bytes: own(step.group.bytes) };
    else if (step.kind === 'commitRaw' && step.open) step.open = { ...step.open, bytes: own(step.open.bytes) };
    else if (step.kind === 'snapshot') buffers.push(step.snapshot.gate.seen.hashes.buffer as ArrayBuffer, step.snapshot.gate.seen.times.buffer as ArrayBuffer);
  }
  const transferable = { [Piscina.transferableSymbol]: buffers, [Piscina.valueSymbol]: value };
  return Piscina.move(transferable as unknown as Parameters<typeof Piscina.move>[0]);
}
