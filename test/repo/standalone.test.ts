/**
 * The repository stands alone: a clone with nothing beside it builds, tests and documents itself. Nothing in it
 * may read, link or mention the folder the project was first developed beside (its parent's `shared` folder).
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/workspace.js';

// Written as patterns so this file does not match itself.
const OUTSIDE_REFERENCES = [/\.\.[\\/]+shared\b/, /\/work\/shared\b/];

/** Tracked files plus new ones not yet added (but not ignored), so the check bites before a commit too. */
function repositoryFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO_ROOT, encoding: 'utf8' });
  return [...new Set(out.split('\0').filter((f) => f !== ''))];
}

export function referencesOutside(text: string): string[] {
  return text.split('\n').flatMap((line, i) => (OUTSIDE_REFERENCES.some((re) => re.test(line)) ? [`${i + 1}: ${line.trim()}`] : []));
}

describe('the repository stands alone', () => {
  it('recognises a reference to the folder outside (so the scan below can fail)', () => {
    expect(referencesOutside(`see ${'..'}/shared/DESIGN.md`)).toHaveLength(1);
    expect(referencesOutside(`path.resolve(ROOT, '..', 'x')\nfs.readFileSync("${'..'}\\shared\\fixtures")`)).toHaveLength(1);
    expect(referencesOutside(`a shared lake, ${'..'}/sharedness aside`)).toEqual([]);
  });

  it('has no file that refers to the parent folder named shared', () => {
    const files = repositoryFiles();
    expect(files).toContain('README.md');
    const offenders: string[] = [];
    for (const file of files) {
      const full = path.join(REPO_ROOT, file);
      let isFile: boolean;
      try {
        // a symlink (a worktree's node_modules) or a submodule is not the repository's own text
        isFile = lstatSync(full).isFile();
      } catch (error) {
        // listed but deleted in the work tree: nothing to scan
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      if (!isFile) continue;
      const text = readFileSync(full, 'utf8');
      for (const hit of referencesOutside(text)) offenders.push(`${file}:${hit}`);
    }
    expect(offenders).toEqual([]);
  });

  it('keeps the real Capture fixture and its provenance inside test/fixtures', () => {
    const files = repositoryFiles();
    expect(files).toContain('test/fixtures/capture/real-capture-2016-single-event.avro');
    expect(files).toContain('test/fixtures/capture/README.md');
    expect(files).toContain('docs/ARCHITECTURE.md');
  });
});
