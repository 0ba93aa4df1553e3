/**
 * TLS and OAUTHBEARER end to end against a real broker: Tributary's worker reads a topic over SASL_SSL (PLAIN
 * with the Event Hubs convention, the broker's certificate checked against the CA given in `tls.caFile`) and over
 * OAUTHBEARER (a token from `sasl.tokenFile`, checked by Kafka's unsecured validator), and lands every event once.
 * The broker's request log shows each commit arriving on that listener under that principal. A broker whose
 * certificate the client cannot verify, and an expired token, are authentication failures that name the cause.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { TributaryError } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/log.js';
import { kafkaSourceSchema } from '../../src/ingest/kafka/config.js';
import { runWorker } from '../../src/runtime/worker.js';
import { describeKafka, writeUnsecuredToken, type KafkaBroker, type ListenerName } from '../brokers/kafka/index.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';
import { connectProducer, deploymentConfig, landedOnce, orderMessage, orderType, readTable } from './kafka-e2e-support.js';
import { RecordingHandler, source } from './kafka-support.js';

const PARTITIONS = 2;
const PER_PARTITION = 120;
const ROWS_PER_FILE = 50;

let ws: Workspace;
beforeEach(async () => {
  ws = await createWorkspace('tributary-kafka-auth-');
});
afterEach(async () => {
  await ws.cleanup();
});

async function produce(broker: KafkaBroker, listener: ListenerName, topic: string): Promise<string[]> {
  const type = await orderType();
  const producer = await connectProducer(broker, listener);
  const ids: string[] = [];
  try {
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const batch = Array.from({ length: PER_PARTITION }, (_, i) => orderMessage(type, partition, i));
      await producer.send({ topic, messages: batch.map((m) => m.message) });
      ids.push(...batch.map((m) => m.order.id));
    }
  } finally {
    await producer.disconnect();
  }
  return ids;
}

/** Runs the worker (bounded) on `topic` through the given source fields; returns the group it used. */
async function landThrough(broker: KafkaBroker, topic: string, fields: Record<string, unknown>): Promise<string> {
  const groupId = broker.uniqueName('auth-lake');
  const config = parseConfig(
    deploymentConfig(broker, ws, { topic, groupId, rowsPerFile: ROWS_PER_FILE, batchSize: 40, source: fields }),
    'auth e2e',
  );
  await runWorker(config, { bounded: true, signal: new AbortController().signal, log: createLogger('silent') });
  return groupId;
}

async function failure(run: Promise<void>): Promise<unknown> {
  return run.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describeKafka('Kafka authentication end to end', (kafka) => {
  it('SASL_SSL: verifies the broker against tls.caFile, authenticates as $ConnectionString and lands every event once', async () => {
    const broker = kafka();
    const topic = broker.uniqueName('orders');
    await broker.createTopic(topic, PARTITIONS);
    const ids = await produce(broker, 'saslSsl', topic);
    const groupId = await landThrough(broker, topic, broker.sourceFields('saslSsl'));

    expect(landedOnce(await readTable(ws, 'orders_raw'), ids)).toEqual({ duplicates: [], missing: [], unexpected: [] });
    const committed = await broker.committedOffsets(groupId, topic);
    expect([...committed.keys()].sort()).toEqual([0, 1]);
    const commits = await broker.offsetCommits(groupId);
    expect(commits.length).toBeGreaterThan(0);
    for (const commit of commits) expect(commit).toMatchObject({ listener: 'SASL_SSL', principal: 'User:$ConnectionString', errorCode: 0 });
  });

  it('SASL_SSL: a broker certificate the client cannot verify is an authentication failure naming the certificate', async () => {
    const broker = kafka();
    const topic = broker.uniqueName('orders');
    await broker.createTopic(topic, 1);
    const { sasl, brokers } = broker.sourceFields('saslSsl') as { sasl: unknown; brokers: string[] };
    // tls: true trusts only the system's CAs, which never signed the test broker's certificate.
    const config = kafkaSourceSchema.parse({ kind: 'kafka', brokers, topics: { orders: topic }, groupId: broker.uniqueName('g'), tls: true, sasl });
    const error = await failure(
      source(config, { retry: { retries: 0 } }).run(new RecordingHandler(), { signal: new AbortController().signal, bounded: true }),
    );
    expect(error).toBeInstanceOf(TributaryError);
    expect(error).toMatchObject({ code: 'AUTHENTICATION_FAILED', retriable: false });
    expect((error as Error).message).toMatch(/certificate/i);
  });

  it('OAUTHBEARER: sends the token from sasl.tokenFile, the broker takes its subject as the principal, every event lands once', async () => {
    const broker = kafka();
    const topic = broker.uniqueName('orders');
    await broker.createTopic(topic, PARTITIONS);
    const ids = await produce(broker, 'oauthbearer', topic);
    const tokenFile = await writeUnsecuredToken(ws.file('token.jwt'), { sub: 'tributary-lake' });
    const groupId = await landThrough(broker, topic, broker.sourceFields('oauthbearer', { tokenFile }));

    expect(landedOnce(await readTable(ws, 'orders_raw'), ids)).toEqual({ duplicates: [], missing: [], unexpected: [] });
    const commits = await broker.offsetCommits(groupId);
    expect(commits.length).toBeGreaterThan(0);
    for (const commit of commits) expect(commit).toMatchObject({ listener: 'OAUTH', principal: 'User:tributary-lake', errorCode: 0 });
  });

  it('OAUTHBEARER: an expired token is an authentication failure, not a hang', async () => {
    const broker = kafka();
    const topic = broker.uniqueName('orders');
    await broker.createTopic(topic, 1);
    const tokenFile = await writeUnsecuredToken(ws.file('expired.jwt'), { sub: 'tributary-lake', expiresInSeconds: -600 });
    const config = kafkaSourceSchema.parse({ kind: 'kafka', topics: { orders: topic }, groupId: broker.uniqueName('g'), ...broker.sourceFields('oauthbearer', { tokenFile }) });
    const error = await failure(source(config).run(new RecordingHandler(), { signal: new AbortController().signal, bounded: true }));
    expect(error).toBeInstanceOf(TributaryError);
    expect(error).toMatchObject({ code: 'AUTHENTICATION_FAILED', retriable: false });
    expect((error as Error).message).toMatch(/SASL OAUTHBEARER authentication failed.*rejected the token.*invalid_token/);
  });
});

describe('OAUTHBEARER token options', () => {
  const base = { kind: 'kafka', brokers: ['broker:9092'], topics: { orders: 'orders' }, groupId: 'g' };

  it('takes one of tokenFile or tokenEnv, and no Entra ID options with them', () => {
    expect(kafkaSourceSchema.safeParse({ ...base, sasl: { mechanism: 'oauthbearer', tokenFile: '/t' } }).success).toBe(true);
    expect(kafkaSourceSchema.safeParse({ ...base, sasl: { mechanism: 'oauthbearer', tokenEnv: 'T' } }).success).toBe(true);
    const both = kafkaSourceSchema.safeParse({ ...base, sasl: { mechanism: 'oauthbearer', tokenFile: '/t', tokenEnv: 'T' } });
    expect(both.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['sasl.tokenFile', 'set at most one of tokenFile or tokenEnv']]);
    const scoped = kafkaSourceSchema.safeParse({ ...base, sasl: { mechanism: 'oauthbearer', tokenFile: '/t', scope: 'api://x/.default' } });
    expect(scoped.error?.issues.map((i) => i.path.join('.'))).toEqual(['sasl.scope']);
  });

  it('fails as a config error naming the field when the token file or variable is missing', async () => {
    const missingFile = kafkaSourceSchema.parse({ ...base, sasl: { mechanism: 'oauthbearer', tokenFile: '/nonexistent/token' } });
    const error = await failure(source(missingFile).run(new RecordingHandler(), { signal: new AbortController().signal, bounded: true }));
    expect(error).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('source.sasl.tokenFile: cannot read /nonexistent/token') });
    const missingEnv = kafkaSourceSchema.parse({ ...base, sasl: { mechanism: 'oauthbearer', tokenEnv: 'TRIBUTARY_TEST_NO_SUCH_TOKEN' } });
    const envError = await failure(source(missingEnv, { env: {} }).run(new RecordingHandler(), { signal: new AbortController().signal, bounded: true }));
    expect(envError).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('TRIBUTARY_TEST_NO_SUCH_TOKEN is not set') });
  });
});
