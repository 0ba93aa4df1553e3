/**
 * One function per API key: decode the request body at the served version, act on the cluster state, encode the
 * response body. Field order follows the protocol guide's schemas for exactly these versions (all non-flexible:
 * no tagged fields, response header is just the correlation id).
 */
import { ApiKey, CLUSTER_ID, EARLIEST_TIMESTAMP, ErrorCode, LATEST_TIMESTAMP, NODE_ID, SERVED_VERSIONS } from './protocol.js';
import { InvalidRecordBatchError } from './record-batch.js';
import { invalidTopicReason, type Topics } from './topics.js';
import type { GroupCoordinator } from './group.js';
import { Reader, Writer } from './wire.js';

export interface PeerCredentials {
  username: string;
  password: string;
}

export interface BrokerContext {
  readonly topics: Topics;
  readonly groups: GroupCoordinator;
  readonly host: string;
  readonly port: number;
  readonly autoCreateTopics: boolean;
  readonly defaultPartitions: number;
  readonly sasl: PeerCredentials | undefined;
}

export type SaslState = 'start' | 'handshaken' | 'authenticated';

export interface Session {
  readonly clientHost: string;
  saslState: SaslState;
  /** Aborts when the connection closes, so parked requests (long-poll fetch) stop waiting. */
  readonly closed: AbortSignal;
}

export interface RequestContext {
  readonly broker: BrokerContext;
  readonly session: Session;
  readonly clientId: string;
}

/** `body: null` sends nothing back (produce with acks=0); `close` drops the connection after replying. */
export interface HandlerResult {
  body: Buffer | null;
  close?: boolean;
}

type Handler = (request: Reader, context: RequestContext) => HandlerResult | Promise<HandlerResult>;

const reply = (writer: Writer, close = false): HandlerResult => ({ body: writer.toBuffer(), close });

function apiVersions(): HandlerResult {
  const writer = new Writer()
    .int16(ErrorCode.NONE)
    .array([...SERVED_VERSIONS], (w, [key, version]) => w.int16(key).int16(version).int16(version))
    .int32(0);
  return reply(writer);
}

/** An ApiVersions request at a version we do not serve gets a v0 error body naming the one we do. */
export function unsupportedApiVersions(): Buffer {
  return new Writer()
    .int16(ErrorCode.UNSUPPORTED_VERSION)
    .array([ApiKey.ApiVersions], (w, key) => w.int16(key).int16(SERVED_VERSIONS.get(key)!).int16(SERVED_VERSIONS.get(key)!))
    .toBuffer();
}

function metadata(request: Reader, { broker }: RequestContext): HandlerResult {
  const requested = request.nullableArray((r) => r.string());
  const allowAutoCreate = request.boolean();
  const names = requested ?? broker.topics.names();
  const topics = names.map((name) => {
    if (!broker.topics.has(name)) {
      if (invalidTopicReason(name)) return { name, error: ErrorCode.INVALID_TOPIC_EXCEPTION, partitions: 0 };
      if (!allowAutoCreate || !broker.autoCreateTopics) return { name, error: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, partitions: 0 };
      broker.topics.create(name, broker.defaultPartitions);
    }
    return { name, error: ErrorCode.NONE, partitions: broker.topics.partitions(name)!.length };
  });
  const writer = new Writer()
    .int32(0)
    .array([NODE_ID], (w, id) => w.int32(id).string(broker.host).int32(broker.port).string(null))
    .string(CLUSTER_ID)
    .int32(NODE_ID)
    .array(topics, (w, topic) =>
      w
        .int16(topic.error)
        .string(topic.name)
        .boolean(false)
        .array(Array.from({ length: topic.partitions }, (_, i) => i), (pw, partition) =>
          pw
            .int16(ErrorCode.NONE)
            .int32(partition)
            .int32(NODE_ID)
            .array([NODE_ID], (rw, id) => rw.int32(id))
            .array([NODE_ID], (iw, id) => iw.int32(id))
            .array([], (ow, id: number) => ow.int32(id)),
        ),
    );
  return reply(writer);
}

function produce(request: Reader, { broker }: RequestContext): HandlerResult {
  request.nullableString(); // transactional id: transactions are not served
  const acks = request.int16();
  request.int32(); // timeout: appends are synchronous
  const topics = request.array((r) => ({
    topic: r.string(),
    partitions: r.array((p) => ({ partition: p.int32(), records: p.nullableBytes() })),
  }));
  const validAcks = acks === 0 || acks === 1 || acks === -1;
  const results = topics.map(({ topic, partitions }) => ({
    topic,
    partitions: partitions.map(({ partition, records }) => {
      const failed = (error: ErrorCode) => ({ partition, error, baseOffset: -1 });
      if (!validAcks) return failed(ErrorCode.INVALID_REQUIRED_ACKS);
      const log = broker.topics.partition(topic, partition);
      if (!log) return failed(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      if (!records || records.length === 0) return failed(ErrorCode.CORRUPT_MESSAGE);
      try {
        return { partition, error: ErrorCode.NONE, baseOffset: log.append(records) };
      } catch (error) {
        if (error instanceof InvalidRecordBatchError) return failed(ErrorCode.CORRUPT_MESSAGE);
        throw error;
      }
    }),
  }));
  if (acks === 0) return { body: null };
  const writer = new Writer()
    .array(results, (w, topic) =>
      w.string(topic.topic).array(topic.partitions, (pw, p) => pw.int32(p.partition).int16(p.error).int64(p.baseOffset).int64(-1).int64(0)),
    )
    .int32(0);
  return reply(writer);
}

interface FetchPartitionRequest {
  partition: number;
  fetchOffset: number;
  maxBytes: number;
}

async function fetch(request: Reader, { broker, session }: RequestContext): Promise<HandlerResult> {
  request.int32(); // replica id
  const maxWaitMs = request.int32();
  const minBytes = request.int32();
  const maxBytes = request.int32();
  request.int8(); // isolation level: nothing is transactional here
  request.int32(); // session id: fetch sessions are not kept (KIP-227 allows a broker to decline them)
  request.int32(); // session epoch
  const topics = request.array((r) => ({
    topic: r.string(),
    partitions: r.array((p): FetchPartitionRequest => {
      const partition = p.int32();
      p.int32(); // current leader epoch
      const fetchOffset = p.int64();
      p.int64(); // log start offset (followers only)
      return { partition, fetchOffset, maxBytes: p.int32() };
    }),
  }));
  request.array((r) => [r.string(), r.array((p) => p.int32())]); // forgotten topics
  request.string(); // rack id

  const read = () => {
    let budget = maxBytes;
    let total = 0;
    const responses = topics.map(({ topic, partitions }) => ({
      topic,
      partitions: partitions.map(({ partition, fetchOffset, maxBytes: partitionMax }) => {
        const log = broker.topics.partition(topic, partition);
        if (!log) return { partition, error: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, highWatermark: -1, logStart: -1, records: Buffer.alloc(0) };
        const { highWatermark, logStartOffset } = log;
        if (fetchOffset < logStartOffset || fetchOffset > highWatermark) {
          return { partition, error: ErrorCode.OFFSET_OUT_OF_RANGE, highWatermark, logStart: logStartOffset, records: Buffer.alloc(0) };
        }
        // KIP-74: the first batch of the first non-empty partition goes out whatever its size, so a big batch cannot
        // stall a consumer; everything after it respects the partition and response limits.
        const limit = Math.min(partitionMax, budget);
        const records = total === 0 || limit > 0 ? log.read(fetchOffset, limit) : Buffer.alloc(0);
        const sent = total > 0 && records.length > limit ? Buffer.alloc(0) : records;
        budget -= sent.length;
        total += sent.length;
        return { partition, error: ErrorCode.NONE, highWatermark, logStart: logStartOffset, records: sent };
      }),
    }));
    return { responses, total };
  };

  let result = read();
  if (result.total < Math.max(1, minBytes) && maxWaitMs > 0) {
    await waitForAppend(broker, topics, maxWaitMs, session.closed);
    result = read();
  }
  const writer = new Writer()
    .int32(0)
    .int16(ErrorCode.NONE)
    .int32(0)
    .array(result.responses, (w, topic) =>
      w.string(topic.topic).array(topic.partitions, (pw, p) =>
        pw
          .int32(p.partition)
          .int16(p.error)
          .int64(p.highWatermark)
          .int64(p.highWatermark)
          .int64(p.logStart)
          .array([], () => undefined)
          .int32(-1)
          .bytes(p.records),
      ),
    );
  return reply(writer);
}

function waitForAppend(
  broker: BrokerContext,
  topics: Array<{ topic: string; partitions: FetchPartitionRequest[] }>,
  maxWaitMs: number,
  closed: AbortSignal,
): Promise<void> {
  return new Promise((resolve) => {
    const cancels: Array<() => void> = [];
    const done = (): void => {
      clearTimeout(timer);
      closed.removeEventListener('abort', done);
      for (const cancel of cancels) cancel();
      resolve();
    };
    const timer = setTimeout(done, maxWaitMs);
    closed.addEventListener('abort', done, { once: true });
    for (const { topic, partitions } of topics) {
      for (const { partition } of partitions) {
        const log = broker.topics.partition(topic, partition);
        if (log) cancels.push(log.onAppend(done));
      }
    }
    if (closed.aborted) done();
  });
}

async function listOffsets(request: Reader, { broker }: RequestContext): Promise<HandlerResult> {
  request.int32(); // replica id
  request.int8(); // isolation level
  const topics = request.array((r) => ({
    topic: r.string(),
    partitions: r.array((p) => ({ partition: p.int32(), timestamp: p.int64() })),
  }));
  const results = [];
  for (const { topic, partitions } of topics) {
    const answers = [];
    for (const { partition, timestamp } of partitions) {
      const log = broker.topics.partition(topic, partition);
      if (!log) {
        answers.push({ partition, error: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, timestamp: -1, offset: -1 });
      } else if (timestamp === LATEST_TIMESTAMP) {
        answers.push({ partition, error: ErrorCode.NONE, timestamp: -1, offset: log.highWatermark });
      } else if (timestamp === EARLIEST_TIMESTAMP) {
        answers.push({ partition, error: ErrorCode.NONE, timestamp: -1, offset: log.logStartOffset });
      } else {
        const found = await log.offsetForTimestamp(timestamp);
        answers.push({ partition, error: ErrorCode.NONE, timestamp: found?.timestamp ?? -1, offset: found?.offset ?? -1 });
      }
    }
    results.push({ topic, partitions: answers });
  }
  const writer = new Writer()
    .int32(0)
    .array(results, (w, topic) =>
      w.string(topic.topic).array(topic.partitions, (pw, p) => pw.int32(p.partition).int16(p.error).int64(p.timestamp).int64(p.offset)),
    );
  return reply(writer);
}

function createTopics(request: Reader, { broker }: RequestContext): HandlerResult {
  const topics = request.array((r) => ({
    name: r.string(),
    partitions: r.int32(),
    replicationFactor: r.int16(),
    assignment: r.array((a) => ({ partition: a.int32(), replicas: a.array((x) => x.int32()) })),
    configs: r.array((c) => ({ name: c.string(), value: c.nullableString() })),
  }));
  request.int32(); // timeout: creation is immediate
  const validateOnly = request.boolean();
  const results = topics.map((topic) => {
    const fail = (error: ErrorCode, message: string) => ({ name: topic.name, error, message });
    const invalid = invalidTopicReason(topic.name);
    if (invalid) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, invalid);
    if (broker.topics.has(topic.name)) return fail(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${topic.name}' already exists.`);
    if (topic.assignment.length > 0 && (topic.partitions !== -1 || topic.replicationFactor !== -1)) {
      return fail(ErrorCode.INVALID_REQUEST, 'Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.');
    }
    const partitions = topic.assignment.length > 0 ? topic.assignment.length : topic.partitions === -1 ? broker.defaultPartitions : topic.partitions;
    if (partitions < 1) return fail(ErrorCode.INVALID_PARTITIONS, 'Number of partitions must be larger than 0.');
    if (topic.replicationFactor > 1) {
      return fail(ErrorCode.INVALID_REPLICATION_FACTOR, `Replication factor: ${topic.replicationFactor} larger than available brokers: 1.`);
    }
    if (topic.replicationFactor === 0 || topic.replicationFactor < -1) return fail(ErrorCode.INVALID_REPLICATION_FACTOR, 'Replication factor must be larger than 0.');
    if (!validateOnly) broker.topics.create(topic.name, partitions);
    return { name: topic.name, error: ErrorCode.NONE, message: null };
  });
  const writer = new Writer().int32(0).array(results, (w, r) => w.string(r.name).int16(r.error).string(r.message));
  return reply(writer);
}

function findCoordinator(request: Reader, { broker }: RequestContext): HandlerResult {
  request.string(); // coordinator key: one broker coordinates everything
  request.int8(); // coordinator type
  const writer = new Writer().int32(0).int16(ErrorCode.NONE).string(null).int32(NODE_ID).string(broker.host).int32(broker.port);
  return reply(writer);
}

async function joinGroup(request: Reader, { broker, session, clientId }: RequestContext): Promise<HandlerResult> {
  const joined = await broker.groups.join(
    {
      groupId: request.string(),
      sessionTimeoutMs: request.int32(),
      rebalanceTimeoutMs: request.int32(),
      memberId: request.string(),
      groupInstanceId: request.nullableString(),
      protocolType: request.string(),
      protocols: request.array((r) => ({ name: r.string(), metadata: Buffer.from(r.bytes()) })),
    },
    { clientId, clientHost: session.clientHost },
  );
  const writer = new Writer()
    .int32(0)
    .int16(joined.errorCode)
    .int32(joined.generationId)
    .string(joined.protocolName)
    .string(joined.leaderId)
    .string(joined.memberId)
    .array(joined.members, (w, m) => w.string(m.memberId).string(m.groupInstanceId).bytes(m.metadata));
  return reply(writer);
}

async function syncGroup(request: Reader, { broker }: RequestContext): Promise<HandlerResult> {
  const groupId = request.string();
  const generationId = request.int32();
  const memberId = request.string();
  request.nullableString(); // group instance id: static membership is not served
  const assignments = new Map(request.array((r) => [r.string(), Buffer.from(r.bytes())] as const));
  const synced = await broker.groups.sync(groupId, generationId, memberId, assignments);
  return reply(new Writer().int32(0).int16(synced.errorCode).bytes(synced.assignment));
}

function heartbeat(request: Reader, { broker }: RequestContext): HandlerResult {
  const groupId = request.string();
  const generationId = request.int32();
  const memberId = request.string();
  request.nullableString();
  return reply(new Writer().int32(0).int16(broker.groups.heartbeat(groupId, generationId, memberId)));
}

function leaveGroup(request: Reader, { broker }: RequestContext): HandlerResult {
  const groupId = request.string();
  const members = request.array((r) => ({ memberId: r.string(), groupInstanceId: r.nullableString() }));
  const results = members.map((m) => ({ ...m, error: broker.groups.leave(groupId, m.memberId) }));
  const writer = new Writer()
    .int32(0)
    .int16(ErrorCode.NONE)
    .array(results, (w, m) => w.string(m.memberId).string(m.groupInstanceId).int16(m.error));
  return reply(writer);
}

function offsetCommit(request: Reader, { broker }: RequestContext): HandlerResult {
  const groupId = request.string();
  const generationId = request.int32();
  const memberId = request.string();
  const topics = request.array((r) => ({
    topic: r.string(),
    partitions: r.array((p) => ({ partition: p.int32(), offset: p.int64(), metadata: p.nullableString() })),
  }));
  const groupError = broker.groups.checkCommit(groupId, generationId, memberId);
  const results = topics.map(({ topic, partitions }) => ({
    topic,
    partitions: partitions.map(({ partition, offset, metadata }) => {
      if (groupError !== ErrorCode.NONE) return { partition, error: groupError };
      if (!broker.topics.partition(topic, partition)) return { partition, error: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
      broker.groups.commit(groupId, topic, partition, { offset, metadata });
      return { partition, error: ErrorCode.NONE };
    }),
  }));
  const writer = new Writer()
    .int32(0)
    .array(results, (w, t) => w.string(t.topic).array(t.partitions, (pw, p) => pw.int32(p.partition).int16(p.error)));
  return reply(writer);
}

function offsetFetch(request: Reader, { broker }: RequestContext): HandlerResult {
  const groupId = request.string();
  const requested = request.nullableArray((r) => ({ topic: r.string(), partitions: r.array((p) => p.int32()) }));
  const committed = broker.groups.committed(groupId);
  const topics =
    requested ?? [...committed].map(([topic, partitions]) => ({ topic, partitions: [...partitions.keys()].sort((a, b) => a - b) }));
  const writer = new Writer()
    .int32(0)
    .array(topics, (w, { topic, partitions }) =>
      w.string(topic).array(partitions, (pw, partition) => {
        const offset = committed.get(topic)?.get(partition);
        pw.int32(partition)
          .int64(offset?.offset ?? -1)
          .string(offset?.metadata ?? '')
          .int16(ErrorCode.NONE);
      }),
    )
    .int16(ErrorCode.NONE);
  return reply(writer);
}

function describeGroups(request: Reader, { broker }: RequestContext): HandlerResult {
  const groups = request.array((r) => r.string()).map((id) => broker.groups.describe(id));
  const writer = new Writer().int32(0).array(groups, (w, g) =>
    w
      .int16(ErrorCode.NONE)
      .string(g.groupId)
      .string(g.state)
      .string(g.protocolType)
      .string(g.protocol)
      .array(g.members, (mw, m) => mw.string(m.memberId).string(m.clientId).string(m.clientHost).bytes(m.metadata).bytes(m.assignment)),
  );
  return reply(writer);
}

function saslHandshake(request: Reader, { broker, session }: RequestContext): HandlerResult {
  const mechanism = request.string();
  if (!broker.sasl || session.saslState !== 'start') {
    return reply(new Writer().int16(ErrorCode.ILLEGAL_SASL_STATE).array(broker.sasl ? ['PLAIN'] : [], (w, m) => w.string(m)), true);
  }
  if (mechanism !== 'PLAIN') return reply(new Writer().int16(ErrorCode.UNSUPPORTED_SASL_MECHANISM).array(['PLAIN'], (w, m) => w.string(m)), true);
  session.saslState = 'handshaken';
  return reply(new Writer().int16(ErrorCode.NONE).array(['PLAIN'], (w, m) => w.string(m)));
}

function saslAuthenticate(request: Reader, { broker, session }: RequestContext): HandlerResult {
  const token = request.bytes();
  const answer = (error: ErrorCode, message: string | null, close: boolean): HandlerResult =>
    reply(new Writer().int16(error).string(message).bytes(Buffer.alloc(0)).int64(0), close);
  if (!broker.sasl || session.saslState !== 'handshaken') {
    return answer(ErrorCode.ILLEGAL_SASL_STATE, 'Unexpected SaslAuthenticate request', true);
  }
  // RFC 4616: [authzid] NUL authcid NUL passwd
  const parts = token.toString('utf8').split('\u0000');
  const [authzid, username, password] = parts;
  const valid =
    parts.length === 3 &&
    username === broker.sasl.username &&
    password === broker.sasl.password &&
    (authzid === '' || authzid === username);
  if (!valid) return answer(ErrorCode.SASL_AUTHENTICATION_FAILED, 'Authentication failed: Invalid username or password', true);
  session.saslState = 'authenticated';
  return answer(ErrorCode.NONE, null, false);
}

export const HANDLERS: ReadonlyMap<number, Handler> = new Map<number, Handler>([
  [ApiKey.ApiVersions, apiVersions],
  [ApiKey.Metadata, metadata],
  [ApiKey.Produce, produce],
  [ApiKey.Fetch, fetch],
  [ApiKey.ListOffsets, listOffsets],
  [ApiKey.CreateTopics, createTopics],
  [ApiKey.FindCoordinator, findCoordinator],
  [ApiKey.JoinGroup, joinGroup],
  [ApiKey.SyncGroup, syncGroup],
  [ApiKey.Heartbeat, heartbeat],
  [ApiKey.LeaveGroup, leaveGroup],
  [ApiKey.OffsetCommit, offsetCommit],
  [ApiKey.OffsetFetch, offsetFetch],
  [ApiKey.DescribeGroups, describeGroups],
  [ApiKey.SaslHandshake, saslHandshake],
  [ApiKey.SaslAuthenticate, saslAuthenticate],
]);
