/**
 * `tributary bench keys`: load a sample, compute the skew of every candidate key at every partition count, run
 * the real pipeline for each candidate, and write the report (terminal table, Markdown, SVG, JSON).
 */
import { readFile } from 'node:fs/promises';
import type { TributaryConfig } from '../config/schema.js';
import { TributaryError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { createObjectStore } from '../sink/store-factory.js';
import { loadSampleFromGenerator, type GenSampleSettings } from './gen-sample.js';
import { parseKeyCandidates, type KeyCandidate, type PartitionHash } from './key-candidate.js';
import { projectColumns } from '../ingest/decode/projection.js';
import type { MeasuredRun } from './measured.js';
import { DEFAULT_OFFERED_LOAD, measureCandidates } from './measured-run.js';
import { recommend } from './recommend.js';
import { writeKeyBenchReport, type KeyBenchReport } from './report.js';
import { BodyDecoder, loadSampleFromCapture, loadSampleFromPath, type Sample, type SampleLimits } from './sample.js';
import { SkewAnalyzer, type PartitionLimit } from './skew.js';

/**
 * Where the sample comes from: a local path (Capture folder or Avro file), the config's own Capture source, the
 * synthetic generator, or events produced some other way in memory.
 */
export type SampleInput =
  | { readonly kind: 'path'; readonly path: string }
  | { readonly kind: 'configured-source' }
  | { readonly kind: 'gen'; readonly settings: GenSampleSettings }
  | { readonly kind: 'events'; readonly load: (decoder: BodyDecoder, limits: SampleLimits) => Promise<Sample> | Sample };

export interface KeyBenchOptions {
  readonly config: TributaryConfig;
  readonly input: SampleInput;
  /** `customerId,channel+region,none` */
  readonly keys: string;
  readonly partitionCounts: readonly number[];
  /** Defaults to the first configured stream. */
  readonly stream?: string;
  readonly hash: PartitionHash;
  readonly limit: PartitionLimit;
  readonly maxEvents: number;
  /** Partition count of the measured run; 0 = no measured run. Defaults to the largest partition count. */
  readonly measurePartitions?: number;
  readonly offeredLoad?: number;
  readonly batchSize?: number;
  readonly outDir?: string;
  /** The command line that regenerates the report, printed in it. */
  readonly command: string;
  readonly title?: string;
  readonly signal: AbortSignal;
  readonly log: Logger;
  readonly onProgress?: (line: string) => void;
}

export interface KeyBenchResult {
  readonly report: KeyBenchReport;
  readonly files: readonly string[];
}

export async function runKeyBenchmark(options: KeyBenchOptions): Promise<KeyBenchResult> {
  const { config, log } = options;
  const candidates = parseKeyCandidates(options.keys);
  if (options.partitionCounts.length === 0) throw new TributaryError('CONFIG_INVALID', '--partitions: at least one partition count is required');
  for (const n of options.partitionCounts) {
    if (!Number.isInteger(n) || n < 1) throw new TributaryError('CONFIG_INVALID', `--partitions: "${n}" is not a positive integer`);
  }
  const stream = options.stream ?? Object.keys(config.streams)[0]!;
  const streamConfig = config.streams[stream];
  if (!streamConfig) {
    throw new TributaryError('CONFIG_INVALID', `--stream: "${stream}" is not configured; expected one of: ${Object.keys(config.streams).join(', ')}`);
  }
  let schemaText: string;
  try {
    schemaText = await readFile(streamConfig.schema, 'utf8');
  } catch (error) {
    throw new TributaryError('CONFIG_INVALID', `streams.${stream}.schema: cannot read ${streamConfig.schema}: ${errorMessage(error)}`, { cause: error });
  }
  checkCandidateFields(candidates, schemaText, stream);
  const decoder = new BodyDecoder(schemaText, streamConfig.bodyFormat);
  const limits: SampleLimits = { maxEvents: options.maxEvents };

  const sample = await loadSample(options.input, config, stream, decoder, limits, log);
  if (sample.events.length === 0) throw new TributaryError('INPUT_MISSING', `the sample from ${sample.source} holds no events of stream ${stream}`);
  options.onProgress?.(`sample: ${sample.events.length} events from ${sample.source}${sample.undecodable ? ` (${sample.undecodable} undecodable)` : ''}`);

  const analyzer = new SkewAnalyzer({
    candidates,
    partitionCounts: options.partitionCounts,
    hash: options.hash,
    limit: options.limit,
    aggregations: config.aggregations.filter((a) => a.stream === stream).map((a) => ({ name: a.name, groupBy: a.groupBy })),
  });
  for (const event of sample.events) analyzer.add(event);
  const skew = analyzer.result();

  const measurePartitions = options.measurePartitions ?? Math.max(...options.partitionCounts);
  let measured: MeasuredRun[] = [];
  if (measurePartitions > 0) {
    measured = await measureCandidates({
      config,
      sample,
      candidates,
      partitionCount: measurePartitions,
      hash: options.hash,
      offeredLoad: options.offeredLoad ?? DEFAULT_OFFERED_LOAD,
      ...(options.batchSize ? { batchSize: options.batchSize } : {}),
      signal: options.signal,
      log,
      onCandidate: (run) =>
        options.onProgress?.(
          `measured ${run.candidate}: ${Math.round(run.eventsPerSecond)} events/s, slowest partition ${run.slowestPartition} lagged ${run.slowestLagEvents} events / ${Math.round(run.slowestLagMs)} ms`,
        ),
    });
  }

  const report: KeyBenchReport = {
    title: options.title ?? `Partition keys for stream ${stream}`,
    command: options.command,
    sample: { source: sample.source, stream, events: sample.events.length, bytes: skew.totalBytes },
    skew,
    recommendation: recommend(skew),
    measured,
  };
  const files = options.outDir ? await writeKeyBenchReport(report, options.outDir) : [];
  return { report, files };
}

async function loadSample(input: SampleInput, config: TributaryConfig, stream: string, decoder: BodyDecoder, limits: SampleLimits, log: Logger): Promise<Sample> {
  switch (input.kind) {
    case 'path':
      return loadSampleFromPath(input.path, stream, decoder, limits, log);
    case 'events':
      return input.load(decoder, limits);
    case 'gen':
      return loadSampleFromGenerator(config, stream, input.settings, decoder, limits);
    case 'configured-source': {
      const source = config.source;
      if (source.kind !== 'capture') throw new TributaryError('CONFIG_INVALID', 'the configured source is not a Capture archive; pass --input <folder|file>');
      const hub = source.hubs[stream];
      if (!hub) throw new TributaryError('CONFIG_INVALID', `source.hubs has no hub for stream ${stream}`);
      return loadSampleFromCapture(createObjectStore(source.store), stream, decoder, limits, log, { namespace: source.namespace, hub });
    }
  }
}

/**
 * Every key field must exist in the stream's schema: a missing field is null in every event, so the candidate
 * would be round-robin in disguise and could even be recommended. A field may be a leaf or a nested record.
 */
export function checkCandidateFields(candidates: readonly KeyCandidate[], schemaText: string, stream: string): void {
  const leaves = projectColumns(JSON.parse(schemaText)).map((column) => column.path.join('.'));
  const known = new Set(leaves.flatMap((leaf) => leaf.split('.').map((_, i, parts) => parts.slice(0, i + 1).join('.'))));
  for (const candidate of candidates) {
    for (const field of candidate.fields) {
      if (!known.has(field)) {
        throw new TributaryError(
          'CONFIG_INVALID',
          `--keys: candidate "${candidate.name}" names the field "${field}", which the schema of stream ${stream} does not have; fields: ${leaves.join(', ')}`,
        );
      }
    }
  }
}
