/**
 * A single-broker Kafka cluster (node id 0) speaking the wire protocol on loopback, for tests only. Unmodified
 * kafkajs producers, consumers and admin clients work against it: see protocol.ts for the API versions served.
 *
 * Like a real broker it reads one request per connection at a time and answers in order (Kafka mutes a channel
 * while a request is in flight), closes connections that skip SASL on a SASL listener, and keeps consumer-group
 * state across connections, so dropping every connection exercises the clients' reconnect paths.
 */
import net from 'node:net';
import { GroupCoordinator, type CommittedOffset, type GroupDescription } from './group.js';
import { HANDLERS, unsupportedApiVersions, type BrokerContext, type PeerCredentials, type Session } from './handlers.js';
import { ApiKey, PRE_AUTH_KEYS, SERVED_VERSIONS } from './protocol.js';
import { Topics } from './topics.js';
import { MalformedRequestError, Reader } from './wire.js';

export interface KafkaPeerOptions {
  /** Listen address; the peer advertises it in metadata. */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** When set, every connection must authenticate with SASL PLAIN and these credentials. */
  sasl?: PeerCredentials;
  /** Kafka's auto.create.topics.enable (default true). */
  autoCreateTopics?: boolean;
  /** Kafka's num.partitions for auto-created topics (default 1). */
  defaultPartitions?: number;
  /** Kafka's group.initial.rebalance.delay.ms (default 0 here, so single-member tests are quick). */
  initialRebalanceDelayMs?: number;
  /** Kafka's group.min.session.timeout.ms (default 6000). */
  minSessionTimeoutMs?: number;
  /** Kafka's group.max.session.timeout.ms (default 1800000). */
  maxSessionTimeoutMs?: number;
  /** Diagnostics (protocol violations, dropped connections). */
  log?: (message: string) => void;
}

const MAX_FRAME_BYTES = 100 * 1024 * 1024;

export class KafkaPeer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly topics = new Topics();
  private readonly groups: GroupCoordinator;
  private readonly log: (message: string) => void;
  /** Unexpected failures inside the peer (bugs); tests assert this stays empty. */
  readonly internalErrors: Error[] = [];
  private context: BrokerContext | undefined;

  private constructor(private readonly options: KafkaPeerOptions) {
    this.groups = new GroupCoordinator({
      minSessionTimeoutMs: options.minSessionTimeoutMs ?? 6_000,
      maxSessionTimeoutMs: options.maxSessionTimeoutMs ?? 1_800_000,
      initialRebalanceDelayMs: options.initialRebalanceDelayMs ?? 0,
    });
    this.log = options.log ?? (() => undefined);
    this.server = net.createServer((socket) => this.accept(socket));
  }

  static async start(options: KafkaPeerOptions = {}): Promise<KafkaPeer> {
    const peer = new KafkaPeer(options);
    const host = options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      peer.server.once('error', reject);
      peer.server.listen(options.port ?? 0, host, () => {
        peer.server.off('error', reject);
        resolve();
      });
    });
    const address = peer.server.address() as net.AddressInfo;
    peer.context = {
      topics: peer.topics,
      groups: peer.groups,
      host,
      port: address.port,
      autoCreateTopics: options.autoCreateTopics ?? true,
      defaultPartitions: options.defaultPartitions ?? 1,
      sasl: options.sasl,
    };
    return peer;
  }

  get port(): number {
    return this.broker.port;
  }

  /** The bootstrap list for a client: `['127.0.0.1:<port>']`. */
  get brokers(): string[] {
    return [`${this.broker.host}:${this.broker.port}`];
  }

  createTopic(name: string, partitions: number): void {
    this.topics.create(name, partitions);
  }

  /** High-water mark (next offset) of every partition of a topic. */
  highWatermarks(topic: string): number[] {
    const partitions = this.topics.partitions(topic);
    if (!partitions) throw new RangeError(`unknown topic ${topic}`);
    return partitions.map((log) => log.highWatermark);
  }

  /** Record batches stored per partition of a topic (one per produce request and partition). */
  batchCounts(topic: string): number[] {
    const partitions = this.topics.partitions(topic);
    if (!partitions) throw new RangeError(`unknown topic ${topic}`);
    return partitions.map((log) => log.batchCount);
  }

  committedOffsets(groupId: string): ReadonlyMap<string, ReadonlyMap<number, CommittedOffset>> {
    return this.groups.committed(groupId);
  }

  describeGroup(groupId: string): GroupDescription {
    return this.groups.describe(groupId);
  }

  /** Closes every client connection at once, as a broker restart or network blip would. */
  dropConnections(): void {
    this.log(`dropping ${this.sockets.size} connections`);
    for (const socket of this.sockets) socket.destroy();
  }

  async close(): Promise<void> {
    this.groups.shutdown();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private get broker(): BrokerContext {
    if (!this.context) throw new Error('KafkaPeer is not started');
    return this.context;
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const abort = new AbortController();
    const session: Session = {
      clientHost: `/${socket.remoteAddress ?? '127.0.0.1'}`,
      saslState: this.broker.sasl ? 'start' : 'authenticated',
      closed: abort.signal,
    };
    let pending: Buffer = Buffer.alloc(0);
    let queue = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 4) {
        const size = pending.readInt32BE(0);
        if (size < 0 || size > MAX_FRAME_BYTES) {
          this.log(`closing connection: frame size ${size} out of range`);
          socket.destroy();
          return;
        }
        if (pending.length < 4 + size) break;
        const frame = pending.subarray(4, 4 + size);
        pending = pending.subarray(4 + size);
        queue = queue.then(() => this.serve(frame, session, socket));
      }
    });
    socket.on('close', () => {
      this.sockets.delete(socket);
      abort.abort();
    });
    socket.on('error', (error) => this.log(`socket error: ${error.message}`));
  }

  private async serve(frame: Buffer, session: Session, socket: net.Socket): Promise<void> {
    if (socket.destroyed) return;
    try {
      const request = new Reader(frame);
      const apiKey = request.int16();
      const apiVersion = request.int16();
      const correlationId = request.int32();
      const clientId = request.nullableString() ?? '';
      if (session.saslState !== 'authenticated' && !PRE_AUTH_KEYS.has(apiKey)) {
        this.log(`closing connection: api key ${apiKey} before SASL authentication`);
        socket.destroy();
        return;
      }
      const served = SERVED_VERSIONS.get(apiKey);
      if (apiKey === ApiKey.ApiVersions && apiVersion !== served) {
        this.send(socket, correlationId, unsupportedApiVersions());
        return;
      }
      const handler = HANDLERS.get(apiKey);
      if (!handler || apiVersion !== served) {
        this.log(`closing connection: unsupported api key ${apiKey} v${apiVersion}`);
        socket.destroy();
        return;
      }
      const result = await handler(request, { broker: this.broker, session, clientId });
      if (result.body !== null) this.send(socket, correlationId, result.body);
      if (result.close) socket.end();
    } catch (error) {
      // A malformed request is the client's fault; anything else is a bug in the peer, kept for tests to assert on.
      if (!(error instanceof MalformedRequestError)) this.internalErrors.push(error instanceof Error ? error : new Error(String(error)));
      this.log(`closing connection: ${error instanceof Error ? error.message : String(error)}`);
      socket.destroy();
    }
  }

  private send(socket: net.Socket, correlationId: number, body: Buffer): void {
    if (socket.destroyed) return;
    const header = Buffer.alloc(8);
    header.writeInt32BE(4 + body.length, 0);
    header.writeInt32BE(correlationId, 4);
    socket.write(Buffer.concat([header, body]));
  }
}
