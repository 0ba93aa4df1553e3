#!/usr/bin/env node
/**
 * The `tributary` binary. Exit codes: 0 success, 2 a usage error (unknown option or command, missing or bad
 * value: the message and the command's usage line), invalid config or missing input (fix and rerun), 1 any
 * other failure.
 */
import { Command, CommanderError } from 'commander';
import { TributaryError, errorMessage } from '../core/errors.js';
import { registerBenchKeysCommand } from './bench-keys.js';
import { registerDemoCommand } from './demo.js';
import { registerGenCommand } from './gen.js';
import { registerInspectCommands } from './inspect.js';
import { registerReplayDeadLettersCommand } from './replay-deadletters.js';
import { registerResetCommand } from './reset.js';
import { registerRunCommand } from './run.js';
import { registerValidateCommand } from './validate.js';
import { packageVersion } from './version.js';

export function buildProgram(): Command {
  const program = new UsageCommand().exitOverride();
  program
    .name('tributary')
    .description('Event Hubs / Kafka / Capture -> Avro -> event-time windows -> Parquet, exactly-once in effect')
    .version(packageVersion(), '-V, --version', 'print the version and exit');
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

/**
 * Every command throws instead of exiting (main decides the code) and follows a usage error with its own usage
 * line, the way POSIX tools do. Subcommands are made by createCommand, so they are UsageCommands too.
 */
class UsageCommand extends Command {
  override createCommand(name?: string): Command {
    return new UsageCommand(name).exitOverride();
  }

  override error(message: string, errorOptions?: { code?: string; exitCode?: number }): never {
    const names: string[] = [];
    for (let c: Command | null = this; c; c = c.parent) names.unshift(c.name());
    const path = names.join(' ');
    return super.error(`${message}\nUsage: ${path} ${this.usage()}\n(${path} --help lists the options)`, errorOptions);
  }
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (error) {
    // --help and --version end with exit code 0; anything else commander throws is a usage error.
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
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
