import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { loadStreamPlans } from '../runtime/stream-plan.js';

export function registerValidateCommand(program: Command): void {
  program
    .command('validate')
    .description('check a config file (schema, field references against the Avro schemas) and exit')
    .requiredOption('-c, --config <file>', 'YAML config file')
    .action(async (opts: { config: string }) => {
      const config = await loadConfig(opts.config);
      const plans = await loadStreamPlans(config);
      for (const plan of plans.values()) {
        process.stdout.write(`stream ${plan.stream}: raw table ${plan.raw.name} (${plan.raw.columns.length} columns), aggregations: ${plan.aggregations.map((a) => a.spec.name).join(', ') || 'none'}\n`);
      }
      process.stdout.write('config is valid\n');
    });
}
