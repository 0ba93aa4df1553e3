#!/usr/bin/env node
/**
 * The `tributary` binary. Exit codes: 0 success, 2 invalid config or missing input (fix and rerun),
 * 1 any other failure.
 */
import { Command } from 'commander';
import { TributaryError, errorMessage } from '../core/errors.js';
import { registerBenchKeysCommand } from './bench-keys.js';
import { registerDemoCommand } from './demo.js';
import { registerGenCommand } from './gen.js';
import { registerInspectCommands } from './inspect.js';
import { registerReplayDeadLettersCommand } from './replay-deadletters.js';
import { registerResetCommand } from './reset.js';
import { registerRunCommand } from './run.js';
import { registerValidateCommand } from './validate.js';

export function buildProgram(): Command {
  const program = new Command();
  program.name('tributary').description('Event Hubs / Kafka / Capture -> Avro -> event-time windows -> Parquet, exactly-once in effect');
  registerRunCommand(program);
  registerDemoCommand(program);
  registerGenCommand(program);
  registerValidateCommand(program);
  registerInspectCommands(program);
  registerResetCommand(program);
  registerReplayDeadLettersCommand(program);
  registerBenchKeysCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (error) {
    const code = error instanceof TributaryError ? error.code : 'INTERNAL';
    process.stderr.write(`tributary: ${errorMessage(error)}\n`);
    if (!(error instanceof TributaryError)) process.stderr.write(`${(error as Error)?.stack ?? ''}\n`);
    return code === 'CONFIG_INVALID' || code === 'INPUT_MISSING' ? 2 : 1;
  }
}

// `tributary checkpoints | head` closes stdout early; that ends the output, it is not a failure.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

main(process.argv).then((code) => {
  process.exitCode = code;
});
