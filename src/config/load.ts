import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ZodError } from 'zod';
import { TributaryError, errorMessage } from '../core/errors.js';
import { configSchema, type TributaryConfig } from './schema.js';

/** "aggregations[0].window.size: expected a duration ..." — one line per problem, each naming its field. */
export function describeIssues(error: ZodError): string {
  return error.issues
    .map((issue) => {
      const where = issue.path.reduce<string>(
        (acc, part) => (typeof part === 'number' ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part)),
        '',
      );
      return `  - ${where || '(root)'}: ${issue.message}`;
    })
    .join('\n');
}

export function parseConfig(raw: unknown, origin: string): TributaryConfig {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw new TributaryError('CONFIG_INVALID', `invalid config ${origin}:\n${describeIssues(result.error)}`);
  }
  return result.data;
}

/**
 * Loads and validates the YAML config. Relative paths inside it stay relative to the working directory
 * (the way the README's commands are run), not to the file.
 * Environment overrides: TRIBUTARY_LAKE_PATH, TRIBUTARY_DEADLETTER_PATH, TRIBUTARY_STATE_PATH.
 */
export async function loadConfig(file: string): Promise<TributaryConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new TributaryError('CONFIG_INVALID', `cannot read config file ${path.resolve(file)}: ${errorMessage(error)}`, { cause: error });
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new TributaryError('CONFIG_INVALID', `config file ${file} is not valid YAML: ${errorMessage(error)}`, { cause: error });
  }
  return parseConfig(applyEnvironment(raw), file);
}

function applyEnvironment(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null) return raw;
  const copy: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  const overrides: Array<[string, string]> = [
    ['lake', 'TRIBUTARY_LAKE_PATH'],
    ['deadLetter', 'TRIBUTARY_DEADLETTER_PATH'],
    ['state', 'TRIBUTARY_STATE_PATH'],
  ];
  for (const [key, variable] of overrides) {
    const value = process.env[variable];
    if (value) copy[key] = { kind: 'local', path: value };
  }
  return copy;
}
