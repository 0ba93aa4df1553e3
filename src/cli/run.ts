import type { Command } from 'commander';
import { assertEnvironment } from '../config/environment.js';
import { loadConfig } from '../config/load.js';
import { TributaryError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { createObjectStore } from '../sink/store-factory.js';
import { runWorker, type RunSummary } from '../runtime/worker.js';
import { runRange } from '../state/range-replay.js';
import { startObservability } from './observability.js';
import { integer } from './options.js';
import { Progress, defaultProgressMode, type ProgressMode } from './progress.js';
import { RunProgress } from './run-progress.js';
import { formatSummary } from './summary.js';

export interface RunCommandOptions {
  config: string;
  bounded: boolean;
  metricsPort?: number;
  quiet?: boolean;
  /** default: a bar on a terminal, lines elsewhere, nothing with quiet or in Kubernetes */
  progress?: ProgressMode;
  /** a range replay into another lake (state/range-replay.ts) */
  from?: string;
  until?: string;
  lake?: string;
  deadLetter?: string;
  /** Event Hubs range replay: the consumer group it reads through */
  consumerGroup?: string;
}

/** Runs the worker with shutdown on SIGTERM/SIGINT; resolves with the summary. */
export async function runFromConfig(options: RunCommandOptions): Promise<RunSummary> {
  const config = await loadConfig(options.config);
  await assertEnvironment(config, options.config);
  if (options.metricsPort !== undefined) config.metrics.port = options.metricsPort;
  const mode = options.progress ?? defaultProgressMode(options.quiet);
  // A person watching a bar wants warnings, not every partition's info line drawn across it.
  const log = createLogger(process.env.TRIBUTARY_LOG_LEVEL || (mode === 'bar' ? 'warn' : 'info'));
  const controller = new AbortController();
  // Past the drain deadline (or at a second signal) the stores stop retrying and the run ends without moving any
  // checkpoint past unwritten data, before Kubernetes' grace period runs out and SIGKILL comes.
  const hardStop = new AbortController();
  let deadline: NodeJS.Timeout | undefined;
  const drainMs = config.shutdown.drainDeadline;
  const stop = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      hardStop.abort(new TributaryError('ABORTED', `received ${signal} again: stopping without waiting for the drain`));
      return;
    }
    log.info({ signal, drainDeadlineMs: drainMs }, 'shutting down: stop reading, finish in-flight batches, write open files, commit');
    controller.abort(new TributaryError('ABORTED', `received ${signal}`));
    deadline = setTimeout(() => {
      log.error({ drainDeadlineMs: drainMs }, 'drain deadline passed: abandoning writes still in flight; checkpoints stay at the last commit');
      hardStop.abort(new TributaryError('ABORTED', `the drain deadline (${drainMs} ms) passed before in-flight work was written`));
    }, drainMs);
    deadline.unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const observability = await startObservability(config, controller.signal, log);
  const progress = new Progress({ mode });
  const watch = mode === 'off' ? undefined : new RunProgress(progress);
  progress.stage(
    `processing ${Object.keys(config.streams).join(', ')} from the ${config.source.kind} source into ${createObjectStore(config.lake).location}` +
      `${options.bounded ? ' (bounded: stops once caught up)' : ''}`,
  );
  watch?.start();
  try {
    if (options.from !== undefined || options.until !== undefined || options.lake !== undefined || options.consumerGroup !== undefined) {
      if (!options.bounded || options.from === undefined || options.until === undefined || options.lake === undefined) {
        throw new TributaryError('CONFIG_INVALID', 'a range replay needs --bounded, --from, --until and --lake together');
      }
      return await runRange(config, { from: options.from, until: options.until, lake: options.lake, ...(options.deadLetter ? { deadLetter: options.deadLetter } : {}), ...(options.consumerGroup !== undefined ? { consumerGroup: options.consumerGroup } : {}), signal: controller.signal, log, observers: observability.observers });
    }
    const summary = await runWorker(config, {
      bounded: options.bounded,
      signal: controller.signal,
      log,
      observers: [...observability.observers, ...(watch ? [watch] : [])],
      onReady: observability.markReady,
      hardStop: hardStop.signal,
      ...(watch ? { wrapHandler: (handler) => watch.wrap(handler) } : {}),
    });
    if (hardStop.signal.aborted) throw hardStop.signal.reason;
    return summary;
  } catch (error) {
    // A failure caused by the hard stop is reported as the hard stop: that is what the operator must know.
    if (hardStop.signal.aborted) throw hardStop.signal.reason;
    throw error;
  } finally {
    if (deadline) clearTimeout(deadline);
    watch?.stop();
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
    .option('--metrics-port <port>', 'override metrics.port (0 = any free port)', integer(0, 65535))
    .option('-q, --quiet', 'no progress (the default inside Kubernetes when stderr is not a terminal)', false)
    .option('--from <time|position>', 'range replay: from this position, or the first event enqueued at or after this ISO 8601 time')
    .option('--until <time|position>', 'range replay: up to (not including) this position or time; rounded up to the end of its cell')
    .option('--lake <path|container>', "range replay: the lake to write the range's files into (a container of the configured account for a blob lake)")
    .option('--dead-letter <path|container>', "range replay: where the range's dead letters go (not written when absent)")
    .option(
      '--consumer-group <name>',
      "range replay on Event Hubs (required there): a consumer group of the hub other than source.consumerGroup, read without the checkpoint store (no checkpoint written, the main run's partitions untouched); positions are sequence numbers, times enqueued times",
    )
    .action(async (opts: RunCommandOptions) => {
      const summary = await runFromConfig(opts);
      process.stdout.write(`${formatSummary(summary)}\n`);
    });
}
