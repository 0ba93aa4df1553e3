import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../core/log.js';
import { TributaryError } from '../core/errors.js';
import { runWorker, type RunSummary } from '../runtime/worker.js';
import { runRange } from '../state/range-replay.js';
import { startObservability } from './observability.js';
import { formatProgress, formatSummary } from './summary.js';

export interface RunCommandOptions {
  config: string;
  bounded: boolean;
  metricsPort?: number;
  quiet?: boolean;
  /** a range replay into another lake (state/range-replay.ts) */
  from?: string;
  until?: string;
  lake?: string;
  deadLetter?: string;
}

/** Runs the worker with shutdown on SIGTERM/SIGINT; resolves with the summary. */
export async function runFromConfig(options: RunCommandOptions): Promise<RunSummary> {
  const config = await loadConfig(options.config);
  if (options.metricsPort !== undefined) config.metrics.port = options.metricsPort;
  const log = createLogger();
  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals): void => {
    log.info({ signal }, 'shutting down: stop reading, flush, commit');
    controller.abort(new Error(`received ${signal}`));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const observability = await startObservability(config, controller.signal, log);
  try {
    if (options.from !== undefined || options.until !== undefined || options.lake !== undefined) {
      if (!options.bounded || options.from === undefined || options.until === undefined || options.lake === undefined) {
        throw new TributaryError('CONFIG_INVALID', 'a range replay needs --bounded, --from, --until and --lake together');
      }
      return await runRange(config, { from: options.from, until: options.until, lake: options.lake, ...(options.deadLetter ? { deadLetter: options.deadLetter } : {}), signal: controller.signal, log, observers: observability.observers });
    }
    const summary = await runWorker(config, {
      bounded: options.bounded,
      signal: controller.signal,
      log,
      observers: observability.observers,
      onReady: observability.markReady,
      ...(options.quiet ? {} : { onProgress: (totals, elapsed) => process.stderr.write(`${formatProgress(totals, elapsed)}\n`) }),
    });
    return summary;
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    await observability.close();
  }
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run the worker: read the configured source, land Parquet, dead-letter what fails')
    .requiredOption('-c, --config <file>', 'YAML config file')
    .option('--bounded', 'stop once caught up with the source (backfills, replays, tests)', false)
    .option('--metrics-port <port>', 'override metrics.port (0 = any free port)', (v) => Number.parseInt(v, 10))
    .option('-q, --quiet', 'no progress lines', false)
    .option('--from <time|position>', 'range replay: from this position, or the first event enqueued at or after this ISO 8601 time')
    .option('--until <time|position>', 'range replay: up to (not including) this position or time; rounded up to the end of its cell')
    .option('--lake <path|container>', "range replay: the lake to write the range's files into (a container of the configured account for a blob lake)")
    .option('--dead-letter <path|container>', "range replay: where the range's dead letters go (not written when absent)")
    .action(async (opts: RunCommandOptions) => {
      const summary = await runFromConfig(opts);
      process.stdout.write(`${formatSummary(summary)}\n`);
    });
}
