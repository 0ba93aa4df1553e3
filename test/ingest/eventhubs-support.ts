/**
 * Helpers for the Event Hubs source tests: a PartitionHandler that records what the source hands it (and
 * commits after every batch, like a sink that lands each batch durably), and config for the loopback peer.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger, type Logger } from '../../src/core/log.js';
import { eventHubsSourceSchema, type EventHubsSourceConfig, type EventHubsSourceConfigInput } from '../../src/ingest/eventhubs/config.js';
import type { PartitionBatch, PartitionFeed, PartitionHandler, ResumePoint, SourceEvent } from '../../src/core/source.js';
import type { EventHubsPeer } from '../peers/eventhubs/index.js';
import type { TributaryConfig } from '../../src/config/schema.js';
import { generateStreams } from '../../src/gen/generate.js';
import { parseGenOptions } from '../../src/gen/options.js';
import { EventHubsTarget } from '../../src/gen/targets/eventhubs.js';

export const quietLog: Logger = createLogger(process.env.TRIBUTARY_TEST_LOG_LEVEL ?? 'silent');

export interface RecordingOptions {
  /** the resume point onAssigned returns */
  resume?: (stream: string, partition: string) => ResumePoint;
  /** runs inside onBatch before it returns (slow sinks, failures) */
  process?: (batch: PartitionBatch, signal: AbortSignal) => Promise<void>;
  /** commit (commitBelow) after every batch; default true */
  commit?: boolean;
}

export class RecordingHandler implements PartitionHandler {
  readonly events = new Map<string, SourceEvent[]>();
  readonly assigned: string[] = [];
  readonly revoked: Array<{ partition: string; reason: 'lost' | 'shutdown' }> = [];
  readonly caughtUp: string[] = [];
  readonly batchSizes: number[] = [];
  private readonly owned = new Set<string>();
  /** set when the source broke the contract (a batch for a partition it does not own, overlapping batches) */
  readonly violations: string[] = [];
  private readonly busy = new Set<string>();
  private readonly feeds = new Map<string, PartitionFeed>();
  /** per owned partition: aborted when the partition is lost (what a batch in flight listens to) */
  private readonly ownership = new Map<string, AbortController>();

  constructor(private readonly options: RecordingOptions = {}) {}

  async onAssigned(stream: string, partition: string, feed: PartitionFeed): Promise<ResumePoint> {
    const key = `${stream}/${partition}`;
    this.feeds.set(key, feed);
    this.ownership.set(key, new AbortController());
    if (this.owned.has(key)) this.violations.push(`assigned twice: ${key}`);
    this.owned.add(key);
    this.assigned.push(key);
    return this.options.resume?.(stream, partition);
  }

  async onBatch(batch: PartitionBatch): Promise<void> {
    const key = `${batch.stream}/${batch.partition}`;
    const signal = this.ownership.get(key)?.signal ?? AbortSignal.abort();
    if (!this.owned.has(key)) this.violations.push(`batch for a partition not owned: ${key}`);
    if (this.busy.has(key)) this.violations.push(`overlapping batches: ${key}`);
    this.busy.add(key);
    try {
      await this.options.process?.(batch, signal);
      const list = this.events.get(key) ?? [];
      list.push(...batch.events);
      this.events.set(key, list);
      this.batchSizes.push(batch.events.length);
      const last = batch.events[batch.events.length - 1]!;
      if (this.options.commit !== false) await this.feeds.get(key)!.commit(last.position + 1, last.offset, signal);
    } finally {
      this.busy.delete(key);
    }
  }

  async onRevoked(stream: string, partition: string, reason: 'lost' | 'shutdown'): Promise<void> {
    const key = `${stream}/${partition}`;
    if (reason === 'lost') this.ownership.get(key)?.abort(new Error(`${key} lost`));
    if (!this.owned.has(key)) this.violations.push(`revoked but not owned: ${key}`);
    if (this.busy.has(key)) this.violations.push(`revoked during a batch: ${key}`);
    this.owned.delete(key);
    this.revoked.push({ partition: key, reason });
  }

  async onCaughtUp(stream: string, partition: string): Promise<void> {
    this.caughtUp.push(`${stream}/${partition}`);
  }

  positions(key: string): number[] {
    return (this.events.get(key) ?? []).map((e) => e.position);
  }

  total(): number {
    let n = 0;
    for (const list of this.events.values()) n += list.length;
    return n;
  }
}

export async function tempDir(prefix: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { path: dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Source config against the peer, tuned for tests: short waits, fast load balancing. */
export function peerSourceConfig(peer: EventHubsPeer, checkpointPath: string, overrides: Partial<EventHubsSourceConfigInput> = {}): EventHubsSourceConfig {
  return eventHubsSourceSchema.parse({
    kind: 'eventhubs',
    connectionString: peer.namespaceConnectionString(),
    consumerGroup: 'tributary',
    hubs: { orders: 'orders' },
    checkpointStore: { kind: 'local', path: checkpointPath },
    maxWaitTime: '200ms',
    maxBatchSize: 100,
    loadBalancing: { strategy: 'greedy', updateInterval: '300ms', ownershipExpiration: '3s' },
    clientRetry: { maxRetries: 5, delay: '100ms', maxDelay: '1s', timeout: '10s' },
    ...overrides,
  });
}

export async function waitFor(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

/**
 * The Event Hubs source section the end-to-end tests give the worker: the peer's two hubs, blob checkpoints on
 * Azurite, greedy load balancing and short waits so ownership and batches move within a test's time.
 */
export function peerWorkerSource(peer: EventHubsPeer, checkpoints: { connectionString: string; container: string }, maxBatchSize: number) {
  return {
    kind: 'eventhubs' as const,
    connectionString: peer.namespaceConnectionString(),
    consumerGroup: 'tributary',
    hubs: { orders: 'orders', telemetry: 'telemetry' },
    checkpointStore: { kind: 'blob' as const, connectionString: checkpoints.connectionString, container: checkpoints.container, createContainer: true },
    startPosition: 'earliest' as const,
    maxWaitTime: '200ms',
    maxBatchSize,
    loadBalancing: { strategy: 'greedy' as const, updateInterval: '500ms', ownershipExpiration: '5s' },
    clientRetry: { maxRetries: 5, delay: '100ms', maxDelay: '1s', timeout: '10s' },
  };
}

/** Generates the config's streams with `tributary gen`'s generator and sends them to the peer with the SDK producer. */
export async function sendGenerated(peer: EventHubsPeer, config: TributaryConfig, options: { partitions: number } & Record<string, unknown>): Promise<void> {
  const target = await EventHubsTarget.connect({
    connection: { connectionString: peer.namespaceConnectionString() },
    hubs: { orders: 'orders', telemetry: 'telemetry' },
    partitions: options.partitions,
    clientRetry: { maxRetries: 3, delay: 100, maxDelay: 1000, timeout: 10_000 },
    log: quietLog,
  });
  try {
    await generateStreams(config, parseGenOptions(options), target);
  } finally {
    await target.close();
  }
}
