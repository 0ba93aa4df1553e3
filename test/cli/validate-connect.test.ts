/**
 * `tributary validate --connect` against the real protocol peers: it reaches the Kafka brokers and topics, the
 * event hubs and the checkpoint store the config names, and names the one that is missing.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEventHubsPeer, type EventHubsPeer } from '../peers/eventhubs/index.js';
import { describeKafka } from '../brokers/kafka/fixture.js';
import { runCli } from '../support/cli.js';
import { REPO_ROOT, createWorkspace, type Workspace } from '../support/workspace.js';

describeKafka('tributary validate --connect (Kafka)', (broker) => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await createWorkspace();
  });
  afterAll(() => ws?.cleanup());

  const config = (brokers: string[], topic: string) => ({
    streams: { orders: { schema: path.join(REPO_ROOT, 'examples/schemas/orders.avsc'), eventId: 'orderId', eventTime: 'createdAt' } },
    source: { kind: 'kafka' as const, brokers, groupId: 'lake', topics: { orders: topic } },
    lake: { kind: 'local' as const, path: ws.file('lake') },
    deadLetter: { kind: 'local' as const, path: ws.file('deadletter') },
    state: { kind: 'local' as const, path: ws.file('state') },
    metrics: { enabled: false },
  });

  it('reports the topics it reached with their partitions, and each store', async () => {
    const topic = broker().uniqueName('orders');
    await broker().createTopic(topic, 3);
    const { file } = await ws.writeConfig(config(broker().brokers, topic), 'kafka.yaml');
    const result = await runCli(['validate', '--config', file, '--connect']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`connect source topics ${topic}: ok: ${broker().brokers.join(',')}: ${topic} (3 partitions)`);
    for (const store of ['lake', 'deadLetter', 'state']) expect(result.stdout).toContain(`connect ${store}: ok`);
    expect(result.stdout).toContain('every store and the source answered');
  });

  it('names the topic the brokers do not have', async () => {
    await broker().createTopic(broker().uniqueName('orders'), 3);
    const { file } = await ws.writeConfig(config(broker().brokers, 'ordres'), 'kafka-missing.yaml');
    const result = await runCli(['validate', '--config', file, '--connect']);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/connect source topics ordres: FAILED: .*/);
    expect(result.stderr).toContain('cannot reach source topics ordres');
  });
});

describe('tributary validate --connect (Event Hubs)', () => {
  let peer: EventHubsPeer;
  let ws: Workspace;
  beforeAll(async () => {
    peer = await startEventHubsPeer({ hubs: { orders: { partitionCount: 4, consumerGroups: ['lake'] } } });
    ws = await createWorkspace();
  });
  afterAll(async () => {
    await peer?.close();
    await ws?.cleanup();
  });

  const config = (hub: string) => ({
    streams: { orders: { schema: path.join(REPO_ROOT, 'examples/schemas/orders.avsc'), eventId: 'orderId', eventTime: 'createdAt' } },
    source: {
      kind: 'eventhubs' as const,
      connectionString: peer.namespaceConnectionString(),
      consumerGroup: 'lake',
      hubs: { orders: hub },
      checkpointStore: { kind: 'local' as const, path: ws.file('checkpoints') },
      clientRetry: { maxRetries: 1, delay: '100ms', maxDelay: '1s', timeout: '5s' },
    },
    lake: { kind: 'local' as const, path: ws.file('lake') },
    deadLetter: { kind: 'local' as const, path: ws.file('deadletter') },
    state: { kind: 'local' as const, path: ws.file('state') },
    metrics: { enabled: false },
  });

  it('reports each hub with its partitions and the checkpoint store; names a hub that does not exist', async () => {
    const good = await ws.writeConfig(config('orders'), 'eh.yaml');
    const ok = await runCli(['validate', '--config', good.file, '--connect']);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/connect source orders: ok: event hub orders on .* \(4 partitions\)/);
    expect(ok.stdout).toContain(`connect source checkpoint store: ok: ${ws.file('checkpoints')}`);

    const bad = await ws.writeConfig(config('ordres'), 'eh-missing.yaml');
    const failed = await runCli(['validate', '--config', bad.file, '--connect']);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/connect source orders: FAILED: /);
    expect(failed.stderr).toContain('cannot reach source orders');
  });
});
