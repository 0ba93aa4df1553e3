/**
 * Starts one real Apache Kafka broker (a KRaft node that is its own controller) as a Java child process, and the
 * handle tests use to reach it. See index.ts for the API in one place.
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel, type Admin, type KafkaConfig, type SASLOptions } from 'kafkajs';
import { loggingConfig, serverProperties, type ListenerPorts } from './config-files.js';
import { KAFKA_DISTRIBUTIONS, type KafkaLine } from './distributions.js';
import { cachedLib, fetchKafka, kafkaCacheDir } from './maven.js';
import { unsecuredJws } from './oauth.js';
import { brokerTls } from './tls.js';
import { probeToolchain } from './toolchain.js';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

export type ListenerName = 'plaintext' | 'saslPlain' | 'saslSsl' | 'oauthbearer';

/** Everything a client needs to reach the broker; plain data, so it can be shared between test processes as JSON. */
export interface KafkaBrokerInfo {
  line: KafkaLine;
  kafkaVersion: string;
  pid: number;
  /** the broker's own temporary folder: data, logs, TLS material */
  dir: string;
  dataDir: string;
  /** the broker's log (INFO): group coordinator lines among them */
  serverLog: string;
  /** kafka.request.logger at DEBUG, only JoinGroup, SyncGroup, LeaveGroup and OffsetCommit requests */
  requestLog: string;
  /** milliseconds from launch (storage formatted, TLS made) to the first successful admin call on every listener */
  startMs: number;
  listeners: {
    plaintext: { brokers: string[] };
    /** SASL_PLAINTEXT, mechanism PLAIN, the Event Hubs convention: user `$ConnectionString`, password a connection string */
    saslPlain: { brokers: string[]; username: string; password: string };
    /** SASL_SSL, PLAIN as above; the broker's certificate is signed by `caPem` (also written to `caFile`) */
    saslSsl: { brokers: string[]; username: string; password: string; caFile: string; caPem: string };
    /** SASL_PLAINTEXT, mechanism OAUTHBEARER, Kafka's unsecured validator: any unsigned JWS with `sub` and a future `exp` */
    oauthbearer: { brokers: string[] };
  };
}

export interface StartKafkaBrokerOptions {
  /** '3.9' (default) or '4' */
  line?: KafkaLine;
  /** how long to wait for the broker to answer; default 120 s (the machine may be busy) */
  startTimeoutMs?: number;
  /** heap; default 512m */
  heap?: string;
  /** where the broker's folder goes; default the OS temp folder */
  parentDir?: string;
  /** spawn the JVM detached, so it outlives this process (the suite-wide broker); default false */
  detached?: boolean;
  /** progress lines (Maven fetch, start) */
  log?: (line: string) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function freePorts(count: number): Promise<number[]> {
  // Hold every socket until all are bound, so the same port is never handed out twice.
  const servers = await Promise.all(
    Array.from({ length: count }, () =>
      new Promise<net.Server>((resolve, reject) => {
        const server = net.createServer();
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve(server));
      }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function tail(file: string, chars = 4000): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.slice(-chars);
}

function runJava(java: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(java, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`java ${args.slice(-4).join(' ')} exited ${code}:\n${output.slice(-4000)}`))));
  });
}

/** Fetches (if needed), configures and starts a broker; resolves once a kafkajs admin call succeeds on every listener. */
export async function launchKafkaBroker(options: StartKafkaBrokerOptions = {}): Promise<KafkaBrokerInfo> {
  const distribution = KAFKA_DISTRIBUTIONS[options.line ?? '3.9'];
  const log = options.log ?? (() => undefined);
  const cacheDir = kafkaCacheDir();
  const cached = await cachedLib(cacheDir, distribution);
  const probe = probeToolchain({ needMaven: !cached });
  if (!probe.ok) throw new Error(`cannot start Kafka ${distribution.kafkaVersion}: ${probe.reason}`);
  const { java, keytool, mvn } = probe.toolchain;
  let lib = cached;
  if (!lib) {
    log(`fetching Kafka ${distribution.kafkaVersion} with Maven into ${cacheDir}`);
    lib = await fetchKafka(distribution, { cacheDir, mvn: mvn! });
  }

  const parent = options.parentDir ?? os.tmpdir();
  await mkdir(parent, { recursive: true });
  const dir = await mkdtemp(path.join(parent, `tributary-kafka-${distribution.line}-`));
  try {
    return await launchIn(dir, { distribution, java, keytool, lib, options });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function launchIn(
  dir: string,
  context: { distribution: (typeof KAFKA_DISTRIBUTIONS)[KafkaLine]; java: string; keytool: string; lib: string; options: StartKafkaBrokerOptions },
): Promise<KafkaBrokerInfo> {
  const { distribution, java, keytool, lib, options } = context;
  const started = Date.now();
  const dataDir = path.join(dir, 'data');
  await mkdir(dataDir);
  const [plaintext, saslPlaintext, saslSsl, oauthbearer, controller] = await freePorts(5);
  const ports: ListenerPorts = { plaintext: plaintext!, saslPlaintext: saslPlaintext!, saslSsl: saslSsl!, oauthbearer: oauthbearer!, controller: controller! };
  const plain = {
    username: '$ConnectionString',
    password: `Endpoint=sb://tributary-test.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=${randomBytes(24).toString('base64')}`,
  };
  const serverLog = path.join(dir, 'server.log');
  const requestLog = path.join(dir, 'requests.log');
  const logging = loggingConfig(distribution, { serverLog, requestLog });
  const loggingFile = path.join(dir, logging.file);
  await writeFile(loggingFile, logging.text);
  const classPath = path.join(lib, '*');
  const jvm = [`-Xmx${options.heap ?? '512m'}`, '-Xms64m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Djava.awt.headless=true', `${logging.systemProperty}${loggingFile}`];

  const tls = await brokerTls(kafkaCacheDir(), keytool);
  const propertiesFile = path.join(dir, 'server.properties');
  await writeFile(propertiesFile, serverProperties({ ports, dataDir, plain, tls }));
  // Kafka's own Uuid.randomUuid() draws again when the id starts with '-': kafka-storage's argument parser takes
  // such an id for an option ("argument --cluster-id/-t: expected one argument"), one start in 64.
  let clusterId: string;
  do clusterId = Buffer.from(randomUUID().replace(/-/g, ''), 'hex').toString('base64url');
  while (clusterId.startsWith('-'));
  await runJava(java, [...jvm, '-cp', classPath, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', propertiesFile], dir);

  const stdout = openSync(path.join(dir, 'stdout.log'), 'a');
  const child = spawn(java, [...jvm, '-cp', classPath, 'kafka.Kafka', propertiesFile], {
    cwd: dir,
    detached: Boolean(options.detached),
    stdio: ['ignore', stdout, stdout],
  });
  closeSync(stdout);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${java}`);
  let exited: string | undefined;
  child.once('exit', (code, signal) => (exited = signal ?? `exit ${code}`));
  if (options.detached) child.unref();

  const at = (port: number): string[] => [`127.0.0.1:${port}`];
  const info: KafkaBrokerInfo = {
    line: distribution.line,
    kafkaVersion: distribution.kafkaVersion,
    pid,
    dir,
    dataDir,
    serverLog,
    requestLog,
    startMs: 0,
    listeners: {
      plaintext: { brokers: at(ports.plaintext) },
      saslPlain: { brokers: at(ports.saslPlaintext), ...plain },
      saslSsl: { brokers: at(ports.saslSsl), ...plain, caFile: tls.caFile, caPem: tls.caPem },
      oauthbearer: { brokers: at(ports.oauthbearer) },
    },
  };
  const deadline = started + (options.startTimeoutMs ?? 120_000);
  try {
    const listeners: ListenerName[] = ['plaintext', 'saslPlain', 'saslSsl', 'oauthbearer'];
    await Promise.all(
      listeners.map(async (listener) => {
        for (;;) {
          if (exited) throw new Error(`Kafka ${distribution.kafkaVersion} exited (${exited}) while starting; its log:\n${await tail(serverLog)}\n${await tail(path.join(dir, 'stdout.log'))}`);
          if (Date.now() > deadline) throw new Error(`Kafka ${distribution.kafkaVersion} did not answer on ${listener} within ${options.startTimeoutMs ?? 120_000} ms; its log:\n${await tail(serverLog)}`);
          const admin = new Kafka({ ...clientConfig(info, listener), connectionTimeout: 2_000, retry: { retries: 0 } }).admin();
          try {
            await admin.connect();
            await admin.describeCluster();
            return;
          } catch {
            await sleep(250);
          } finally {
            await admin.disconnect().catch(() => undefined);
          }
        }
      }),
    );
    // The first FindCoordinator creates __consumer_offsets; a fresh broker answers COORDINATOR_NOT_AVAILABLE until
    // it exists, which clients with short retry budgets (the tests') would take for a failure. Ready includes it.
    const admin = new Kafka({ ...clientConfig(info, 'plaintext'), retry: { retries: 0 } }).admin();
    await admin.connect();
    try {
      for (;;) {
        if (Date.now() > deadline) throw new Error(`Kafka ${distribution.kafkaVersion} has no group coordinator within ${options.startTimeoutMs ?? 120_000} ms`);
        const ok = await admin.describeGroups(['tributary-warm-up']).then(() => true, () => false);
        if (ok) break;
        await sleep(250);
      }
    } finally {
      await admin.disconnect();
    }
  } catch (error) {
    await stopProcess(pid);
    throw error;
  }
  info.startMs = Date.now() - started;
  options.log?.(`Kafka ${distribution.kafkaVersion} ready in ${info.startMs} ms (pid ${pid}, ${dir})`);
  return info;
}

/** SIGTERM (Kafka's controlled shutdown), then SIGKILL if it is still there after `graceMs`. */
export async function stopProcess(pid: number, graceMs = 5_000): Promise<void> {
  if (!alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(100);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
  while (alive(pid)) await sleep(50);
}

/** Stops the broker's process and removes its folder. */
export async function destroyKafkaBroker(info: KafkaBrokerInfo): Promise<void> {
  await stopProcess(info.pid);
  await rm(info.dir, { recursive: true, force: true });
}

/** A kafkajs client config for one listener (credentials, CA, an unsecured OAUTHBEARER token for `sub`). */
export function clientConfig(info: KafkaBrokerInfo, listener: ListenerName, oauthSubject = 'tributary-test'): KafkaConfig {
  const base: KafkaConfig = { brokers: info.listeners[listener].brokers, clientId: 'kafka-broker-fixture', logLevel: logLevel.NOTHING };
  switch (listener) {
    case 'plaintext':
      return base;
    case 'saslPlain': {
      const { username, password } = info.listeners.saslPlain;
      return { ...base, sasl: { mechanism: 'plain', username, password } };
    }
    case 'saslSsl': {
      const { username, password, caPem } = info.listeners.saslSsl;
      return { ...base, ssl: { ca: [caPem] }, sasl: { mechanism: 'plain', username, password } };
    }
    case 'oauthbearer': {
      const sasl: SASLOptions = { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: unsecuredJws({ sub: oauthSubject }) }) };
      return { ...base, sasl };
    }
  }
}

export interface LoggedOffsetCommit {
  topic: string;
  partition: number;
  offset: number;
  /** the broker's answer for this partition: 0 when it took the commit */
  errorCode: number;
  memberId: string;
  /** who the broker authenticated, e.g. "User:$ConnectionString" */
  principal: string;
  listener: string;
}

/** The parts of a kafka.request.logger "Completed request" line read here (OffsetCommit v2+). */
interface RequestLogEntry {
  request: { groupId?: string; memberId?: string; topics?: Array<{ name: string; partitions: Array<{ partitionIndex: number; committedOffset: number }> }> };
  response: { topics?: Array<{ name: string; partitions: Array<{ partitionIndex: number; errorCode: number }> }> };
  principal: string;
  listener: string;
}

export interface GroupSummary {
  state: string;
  members: Array<{ memberId: string; clientId: string; clientHost: string }>;
}

/**
 * A running broker, seen from a test: its listeners and credentials, and admin helpers (on the PLAINTEXT
 * listener) for what tests check. `close()` releases the helper's connection; it does not stop the broker.
 */
export class KafkaBroker {
  private adminClient: Promise<Admin> | undefined;
  private counter = 0;

  constructor(readonly info: KafkaBrokerInfo) {}

  get line(): KafkaLine {
    return this.info.line;
  }

  get version(): string {
    return this.info.kafkaVersion;
  }

  /** the PLAINTEXT bootstrap list */
  get brokers(): string[] {
    return this.info.listeners.plaintext.brokers;
  }

  get listeners(): KafkaBrokerInfo['listeners'] {
    return this.info.listeners;
  }

  clientConfig(listener: ListenerName = 'plaintext', extra: Partial<KafkaConfig> = {}): KafkaConfig {
    return { ...clientConfig(this.info, listener), ...extra };
  }

  /** A name no other test on this (possibly shared) broker uses: topics and group ids. */
  uniqueName(prefix: string): string {
    return `${prefix}-${process.pid}-${++this.counter}-${randomBytes(3).toString('hex')}`;
  }

  async admin(): Promise<Admin> {
    this.adminClient ??= (async () => {
      const admin = new Kafka(this.clientConfig('plaintext', { clientId: 'test-admin' })).admin();
      await admin.connect();
      return admin;
    })();
    return this.adminClient;
  }

  /** Creates a topic and returns once its leader answers ListOffsets for every partition. */
  async createTopic(topic: string, partitions: number): Promise<void> {
    const admin = await this.admin();
    const created = await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: false });
    if (!created) throw new Error(`topic ${topic} exists already`);
    // CreateTopics returns once the controller has the topic; the broker's metadata image follows a moment later
    // (Kafka 4.x answers UNKNOWN_TOPIC_OR_PARTITION, then NOT_LEADER_OR_FOLLOWER, in between), and kafkajs's
    // waitForLeaders waits out neither. A test's first produce or lag lookup should not race it.
    let last: unknown;
    for (let attempt = 0; attempt < 100; attempt++) {
      try {
        const offsets = await admin.fetchTopicOffsets(topic);
        if (offsets.length === partitions) return;
      } catch (error) {
        last = error;
      }
      await sleep(100);
    }
    throw new Error(`topic ${topic} did not become readable after creation`, { cause: last });
  }

  /** High watermark (next offset) of every partition, in partition order. */
  async highWatermarks(topic: string): Promise<number[]> {
    const admin = await this.admin();
    // A topic created a moment ago (by the code under test) may still answer NOT_LEADER_OR_FOLLOWER; that is the
    // broker settling, retried as kafkajs's own clients do, not an answer.
    for (let attempt = 0; ; attempt++) {
      try {
        const offsets = await admin.fetchTopicOffsets(topic);
        return offsets.sort((a, b) => a.partition - b.partition).map((o) => Number(o.high));
      } catch (error) {
        if ((error as { retriable?: unknown }).retriable !== true || attempt >= 50) throw error;
        await sleep(100);
      }
    }
  }

  /** The group's committed offset per partition of a topic; partitions without a commit are left out. */
  async committedOffsets(groupId: string, topic: string): Promise<Map<number, number>> {
    const [result] = await (await this.admin()).fetchOffsets({ groupId, topics: [topic] });
    const committed = new Map<number, number>();
    for (const p of result?.partitions ?? []) if (Number(p.offset) >= 0) committed.set(p.partition, Number(p.offset));
    return committed;
  }

  async describeGroup(groupId: string): Promise<GroupSummary> {
    const { groups } = await (await this.admin()).describeGroups([groupId]);
    const group = groups[0]!;
    return { state: group.state, members: group.members.map((m) => ({ memberId: m.memberId, clientId: m.clientId, clientHost: m.clientHost })) };
  }

  /**
   * Record batches the broker stored per partition, read from its log segments (each batch starts with its base
   * offset, int64, and its length, int32): how many produce requests' worth of batches a partition holds.
   */
  async batchCounts(topic: string): Promise<number[]> {
    const partitions = (await this.highWatermarks(topic)).length;
    const counts: number[] = [];
    for (let p = 0; p < partitions; p++) {
      const folder = path.join(this.info.dataDir, `${topic}-${p}`);
      let count = 0;
      for (const name of (await readdir(folder)).filter((n) => n.endsWith('.log')).sort()) {
        const bytes = await readFile(path.join(folder, name));
        for (let at = 0; at + 12 <= bytes.length; ) {
          const length = bytes.readInt32BE(at + 8);
          if (length <= 0) break;
          count++;
          at += 12 + length;
        }
      }
      counts.push(count);
    }
    return counts;
  }

  async serverLog(): Promise<string> {
    return readFile(this.info.serverLog, 'utf8');
  }

  async requestLog(): Promise<string> {
    return readFile(this.info.requestLog, 'utf8').catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? '' : Promise.reject(error)));
  }

  /**
   * The group's stable generations as the broker's group coordinator logged them ("Stabilized group G generation
   * N ... with M members"), in order. The wording is the same in Kafka 3.9 and 4.x.
   */
  async groupGenerations(groupId: string): Promise<Array<{ generation: number; members: number }>> {
    const pattern = /Stabilized group (\S+) generation (\d+)(?: \([^)]*\))? with (\d+) members/;
    const generations: Array<{ generation: number; members: number }> = [];
    for (const line of (await this.serverLog()).split('\n')) {
      const match = pattern.exec(line);
      if (match && match[1] === groupId) generations.push({ generation: Number(match[2]), members: Number(match[3]) });
    }
    return generations;
  }

  /** The group's OffsetCommit requests as the broker's request log recorded them, one entry per partition, in order. */
  async offsetCommits(groupId: string): Promise<LoggedOffsetCommit[]> {
    const commits: LoggedOffsetCommit[] = [];
    for (const line of (await this.requestLog()).split('\n')) {
      const at = line.indexOf('Completed request:');
      if (at < 0 || !line.includes('"requestApiKey":8,')) continue;
      const json = line.slice(at + 'Completed request:'.length, line.lastIndexOf('}') + 1);
      const entry = JSON.parse(json) as RequestLogEntry;
      if (entry.request.groupId !== groupId) continue;
      for (const topic of entry.request.topics ?? []) {
        for (const partition of topic.partitions) {
          const answer = entry.response.topics?.find((t) => t.name === topic.name)?.partitions.find((p) => p.partitionIndex === partition.partitionIndex);
          commits.push({
            topic: topic.name,
            partition: partition.partitionIndex,
            offset: partition.committedOffset,
            errorCode: answer?.errorCode ?? -1,
            memberId: entry.request.memberId ?? '',
            principal: entry.principal,
            listener: entry.listener,
          });
        }
      }
    }
    return commits;
  }

  /** A Tributary `source` fragment (brokers, tls, sasl) for one listener. OAUTHBEARER reads its token from `tokenFile`. */
  sourceFields(listener: ListenerName, options: { passwordEnv?: string; tokenFile?: string } = {}): Record<string, unknown> {
    const l = this.info.listeners;
    switch (listener) {
      case 'plaintext':
        return { brokers: l.plaintext.brokers };
      case 'saslPlain':
        return {
          brokers: l.saslPlain.brokers,
          sasl: { mechanism: 'plain', username: l.saslPlain.username, ...(options.passwordEnv ? { passwordEnv: options.passwordEnv } : { password: l.saslPlain.password }) },
        };
      case 'saslSsl':
        return {
          brokers: l.saslSsl.brokers,
          tls: { caFile: l.saslSsl.caFile },
          sasl: { mechanism: 'plain', username: l.saslSsl.username, ...(options.passwordEnv ? { passwordEnv: options.passwordEnv } : { password: l.saslSsl.password }) },
        };
      case 'oauthbearer':
        if (!options.tokenFile) throw new Error('sourceFields("oauthbearer") needs a tokenFile (write one with writeUnsecuredToken)');
        return { brokers: l.oauthbearer.brokers, sasl: { mechanism: 'oauthbearer', tokenFile: options.tokenFile } };
    }
  }

  async close(): Promise<void> {
    const admin = this.adminClient;
    this.adminClient = undefined;
    if (admin) await (await admin).disconnect();
  }
}

/** A broker this process started and owns: `stop()` ends it and removes its files. */
export class OwnedKafkaBroker extends KafkaBroker {
  async stop(): Promise<void> {
    await this.close();
    await destroyKafkaBroker(this.info);
  }
}

/** Starts a broker of your own (the shared suite-wide one is `useKafkaBroker` in fixture.ts). */
export async function startKafkaBroker(options: StartKafkaBrokerOptions = {}): Promise<OwnedKafkaBroker> {
  return new OwnedKafkaBroker(await launchKafkaBroker(options));
}
