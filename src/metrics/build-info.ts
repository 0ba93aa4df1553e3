/**
 * The version this build was made from, for tributary_build_info. Read from the package.json beside the code:
 * it sits two folders up from src/metrics when run from source and three from dist/src/metrics when built.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageVersion(): string {
  if (cached !== undefined) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'package.json');
    try {
      const parsed = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (parsed.name === 'tributary' && typeof parsed.version === 'string') return (cached = parsed.version);
    } catch (error) {
      // no package.json at this level (or one that is not ours): keep walking up; anything else is a real fault
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return (cached = 'unknown');
    dir = parent;
  }
}
