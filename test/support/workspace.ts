/** A throwaway working folder per test, with helpers to write configs. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import type { TributaryConfig, TributaryConfigInput } from '../../src/config/schema.js';

export interface Workspace {
  dir: string;
  file(...parts: string[]): string;
  writeConfig(config: TributaryConfigInput, name?: string): Promise<{ file: string; config: TributaryConfig }>;
  cleanup(): Promise<void>;
}

export async function createWorkspace(prefix = 'tributary-test-'): Promise<Workspace> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return {
    dir,
    file: (...parts) => path.join(dir, ...parts),
    async writeConfig(config, name = 'tributary.yaml') {
      const file = path.join(dir, name);
      await writeFile(file, stringify(config));
      return { file, config: parseConfig(config, file) };
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Files kept in the repository for tests; each folder's README says where they come from. */
export const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures');
