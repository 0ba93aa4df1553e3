import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ZodError } from 'zod';
import { TributaryError, errorMessage } from '../core/errors.js';
import { fieldName } from './field-name.js';
import { interpolateEnvironment } from './interpolate.js';
import { resolveConfigPaths } from './paths.js';
import { configSchema, type TributaryConfig } from './schema.js';


/** "aggregations[0].window.size: expected a duration ..." — one line per problem, each naming its field. */
export function describeIssues(error: ZodError): string {
  return error.issues.map((issue) => `  - ${fieldName(issue.path) || '(root)'}: ${issue.message}`).join('\n');
}

export function parseConfig(raw: unknown, origin: string): TributaryConfig {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw new TributaryError('CONFIG_INVALID', `invalid config ${origin}:\n${describeIssues(result.error)}`);
  }
  return result.data;
}

export interface LoadOptions {
  /** where ${VAR} is looked up; process.env when not given */
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Loads and validates the YAML config. In string values `${VAR}` (or `${VAR:-default}`) is replaced by the
 * environment variable, `$${` is a literal `${`. Relative paths written in the file (schemas, local stores, CA
 * files) resolve against the file's folder, so a config works from any working directory; the defaults and the
 * environment overrides (TRIBUTARY_LAKE_PATH, TRIBUTARY_DEADLETTER_PATH, TRIBUTARY_STATE_PATH) stay relative to
 * the working directory.
 */
export async function loadConfig(file: string, options: LoadOptions = {}): Promise<TributaryConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new TributaryError('INPUT_MISSING', `cannot read config file ${path.resolve(file)}: ${errorMessage(error)}`, { cause: error });
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new TributaryError('CONFIG_INVALID', `config file ${file} is not valid YAML: ${errorMessage(error)}`, { cause: error });
  }
  const env = options.env ?? process.env;
  const interpolated = interpolateEnvironment(raw, env);
  if (interpolated.problems.length > 0) {
    throw new TributaryError('CONFIG_INVALID', `invalid config ${file}:\n${interpolated.problems.map((p) => `  - ${p}`).join('\n')}`);
  }
  const resolved = resolveConfigPaths(interpolated.value, path.dirname(path.resolve(file)));
  return parseConfig(applyEnvironment(resolved, env), file);
}

function applyEnvironment(raw: unknown, env: Readonly<Record<string, string | undefined>>): unknown {
  if (typeof raw !== 'object' || raw === null) return raw;
  const copy: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  const overrides: Array<[string, string]> = [
    ['lake', 'TRIBUTARY_LAKE_PATH'],
    ['deadLetter', 'TRIBUTARY_DEADLETTER_PATH'],
    ['state', 'TRIBUTARY_STATE_PATH'],
  ];
  for (const [key, variable] of overrides) {
    const value = env[variable];
    if (value) copy[key] = { kind: 'local', path: value };
  }
  return copy;
}
