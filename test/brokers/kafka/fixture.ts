/**
 * The broker as test files use it: one broker per Kafka line for the whole vitest run, started by the first test
 * file that needs it and stopped by the global teardown (global-setup.ts), so each file pays nothing after the
 * first. Files run in several worker processes at once; a lock folder makes sure one of them starts the broker
 * and the others read its description (KafkaBrokerInfo as JSON). Without the global setup (another vitest
 * config), each file starts its own broker and stops it after its tests.
 *
 * A machine without Java skips the broker tests with the reason in their titles (and the global setup prints it);
 * under CI=true the global setup fails the run instead.
 */
import { spawn } from 'node:child_process';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, inject } from 'vitest';
import { KafkaBroker, OwnedKafkaBroker, launchKafkaBroker, type KafkaBrokerInfo } from './broker.js';
import { KAFKA_DISTRIBUTIONS, selectedLines, type KafkaDistribution, type KafkaLine } from './distributions.js';
import { withLock } from './lock.js';
import { isFetched, kafkaCacheDir } from './maven.js';
import { probeToolchain } from './toolchain.js';

export interface KafkaSuiteContext {
  /** folder of the shared brokers' descriptions; absent when the global setup did not run */
  runDir?: string;
  /** pid of the vitest process that owns the shared brokers (they die with it) */
  ownerPid?: number;
  lines: KafkaLine[];
  /** why the broker tests cannot run here (no Java, no Maven); absent when they can */
  unavailable?: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaSuite: KafkaSuiteContext;
  }
}

let local: KafkaSuiteContext | undefined;

/** What the global setup decided, or the same decision made here when it did not run. */
export function kafkaSuite(): KafkaSuiteContext {
  const provided = inject('kafkaSuite') as KafkaSuiteContext | undefined;
  if (provided) return provided;
  if (!local) {
    const lines = selectedLines();
    const needMaven = lines.some((line) => !isFetched(kafkaCacheDir(), KAFKA_DISTRIBUTIONS[line]));
    const probe = probeToolchain({ needMaven });
    local = { lines, ...(probe.ok ? {} : { unavailable: probe.reason }) };
  }
  return local;
}


/**
 * `describe` once per selected Kafka line (3.9 and 4 by default; TRIBUTARY_KAFKA_VERSIONS narrows it), each
 * with a broker: `body` gets a getter for it (valid inside tests and hooks) and the distribution.
 */
export function describeKafka(title: string, body: (broker: () => KafkaBroker, distribution: KafkaDistribution) => void): void {
  const suite = kafkaSuite();
  for (const line of suite.lines) {
    const distribution = KAFKA_DISTRIBUTIONS[line];
    const name = `${title} [Kafka ${distribution.kafkaVersion}]${suite.unavailable ? ` (not run: ${suite.unavailable})` : ''}`;
    describe.skipIf(Boolean(suite.unavailable))(name, () => {
      body(useKafkaBroker(line), distribution);
    });
  }
}

/** Registers hooks that provide the line's broker to the enclosing describe block; returns its getter. */
export function useKafkaBroker(line: KafkaLine): () => KafkaBroker {
  let broker: KafkaBroker | undefined;
  beforeAll(async () => {
    const suite = kafkaSuite();
    broker = suite.runDir
      ? new KafkaBroker(await sharedKafkaBroker(line, suite.runDir, suite.ownerPid ?? process.pid))
      : new OwnedKafkaBroker(await launchKafkaBroker({ line }));
  }, 300_000);
  afterAll(async () => {
    const current = broker;
    broker = undefined;
    if (current instanceof OwnedKafkaBroker) await current.stop();
    else await current?.close();
  });
  return () => {
    if (!broker) throw new Error(`the Kafka ${line} broker is not started (use it inside a test or hook)`);
    return broker;
  };
}

const descriptionFile = (runDir: string, line: KafkaLine): string => `${runDir}/broker-${line}.json`;
const failureFile = (runDir: string, line: KafkaLine): string => `${runDir}/broker-${line}.failed`;

async function readDescription(runDir: string, line: KafkaLine): Promise<KafkaBrokerInfo | undefined> {
  const failure = await readFile(failureFile(runDir, line), 'utf8').catch(() => undefined);
  if (failure !== undefined) throw new Error(`the shared Kafka ${line} broker failed to start earlier in this run:\n${failure}`);
  return readFile(descriptionFile(runDir, line), 'utf8').then((text) => JSON.parse(text) as KafkaBrokerInfo, () => undefined);
}

/** The run's broker for `line`, started now by this process if no other has started it yet. */
export async function sharedKafkaBroker(line: KafkaLine, runDir: string, ownerPid: number): Promise<KafkaBrokerInfo> {
  const known = await readDescription(runDir, line);
  if (known) return known;
  return withLock(`${runDir}/broker-${line}.lock`, async () => {
    const again = await readDescription(runDir, line);
    if (again) return again;
    let info: KafkaBrokerInfo;
    try {
      // Detached, so the broker outlives the test file (and worker process) that happened to start it.
      info = await launchKafkaBroker({ line, detached: true, parentDir: runDir });
    } catch (error) {
      await writeFile(failureFile(runDir, line), error instanceof Error ? (error.stack ?? error.message) : String(error));
      throw error;
    }
    watchOwner(ownerPid, info);
    const file = descriptionFile(runDir, line);
    await writeFile(`${file}.tmp`, JSON.stringify(info));
    await rename(`${file}.tmp`, file);
    return info;
  });
}

/**
 * A small detached process that kills the broker if the vitest run that owns it dies without its teardown
 * (killed, crashed), so no JVM is left behind on a shared machine.
 */
function watchOwner(ownerPid: number, info: KafkaBrokerInfo): void {
  const script = `
    const [owner, broker, dir] = process.argv.slice(1);
    const alive = (pid) => { try { process.kill(Number(pid), 0); return true; } catch { return false; } };
    const timer = setInterval(() => {
      if (!alive(broker)) return clearInterval(timer);
      if (alive(owner)) return;
      try { process.kill(Number(broker), 'SIGKILL'); } catch {}
      require('node:fs').rmSync(dir, { recursive: true, force: true });
      clearInterval(timer);
    }, 2000);`;
  const child = spawn(process.execPath, ['-e', script, String(ownerPid), String(info.pid), info.dir], { detached: true, stdio: 'ignore' });
  child.unref();
}
