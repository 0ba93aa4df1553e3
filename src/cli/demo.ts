/**
 * `tributary demo` (what `npm start` runs): make sure the demo archive exists — generating a million-plus events
 * across 8 partitions if it is absent or incomplete — then process it in bounded mode and print the summary.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { TributaryError } from '../core/errors.js';
import { generateArchive, readArchiveManifest } from '../gen/archive.js';
import { configuredStore } from '../sink/store-factory.js';
import { integer } from './options.js';
import { Progress, defaultProgressMode, generationProgress } from './progress.js';
import { runFromConfig } from './run.js';
import { formatSummary } from './summary.js';

export const DEMO_CONFIG = 'examples/tributary.yaml';
const DEMO_EVENTS_PER_STREAM = 550_000;

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(`generate the demo archive if absent, then process it in bounded mode (config: ${DEMO_CONFIG})`)
    .option('-c, --config <file>', 'YAML config file', DEMO_CONFIG)
    .option('--events <n>', 'events per stream when generating', integer(1), DEMO_EVENTS_PER_STREAM)
    .option('-q, --quiet', 'no progress', false)
    .action(async (opts: { config: string; events: number; quiet: boolean }) => {
      // The demo shows progress and a summary; per-partition info logs would drown them.
      if (!process.env.TRIBUTARY_LOG_LEVEL) process.env.TRIBUTARY_LOG_LEVEL = 'warn';
      const progress = new Progress({ mode: defaultProgressMode(opts.quiet) });
      const config = await loadConfig(opts.config);
      const source = config.source;
      if (source.kind !== 'capture') throw new TributaryError('CONFIG_INVALID', `source.kind: the demo reads a Capture archive, so it must be capture (it is ${source.kind})`);
      const store = configuredStore(config, source.store);
      const streams = Object.keys(source.hubs);
      const manifests = await Promise.all(Object.values(source.hubs).map((hub) => readArchiveManifest(store, source.namespace, hub)));
      if (manifests.some((m) => m === undefined)) {
        progress.stage(`generating the demo archive in ${store.location}: ${opts.events.toLocaleString('en-US')} events per stream (${streams.join(', ')}), 8 partitions`);
        const summary = await generateArchive(
          config,
          {
            events: opts.events,
            partitions: 8,
            distribution: 'zipf',
            skew: 0.8,
            keys: 50_000,
            span: 3_600_000,
            faults: { duplicate: 0.01, outOfOrder: 0.02, late: 0.002, corrupt: 0.001 },
            overwrite: true,
          },
          generationProgress(progress, 'generating', streams, opts.events),
        );
        progress.end();
        progress.stage(`generated ${summary.totals.deliveredEvents.toLocaleString('en-US')} events in ${(summary.elapsedMs / 1000).toFixed(1)} s`);
      } else {
        progress.stage(`using the demo archive in ${store.location} (delete it to generate a new one)`);
      }
      const summary = await runFromConfig({ config: opts.config, bounded: true, progress: progress.mode });
      process.stdout.write(`${formatSummary(summary)}\n`);
    });
}
