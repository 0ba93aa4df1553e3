/**
 * What a valid config still needs from the machine it runs on: the environment variables its `*Env` fields name,
 * and the files it points at (schemas, writer schemas, CA files). `tributary validate` and `run` check these
 * before any work starts, so a missing secret is reported by field, not as a failed login mid-run.
 */
import { access, constants } from 'node:fs/promises';
import type { TributaryConfig } from './schema.js';
import { TributaryError } from '../core/errors.js';
import { fieldName } from './field-name.js';

/** One line per problem, each starting with the field. */
export async function checkEnvironment(config: TributaryConfig, env: Readonly<Record<string, string | undefined>> = process.env): Promise<string[]> {
  const problems: string[] = [];
  const visit = (value: unknown, at: PropertyKey[]): void => {
    if (Array.isArray(value)) value.forEach((item, i) => visit(item, [...at, i]));
    else if (typeof value === 'object' && value !== null) {
      for (const [key, item] of Object.entries(value)) {
        if (key.endsWith('Env') && typeof item === 'string') {
          if (!env[item]) problems.push(`${fieldName([...at, key])}: the environment variable ${item} is not set`);
        } else visit(item, [...at, key]);
      }
    }
  };
  visit(config, []);

  const files: Array<[string, string]> = [];
  for (const [stream, settings] of Object.entries(config.streams)) {
    files.push([`streams.${stream}.schema`, settings.schema]);
    for (const [id, file] of Object.entries(settings.writerSchemas ?? {})) files.push([`streams.${stream}.writerSchemas.${id}`, file]);
  }
  const source = config.source;
  if (source.kind === 'kafka' && typeof source.tls === 'object' && source.tls.caFile) files.push(['source.tls.caFile', source.tls.caFile]);
  for (const [field, file] of files) {
    try {
      await access(file, constants.R_OK);
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : 'cannot be read';
      problems.push(`${field}: the file ${file} ${reason}`);
    }
  }
  return problems;
}

/** checkEnvironment, failing with every problem listed (exit 2: the operator fixes the environment or the file). */
export async function assertEnvironment(config: TributaryConfig, origin: string, env: Readonly<Record<string, string | undefined>> = process.env): Promise<void> {
  const problems = await checkEnvironment(config, env);
  if (problems.length > 0) {
    throw new TributaryError('CONFIG_INVALID', `config ${origin} needs what this environment lacks:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}
