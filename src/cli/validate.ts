import type { Command } from 'commander';
import { assertEnvironment } from '../config/environment.js';
import { loadConfig } from '../config/load.js';
import { TributaryError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { loadStreamPlans } from '../runtime/stream-plan.js';
import { probeConnections } from './connect.js';

export interface ValidateOptions {
  config: string;
  connect: boolean;
}

/**
 * The checks `validate` runs, in the order a run would meet them: the file (schema, units, cross-field rules), what
 * it needs from this machine (variables of *Env fields, schema files), the field references against the Avro
 * schemas, and with --connect every store and the source.
 */
export async function validateFromCli(options: ValidateOptions, write: (line: string) => void): Promise<void> {
  const config = await loadConfig(options.config);
  await assertEnvironment(config, options.config);
  const plans = await loadStreamPlans(config);
  for (const plan of plans.values()) {
    write(`stream ${plan.stream}: raw table ${plan.raw.name} (${plan.raw.columns.length} columns), aggregations: ${plan.aggregations.map((a) => a.spec.name).join(', ') || 'none'}`);
  }
  write('config is valid');
  if (!options.connect) return;
  const results = await probeConnections(config, createLogger());
  for (const result of results) write(`connect ${result.target}: ${result.ok ? 'ok' : 'FAILED'}: ${result.detail}`);
  const failed = results.filter((r) => !r.ok).map((r) => r.target);
  if (failed.length > 0) throw new TributaryError('INPUT_UNREADABLE', `cannot reach ${failed.join(', ')} (see above)`);
  write('every store and the source answered');
}

export function registerValidateCommand(program: Command): void {
  program
    .command('validate')
    .description('check a config file (schema, field references against the Avro schemas, environment variables and files it needs) and exit')
    .requiredOption('-c, --config <file>', 'YAML config file')
    .option('--connect', 'also try each store and the source, and report each', false)
    .action(async (opts: ValidateOptions) => {
      await validateFromCli(opts, (line) => process.stdout.write(`${line}\n`));
    });
}
