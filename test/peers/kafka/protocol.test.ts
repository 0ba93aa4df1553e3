/**
 * The peer's encodings checked against kafkajs's own request encoders and response decoders, one API at a time,
 * over a real socket.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KafkaPeer } from './broker.js';
import { SERVED_VERSIONS } from './protocol.js';
import { RawClient, api, kafkajsApiKeys, kafkajsLookup, kafkajsRequests, type ApiVersionTable } from './raw-client.js';

const TOPIC = 'oracle';
const T0 = 1_700_000_000_000;

let peer: KafkaPeer;
let client: RawClient;

beforeEach(async () => {
  peer = await KafkaPeer.start();
  client = await RawClient.connect(peer.port);
});

afterEach(async () => {
  client.close();
  await peer.close();
  expect(peer.internalErrors).toEqual([]);
});

function messages(count: number, from = 0) {
  return Array.from({ length: count }, (_, i) => ({
    key: `key-${from + i}`,
    value: `value-${from + i}`,
    timestamp: T0 + (from + i) * 1000,
    headers: { traceparent: `tp-${from + i}` },
  }));
}

async function produce(partition: number, count: number, from = 0): Promise<unknown> {
  return client.send(api('Produce', 7), {
    acks: -1,
    timeout: 1000,
    topicData: [{ topic: TOPIC, partitions: [{ partition, messages: messages(count, from) }] }],
  });
}

describe('ApiVersions v2', () => {
  it('advertises exactly the served versions, and kafkajs picks each of them', async () => {
    const decoded = (await client.send(api('ApiVersions', 2))) as { apiVersions: Array<{ apiKey: number; minVersion: number; maxVersion: number }> };
    const advertised = new Map(decoded.apiVersions.map((v) => [v.apiKey, v.maxVersion]));
    expect(advertised).toEqual(new Map(SERVED_VERSIONS));

    const table: ApiVersionTable = Object.fromEntries(decoded.apiVersions.map((v) => [v.apiKey, v]));
    const choose = kafkajsLookup(table);
    const names: Record<number, string> = Object.fromEntries(Object.entries(kafkajsApiKeys).map(([name, key]) => [key, name]));
    for (const [key, version] of SERVED_VERSIONS) {
      const name = names[key]!;
      const { request } = choose(key, kafkajsRequests[name]!)({});
      expect({ name, version: request.apiVersion }).toEqual({ name, version });
    }
  });

  it('answers an ApiVersions version it does not serve with UNSUPPORTED_VERSION', async () => {
    await expect(client.send(api('ApiVersions', 1))).rejects.toMatchObject({ type: 'UNSUPPORTED_VERSION' });
  });
});

describe('topics and records', () => {
  beforeEach(async () => {
    await client.send(api('CreateTopics', 3), { topics: [{ topic: TOPIC, numPartitions: 2 }], timeout: 1000 });
  });

  it('CreateTopics v3 reports duplicates and impossible replication factors per topic', async () => {
    const decoded = (await client.decoded(api('CreateTopics', 3), {
      topics: [
        { topic: TOPIC, numPartitions: 1 },
        { topic: 'replicated', numPartitions: 1, replicationFactor: 3 },
        { topic: 'bad/name', numPartitions: 1 },
        { topic: 'fresh', numPartitions: 4 },
      ],
      timeout: 1000,
    })) as { topicErrors: Array<{ topic: string; errorCode: number; errorMessage: string | null }> };
    expect(decoded.topicErrors.map((t) => [t.topic, t.errorCode])).toEqual([
      ['bad/name', 17],
      ['fresh', 0],
      [TOPIC, 36],
      ['replicated', 38],
    ]);
    expect(peer.highWatermarks('fresh')).toEqual([0, 0, 0, 0]);
  });

  it('Metadata v6 lists the broker, the topics and their partitions', async () => {
    const decoded = (await client.send(api('Metadata', 6), { topics: [TOPIC], allowAutoTopicCreation: false })) as {
      brokers: Array<{ nodeId: number; host: string; port: number }>;
      controllerId: number;
      topicMetadata: Array<{ topic: string; topicErrorCode: number; partitionMetadata: Array<{ partitionId: number; leader: number; isr: number[] }> }>;
    };
    expect(decoded.brokers).toEqual([{ nodeId: 0, host: '127.0.0.1', port: peer.port, rack: null }]);
    expect(decoded.controllerId).toBe(0);
    expect(decoded.topicMetadata).toHaveLength(1);
    expect(decoded.topicMetadata[0]).toMatchObject({ topic: TOPIC, topicErrorCode: 0 });
    expect(decoded.topicMetadata[0]!.partitionMetadata.map((p) => [p.partitionId, p.leader, p.isr])).toEqual([
      [0, 0, [0]],
      [1, 0, [0]],
    ]);
  });

  it('Metadata v6 answers an unknown topic without auto-creation with UNKNOWN_TOPIC_OR_PARTITION', async () => {
    await expect(client.send(api('Metadata', 6), { topics: ['missing'], allowAutoTopicCreation: false })).rejects.toMatchObject({
      type: 'UNKNOWN_TOPIC_OR_PARTITION',
    });
    await client.send(api('Metadata', 6), { topics: ['auto'], allowAutoTopicCreation: true });
    expect(peer.highWatermarks('auto')).toEqual([0]);
  });

  it('Produce v7 assigns consecutive offsets per partition', async () => {
    const first = (await produce(1, 3)) as { topics: Array<{ topicName: string; partitions: Array<{ partition: number; errorCode: number; baseOffset: string }> }> };
    const second = (await produce(1, 2, 3)) as typeof first;
    expect(first.topics[0]!.partitions[0]).toMatchObject({ partition: 1, errorCode: 0, baseOffset: '0' });
    expect(second.topics[0]!.partitions[0]).toMatchObject({ partition: 1, errorCode: 0, baseOffset: '3' });
    expect(peer.highWatermarks(TOPIC)).toEqual([0, 5]);
  });

  it('Produce v7 rejects an unknown partition', async () => {
    await expect(
      client.send(api('Produce', 7), { acks: -1, timeout: 1000, topicData: [{ topic: TOPIC, partitions: [{ partition: 9, messages: messages(1) }] }] }),
    ).rejects.toMatchObject({ type: 'UNKNOWN_TOPIC_OR_PARTITION' });
  });

  it('Produce v7 with acks=0 appends without answering', async () => {
    await client.fire(api('Produce', 7), { acks: 0, timeout: 1000, topicData: [{ topic: TOPIC, partitions: [{ partition: 0, messages: messages(2) }] }] });
    await client.send(api('Metadata', 6), { topics: [TOPIC] }); // answered in order, so the produce was handled before
    expect(peer.highWatermarks(TOPIC)).toEqual([2, 0]);
  });

  it('Fetch v11 returns records from the requested offset with key, value, timestamp and headers', async () => {
    await produce(0, 3);
    await produce(0, 2, 3);
    const decoded = (await client.send(api('Fetch', 11), {
      replicaId: -1,
      maxWaitTime: 0,
      minBytes: 1,
      maxBytes: 1024 * 1024,
      topics: [{ topic: TOPIC, partitions: [{ partition: 0, fetchOffset: '1', maxBytes: 1024 * 1024 }] }],
    })) as {
      responses: Array<{
        topicName: string;
        partitions: Array<{
          errorCode: number;
          highWatermark: string;
          messages: Array<{ offset: string; key: Buffer; value: Buffer; timestamp: string; headers: Record<string, Buffer> }>;
        }>;
      }>;
    };
    const partition = decoded.responses[0]!.partitions[0]!;
    expect(partition.errorCode).toBe(0);
    expect(partition.highWatermark).toBe('5');
    // Whole batches come back, so the record before the fetch offset is there too, as from Kafka.
    const records = partition.messages.map((m) => [m.offset, m.key.toString(), m.value.toString(), m.timestamp, m.headers.traceparent!.toString()]);
    expect(records).toEqual([0, 1, 2, 3, 4].map((i) => [String(i), `key-${i}`, `value-${i}`, String(T0 + i * 1000), `tp-${i}`]));
  });

  it('Fetch v11 answers an offset past the end with OFFSET_OUT_OF_RANGE', async () => {
    await produce(0, 1);
    await expect(
      client.send(api('Fetch', 11), {
        replicaId: -1,
        maxWaitTime: 0,
        minBytes: 1,
        maxBytes: 1024,
        topics: [{ topic: TOPIC, partitions: [{ partition: 0, fetchOffset: '7', maxBytes: 1024 }] }],
      }),
    ).rejects.toMatchObject({ type: 'OFFSET_OUT_OF_RANGE' });
  });

  it('Fetch v11 waits for records that arrive while it is parked', async () => {
    const parked = client.send(api('Fetch', 11), {
      replicaId: -1,
      maxWaitTime: 30_000,
      minBytes: 1,
      maxBytes: 1024 * 1024,
      topics: [{ topic: TOPIC, partitions: [{ partition: 1, fetchOffset: '0', maxBytes: 1024 * 1024 }] }],
    }) as Promise<{ responses: Array<{ partitions: Array<{ messages: Array<{ offset: string }> }> }> }>;
    const producer = await RawClient.connect(peer.port);
    await producer.send(api('Produce', 7), { acks: 1, timeout: 1000, topicData: [{ topic: TOPIC, partitions: [{ partition: 1, messages: messages(2) }] }] });
    producer.close();
    const decoded = await parked;
    expect(decoded.responses[0]!.partitions[0]!.messages.map((m) => m.offset)).toEqual(['0', '1']);
  });

  it('ListOffsets v3 resolves earliest, latest and timestamps', async () => {
    await produce(0, 3);
    await produce(0, 3, 3);
    const decoded = (await client.send(api('ListOffsets', 3), {
      replicaId: -1,
      isolationLevel: 1,
      topics: [
        {
          topic: TOPIC,
          partitions: [
            { partition: 0, timestamp: -2 },
            { partition: 1, timestamp: -1 },
          ],
        },
      ],
    })) as { responses: Array<{ partitions: Array<{ partition: number; offset: string }> }> };
    expect(decoded.responses[0]!.partitions.map((p) => [p.partition, p.offset])).toEqual([
      [0, '0'],
      [1, '0'],
    ]);

    const at = async (timestamp: number) => {
      const answer = (await client.send(api('ListOffsets', 3), {
        replicaId: -1,
        isolationLevel: 1,
        topics: [{ topic: TOPIC, partitions: [{ partition: 0, timestamp }] }],
      })) as { responses: Array<{ partitions: Array<{ offset: string; timestamp: string }> }> };
      const { offset, timestamp: found } = answer.responses[0]!.partitions[0]!;
      return [offset, found];
    };
    expect(await at(-1)).toEqual(['6', '-1']);
    expect(await at(T0 + 4000)).toEqual(['4', String(T0 + 4000)]);
    expect(await at(T0 + 3500)).toEqual(['4', String(T0 + 4000)]);
    expect(await at(T0 - 1)).toEqual(['0', String(T0)]);
    expect(await at(T0 + 60_000)).toEqual(['-1', '-1']);
  });
});

describe('consumer group protocol', () => {
  const GROUP = 'oracle-group';
  const protocols = [{ name: 'RoundRobinAssigner', metadata: Buffer.from('meta') }];

  beforeEach(async () => {
    await client.send(api('CreateTopics', 3), { topics: [{ topic: TOPIC, numPartitions: 2 }], timeout: 1000 });
  });

  async function joinNew(target = client): Promise<{ memberId: string; generationId: number; leaderId: string; members: unknown[] }> {
    const required = client.send(api('JoinGroup', 5), {
      groupId: GROUP,
      sessionTimeout: 10_000,
      rebalanceTimeout: 10_000,
      memberId: '',
      protocolType: 'consumer',
      groupProtocols: protocols,
    });
    const error = (await required.then(
      () => undefined,
      (e: unknown) => e,
    )) as { name: string; memberId: string };
    expect(error.name).toBe('KafkaJSMemberIdRequired');
    expect(error.memberId).toMatch(/^raw-client-/);
    return (await target.send(api('JoinGroup', 5), {
      groupId: GROUP,
      sessionTimeout: 10_000,
      rebalanceTimeout: 10_000,
      memberId: error.memberId,
      protocolType: 'consumer',
      groupProtocols: protocols,
    })) as { memberId: string; generationId: number; leaderId: string; members: unknown[] };
  }

  it('FindCoordinator v2 names this broker', async () => {
    const decoded = await client.send(api('GroupCoordinator', 2), { groupId: GROUP });
    expect(decoded).toMatchObject({ errorCode: 0, coordinator: { nodeId: 0, host: '127.0.0.1', port: peer.port } });
  });

  it('runs join (MEMBER_ID_REQUIRED first), sync, heartbeat, commit, fetch, describe and leave', async () => {
    const joined = await joinNew();
    expect(joined).toMatchObject({ generationId: 1, leaderId: joined.memberId, groupProtocol: 'RoundRobinAssigner' });
    expect(joined.members).toEqual([{ memberId: joined.memberId, groupInstanceId: null, memberMetadata: Buffer.from('meta') }]);
    const { memberId, generationId } = joined;

    const synced = await client.send(api('SyncGroup', 3), {
      groupId: GROUP,
      generationId,
      memberId,
      groupAssignment: [{ memberId, memberAssignment: Buffer.from('assignment') }],
    });
    expect(synced).toMatchObject({ errorCode: 0, memberAssignment: Buffer.from('assignment') });

    expect(await client.send(api('Heartbeat', 3), { groupId: GROUP, groupGenerationId: generationId, memberId })).toMatchObject({ errorCode: 0 });
    await expect(client.send(api('Heartbeat', 3), { groupId: GROUP, groupGenerationId: generationId + 1, memberId })).rejects.toMatchObject({
      type: 'ILLEGAL_GENERATION',
    });

    await client.send(api('OffsetCommit', 5), {
      groupId: GROUP,
      groupGenerationId: generationId,
      memberId,
      topics: [{ topic: TOPIC, partitions: [{ partition: 1, offset: '42' }] }],
    });
    await expect(
      client.send(api('OffsetCommit', 5), {
        groupId: GROUP,
        groupGenerationId: generationId + 5,
        memberId,
        topics: [{ topic: TOPIC, partitions: [{ partition: 0, offset: '1' }] }],
      }),
    ).rejects.toMatchObject({ type: 'ILLEGAL_GENERATION' });
    const fetched = (await client.send(api('OffsetFetch', 4), {
      groupId: GROUP,
      topics: [{ topic: TOPIC, partitions: [{ partition: 0 }, { partition: 1 }] }],
    })) as { responses: Array<{ partitions: Array<{ partition: number; offset: string }> }> };
    expect(fetched.responses[0]!.partitions.map((p) => [p.partition, p.offset])).toEqual([
      [0, '-1'],
      [1, '42'],
    ]);

    const described = (await client.send(api('DescribeGroups', 2), { groupIds: [GROUP, 'nobody'] })) as {
      groups: Array<{ groupId: string; state: string; protocol: string; members: Array<{ memberId: string; clientId: string; memberAssignment: Buffer }> }>;
    };
    expect(described.groups[0]).toMatchObject({ groupId: GROUP, state: 'Stable', protocol: 'RoundRobinAssigner', protocolType: 'consumer' });
    expect(described.groups[0]!.members).toMatchObject([{ memberId, clientId: 'raw-client', memberAssignment: Buffer.from('assignment') }]);
    expect(described.groups[1]).toMatchObject({ groupId: 'nobody', state: 'Dead', members: [] });

    await client.send(api('LeaveGroup', 3), { groupId: GROUP, memberId });
    expect(peer.describeGroup(GROUP).state).toBe('Empty');
    await expect(client.send(api('Heartbeat', 3), { groupId: GROUP, groupGenerationId: generationId, memberId })).rejects.toMatchObject({
      type: 'UNKNOWN_MEMBER_ID',
    });
    await expect(client.send(api('LeaveGroup', 3), { groupId: GROUP, memberId })).rejects.toMatchObject({ type: 'UNKNOWN_MEMBER_ID' });
  });

  it('rejects a join with a member id it never handed out', async () => {
    await expect(
      client.send(api('JoinGroup', 5), {
        groupId: GROUP,
        sessionTimeout: 10_000,
        rebalanceTimeout: 10_000,
        memberId: 'made-up',
        protocolType: 'consumer',
        groupProtocols: protocols,
      }),
    ).rejects.toMatchObject({ type: 'UNKNOWN_MEMBER_ID' });
  });

  it('a second member triggers a rebalance: the first hears REBALANCE_IN_PROGRESS and both land in the next generation', async () => {
    const first = await joinNew();
    await client.send(api('SyncGroup', 3), { groupId: GROUP, generationId: first.generationId, memberId: first.memberId, groupAssignment: [] });

    const other = await RawClient.connect(peer.port);
    const secondJoin = joinNew(other);
    // The group now prepares a rebalance that cannot complete until the first member rejoins.
    await vi.waitFor(() => expect(peer.describeGroup(GROUP).state).toBe('PreparingRebalance'));
    await expect(client.send(api('Heartbeat', 3), { groupId: GROUP, groupGenerationId: first.generationId, memberId: first.memberId })).rejects.toMatchObject({
      type: 'REBALANCE_IN_PROGRESS',
    });
    const rejoined = (await client.send(api('JoinGroup', 5), {
      groupId: GROUP,
      sessionTimeout: 10_000,
      rebalanceTimeout: 10_000,
      memberId: first.memberId,
      protocolType: 'consumer',
      groupProtocols: protocols,
    })) as { generationId: number; leaderId: string; members: unknown[] };
    const second = await secondJoin;
    expect(rejoined.generationId).toBe(2);
    expect(second.generationId).toBe(2);
    expect(rejoined.leaderId).toBe(first.memberId);
    expect(rejoined.members).toHaveLength(2);
    expect(second.members).toEqual([]);

    // The follower's sync waits for the leader's assignment.
    const followerSync = other.send(api('SyncGroup', 3), { groupId: GROUP, generationId: 2, memberId: second.memberId, groupAssignment: [] });
    await client.send(api('SyncGroup', 3), {
      groupId: GROUP,
      generationId: 2,
      memberId: first.memberId,
      groupAssignment: [
        { memberId: first.memberId, memberAssignment: Buffer.from('p0') },
        { memberId: second.memberId, memberAssignment: Buffer.from('p1') },
      ],
    });
    expect(await followerSync).toMatchObject({ errorCode: 0, memberAssignment: Buffer.from('p1') });
    other.close();
  });

  it('evicts a member whose session times out and rebalances the rest', async () => {
    await peer.close();
    peer = await KafkaPeer.start({ minSessionTimeoutMs: 10 });
    client = await RawClient.connect(peer.port);
    await client.send(api('CreateTopics', 3), { topics: [{ topic: TOPIC, numPartitions: 2 }], timeout: 1000 });
    const join = async (target: RawClient, memberId: string, sessionTimeout: number) =>
      (await target.send(api('JoinGroup', 5), {
        groupId: GROUP,
        sessionTimeout,
        rebalanceTimeout: 60_000,
        memberId,
        protocolType: 'consumer',
        groupProtocols: protocols,
      })) as { generationId: number; memberId: string; leaderId: string; members: unknown[] };
    const idFor = async (target: RawClient) =>
      ((await target.decoded(api('JoinGroup', 5), {
        groupId: GROUP,
        sessionTimeout: 10_000,
        rebalanceTimeout: 60_000,
        memberId: '',
        protocolType: 'consumer',
        groupProtocols: protocols,
      })) as { memberId: string }).memberId;

    const silent = await RawClient.connect(peer.port);
    const silentId = await idFor(silent);
    const silentJoin = await join(silent, silentId, 1000);
    await silent.send(api('SyncGroup', 3), { groupId: GROUP, generationId: silentJoin.generationId, memberId: silentId, groupAssignment: [] });

    // The live member's join parks until the silent member's session expires and it is dropped from the group.
    const liveId = await idFor(client);
    const live = await join(client, liveId, 10_000);
    expect(live.generationId).toBeGreaterThan(silentJoin.generationId);
    expect(live.leaderId).toBe(liveId);
    expect(live.members).toEqual([{ memberId: liveId, groupInstanceId: null, memberMetadata: Buffer.from('meta') }]);
    silent.close();
  });
});

describe('SASL PLAIN', () => {
  beforeEach(async () => {
    client.close();
    await peer.close();
    peer = await KafkaPeer.start({ sasl: { username: '$ConnectionString', password: 'Endpoint=sb://peer/;SharedAccessKey=secret' } });
    client = await RawClient.connect(peer.port);
  });

  const plain = (username: string, password: string) => Buffer.from(`\u0000${username}\u0000${password}`);
  const authBytes = (token: Buffer) => {
    const framed = Buffer.alloc(4 + token.length);
    framed.writeInt32BE(token.length, 0);
    token.copy(framed, 4);
    return framed;
  };

  it('handshakes PLAIN and authenticates the right credentials, then serves requests', async () => {
    expect(await client.send(api('SaslHandshake', 1), { mechanism: 'PLAIN' })).toMatchObject({ errorCode: 0, enabledMechanisms: ['PLAIN'] });
    expect(
      await client.send(api('SaslAuthenticate', 1), { authBytes: authBytes(plain('$ConnectionString', 'Endpoint=sb://peer/;SharedAccessKey=secret')) }),
    ).toMatchObject({ errorCode: 0, sessionLifetimeMs: '0' });
    expect(await client.send(api('Metadata', 6), { topics: [] })).toMatchObject({ brokers: [{ nodeId: 0 }] });
  });

  it('rejects a wrong password with SASL_AUTHENTICATION_FAILED and closes the connection', async () => {
    await client.send(api('SaslHandshake', 1), { mechanism: 'PLAIN' });
    await expect(client.send(api('SaslAuthenticate', 1), { authBytes: authBytes(plain('$ConnectionString', 'wrong')) })).rejects.toMatchObject({
      type: 'SASL_AUTHENTICATION_FAILED',
      message: 'Authentication failed: Invalid username or password',
    });
    await client.closed;
  });

  it('rejects other mechanisms', async () => {
    await expect(client.send(api('SaslHandshake', 1), { mechanism: 'SCRAM-SHA-256' })).rejects.toMatchObject({ type: 'UNSUPPORTED_SASL_MECHANISM' });
  });

  it('closes a connection that skips authentication', async () => {
    await expect(client.send(api('Metadata', 6), { topics: [] })).rejects.toThrow(/connection closed/);
  });
});
