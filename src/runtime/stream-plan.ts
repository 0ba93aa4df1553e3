/**
 * Compiles the config into what the pipeline needs per stream: the decode spec for the worker threads, the raw
 * table's schema, and each aggregation's column indexes. Every field reference in the config is checked against
 * the stream's Avro schema here, before any work starts, with an error naming the config path.
 */
import { readFile } from 'node:fs/promises';
import avro from 'avsc';
import type { AggregationConfig, StreamConfig, TributaryConfig } from '../config/schema.js';
import { TributaryError, errorMessage } from '../core/errors.js';
import { projectColumns, type ProjectedColumn } from '../ingest/decode/projection.js';
import type { StreamDecodeSpec } from '../ingest/decode/task.js';
import { createWriterSchemaSource, type WriterSchemaSource } from '../ingest/decode/writer-schemas.js';
import type { AggregationSpec } from '../aggregate/window-aggregator.js';
import type { ColumnSpec, ColumnType, TableSchema } from '../core/table.js';
import type { MeasureFn } from '../aggregate/accumulators.js';

export const METADATA_COLUMNS: ColumnSpec[] = [
  { name: '_partition', type: 'string', nullable: false },
  { name: '_position', type: 'int64', nullable: false },
  { name: '_offset', type: 'string', nullable: false },
  { name: '_enqueued_time', type: 'timestamp_ms', nullable: false },
  { name: '_partition_key', type: 'string', nullable: true },
];

/** `eventTime: _enqueued_time` takes the event time from the source (for bodies that carry none). */
export const ENQUEUED_TIME = '_enqueued_time';

export interface AggregationPlan {
  spec: AggregationSpec;
  schema: TableSchema;
  /** `<aggregation>_late`: late events per window and group, written with the position cell they arrived in */
  lateSchema: TableSchema;
}

export interface StreamPlan {
  stream: string;
  config: StreamConfig;
  decode: StreamDecodeSpec;
  bodyColumns: ProjectedColumn[];
  /** application properties landed as `_<name>` columns */
  propertyColumns: string[];
  raw: TableSchema;
  aggregations: AggregationPlan[];
  /** Confluent-framed streams: where writer schemas come from */
  writerSchemas: WriterSchemaSource | undefined;
}

export async function loadStreamPlans(config: TributaryConfig): Promise<Map<string, StreamPlan>> {
  const plans = new Map<string, StreamPlan>();
  for (const [stream, streamConfig] of Object.entries(config.streams)) {
    let schemaText: string;
    try {
      schemaText = await readFile(streamConfig.schema, 'utf8');
      avro.Type.forSchema(JSON.parse(schemaText) as avro.Schema);
    } catch (error) {
      throw new TributaryError('CONFIG_INVALID', `streams.${stream}.schema: cannot load Avro schema ${streamConfig.schema}: ${errorMessage(error)}`, { cause: error });
    }
    plans.set(stream, { ...buildStreamPlan(stream, streamConfig, schemaText, config), writerSchemas: await createWriterSchemaSource(stream, streamConfig) });
  }
  return plans;
}

export function buildStreamPlan(stream: string, streamConfig: StreamConfig, schemaText: string, config: TributaryConfig): Omit<StreamPlan, 'writerSchemas'> {
  let bodyColumns: ProjectedColumn[];
  try {
    bodyColumns = projectColumns(JSON.parse(schemaText));
  } catch (error) {
    throw new TributaryError('CONFIG_INVALID', `streams.${stream}.schema: ${errorMessage(error)}`, { cause: error });
  }
  const find = (field: string, where: string): number => {
    const index = bodyColumns.findIndex((c) => c.path.join('.') === field);
    if (index < 0) {
      throw new TributaryError(
        'CONFIG_INVALID',
        `${where}: no field "${field}" in the schema of stream ${stream}; expected one of: ${bodyColumns.map((c) => c.path.join('.')).join(', ')}`,
      );
    }
    return index;
  };
  find(streamConfig.eventId, `streams.${stream}.eventId`);
  const timeFromSource = streamConfig.eventTime === ENQUEUED_TIME;
  const timeColumn = timeFromSource ? undefined : bodyColumns[find(streamConfig.eventTime, `streams.${stream}.eventTime`)]!;
  if (timeColumn && !['int64', 'timestamp_ms', 'timestamp_us', 'string', 'double'].includes(timeColumn.type)) {
    throw new TributaryError('CONFIG_INVALID', `streams.${stream}.eventTime: field "${streamConfig.eventTime}" is ${timeColumn.type}; expected a timestamp, long or ISO string`);
  }
  const processing = config.processing;
  const propertyColumns = streamConfig.propertyColumns;
  const raw: TableSchema = {
    name: streamConfig.table ?? `${stream}_raw`,
    columns: [
      ...bodyColumns.map(({ name, type, nullable }) => ({ name, type, nullable })),
      ...METADATA_COLUMNS,
      ...propertyColumns.map((p) => ({ name: `_${p}`, type: 'string' as const, nullable: true })),
    ],
  };
  const aggregations = config.aggregations
    .map((aggregation, index) => ({ aggregation, index }))
    .filter(({ aggregation }) => aggregation.stream === stream)
    .map(({ aggregation, index }) => planAggregation(aggregation, index, bodyColumns, find, processing.allowedLateness, processing.aggregateFileSpan));
  const decode: StreamDecodeSpec = {
    stream,
    schema: schemaText,
    bodyFormat: streamConfig.bodyFormat,
    eventIdPath: streamConfig.eventId.split('.'),
    eventTimePath: timeFromSource ? [] : streamConfig.eventTime.split('.'),
    maxEventBytes: processing.maxEventBytes,
    eventTimeRange: { minMs: processing.eventTimeRange.min, maxMs: processing.eventTimeRange.max },
  };
  return { stream, config: streamConfig, decode, bodyColumns, propertyColumns, raw, aggregations };
}

function planAggregation(
  aggregation: AggregationConfig,
  index: number,
  bodyColumns: ProjectedColumn[],
  find: (field: string, where: string) => number,
  allowedLatenessMs: number,
  fileSpanMs: number,
): AggregationPlan {
  const where = `aggregations[${index}]`;
  const window = aggregation.window;
  // Each aggregate file lies in one date=/hour= folder, the hour of every window start in it.
  if (HOUR_MS % fileSpanMs !== 0) {
    throw new TributaryError('CONFIG_INVALID', `processing.aggregateFileSpan: ${fileSpanMs} ms must divide one hour (e.g. 5m, 15m, 1h), so every aggregate file lies in one hour folder`);
  }
  const step = window.kind === 'hopping' ? window.hop : window.kind === 'tumbling' ? window.size : undefined;
  if (step !== undefined && fileSpanMs % step !== 0) {
    throw new TributaryError('CONFIG_INVALID', `${where}.window: its ${window.kind === 'hopping' ? 'hop' : 'size'} (${step} ms) must divide processing.aggregateFileSpan (${fileSpanMs} ms)`);
  }
  const groupColumns = aggregation.groupBy.map((field, g) => find(field, `${where}.groupBy[${g}]`));
  const measures = aggregation.measures.map((measure, m) => {
    const column = measure.field === undefined ? -1 : find(measure.field, `${where}.measures[${m}].field`);
    if (column >= 0 && measure.fn !== 'count' && !NUMERIC_TYPES.includes(bodyColumns[column]!.type)) {
      throw new TributaryError('CONFIG_INVALID', `${where}.measures[${m}].field: "${measure.field}" is ${bodyColumns[column]!.type}; ${measure.fn} needs a number`);
    }
    const output = measure.as ?? (measure.field === undefined ? 'count' : `${measure.fn}_${measure.field.replace(/\./g, '_')}`);
    return { fn: measure.fn as MeasureFn, column, output };
  });
  const windowMs = window.kind === 'session' ? window.gap : window.size;
  const hopMs = window.kind === 'hopping' ? window.hop : windowMs;
  const spec: AggregationSpec = {
    name: aggregation.name,
    windowMs,
    hopMs,
    ...(window.kind === 'session' ? { sessionGapMs: window.gap } : {}),
    allowedLatenessMs,
    fileSpanMs,
    groupColumns,
    measures,
  };
  const windowColumns: ColumnSpec[] = [
    { name: 'window_start', type: 'timestamp_ms', nullable: false },
    { name: 'window_end', type: 'timestamp_ms', nullable: false },
    ...groupColumns.map((c) => ({ name: bodyColumns[c]!.name, type: bodyColumns[c]!.type, nullable: true })),
  ];
  const schema: TableSchema = {
    name: aggregation.name,
    columns: [...windowColumns, ...measures.map((m) => measureColumn(m, m.column >= 0 ? bodyColumns[m.column]!.type : undefined)), SOURCE_PARTITION_COLUMN],
  };
  const lateSchema: TableSchema = {
    name: `${aggregation.name}${LATE_TABLE_SUFFIX}`,
    columns: [...windowColumns, { name: 'late_events', type: 'int64', nullable: false }, SOURCE_PARTITION_COLUMN],
  };
  return { spec, schema, lateSchema };
}

const HOUR_MS = 3_600_000;
const NUMERIC_TYPES: ColumnType[] = ['int32', 'int64', 'float', 'double', 'timestamp_ms', 'timestamp_us'];
const INTEGER_TYPES: ColumnType[] = ['int32', 'int64'];

/** The late-events side table of an aggregation is named `<aggregation>_late`. */
export const LATE_TABLE_SUFFIX = '_late';

/**
 * The partition a row was computed from. Not `partition`: that is the path key, and a reader with Hive
 * partitioning would silently put the path value in its place.
 */
export const SOURCE_PARTITION_COLUMN: ColumnSpec = { name: '_partition', type: 'string', nullable: false };

/**
 * SQL's result types: COUNT is BIGINT; SUM of integers is an integer, of reals a double; MIN and MAX keep their
 * input's type (a timestamp stays a timestamp); AVG is a double. All but COUNT are NULL over no values.
 */
function measureColumn(measure: { fn: MeasureFn; output: string }, input: ColumnType | undefined): ColumnSpec {
  const name = measure.output;
  switch (measure.fn) {
    case 'count':
      return { name, type: 'int64', nullable: false };
    case 'sum':
      return { name, type: input !== undefined && INTEGER_TYPES.includes(input) ? 'int64' : 'double', nullable: true };
    case 'min':
    case 'max':
      return { name, type: input ?? 'double', nullable: true };
    case 'mean':
      return { name, type: 'double', nullable: true };
  }

}
