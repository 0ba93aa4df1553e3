/**
 * Prepares the real Kafka broker before the tests: fetches every selected Kafka line from Maven Central into the
 * cache (nothing to do when it is there) and makes the TLS material. .ci/run calls it before `npm test`.
 *
 *   node --import tsx test/brokers/kafka/prepare.ts            # fetch (TRIBUTARY_KAFKA_VERSIONS picks the lines)
 *   node --import tsx test/brokers/kafka/prepare.ts --measure  # also start each line once: start time and memory
 *
 * Without Java or Maven it says what is missing and exits 0, unless CI=true, where the broker tests are required.
 */
import { readFile } from 'node:fs/promises';
import { Kafka } from 'kafkajs';
import { startKafkaBroker } from './broker.js';
import { KAFKA_DISTRIBUTIONS, selectedLines } from './distributions.js';
import { fetchKafka, isFetched, kafkaCacheDir } from './maven.js';
import { brokerTls } from './tls.js';
import { probeToolchain } from './toolchain.js';

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

async function main(): Promise<void> {
  const lines = selectedLines();
  const cacheDir = kafkaCacheDir();
  const probe = probeToolchain({ needMaven: lines.some((line) => !isFetched(cacheDir, KAFKA_DISTRIBUTIONS[line])) });
  if (!probe.ok) {
    const message = `The real Kafka broker cannot be prepared: ${probe.reason}`;
    if (process.env.CI === 'true') throw new Error(`${message} (CI=true requires it)`);
    console.log(`${message}; its tests will be skipped.`);
    return;
  }
  for (const line of lines) {
    const distribution = KAFKA_DISTRIBUTIONS[line];
    const started = Date.now();
    const lib = await fetchKafka(distribution, { cacheDir, mvn: probe.toolchain.mvn ?? 'mvn' });
    console.log(`Kafka ${distribution.kafkaVersion}: ${lib} (${Date.now() - started} ms)`);
  }
  await brokerTls(cacheDir, probe.toolchain.keytool);
  if (!process.argv.includes('--measure')) return;

  console.log('| Kafka | start (launch to ready on all four listeners) | RSS when ready | RSS after a group run |');
  console.log('| --- | --- | --- | --- |');
  for (const line of lines) {
    const broker = await startKafkaBroker({ line });
    try {
      const ready = await rssMiB(broker.info.pid);
      const topic = broker.uniqueName('measure');
      await broker.createTopic(topic, 4);
      const kafka = new Kafka(broker.clientConfig('plaintext'));
      const producer = kafka.producer();
      await producer.connect();
      for (let i = 0; i < 20; i++) {
        await producer.send({ topic, messages: Array.from({ length: 500 }, (_, j) => ({ partition: j % 4, value: Buffer.alloc(200, j) })) });
      }
      await producer.disconnect();
      const consumer = kafka.consumer({ groupId: broker.uniqueName('measure') });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      let seen = 0;
      await new Promise<void>((resolve) => {
        void consumer.run({ eachMessage: async () => void (++seen === 10_000 && resolve()) });
      });
      await consumer.disconnect();
      console.log(`| ${broker.version} | ${(broker.info.startMs / 1000).toFixed(1)} s | ${ready} MiB | ${await rssMiB(broker.info.pid)} MiB |`);
    } finally {
      await broker.stop();
    }
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
