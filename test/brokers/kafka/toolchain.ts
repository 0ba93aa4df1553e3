/**
 * Finds what the real broker needs on this machine: a Java 17+ runtime (with keytool beside it) and, unless the
 * broker's jars are already in the cache, Maven. Says plainly what is missing, so a run without Java can report
 * why the broker tests did not run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

export interface Toolchain {
  java: string;
  keytool: string;
  /** absent when every needed line is already fetched */
  mvn: string | undefined;
  javaVersion: number;
}

export type ToolchainProbe = { ok: true; toolchain: Toolchain } | { ok: false; reason: string };

const MIN_JAVA = 17;

function javaBinary(name: string, env: NodeJS.ProcessEnv): string {
  const home = env.JAVA_HOME;
  if (home) {
    const candidate = path.join(home, 'bin', name);
    if (existsSync(candidate)) return candidate;
  }
  return name;
}

/** The feature release of `java -version` ("17.0.15" -> 17, "1.8.0_392" -> 8), or undefined if java does not run. */
function javaFeatureVersion(java: string): number | undefined {
  const result = spawnSync(java, ['-version'], { encoding: 'utf8', timeout: 30_000 });
  if (result.error || result.status !== 0) return undefined;
  const match = /version "(\d+)(?:\.(\d+))?/.exec(`${result.stderr}${result.stdout}`);
  if (!match) return undefined;
  const major = Number(match[1]);
  return major === 1 ? Number(match[2]) : major;
}

function runs(command: string, args: string[]): boolean {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 60_000 });
  return !result.error && result.status === 0;
}

export function probeToolchain(options: { needMaven: boolean; env?: NodeJS.ProcessEnv }): ToolchainProbe {
  const env = options.env ?? process.env;
  const java = javaBinary('java', env);
  const javaVersion = javaFeatureVersion(java);
  if (javaVersion === undefined) return { ok: false, reason: `no Java runtime found (tried "${java} -version"); install Java ${MIN_JAVA}+ or set JAVA_HOME` };
  if (javaVersion < MIN_JAVA) return { ok: false, reason: `Java ${javaVersion} found at ${java}; the Kafka broker needs Java ${MIN_JAVA}+` };
  const keytool = javaBinary('keytool', env);
  if (!runs(keytool, ['-help'])) return { ok: false, reason: `keytool not found beside ${java} (a full JDK or JRE provides it)` };
  let mvn: string | undefined;
  if (options.needMaven) {
    if (!runs('mvn', ['-v'])) return { ok: false, reason: 'Maven (mvn) not found on PATH; it fetches the Kafka broker from Maven Central the first time' };
    mvn = 'mvn';
  }
  return { ok: true, toolchain: { java, keytool, mvn, javaVersion } };
}
