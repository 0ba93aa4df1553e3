/**
 * What crosses the thread boundary. Bodies travel as one packed ArrayBuffer plus an offsets table, both in the
 * transfer list (a structured clone of a 1 MiB batch costs ~8x a transfer); decoded rows come back column-major,
 * numbers in typed arrays and strings as UTF-8 spans, so the main thread never receives one object per event.
 */
import type { BatchColumn } from '../../core/column-builder.js';
import type { Utf8Column } from '../../core/table.js';

export const enum DecodeStatus {
  Ok = 0,
  Decode = 1,
  Schema = 2,
  Oversize = 3,
}

export interface StreamDecodeSpec {
  /** cache key for the compiled schema inside the worker */
  stream: string;
  /** the reader schema, JSON text */
  schema: string;
  bodyFormat: 'avro' | 'json' | 'confluent-avro';
  eventIdPath: string[];
  /** empty when the event time is the source's enqueued time (bodies without a time field) */
  eventTimePath: string[];
  maxEventBytes: number;
  /**
   * Which Avro decoder runs: the one compiled from the schema (default; avsc where a schema feature is not
   * compiled) or avsc always (the reference the compiled one is tested and benchmarked against). The
   * environment variable TRIBUTARY_DECODER=avsc forces avsc for a whole process (the benchmark's before/after).
   */
  decoder?: 'compiled' | 'avsc';
  /** event times outside [minMs, maxMs] are dead-lettered (reason schema) before they reach the watermark;
   * DEFAULT_EVENT_TIME_RANGE when absent */
  eventTimeRange?: { minMs: number; maxMs: number };
}

/** 1970-01-01 to 2200-01-01: what processing.eventTimeRange defaults to. */
export const DEFAULT_EVENT_TIME_RANGE = { minMs: 0, maxMs: Date.UTC(2200, 0, 1) } as const;

export interface DecodeTask {
  spec: StreamDecodeSpec;
  /** bodies packed back to back */
  bodies: ArrayBuffer;
  /** n + 1 offsets into `bodies`; or, with `ends`, the n bodies' starts */
  offsets: Uint32Array;
  /** the n bodies' ends, when bodies are spans with bytes between them (Capture blocks read in the lane) */
  ends?: Uint32Array;
  /** Confluent schema id -> writer schema JSON, for the ids this batch uses */
  writerSchemas?: Record<number, string>;
}

export interface DecodeResult {
  /** one DecodeStatus per input event */
  status: Uint8Array;
  /** [event index, error text] for every event that is not Ok */
  errors: Array<[number, string]>;
  /** per Ok event, in input order; '' (never an accepted id) where the id's UTF-8 bytes are in `idColumn` instead */
  ids: string[];
  /** the id column, when the compiled decoder left ids in it: row k's bytes are Ok event k's id (no string made) */
  idColumn?: Utf8Column;
  eventTimes: Float64Array;
  /** one column per projected column, Ok events only: typed (numbers, UTF-8 spans) where the kind has a typed form */
  columns: BatchColumn[];
}
