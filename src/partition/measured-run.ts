/**
 * The measured half of the benchmark: for each candidate key, the real worker (stream plans, decode pool,
 * partition router and processors, Parquet sink, commit protocol) runs over the sample partitioned by that key,
 * with a fresh lake, dead-letter and state folder per candidate so runs cannot see each other's snapshots.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TributaryConfig } from '../config/schema.js';
import { TributaryError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { runWorker } from '../runtime/worker.js';
import type { KeyCandidate, PartitionHash } from './key-candidate.js';
import type { MeasuredRun } from './measured.js';
import { PartitionedReplaySource } from './replay-source.js';
import type { Sample } from './sample.js';

export interface MeasureOptions {
  readonly config: TributaryConfig;
  readonly sample: Sample;
  readonly candidates: readonly KeyCandidate[];
  readonly partitionCount: number;
  readonly hash: PartitionHash;
  /** Events one partition processes per round (defaults to processing.batchSize, capped so the sample spans many rounds). */
  readonly batchSize?: number;
  readonly offeredLoad?: number;
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** Keep each candidate's lake under this folder instead of a temporary one that is removed afterwards. */
  readonly keepLakeUnder?: string;
  readonly onCandidate?: (run: MeasuredRun) => void;
}

export const DEFAULT_OFFERED_LOAD = 0.8;

export async function measureCandidates(options: MeasureOptions): Promise<MeasuredRun[]> {
  const { config, sample, partitionCount } = options;
  if (!(sample.stream in config.streams)) {
    throw new TributaryError('CONFIG_INVALID', `stream "${sample.stream}" is not configured under streams`);
  }
  // At least ~20 rounds at balanced load, so a backlog has room to show.
  const batchSize =
    options.batchSize ??
    Math.max(1, Math.min(config.processing.batchSize, Math.floor(sample.events.length / (partitionCount * 20))));
  const offeredLoad = options.offeredLoad ?? DEFAULT_OFFERED_LOAD;
  const runs: MeasuredRun[] = [];
  for (const candidate of options.candidates) {
    const root = options.keepLakeUnder
      ? path.join(options.keepLakeUnder, safeName(candidate.name))
      : await mkdtemp(path.join(tmpdir(), 'tributary-bench-keys-'));
    try {
      const source = new PartitionedReplaySource(sample.events, {
        stream: sample.stream,
        candidate,
        partitionCount,
        hash: options.hash,
        batchSize,
        offeredLoad,
      });
      const summary = await runWorker(isolated(config, root, sample.stream), {
        bounded: true,
        signal: options.signal,
        log: options.log.child({ candidate: candidate.name }),
        source,
      });
      const stats = source.stats;
      if (!stats) throw new TributaryError('INTERNAL', `the replay of ${candidate.name} ended without statistics`);
      const slowest = stats.partitions.reduce((worst, p) =>
        p.maxLagEvents > worst.maxLagEvents || (p.maxLagEvents === worst.maxLagEvents && p.catchUpMs > worst.catchUpMs) ? p : worst,
      );
      const rawTable = config.streams[sample.stream]!.table ?? `${sample.stream}_raw`;
      const run: MeasuredRun = {
        candidate: candidate.name,
        partitionCount,
        events: sample.events.length,
        wallMs: stats.wallMs,
        eventsPerSecond: stats.wallMs > 0 ? (sample.events.length * 1000) / stats.wallMs : 0,
        rounds: stats.rounds,
        offeredLoad,
        slowestPartition: slowest.partition,
        slowestLagEvents: slowest.maxLagEvents,
        slowestLagMs: slowest.catchUpMs,
        partitions: stats.partitions,
        rowsLanded: summary.totals.rowsPerTable.get(rawTable) ?? 0,
      };
      runs.push(run);
      options.onCandidate?.(run);
    } finally {
      if (!options.keepLakeUnder) await rm(root, { recursive: true, force: true });
    }
  }
  return runs;
}

/** The config with only the sampled stream, its aggregations, and every store in the candidate's own folder. */
function isolated(config: TributaryConfig, root: string, stream: string): TributaryConfig {
  return {
    ...config,
    streams: { [stream]: config.streams[stream]! },
    aggregations: config.aggregations.filter((a) => a.stream === stream),
    lake: { kind: 'local', path: path.join(root, 'lake') },
    deadLetter: { kind: 'local', path: path.join(root, 'deadletter') },
    state: { kind: 'local', path: path.join(root, 'state') },
    metrics: { ...config.metrics, enabled: false },
  };
}

const safeName = (name: string): string => name.replace(/[^A-Za-z0-9_.+-]/g, '_');
