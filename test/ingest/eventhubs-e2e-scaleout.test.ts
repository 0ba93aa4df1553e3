/**
 * Scale-out end to end with real processes: `tributary run` instances (the built CLI, child processes) in one
 * consumer group share an 8-partition hub on the AMQP peer through the blob checkpoint store on Azurite. Two
 * instances split the partitions, a third joins, one is SIGKILLed mid-stream, the survivors take its partitions
 * over once its ownership expires, and the shared lake ends with every produced event exactly once.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { ContainerClient } from '@azure/storage-blob';
import avro from 'avsc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TributaryConfig } from '../../src/config/schema.js';
import { generateStreams } from '../../src/gen/generate.js';
import { parseGenOptions } from '../../src/gen/options.js';
import { EventHubsTarget } from '../../src/gen/targets/eventhubs.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { startAzurite, type Azurite } from '../support/azurite.js';
import { startCli, type CliResult } from '../support/cli.js';
import { readTable } from '../support/lake.js';
import { REPO_ROOT, createWorkspace, type Workspace } from '../support/workspace.js';
import { startEventHubsPeer, type EventHubsPeer } from '../peers/eventhubs/index.js';
import { quietLog } from './eventhubs-support.js';

const PARTITIONS = 8;
const CONTAINER = 'eh-checkpoints';
const OWNERSHIP_EXPIRATION_MS = 6_000;

interface Instance {
  name: string;
  child: ReturnType<typeof startCli>['child'];
  done: Promise<CliResult>;
}

describe('Event Hubs scale-out with worker processes', () => {
  let azurite: Azurite;
  let peer: EventHubsPeer;
  let ws: Workspace;
  let config: TributaryConfig;
  const files = new Map<string, string>();
  const instances: Instance[] = [];

  beforeAll(async () => {
    azurite = await startAzurite();
    peer = await startEventHubsPeer({ hubs: { orders: { partitionCount: PARTITIONS, consumerGroups: ['tributary'] } } });
    ws = await createWorkspace('tributary-eh-scaleout-');
    for (const name of ['a', 'b', 'c']) {
      const setup = await ws.writeConfig(
        {
          streams: {
            orders: { schema: path.join(REPO_ROOT, 'examples/schemas/orders.avsc'), eventId: 'orderId', eventTime: 'createdAt', partitionKey: 'customerId' },
          },
          source: {
            kind: 'eventhubs',
            connectionString: peer.namespaceConnectionString(),
            consumerGroup: 'tributary',
            hubs: { orders: 'orders' },
            checkpointStore: { kind: 'blob', container: CONTAINER, connectionString: azurite.connectionString, createContainer: true },
            maxWaitTime: '250ms',
            maxBatchSize: 300,
            loadBalancing: { strategy: 'balanced', updateInterval: '500ms', ownershipExpiration: `${OWNERSHIP_EXPIRATION_MS}ms` },
            clientRetry: { maxRetries: 5, delay: '100ms', maxDelay: '1s', timeout: '10s' },
            identifier: `instance-${name}`,
          },
          aggregations: [
            { name: 'orders_by_channel_1m', stream: 'orders', groupBy: ['channel'], window: { kind: 'tumbling', size: '1m' }, measures: [{ fn: 'count' }] },
          ],
          processing: { allowedOutOfOrderness: '30s', allowedLateness: '0s', rowsPerFile: 200, flushInterval: '1s', decodeThreads: 1, batchSize: 300 },
          lake: { kind: 'local', path: ws.file('lake') },
          deadLetter: { kind: 'local', path: ws.file('deadletter') },
          state: { kind: 'local', path: ws.file('state') },
          metrics: { enabled: false },
        },
        `instance-${name}.yaml`,
      );
      files.set(name, setup.file);
      config = setup.config;
    }
  }, 120_000);

  afterAll(async () => {
    for (const instance of instances) if (instance.child.exitCode === null && instance.child.signalCode === null) instance.child.kill('SIGKILL');
    await Promise.all(instances.map((i) => i.done));
    await peer?.close();
    await azurite?.stop();
    await ws?.cleanup();
  });

  function start(name: string): Instance {
    const { child, done } = startCli(['run', '-q', '--config', files.get(name)!]);
    const instance = { name, child, done };
    instances.push(instance);
    return instance;
  }

  const store = (): BlobCheckpointStore => new BlobCheckpointStore(new ContainerClient(azurite.connectionString, CONTAINER));

  /** Partitions per live owner, from the ownership records (what the SDK's load balancer sees). */
  async function owners(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    const now = Date.now();
    for (const o of await store().listOwnership('127.0.0.1', 'orders', 'tributary').catch(() => [])) {
      if (!o.ownerId || now - (o.lastModifiedTimeInMs ?? 0) > OWNERSHIP_EXPIRATION_MS) continue;
      counts.set(o.ownerId, (counts.get(o.ownerId) ?? 0) + 1);
    }
    return counts;
  }

  async function waitForOwners(expected: Record<string, number>, what: string): Promise<void> {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const now = await owners();
      if (Object.entries(expected).every(([id, n]) => now.get(id) === n) && now.size === Object.keys(expected).length) return;
      if (Date.now() > deadline) throw new Error(`${what}: owners are ${JSON.stringify(Object.fromEntries(now))}; stderr: ${await stderrs()}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async function stderrs(): Promise<string> {
    return instances.map((i) => `${i.name}: exit ${i.child.exitCode ?? i.child.signalCode ?? 'running'}`).join(', ');
  }

  async function produce(events: number, seed: number, wave: number): Promise<void> {
    const target = await EventHubsTarget.connect({
      connection: { connectionString: peer.namespaceConnectionString() },
      hubs: { orders: 'orders' },
      partitions: PARTITIONS,
      clientRetry: { maxRetries: 3, delay: 100, maxDelay: 1000, timeout: 10_000 },
      log: quietLog,
    });
    try {
      const start = Date.UTC(2024, 0, 1) + wave * 3_600_000;
      await generateStreams(config, parseGenOptions({ events, partitions: PARTITIONS, keys: 400, seed, span: '30m', start }), target);
    } finally {
      await target.close();
    }
  }

  async function producedIds(): Promise<string[]> {
    const type = avro.Type.forSchema(JSON.parse(await readFile(config.streams.orders!.schema, 'utf8')) as avro.Schema);
    const ids: string[] = [];
    for (let p = 0; p < PARTITIONS; p++) {
      for (const event of peer.events('orders', String(p))) ids.push(String((type.fromBuffer(event.body) as { orderId: string }).orderId));
    }
    return ids;
  }

  const landedIds = async (): Promise<string[]> => (await readTable(new LocalObjectStore(ws.file('lake')), 'orders_raw')).map((r) => String(r.orderId));

  it('2 then 3 instances share the hub, one is SIGKILLed mid-stream, survivors take over: no loss, no duplicates', async () => {
    await produce(1500, 1, 0);
    start('a');
    start('b');
    await waitForOwners({ 'instance-a': 4, 'instance-b': 4 }, 'two instances share the partitions');

    start('c');
    const threeWay = async (): Promise<boolean> => {
      const now = await owners();
      return now.size === 3 && [...now.values()].every((n) => n >= 2) && [...now.values()].reduce((a, b) => a + b, 0) === PARTITIONS;
    };
    const deadline = Date.now() + 90_000;
    while (!(await threeWay())) {
      if (Date.now() > deadline) throw new Error(`three instances never shared the hub: ${JSON.stringify(Object.fromEntries(await owners()))}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }

    await produce(1000, 2, 1);
    // Mid-stream: instance b has partitions and events in flight when it dies without a word.
    const victim = instances.find((i) => i.name === 'b')!;
    const victimOwned = (await owners()).get('instance-b') ?? 0;
    expect(victimOwned).toBeGreaterThan(0);
    victim.child.kill('SIGKILL');
    const killed = await victim.done;
    expect(killed.signal).toBe('SIGKILL');
    await produce(1000, 3, 2);

    // Its ownership expires and the survivors claim its partitions.
    const survivorsOwnAll = async (): Promise<boolean> => {
      const now = await owners();
      return !now.has('instance-b') && (now.get('instance-a') ?? 0) + (now.get('instance-c') ?? 0) === PARTITIONS;
    };
    const takeover = Date.now() + 90_000;
    while (!(await survivorsOwnAll())) {
      if (Date.now() > takeover) throw new Error(`the survivors never took over: ${JSON.stringify(Object.fromEntries(await owners()))}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await produce(500, 4, 3);

    const expected = await producedIds();
    expect(new Set(expected).size).toBe(4000);
    const lakeDeadline = Date.now() + 120_000;
    for (;;) {
      const ids = await landedIds();
      if (new Set(ids).size === expected.length) break;
      if (Date.now() > lakeDeadline) throw new Error(`${new Set(ids).size} of ${expected.length} events in the lake; ${await stderrs()}`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }

    // SIGTERM: the survivors flush, commit and give their partitions up.
    for (const instance of instances.filter((i) => i.name !== 'b')) instance.child.kill('SIGTERM');
    for (const instance of instances.filter((i) => i.name !== 'b')) {
      const result = await instance.done;
      expect(result.code, `instance ${instance.name}: ${result.stderr.slice(-2000)}`).toBe(0);
    }

    const ids = await landedIds();
    expect(ids.length - new Set(ids).size, 'duplicate rows').toBe(0);
    expect(new Set(ids)).toEqual(new Set(expected));
    const ownership = await store().listOwnership('127.0.0.1', 'orders', 'tributary');
    expect(ownership.filter((o) => o.ownerId !== '' && o.ownerId !== 'instance-b')).toEqual([]);
  }, 600_000);
});
