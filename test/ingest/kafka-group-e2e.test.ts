/**
 * A consumer group of two, then three Tributary instances (child processes running `tributary run`) shares an
 * 8-partition topic of a real Kafka broker while a producer keeps writing. The instances connect to the broker's
 * SASL PLAIN listener the way they would to the Event Hubs Kafka endpoint (user `$ConnectionString`, the
 * connection string as password, taken from the environment). One instance is killed with SIGKILL mid-stream; the
 * group coordinator evicts it when its session times out, the others take its partitions over from its snapshots,
 * and the lake ends up with every event exactly once. The broker's own log shows the group's generations (2, 3,
 * then 2 members) and every offset commit, which match the offsets the group holds. Wrong credentials make an
 * instance exit at once with an authentication error.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { writeFile } from 'node:fs/promises';
import { describeKafka, type KafkaBroker } from '../brokers/kafka/index.js';
import { REPO_ROOT, createWorkspace, type Workspace } from '../support/workspace.js';
import { connectProducer, deploymentConfig, landedOnce, orderMessage, orderType, readDeadLetterRecords, readTable } from './kafka-e2e-support.js';

const PARTITIONS = 8;
const ROUNDS = 24;
const PER_ROUND = 12;
const ROWS_PER_FILE = 50;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

interface Instance {
  name: string;
  child: ChildProcess;
  exited: Promise<Exit>;
}

const instances: Instance[] = [];

function startInstance(name: string, configFile: string, env: Record<string, string>): Instance {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'src', 'cli', 'main.ts'), 'run', '-c', configFile, '-q'], {
    cwd: REPO_ROOT,
    env: { ...process.env, TRIBUTARY_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const stderr: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString('utf8')));
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, stderr: stderr.join('') })));
  const instance = { name, child, exited };
  instances.push(instance);
  return instance;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

afterAll(async () => {
  for (const instance of instances) instance.child.kill('SIGKILL');
  await Promise.all(instances.map((i) => i.exited));
});

describeKafka('a consumer group of Tributary instances', (kafka) => {
  let broker: KafkaBroker;
  let topic: string;
  let env: Record<string, string>;
  let ws: Workspace;

  beforeAll(async () => {
    ws = await createWorkspace('tributary-kafka-group-');
    broker = kafka();
    topic = broker.uniqueName('orders');
    await broker.createTopic(topic, PARTITIONS);
    env = { TRIBUTARY_TEST_KAFKA_CONNECTION: broker.listeners.saslPlain.password };
  });

  afterAll(async () => {
    await ws?.cleanup();
  });

  async function writeConfig(name: string, groupId: string): Promise<string> {
    const config = deploymentConfig(broker, ws, {
      topic,
      groupId,
      rowsPerFile: ROWS_PER_FILE,
      batchSize: 20,
      flushInterval: '2s',
      source: {
        ...broker.sourceFields('saslPlain', { passwordEnv: 'TRIBUTARY_TEST_KAFKA_CONNECTION' }),
        sessionTimeout: '3s',
        heartbeatInterval: '500ms',
        rebalanceTimeout: '30s',
      },
    });
    const file = ws.file(name);
    await writeFile(file, stringify(config));
    return file;
  }

  /** Members of the group once it is stable, else -1 (a rebalance is under way). */
  async function members(groupId: string): Promise<number> {
    const group = await broker.describeGroup(groupId);
    return group.state === 'Stable' ? group.members.length : -1;
  }

  it('grows from two to three instances, loses one to SIGKILL mid-stream, and lands every event exactly once', async () => {
    const group = broker.uniqueName('tributary-lake');
    const file = await writeConfig('group.yaml', group);
    const type = await orderType();
    const producer = await connectProducer(broker, 'saslPlain');
    const ids: string[] = [];

    try {
      const a = startInstance('a', file, env);
      const b = startInstance('b', file, env);
      await vi.waitFor(async () => expect(await members(group)).toBe(2), { timeout: 60_000, interval: 200 });

      let produced = 0;
      const produceRound = async (round: number): Promise<void> => {
        for (let partition = 0; partition < PARTITIONS; partition++) {
          const batch = Array.from({ length: PER_ROUND }, (_, j) => orderMessage(type, partition, round * PER_ROUND + j));
          await producer.send({ topic, messages: batch.map((m) => m.message) });
          ids.push(...batch.map((m) => m.order.id));
        }
        produced++;
      };

      for (let round = 0; round < 8; round++) {
        await produceRound(round);
        await sleep(150);
      }
      const c = startInstance('c', file, env);
      await vi.waitFor(async () => expect(await members(group)).toBe(3), { timeout: 60_000, interval: 200 });
      for (let round = 8; round < 14; round++) {
        await produceRound(round);
        await sleep(150);
      }
      // b owns partitions and has work in flight: kill it without a chance to flush, commit or leave.
      b.child.kill('SIGKILL');
      expect((await b.exited).signal).toBe('SIGKILL');
      for (let round = 14; round < ROUNDS; round++) {
        await produceRound(round);
        await sleep(150);
      }
      expect(produced).toBe(ROUNDS);
      // The coordinator notices b's silence after its session timeout and gives its partitions to a and c.
      await vi.waitFor(async () => expect(await members(group)).toBe(2), { timeout: 60_000, interval: 200 });

      await vi
        .waitFor(
          async () => {
            const raw = await readTable(ws, 'orders_raw');
            expect(landedOnce(raw, ids).missing).toEqual([]);
          },
          { timeout: 90_000, interval: 1000 },
        )
        .catch(async (error: unknown) => {
          // What the broker saw is the first thing to read when events are missing: every commit, in order.
          const commits = (await broker.offsetCommits(group)).map((c) => `${c.partition}@${c.offset} by ${c.memberId.slice(-8)}`);
          throw new Error(`${error instanceof Error ? error.message : String(error)}\nbroker-logged commits: ${commits.join(', ')}`, { cause: error });
        });

      a.child.kill('SIGTERM');
      c.child.kill('SIGTERM');
      for (const survivor of [a, c]) {
        const exit = await survivor.exited;
        expect(exit, `instance ${survivor.name} stderr:\n${exit.stderr}`).toMatchObject({ code: 0, signal: null });
      }
    } finally {
      await producer.disconnect();
    }

    const raw = await readTable(ws, 'orders_raw');
    expect(ids).toHaveLength(PARTITIONS * PER_ROUND * ROUNDS);
    expect(landedOnce(raw, ids)).toEqual({ duplicates: [], missing: [], unexpected: [] });
    const positions = new Set(raw.map((row) => `${String(row._partition)}/${String(row._position)}`));
    expect(positions.size).toBe(raw.length);
    const aggregates = await readTable(ws, 'orders_by_channel_1m');
    expect(aggregates.reduce((sum, row) => sum + Number(row.count), 0)).toBe(ids.length);
    expect(await readDeadLetterRecords(ws)).toEqual([]);
    // Everyone left the group cleanly; the committed offsets are cell starts, never past the end of a partition.
    expect((await broker.describeGroup(group)).members).toEqual([]);
    const highWatermarks = await broker.highWatermarks(topic);
    const committed = await broker.committedOffsets(group, topic);
    expect(committed.size).toBeGreaterThan(0);
    for (const [partition, offset] of committed) {
      expect(offset % ROWS_PER_FILE).toBe(0);
      expect(offset).toBeLessThanOrEqual(highWatermarks[partition]!);
    }

    // The broker's own log: the coordinator formed the group with 2, then 3, then (after the kill) 2 members...
    const generations = await broker.groupGenerations(group);
    const sizes = generations.map((g) => g.members);
    expect(sizes.indexOf(3)).toBeGreaterThan(sizes.indexOf(2));
    expect(sizes.lastIndexOf(2)).toBeGreaterThan(sizes.indexOf(3));
    expect(generations.map((g) => g.generation)).toEqual([...generations.map((g) => g.generation)].sort((x, y) => x - y));
    // ...and took every offset commit, each from a member authenticated as $ConnectionString on the SASL listener;
    // the last one per partition is what the group holds now.
    const commits = await broker.offsetCommits(group);
    for (const commit of commits) expect(commit).toMatchObject({ topic, principal: 'User:$ConnectionString', listener: 'SASL_PLAINTEXT' });
    // A commit sent while the group rebalances (the kill, the third member joining) may be refused: REBALANCE_IN_PROGRESS
    // (27), ILLEGAL_GENERATION (22) or UNKNOWN_MEMBER_ID (25). The source keeps it and commits again after the
    // rejoin; nothing else may be refused, and what the group holds is the last commit the broker took.
    const taken = commits.filter((c) => c.errorCode === 0);
    expect(commits.filter((c) => ![0, 22, 25, 27].includes(c.errorCode))).toEqual([]);
    expect(taken.length).toBeGreaterThanOrEqual(committed.size);
    // No commit of kafkajs's sentinel -2 ("reset to the default offset" after OFFSET_OUT_OF_RANGE): every offset
    // the group committed is one Tributary made durable.
    expect(commits.filter((c) => c.offset < 0)).toEqual([]);
    const lastLogged = new Map(taken.map((c) => [c.partition, c.offset]));
    expect(lastLogged).toEqual(committed);
    expect(new Set(taken.map((c) => c.memberId)).size).toBeGreaterThanOrEqual(2);
    // Its waits (joins, the eviction after the session timeout, the lake catching up) add up on a busy machine.
  }, 300_000);

  it('exits at once with an authentication error when the connection string is wrong', async () => {
    const file = await writeConfig('wrong.yaml', broker.uniqueName('wrong-credentials'));
    const instance = startInstance('wrong', file, { TRIBUTARY_TEST_KAFKA_CONNECTION: 'Endpoint=sb://tributary-test.servicebus.windows.net/;SharedAccessKey=bad' });
    const exit = await instance.exited;
    expect(exit.code).toBe(1);
    expect(exit.stderr).toMatch(/authentication failed/i);
    expect(exit.stderr).toMatch(/\$ConnectionString/);
    expect(exit.stderr).not.toContain('SharedAccessKey=bad');
    expect(exit.stderr).not.toContain(broker.listeners.saslPlain.password);
  });
});
