/**
 * A consumer group of two, then three Tributary instances (child processes running `tributary run`) shares an
 * 8-partition topic while a producer keeps writing. The peer requires SASL PLAIN, and the instances authenticate
 * the way they would at the Event Hubs Kafka endpoint (user `$ConnectionString`, the connection string as
 * password, taken from the environment). One instance is killed with SIGKILL mid-stream; the group evicts it
 * when its session times out, the others take its partitions over from its snapshots, and the lake ends up with
 * every event exactly once. Wrong credentials make an instance exit at once with an authentication error.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { writeFile } from 'node:fs/promises';
import { KafkaPeer } from '../peers/kafka/index.js';
import { REPO_ROOT, createWorkspace, type Workspace } from '../support/workspace.js';
import { connectProducer, deploymentConfig, landedOnce, orderMessage, orderType, readDeadLetterRecords, readTable } from './kafka-e2e-support.js';

const PARTITIONS = 8;
const ROUNDS = 24;
const PER_ROUND = 12;
const GROUP = 'tributary-lake';
const CONNECTION_STRING = 'Endpoint=sb://tributary-test.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=dGVzdC1rZXk=';

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

let peer: KafkaPeer;
let ws: Workspace;
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

beforeAll(async () => {
  ws = await createWorkspace('tributary-kafka-group-');
  peer = await KafkaPeer.start({ sasl: { username: '$ConnectionString', password: CONNECTION_STRING }, minSessionTimeoutMs: 1000 });
  peer.createTopic('orders', PARTITIONS);
});

afterAll(async () => {
  for (const instance of instances) instance.child.kill('SIGKILL');
  await Promise.all(instances.map((i) => i.exited));
  await peer?.close();
  await ws?.cleanup();
});

async function writeConfig(name: string, groupId: string): Promise<string> {
  const config = deploymentConfig(peer, ws, {
    groupId,
    rowsPerFile: 50,
    batchSize: 20,
    flushInterval: '2s',
    source: {
      sasl: { mechanism: 'plain', username: '$ConnectionString', passwordEnv: 'TRIBUTARY_TEST_KAFKA_CONNECTION' },
      sessionTimeout: '3s',
      heartbeatInterval: '500ms',
      rebalanceTimeout: '30s',
    },
  });
  const file = ws.file(name);
  await writeFile(file, stringify(config));
  return file;
}

function members(): number {
  const group = peer.describeGroup(GROUP);
  return group.state === 'Stable' ? group.members.length : -1;
}

describe('a consumer group of Tributary instances', () => {
  it('grows from two to three instances, loses one to SIGKILL mid-stream, and lands every event exactly once', async () => {
    const file = await writeConfig('group.yaml', GROUP);
    const env = { TRIBUTARY_TEST_KAFKA_CONNECTION: CONNECTION_STRING };
    const type = await orderType();
    const producer = await connectProducer(peer, { sasl: { mechanism: 'plain', username: '$ConnectionString', password: CONNECTION_STRING } });
    const ids: string[] = [];

    try {
      const a = startInstance('a', file, env);
      const b = startInstance('b', file, env);
      await vi.waitFor(() => expect(members()).toBe(2), { timeout: 60_000, interval: 200 });

      let produced = 0;
      const produceRound = async (round: number): Promise<void> => {
        for (let partition = 0; partition < PARTITIONS; partition++) {
          const batch = Array.from({ length: PER_ROUND }, (_, j) => orderMessage(type, partition, round * PER_ROUND + j));
          await producer.send({ topic: 'orders', messages: batch.map((m) => m.message) });
          ids.push(...batch.map((m) => m.order.id));
        }
        produced++;
      };

      for (let round = 0; round < 8; round++) {
        await produceRound(round);
        await sleep(150);
      }
      startInstance('c', file, env);
      await vi.waitFor(() => expect(members()).toBe(3), { timeout: 60_000, interval: 200 });
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
      // The group notices b's silence after its session timeout and gives its partitions to a and c.
      await vi.waitFor(() => expect(members()).toBe(2), { timeout: 60_000, interval: 200 });

      await vi.waitFor(
        async () => {
          const raw = await readTable(ws, 'orders_raw');
          expect(landedOnce(raw, ids).missing).toEqual([]);
        },
        { timeout: 90_000, interval: 1000 },
      );

      const c = instances.find((i) => i.name === 'c')!;
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
    // Everyone left the group cleanly; the committed offsets never pass the end of a partition.
    expect(peer.describeGroup(GROUP).members).toEqual([]);
    const highWatermarks = peer.highWatermarks('orders');
    for (const [partition, committed] of peer.committedOffsets(GROUP).get('orders') ?? []) {
      expect(committed.offset).toBeLessThanOrEqual(highWatermarks[partition]!);
    }
  });

  it('exits at once with an authentication error when the connection string is wrong', async () => {
    const file = await writeConfig('wrong.yaml', 'wrong-credentials');
    const instance = startInstance('wrong', file, { TRIBUTARY_TEST_KAFKA_CONNECTION: 'Endpoint=sb://tributary-test.servicebus.windows.net/;SharedAccessKey=bad' });
    const exit = await instance.exited;
    expect(exit.code).toBe(1);
    expect(exit.stderr).toMatch(/authentication failed/i);
    expect(exit.stderr).toMatch(/\$ConnectionString/);
    expect(exit.stderr).not.toContain('SharedAccessKey=bad');
  });
});
