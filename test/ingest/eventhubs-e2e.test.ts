/**
 * Event Hubs end to end, in process: the generator produces with the SDK's producer into the AMQP peer, the
 * worker (runWorker) consumes with the Event Hubs source, and the lake holds each event exactly once with its
 * source coordinates (partition, sequence number, offset, enqueued time, partition key, traceparent). Also:
 * the peer dropping connections and links mid-stream costs nothing; earliest, latest and an enqueued time each
 * start where they should.
 */
import { readFile } from 'node:fs/promises';
import avro from 'avsc';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TributaryConfig } from '../../src/config/schema.js';
import { generateStreams } from '../../src/gen/generate.js';
import { parseGenOptions } from '../../src/gen/options.js';
import { EventHubsTarget } from '../../src/gen/targets/eventhubs.js';
import type { EventHubsSourceConfigInput } from '../../src/ingest/eventhubs/config.js';
import { runWorker, type RunSummary } from '../../src/runtime/worker.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { embeddedConfig } from '../support/embedded-config.js';
import { readTable, snapshotLake } from '../support/lake.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';
import { startEventHubsPeer, type EventHubsPeer } from '../peers/eventhubs/index.js';
import { quietLog, waitFor } from './eventhubs-support.js';

const STREAMS = [
  { stream: 'orders', idField: 'orderId', keyField: 'customerId' },
  { stream: 'telemetry', idField: 'eventId', keyField: 'deviceId' },
] as const;

interface Landed {
  partition: string;
  position: number;
  offset: string;
  enqueuedTimeMs: number;
  partitionKey: string | null;
  traceparent: string | null;
}

let peer: EventHubsPeer;
let ws: Workspace;
let clockShift = 0;

beforeEach(async () => {
  clockShift = 0;
  peer = await startEventHubsPeer({
    hubs: { orders: { partitionCount: 4, consumerGroups: ['tributary'] }, telemetry: { partitionCount: 4, consumerGroups: ['tributary'] } },
    now: () => Date.now() + clockShift,
  });
  ws = await createWorkspace('tributary-eh-e2e-');
});

afterEach(async () => {
  await peer.close();
  await ws.cleanup();
});

async function workerConfig(source: Partial<EventHubsSourceConfigInput> = {}): Promise<TributaryConfig> {
  const base = embeddedConfig(ws);
  const { config } = await ws.writeConfig({
    ...base,
    source: {
      kind: 'eventhubs',
      connectionString: peer.namespaceConnectionString(),
      consumerGroup: 'tributary',
      hubs: { orders: 'orders', telemetry: 'telemetry' },
      checkpointStore: { kind: 'local', path: ws.file('checkpoints') },
      maxWaitTime: '200ms',
      maxBatchSize: 500,
      loadBalancing: { strategy: 'greedy', updateInterval: '500ms', ownershipExpiration: '5s' },
      clientRetry: { maxRetries: 5, delay: '100ms', maxDelay: '1s', timeout: '10s' },
      ...source,
    },
    processing: { ...base.processing, flushInterval: '1s' },
  });
  return config;
}

/**
 * Generates `events` per stream with the generator and sends them with the SDK producer (keys routed by the
 * service). Each wave's event times start an hour after the previous wave's, so no wave is late for the last.
 */
async function produce(config: TributaryConfig, events: number, seed: number, wave: number): Promise<void> {
  const target = await EventHubsTarget.connect({
    connection: { connectionString: peer.namespaceConnectionString() },
    hubs: { orders: 'orders', telemetry: 'telemetry' },
    partitions: 4,
    clientRetry: { maxRetries: 3, delay: 100, maxDelay: 1000, timeout: 10_000 },
    log: quietLog,
  });
  try {
    const start = Date.UTC(2024, 0, 1) + wave * 3_600_000;
    await generateStreams(config, parseGenOptions({ events, partitions: 4, keys: 200, seed, span: '30m', start }), target);
  } finally {
    await target.close();
  }
}

/** What the peer holds, by event id: where each event is and what the lake must say about it. */
async function inPeer(config: TributaryConfig, stream: string, idField: string, from = 0): Promise<Map<string, Landed>> {
  const type = avro.Type.forSchema(JSON.parse(await readFile(config.streams[stream]!.schema, 'utf8')) as avro.Schema);
  const out = new Map<string, Landed>();
  for (const partition of ['0', '1', '2', '3']) {
    for (const event of peer.events(stream, partition).slice(from)) {
      const record = type.fromBuffer(event.body) as Record<string, unknown>;
      out.set(String(record[idField]), {
        partition,
        position: event.sequenceNumber,
        offset: event.offset,
        enqueuedTimeMs: event.enqueuedTimeMs,
        partitionKey: event.partitionKey,
        traceparent: (event.properties.traceparent as string | undefined) ?? null,
      });
    }
  }
  return out;
}

async function lakeRows(stream: string): Promise<Array<Record<string, unknown>>> {
  return readTable(new LocalObjectStore(ws.file('lake')), `${stream}_raw`);
}

/** Every row once, and the rows are exactly `expected`, each with its source coordinates. */
async function expectExactlyOnce(stream: string, idField: string, expected: Map<string, Landed>): Promise<void> {
  const rows = await lakeRows(stream);
  const ids = rows.map((r) => String(r[idField]));
  expect(new Set(ids).size, `${stream}: duplicate rows`).toBe(ids.length);
  expect(new Set(ids), `${stream}: landed ids`).toEqual(new Set(expected.keys()));
  for (const row of rows) {
    const want = expected.get(String(row[idField]))!;
    expect({
      partition: row._partition,
      position: Number(row._position),
      offset: row._offset,
      enqueuedTimeMs: Number(row._enqueued_time),
      partitionKey: row._partition_key,
      traceparent: row._traceparent,
    }).toEqual(want);
  }
}

function runLive(config: TributaryConfig): { stop: () => Promise<RunSummary> } {
  const controller = new AbortController();
  const run = runWorker(config, { bounded: false, signal: controller.signal, log: quietLog });
  return {
    stop: async () => {
      controller.abort();
      return run;
    },
  };
}

async function waitForRows(stream: string, count: number, what: string): Promise<void> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const rows = await lakeRows(stream);
    if (rows.length >= count) return;
    if (Date.now() > deadline) throw new Error(`${what}: ${rows.length} of ${count} ${stream} rows in the lake`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

describe('Event Hubs end to end', () => {
  it('lands every produced event exactly once, with its source coordinates; a rerun leaves the lake byte-identical', async () => {
    const config = await workerConfig();
    await produce(config, 2500, 11, 0);
    const summary = await runWorker(config, { bounded: true, signal: new AbortController().signal, log: quietLog });
    for (const { stream, idField } of STREAMS) {
      const expected = await inPeer(config, stream, idField);
      expect(expected.size).toBe(2500);
      await expectExactlyOnce(stream, idField, expected);
    }
    expect(summary.totals.eventsRead).toBe(5000);

    const before = await snapshotLake(new LocalObjectStore(ws.file('lake')));
    // The rerun resumes at each partition's snapshot (the start of its open cell) and rewrites the same files.
    await runWorker(config, { bounded: true, signal: new AbortController().signal, log: quietLog });
    expect(await snapshotLake(new LocalObjectStore(ws.file('lake')))).toEqual(before);
  });

  it('recovers by itself when the peer drops connections and links mid-stream, and loses nothing', async () => {
    const config = await workerConfig();
    const worker = runLive(config);
    try {
      const drops: Array<() => number> = [() => peer.dropConnections(), () => peer.dropLinks(), () => peer.dropConnections({ abrupt: true })];
      for (const [wave, drop] of drops.entries()) {
        await produce(config, 600, 100 + wave, wave);
        const attaches = peer.stats().consumerAttaches;
        expect(drop()).toBeGreaterThan(0);
        await waitFor(() => peer.stats().consumerAttaches >= attaches + 8, 'all eight receivers back', 60_000);
      }
      await produce(config, 600, 200, 3);
      for (const { stream } of STREAMS) await waitForRows(stream, 2400, 'after the drops');
    } finally {
      await worker.stop();
    }
    for (const { stream, idField } of STREAMS) await expectExactlyOnce(stream, idField, await inPeer(config, stream, idField));
  });

  it('starts at an enqueued time: only what was enqueued after it lands', async () => {
    const config0 = await workerConfig();
    clockShift = -2 * 3_600_000;
    await produce(config0, 500, 21, 0);
    const before = Object.fromEntries(STREAMS.map(({ stream }) => [stream, ['0', '1', '2', '3'].map((p) => peer.events(stream, p).length)]));
    clockShift = 0;
    await produce(config0, 500, 22, 1);
    const config = await workerConfig({ startPosition: { enqueuedTime: new Date(Date.now() - 3_600_000).toISOString() } });
    await runWorker(config, { bounded: true, signal: new AbortController().signal, log: quietLog });
    for (const { stream, idField } of STREAMS) {
      const all = await inPeer(config, stream, idField);
      const late = new Map([...all].filter(([, at]) => at.position >= before[stream]![Number(at.partition)]!));
      expect(late.size).toBe(500);
      await expectExactlyOnce(stream, idField, late);
    }
  });

  it('starts at latest: what was there before the worker subscribed stays out, what comes after lands', async () => {
    const config = await workerConfig({ startPosition: 'latest' });
    await produce(config, 400, 31, 0);
    const old = new Map(await Promise.all(STREAMS.map(async ({ stream, idField }) => [stream, await inPeer(config, stream, idField)] as const)));
    const worker = runLive(config);
    try {
      await waitFor(() => peer.activeConsumers().filter((c) => c.consumerGroup === 'tributary').length === 8, 'eight receive links', 60_000);
      await produce(config, 300, 32, 1);
      for (const { stream } of STREAMS) await waitForRows(stream, 300, 'after subscribing at latest');
    } finally {
      await worker.stop();
    }
    for (const { stream, idField } of STREAMS) {
      const fresh = new Map([...(await inPeer(config, stream, idField))].filter(([id]) => !old.get(stream)!.has(id)));
      expect(fresh.size).toBe(300);
      await expectExactlyOnce(stream, idField, fresh);
    }
  });
});
