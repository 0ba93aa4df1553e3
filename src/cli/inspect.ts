/** Operator commands on the stores: dead letters (counted from listing metadata) and checkpoints (reset is in reset.ts). */
import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { DEAD_LETTER_REASONS, countsFromMetadata, decodeDeadLetters, type DeadLetterReason } from '../sink/dead-letter.js';
import { ObjectCheckpointStore } from '../sink/object-checkpoint-store.js';
import { configuredStore } from '../sink/store-factory.js';
import { checkStreams, integer, reasonList } from './options.js';

export function registerInspectCommands(program: Command): void {
  program
    .command('deadletters')
    .description('count dead letters per stream and reason (from listing metadata), or print some with --show')
    .requiredOption('-c, --config <file>', 'YAML config file')
    .option('--stream <name>', 'only this stream')
    .option('--reason <list>', `only these reasons, comma-separated (${DEAD_LETTER_REASONS.join(', ')})`, reasonList)
    .option('--show <n>', 'print the first n records as JSON lines', integer(0))
    .action(async (opts: { config: string; stream?: string; reason?: DeadLetterReason[]; show?: number }) => {
      const config = await loadConfig(opts.config);
      if (opts.stream !== undefined) checkStreams(config, [opts.stream]);
      const store = configuredStore(config, config.deadLetter);
      const objects = await store.list(opts.stream ? `${opts.stream}/` : '');
      const counts = new Map<string, number>();
      for (const object of objects) {
        const stream = object.key.split('/')[0]!;
        for (const [reason, count] of Object.entries(countsFromMetadata(object.metadata))) {
          if (opts.reason && !opts.reason.includes(reason as DeadLetterReason)) continue;
          counts.set(`${stream}\t${reason}`, (counts.get(`${stream}\t${reason}`) ?? 0) + (count ?? 0));
        }
      }
      process.stdout.write(`dead letters in ${store.location}\n`);
      for (const [key, count] of [...counts].sort()) process.stdout.write(`  ${key.replace('\t', '  ')}  ${count}\n`);
      let left = opts.show ?? 0;
      for (const object of objects) {
        if (left <= 0) break;
        const records = decodeDeadLetters((await store.get(object.key)) ?? new Uint8Array()).filter((r) => !opts.reason || opts.reason.includes(r.reason));
        for (const record of records.slice(0, left)) process.stdout.write(`${JSON.stringify(record)}\n`);
        left -= records.length;
      }
    });

  program
    .command('checkpoints')
    .description('show the committed position of every partition')
    .requiredOption('-c, --config <file>', 'YAML config file')
    .action(async (opts: { config: string }) => {
      const config = await loadConfig(opts.config);
      const checkpoints = new ObjectCheckpointStore(configuredStore(config, config.state));
      for (const stream of Object.keys(config.streams)) {
        const list = await checkpoints.list(stream);
        process.stdout.write(`${stream}: ${list.length === 0 ? 'no checkpoints' : ''}\n`);
        for (const cp of list.sort((a, b) => Number(a.partition) - Number(b.partition))) {
          process.stdout.write(`  partition ${cp.partition}: resume at position ${cp.nextPosition} (after offset ${cp.offset || 'none'})\n`);
        }
      }
    });
}
