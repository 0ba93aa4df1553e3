/**
 * Command-line tools some tests need from the machine (promtool, kubectl) rather than from npm. Absent, the test
 * is skipped with a message saying how to install the tool; under CI=true an absent tool is a failure instead,
 * so CI can never pass by skipping (.ci/run installs them).
 */
import { execFileSync } from 'node:child_process';

export interface ExternalTool {
  /** absolute path, or undefined when the tool is not installed */
  path: string | undefined;
  /** why the tests that need it are skipped ('' when it is present) */
  skipReason: string;
}

export function findTool(name: string, install: string): ExternalTool {
  let found: string | undefined;
  try {
    found = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    // `command -v` exits 1 when the tool is absent: that is the answer, not a failure
    found = undefined;
  }
  if (found) return { path: found, skipReason: '' };
  const reason = `${name} is not installed (${install}); the tests that need it are skipped`;
  if (process.env.CI === 'true') throw new Error(`${reason}, which CI=true does not allow`);
  process.stderr.write(`skipping: ${reason}\n`);
  return { path: undefined, skipReason: reason };
}
