/**
 * An Event Hubs namespace on loopback, speaking enough AMQP 1.0 (on `rhea`) that the unmodified
 * `@azure/event-hubs` producer and consumer clients do their real work against it:
 *
 * - SASL ANONYMOUS, then a CBS `put-token` on `$cbs` before each link (always granted);
 * - `$management` READ of `com.microsoft:eventhub` and `com.microsoft:partition`;
 * - sends to `<hub>` (partition key -> partition with the service's hash, otherwise round robin) or to
 *   `<hub>/Partitions/<id>`, in the SDK's batch format, unpacked into single events;
 * - receive links on `<hub>/ConsumerGroups/<group>/Partitions/<id>` with the offset / sequence number /
 *   enqueued time start filters, link credit, owner level (epoch) takeover, and the service's annotations
 *   (`x-opt-sequence-number`, `x-opt-offset`, `x-opt-enqueued-time`, `x-opt-partition-key`);
 * - faults on demand: drop every connection (`dropConnections`) or every entity link (`dropLinks`).
 *
 * The behaviour follows the service as documented and as Azure's own mock-hub (azure-sdk-for-js
 * sdk/eventhub/mock-hub) models it. Test-only code: it keeps everything in memory.
 */
import type { AddressInfo, Server, Socket } from 'node:net';
import rhea, { type Connection, type Delivery, type EventContext, type Message, type Receiver, type Sender } from 'rhea';
import { mapPartitionKeyToId } from '../../../src/partition/eventhubs-hash.js';
import { unpackTransfer } from './batch.js';
import { PartitionLog, type PartitionProperties, type StoredEvent } from './partition-log.js';
import { FilterError, parseStartFilter, type StartPredicate } from './start-filter.js';

export interface HubOptions {
  partitionCount: number;
  /** Consumer groups besides `$default` (names compare case-insensitively, as on the service). */
  consumerGroups?: string[];
}

export interface EventHubsPeerOptions {
  /** Hub name -> shape. Default: one hub `hub` with 4 partitions. */
  hubs?: Record<string, HubOptions>;
  /** Largest transfer accepted on a send link, advertised as the links' max-message-size. Default 1 MiB. */
  maxMessageSize?: number;
  /** Clock for enqueued times, so tests can place events in time without sleeping. Default Date.now. */
  now?: () => number;
}

export interface PeerEvent {
  sequenceNumber: number;
  offset: string;
  enqueuedTimeMs: number;
  partitionKey: string | null;
  body: Buffer;
  properties: Record<string, unknown>;
}

export interface ConsumerInfo {
  hub: string;
  consumerGroup: string;
  partitionId: string;
  ownerLevel: number | undefined;
  /** events sent on this link so far (bounded by the credit the client granted) */
  sent: number;
}

export interface PublishInput {
  body: Uint8Array | string;
  partitionKey?: string;
  properties?: Record<string, string | number | boolean>;
}

interface Hub {
  name: string;
  createdAt: Date;
  partitions: PartitionLog[];
  consumerGroups: Set<string>;
  nextRoundRobin: number;
}

interface ConsumerLink {
  sender: Sender;
  hub: Hub;
  consumerGroup: string;
  log: PartitionLog;
  ownerLevel: number | undefined;
  predicate: StartPredicate;
  /** Index of the next event in the log to look at. */
  cursor: number;
  /** True once the first event at or after the start position was found. */
  started: boolean;
  runtimeMetric: boolean;
  sent: number;
  unsubscribe: () => void;
}

const ONE_MIB = 1024 * 1024;
const EPOCH_PROPERTY = 'com.microsoft:epoch';
const RUNTIME_METRIC_CAPABILITY = 'com.microsoft:enable-receiver-runtime-metric';
const SELECTOR_FILTER = 'apache.org:selector-filter:string';

export class EventHubsPeer {
  readonly host = '127.0.0.1';
  /** Conditions of errors the peer saw on its side (client detaches with errors, socket errors). */
  readonly observedErrors: string[] = [];
  private readonly hubs = new Map<string, Hub>();
  private readonly consumers = new Set<ConsumerLink>();
  private readonly producers = new Set<Receiver>();
  private readonly connections = new Set<Connection>();
  private readonly sockets = new Set<Socket>();
  private readonly container = rhea.create_container({ id: 'tributary-eventhubs-peer' });
  private readonly maxMessageSize: number;
  private server: Server | undefined;
  private counters = { connections: 0, consumerAttaches: 0, producerAttaches: 0 };
  private refuseTokens = false;

  private constructor(options: EventHubsPeerOptions) {
    const now = options.now ?? Date.now;
    this.maxMessageSize = options.maxMessageSize ?? ONE_MIB;
    for (const [name, shape] of Object.entries(options.hubs ?? { hub: { partitionCount: 4 } })) {
      if (!Number.isInteger(shape.partitionCount) || shape.partitionCount < 1) {
        throw new RangeError(`hub ${name}: partitionCount must be a positive integer`);
      }
      this.hubs.set(name, {
        name,
        createdAt: new Date(now()),
        partitions: Array.from({ length: shape.partitionCount }, (_, i) => new PartitionLog(String(i), now)),
        consumerGroups: new Set(['$default', ...(shape.consumerGroups ?? [])].map((g) => g.toLowerCase())),
        nextRoundRobin: 0,
      });
    }
  }

  static async start(options: EventHubsPeerOptions = {}): Promise<EventHubsPeer> {
    const peer = new EventHubsPeer(options);
    await peer.listen();
    return peer;
  }

  get port(): number {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (!address) throw new Error('the peer is not listening');
    return address.port;
  }

  get endpoint(): string {
    return `sb://${this.host}:${this.port}`;
  }

  /** A connection string the SDK accepts: plain TCP to this peer (`UseDevelopmentEmulator=true`). */
  connectionString(hub: string): string {
    this.hubOrThrow(hub);
    return `Endpoint=${this.endpoint};SharedAccessKeyName=peer;SharedAccessKey=peer-key;EntityPath=${hub};UseDevelopmentEmulator=true`;
  }

  /** A namespace-level connection string (no EntityPath), for clients that name the hub themselves. */
  namespaceConnectionString(): string {
    return `Endpoint=${this.endpoint};SharedAccessKeyName=peer;SharedAccessKey=peer-key;UseDevelopmentEmulator=true`;
  }

  /** The events stored in one partition, with the annotations the service stamped. */
  events(hub: string, partitionId: string): PeerEvent[] {
    return this.logOrThrow(hub, partitionId).events.map(toPeerEvent);
  }

  partitionProperties(hub: string, partitionId: string): PartitionProperties {
    return this.logOrThrow(hub, partitionId).properties();
  }

  /** Appends events as if a producer had sent them (routing by key, or to `partitionId` when given). */
  publish(hub: string, events: PublishInput[], partitionId?: string): StoredEvent[] {
    const target = this.hubOrThrow(hub);
    return events.map((input) => {
      const message: Message = {
        body: rhea.message.data_section(Buffer.from(input.body)),
        application_properties: input.properties ?? {},
        message_annotations: input.partitionKey ? { 'x-opt-partition-key': input.partitionKey } : {},
      };
      const size = rhea.message.encode(message).length;
      const key = input.partitionKey ?? null;
      const log = partitionId !== undefined ? this.logOrThrow(hub, partitionId) : this.route(target, key);
      return log.append(message, size, key);
    });
  }

  /** From now on answer every CBS put-token with 401, as the service does for a bad key or a missing role. */
  denyTokens(deny = true): void {
    this.refuseTokens = deny;
  }

  /** How many connections and entity links were ever accepted: a test waits on these to see a client come back. */
  stats(): { connections: number; consumerAttaches: number; producerAttaches: number } {
    return { ...this.counters };
  }

  /** Receive links currently open (consumers), for assertions about ownership and epochs. */
  activeConsumers(): ConsumerInfo[] {
    return [...this.consumers].map((c) => ({
      hub: c.hub.name,
      consumerGroup: c.consumerGroup,
      partitionId: c.log.partitionId,
      ownerLevel: c.ownerLevel,
      sent: c.sent,
    }));
  }

  /**
   * Drops every client connection. By default like the service does on a failover (an AMQP close with
   * `amqp:connection:forced`); with `abrupt` the TCP sockets are destroyed without a word.
   */
  dropConnections(options: { abrupt?: boolean } = {}): number {
    const count = this.connections.size;
    if (options.abrupt) {
      for (const socket of this.sockets) socket.destroy();
    } else {
      for (const connection of [...this.connections]) {
        // Nothing more goes out on a connection the service is closing.
        this.forgetConnection(connection);
        connection.close({ condition: 'amqp:connection:forced', description: 'The connection was closed by the test peer.' });
      }
    }
    return count;
  }

  /** Detaches every entity link (receivers of events and senders of events) with `amqp:link:detach-forced`. */
  dropLinks(filter: { hub?: string; partitionId?: string } = {}): number {
    let count = 0;
    const error = { condition: 'amqp:link:detach-forced', description: 'The link was detached by the test peer.' };
    for (const consumer of [...this.consumers]) {
      if (filter.hub !== undefined && consumer.hub.name !== filter.hub) continue;
      if (filter.partitionId !== undefined && consumer.log.partitionId !== filter.partitionId) continue;
      this.closeConsumer(consumer, error);
      count++;
    }
    for (const producer of [...this.producers]) {
      const target = parseSendAddress(producer.target?.address ?? '');
      if (filter.hub !== undefined && target?.hub !== filter.hub) continue;
      if (filter.partitionId !== undefined && target?.partitionId !== filter.partitionId) continue;
      this.producers.delete(producer);
      producer.close(error);
      count++;
    }
    return count;
  }

  async close(): Promise<void> {
    for (const consumer of [...this.consumers]) this.forgetConsumer(consumer);
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (!server) return;
    await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  }

  // --- wiring ---------------------------------------------------------------------------------------------

  private async listen(): Promise<void> {
    const container = this.container;
    container.sasl_server_mechanisms.enable_anonymous();
    container.on('connection_open', (context: EventContext) => {
      this.connections.add(context.connection);
      this.counters.connections++;
    });
    container.on('connection_close', (context: EventContext) => this.forgetConnection(context.connection));
    container.on('disconnected', (context: EventContext) => this.forgetConnection(context.connection));
    container.on('connection_error', (context: EventContext) => this.observe(context.connection.error));
    container.on('protocol_error', (error: unknown) => this.observe(error));
    container.on('error', (error: unknown) => this.observe(error));
    container.on('receiver_open', (context: EventContext) => this.onClientSender(context));
    container.on('receiver_close', (context: EventContext) => {
      if (context.receiver) this.producers.delete(context.receiver);
    });
    container.on('sender_open', (context: EventContext) => this.onClientReceiver(context));
    container.on('sender_close', (context: EventContext) => this.onConsumerClosed(context.sender));
    container.on('sender_error', (context: EventContext) => this.observe(context.sender?.error));
    container.on('receiver_error', (context: EventContext) => this.observe(context.receiver?.error));
    container.on('sendable', (context: EventContext) => this.pumpSender(context.sender));
    container.on('sender_draining', (context: EventContext) => {
      // Drain: send what is there now, then give the rest of the credit back.
      this.pumpSender(context.sender);
      context.sender?.set_drained(true);
    });
    container.on('message', (context: EventContext) => this.onMessage(context));

    const server = container.listen({
      host: this.host,
      port: 0,
      // Both directions advertise a max message size: `createBatch` sizes batches from the send link's.
      sender_options: { max_message_size: this.maxMessageSize },
      receiver_options: { max_message_size: this.maxMessageSize, autoaccept: false, credit_window: 100 },
    });
    this.server = server;
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
  }

  private observe(error: unknown): void {
    if (error === undefined || error === null) return;
    const condition = (error as { condition?: unknown }).condition;
    this.observedErrors.push(typeof condition === 'string' ? condition : String((error as Error).message ?? error));
  }

  private forgetConnection(connection: Connection): void {
    this.connections.delete(connection);
    for (const consumer of [...this.consumers]) {
      if (consumer.sender.connection === connection) this.forgetConsumer(consumer);
    }
    for (const producer of [...this.producers]) {
      if (producer.connection === connection) this.producers.delete(producer);
    }
  }

  // --- client senders: events in, CBS and management requests in ------------------------------------------

  private onClientSender(context: EventContext): void {
    const receiver = context.receiver!;
    receiver.set_source(receiver.source);
    receiver.set_target(receiver.target);
    const address = receiver.target?.address ?? '';
    if (address === '$cbs' || isManagementAddress(address)) return;
    const target = parseSendAddress(address);
    const hub = target && this.hubs.get(target.hub);
    if (!target || !hub) {
      receiver.close({ condition: 'amqp:not-found', description: `The messaging entity '${address}' could not be found.` });
      return;
    }
    if (target.partitionId !== undefined && !hub.partitions[Number(target.partitionId)]) {
      receiver.close(argumentOutOfRange());
      return;
    }
    this.producers.add(receiver);
    this.counters.producerAttaches++;
  }

  private onMessage(context: EventContext): void {
    const receiver = context.receiver!;
    const delivery = context.delivery!;
    // The service ignores transfers that cross its detach or close: they are neither stored nor settled.
    if (!receiver.is_open()) return;
    const address = receiver.target?.address ?? '';
    if (address === '$cbs') return this.replyCbs(context, delivery);
    if (isManagementAddress(address)) return this.replyManagement(context, delivery);
    const target = parseSendAddress(address);
    const hub = target && this.hubs.get(target.hub);
    if (!target || !hub) {
      delivery.reject({ condition: 'amqp:not-found', description: `The messaging entity '${address}' could not be found.` });
      return;
    }
    const format = (context as { format?: number }).format ?? 0;
    let batch;
    try {
      batch = unpackTransfer(context.message as Message | Buffer, format);
    } catch (error) {
      delivery.reject({ condition: 'amqp:decode-error', description: (error as Error).message });
      return;
    }
    if (batch.transferSize > this.maxMessageSize) {
      delivery.reject({
        condition: 'amqp:link:message-size-exceeded',
        description: `The received message (size: ${batch.transferSize} bytes) exceeds the limit (${this.maxMessageSize} bytes) currently allowed on the link.`,
      });
      return;
    }
    const log = target.partitionId !== undefined ? hub.partitions[Number(target.partitionId)]! : this.route(hub, batch.partitionKey);
    for (const event of batch.events) log.append(event.message, event.encodedSize, batch.partitionKey);
    delivery.accept();
  }

  private route(hub: Hub, partitionKey: string | null): PartitionLog {
    if (partitionKey !== null) return hub.partitions[mapPartitionKeyToId(partitionKey, hub.partitions.length)]!;
    const log = hub.partitions[hub.nextRoundRobin % hub.partitions.length]!;
    hub.nextRoundRobin++;
    return log;
  }

  private replyCbs(context: EventContext, delivery: Delivery): void {
    const request = context.message as Message;
    delivery.accept();
    const status = this.refuseTokens
      ? { 'status-code': rhea.types.wrap_int(401), 'status-description': 'InvalidSignature: The token has an invalid signature.' }
      : { 'status-code': rhea.types.wrap_int(200), 'status-description': 'OK' };
    this.reply(context.connection, request, status, undefined);
  }

  private replyManagement(context: EventContext, delivery: Delivery): void {
    const request = context.message as Message;
    delivery.accept();
    const props = (request.application_properties ?? {}) as Record<string, unknown>;
    const fail = (status: number, condition: string, description: string): void =>
      this.reply(context.connection, request, {
        'status-code': rhea.types.wrap_int(status),
        'status-description': description,
        'error-condition': condition,
      }, undefined);
    if (props.operation !== 'READ') return fail(400, 'com.microsoft:argument-error', `unsupported operation ${String(props.operation)}`);
    const hub = this.hubs.get(String(props.name));
    if (!hub) return fail(404, 'amqp:not-found', `The messaging entity '${String(props.name)}' could not be found.`);
    const ok = { 'status-code': rhea.types.wrap_int(200), 'status-description': 'OK' };
    if (props.type === 'com.microsoft:eventhub') {
      return this.reply(context.connection, request, ok, {
        name: hub.name,
        type: 'com.microsoft:eventhub',
        created_at: hub.createdAt,
        partition_count: rhea.types.wrap_int(hub.partitions.length),
        partition_ids: hub.partitions.map((p) => p.partitionId),
      });
    }
    if (props.type === 'com.microsoft:partition') {
      const log = hub.partitions.find((p) => p.partitionId === String(props.partition));
      if (!log) return fail(400, 'com.microsoft:argument-out-of-range', argumentOutOfRange().description);
      const p = log.properties();
      return this.reply(context.connection, request, ok, {
        name: hub.name,
        type: 'com.microsoft:partition',
        partition: p.partitionId,
        begin_sequence_number: rhea.types.wrap_long(p.beginSequenceNumber),
        last_enqueued_sequence_number: rhea.types.wrap_long(p.lastEnqueuedSequenceNumber),
        last_enqueued_offset: p.lastEnqueuedOffset,
        last_enqueued_time_utc: new Date(p.lastEnqueuedTimeMs),
        is_partition_empty: p.isEmpty,
      });
    }
    return fail(400, 'com.microsoft:argument-error', `unsupported type ${String(props.type)}`);
  }

  /** Answers on the link the client named in `reply_to` (matched by link name or target address). */
  private reply(connection: Connection, request: Message, properties: Record<string, unknown>, body: unknown): void {
    const replyTo = request.reply_to as string | undefined;
    const response: Message = { to: replyTo, correlation_id: request.message_id, application_properties: properties, body };
    const link = connection.find_sender((s: Sender) => s.name === replyTo || s.target?.address === replyTo);
    if (!link) {
      this.observedErrors.push(`no reply link named ${String(replyTo)}`);
      return;
    }
    link.send(response);
  }

  // --- client receivers: events out -----------------------------------------------------------------------

  private onClientReceiver(context: EventContext): void {
    const sender = context.sender!;
    sender.set_source(sender.source);
    sender.set_target(sender.target);
    const address = sender.source?.address ?? '';
    if (address === '$cbs' || isManagementAddress(address)) return;
    const source = parseReceiveAddress(address);
    const hub = source && this.hubs.get(source.hub);
    if (!source || !hub) {
      sender.close({ condition: 'amqp:not-found', description: `The messaging entity '${address}' could not be found.` });
      return;
    }
    const log = hub.partitions.find((p) => p.partitionId === source.partitionId);
    if (!log) {
      sender.close(argumentOutOfRange());
      return;
    }
    if (!hub.consumerGroups.has(source.consumerGroup.toLowerCase())) {
      sender.close({
        condition: 'amqp:not-found',
        description: `The messaging entity 'peer:eventhub:${hub.name}~0|${source.consumerGroup}' could not be found.`,
      });
      return;
    }
    let predicate: StartPredicate;
    try {
      predicate = parseStartFilter(selectorFilter(sender), log.properties().lastEnqueuedSequenceNumber);
    } catch (error) {
      if (!(error instanceof FilterError)) throw error;
      sender.close({ condition: 'com.microsoft:argument-error', description: error.message });
      return;
    }
    const ownerLevel = ownerLevelOf(sender);
    if (!this.admitOwnerLevel(hub, source.consumerGroup, log, ownerLevel, sender)) return;
    const consumer: ConsumerLink = {
      sender,
      hub,
      consumerGroup: source.consumerGroup,
      log,
      ownerLevel,
      predicate,
      cursor: 0,
      started: false,
      runtimeMetric: capabilities(sender).includes(RUNTIME_METRIC_CAPABILITY),
      sent: 0,
      unsubscribe: () => undefined,
    };
    consumer.unsubscribe = log.onAppend(() => this.pump(consumer));
    this.consumers.add(consumer);
    this.counters.consumerAttaches++;
  }

  /**
   * Epoch rules of the service: a receiver with an owner level at least as high as every existing one takes the
   * partition (the others are detached with `amqp:link:stolen`); a lower one, or one without an owner level
   * while an epoch receiver exists, is refused with the same condition.
   */
  private admitOwnerLevel(hub: Hub, consumerGroup: string, log: PartitionLog, ownerLevel: number | undefined, sender: Sender): boolean {
    const rivals = [...this.consumers].filter(
      (c) => c.hub === hub && c.log === log && c.consumerGroup.toLowerCase() === consumerGroup.toLowerCase(),
    );
    const levels = rivals.map((c) => c.ownerLevel).filter((l): l is number => l !== undefined);
    const highest = levels.length ? Math.max(...levels) : undefined;
    if (ownerLevel === undefined) {
      if (highest === undefined) return true;
      sender.close({
        condition: 'amqp:link:stolen',
        description: `At least one receiver for the endpoint is created with epoch of '${highest}', and so non-epoch receiver is not allowed. Either reconnect with a higher epoch, or make sure all epoch receivers are closed or disconnected.`,
      });
      return false;
    }
    if (highest !== undefined && ownerLevel < highest) {
      sender.close({
        condition: 'amqp:link:stolen',
        description: `Receiver with a higher epoch '${highest}' already exists. Receiver with epoch ${ownerLevel} cannot be created. Make sure you are creating receiver with increasing epoch value to ensure connectivity, or ensure all old epoch receivers are closed or disconnected.`,
      });
      return false;
    }
    for (const rival of rivals) {
      this.closeConsumer(rival, {
        condition: 'amqp:link:stolen',
        description: `New receiver with higher epoch of '${ownerLevel}' is created hence current receiver with epoch '${rival.ownerLevel ?? ''}' is getting disconnected. If you are recreating the receiver, make sure a higher epoch is used.`,
      });
    }
    return true;
  }

  private pumpSender(sender: Sender | undefined): void {
    for (const consumer of this.consumers) {
      if (consumer.sender === sender) return this.pump(consumer);
    }
  }

  /**
   * Sends what the link's credit allows; called on credit, on drain requests and on every append. rhea queues a
   * send and takes the credit only when it writes the transfer, so the budget is the credit minus what this link
   * queued and rhea has not written yet (its delivery count has not caught up with our count).
   */
  private pump(consumer: ConsumerLink): void {
    const { sender, log } = consumer;
    if (!sender.is_open()) return;
    const flow = sender as unknown as { credit: number; delivery_count: number };
    let budget = flow.credit - Math.max(0, consumer.sent - flow.delivery_count);
    while (budget > 0 && sender.sendable() && consumer.cursor < log.events.length) {
      const event = log.events[consumer.cursor]!;
      consumer.cursor++;
      if (!consumer.started) {
        if (!consumer.predicate(event)) continue;
        consumer.started = true;
      }
      sender.send(this.outgoing(consumer, event));
      consumer.sent++;
      budget--;
    }
  }

  private outgoing(consumer: ConsumerLink, event: StoredEvent): Message {
    const annotations: Record<string, unknown> = {
      ...((event.message.message_annotations ?? {}) as Record<string, unknown>),
      'x-opt-sequence-number': rhea.types.wrap_long(event.sequenceNumber),
      'x-opt-offset': String(event.offset),
      'x-opt-enqueued-time': new Date(event.enqueuedTimeMs),
    };
    if (event.partitionKey !== null) annotations['x-opt-partition-key'] = event.partitionKey;
    else delete annotations['x-opt-partition-key'];
    const message: Message = { ...event.message, message_annotations: annotations };
    if (consumer.runtimeMetric) {
      const p = consumer.log.properties();
      message.delivery_annotations = {
        last_enqueued_sequence_number: rhea.types.wrap_long(p.lastEnqueuedSequenceNumber),
        last_enqueued_offset: p.lastEnqueuedOffset,
        last_enqueued_time_utc: new Date(p.lastEnqueuedTimeMs),
        runtime_info_retrieval_time_utc: new Date(),
      };
    }
    return message;
  }

  private closeConsumer(consumer: ConsumerLink, error: { condition: string; description: string }): void {
    this.forgetConsumer(consumer);
    consumer.sender.close(error);
  }

  private onConsumerClosed(sender: Sender | undefined): void {
    for (const consumer of [...this.consumers]) {
      if (consumer.sender === sender) this.forgetConsumer(consumer);
    }
  }

  private forgetConsumer(consumer: ConsumerLink): void {
    consumer.unsubscribe();
    this.consumers.delete(consumer);
  }

  private hubOrThrow(name: string): Hub {
    const hub = this.hubs.get(name);
    if (!hub) throw new Error(`unknown hub ${name}; the peer has ${[...this.hubs.keys()].join(', ')}`);
    return hub;
  }

  private logOrThrow(hub: string, partitionId: string): PartitionLog {
    const log = this.hubOrThrow(hub).partitions.find((p) => p.partitionId === partitionId);
    if (!log) throw new Error(`hub ${hub} has no partition ${partitionId}`);
    return log;
  }
}

export function startEventHubsPeer(options: EventHubsPeerOptions = {}): Promise<EventHubsPeer> {
  return EventHubsPeer.start(options);
}

function isManagementAddress(address: string): boolean {
  return address === '$management' || address.endsWith('/$management');
}

/** `<hub>` or `<hub>/Partitions/<id>` */
function parseSendAddress(address: string): { hub: string; partitionId?: string } | undefined {
  const parts = address.split('/');
  if (parts.length === 1 && parts[0]) return { hub: parts[0] };
  if (parts.length === 3 && parts[1]!.toLowerCase() === 'partitions') return { hub: parts[0]!, partitionId: parts[2]! };
  return undefined;
}

/** `<hub>/ConsumerGroups/<group>/Partitions/<id>` */
function parseReceiveAddress(address: string): { hub: string; consumerGroup: string; partitionId: string } | undefined {
  const parts = address.split('/');
  if (parts.length !== 5 || parts[1]!.toLowerCase() !== 'consumergroups' || parts[3]!.toLowerCase() !== 'partitions') return undefined;
  return { hub: parts[0]!, consumerGroup: parts[2]!, partitionId: parts[4]! };
}

function argumentOutOfRange(): { condition: string; description: string } {
  return {
    condition: 'com.microsoft:argument-out-of-range',
    description: 'The specified partition is invalid for an EventHub partition sender or receiver.',
  };
}

function selectorFilter(sender: Sender): string | undefined {
  const filter = (sender.source as { filter?: Record<string, unknown> } | undefined)?.filter;
  const entry = filter?.[SELECTOR_FILTER];
  if (entry === undefined) return undefined;
  if (typeof entry === 'string') return entry;
  const value = (entry as { value?: unknown }).value;
  return typeof value === 'string' ? value : String(value);
}

function ownerLevelOf(sender: Sender): number | undefined {
  const value: unknown = sender.properties?.[EPOCH_PROPERTY];
  if (value === undefined || value === null) return undefined;
  return Number(value);
}

function capabilities(sender: Sender): string[] {
  const value: unknown = sender.desired_capabilities;
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

function toPeerEvent(event: StoredEvent): PeerEvent {
  const body: unknown = event.message.body;
  const content = typeof body === 'object' && body !== null && 'content' in body ? (body as { content: unknown }).content : body;
  return {
    sequenceNumber: event.sequenceNumber,
    offset: String(event.offset),
    enqueuedTimeMs: event.enqueuedTimeMs,
    partitionKey: event.partitionKey,
    body: Buffer.isBuffer(content) ? content : Buffer.from(JSON.stringify(content ?? null)),
    properties: { ...((event.message.application_properties ?? {}) as Record<string, unknown>) },
  };
}
