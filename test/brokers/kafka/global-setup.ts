/**
 * Vitest global setup for the real Kafka broker. It starts nothing (the first test file that needs a broker does,
 * see fixture.ts), so runs of other test files cost only a `java -version`. It decides whether the broker tests
 * can run, hands that and a folder for the shared brokers to the test files, and at the end stops every broker
 * the run started and removes their files.
 *
 * Under CI=true a machine that cannot run the broker fails the run; elsewhere the tests are skipped and this says
 * so, plainly, before and after the run.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { destroyKafkaBroker, type KafkaBrokerInfo } from './broker.js';
import { KAFKA_DISTRIBUTIONS, selectedLines } from './distributions.js';
import type { KafkaSuiteContext } from './fixture.js';
import { isFetched, kafkaCacheDir } from './maven.js';
import { probeToolchain } from './toolchain.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const lines = selectedLines();
  const needMaven = lines.some((line) => !isFetched(kafkaCacheDir(), KAFKA_DISTRIBUTIONS[line]));
  const probe = probeToolchain({ needMaven });
  let unavailable: string | undefined;
  if (!probe.ok) {
    if (process.env.CI === 'true') throw new Error(`CI=true requires the real Kafka broker tests, and they cannot run here: ${probe.reason}`);
    unavailable = probe.reason;
  }
  const notice = (): void => {
    if (unavailable) console.warn(`\n*** The real Kafka broker tests did NOT run: ${unavailable}. (README, section Tests, says what to install) ***\n`);
  };
  notice();
  const runDir = await mkdtemp(path.join(os.tmpdir(), 'tributary-kafka-run-'));
  const context: KafkaSuiteContext = { runDir, ownerPid: process.pid, lines, ...(unavailable ? { unavailable } : {}) };
  project.provide('kafkaSuite', context);

  return async () => {
    const started: KafkaBrokerInfo[] = [];
    for (const name of await readdir(runDir)) {
      if (/^broker-.*\.json$/.test(name)) started.push(JSON.parse(await readFile(path.join(runDir, name), 'utf8')) as KafkaBrokerInfo);
    }
    await Promise.all(started.map((info) => destroyKafkaBroker(info)));
    await rm(runDir, { recursive: true, force: true });
    notice();
  };
}
