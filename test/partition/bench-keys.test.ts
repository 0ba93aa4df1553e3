import { readFile, writeFile } from 'node:fs/promises';
import avro from 'avsc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { runKeyBenchmark, type KeyBenchResult } from '../../src/partition/bench-keys.js';
import { EVENT_HUBS_STANDARD_LIMIT } from '../../src/partition/skew.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';
import { zipfOrders } from './zipf-sample.js';

const ORDER_SCHEMA = {
  type: 'record',
  name: 'Order',
  namespace: 'test.partition',
  fields: [
    { name: 'orderId', type: 'string' },
    { name: 'customerId', type: 'string' },
    { name: 'channel', type: 'string' },
    { name: 'amount', type: 'double' },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
};

/** An Avro object container file of the records, as avsc's block encoder writes it. */
async function writeContainer(file: string, type: avro.Type, records: unknown[]): Promise<void> {
  const encoder = new avro.streams.BlockEncoder(type, { codec: 'null' });
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    encoder.on('data', (chunk: Buffer) => chunks.push(chunk));
    encoder.on('end', () => resolve());
    encoder.on('error', reject);
  });
  for (const record of records) encoder.write(record);
  encoder.end();
  await done;
  await writeFile(file, Buffer.concat(chunks));
}

describe('tributary bench keys on a Zipf-skewed sample', () => {
  let workspace: Workspace;
  let result: KeyBenchResult;
  const EVENTS = 16_000;

  beforeAll(async () => {
    workspace = await createWorkspace('tributary-bench-keys-');
    const schemaFile = workspace.file('order.avsc');
    await writeFile(schemaFile, JSON.stringify(ORDER_SCHEMA));
    const records = zipfOrders(EVENTS, 7).map((r) => r.fields);
    await writeContainer(workspace.file('orders.avro'), avro.Type.forSchema(ORDER_SCHEMA as avro.Schema), records);
    const { config } = await workspace.writeConfig({
      streams: { orders: { schema: schemaFile, eventId: 'orderId', eventTime: 'ts' } },
      source: { kind: 'capture', store: { kind: 'local', path: workspace.file('capture') }, namespace: 'ns', hubs: { orders: 'orders' } },
      aggregations: [
        { name: 'orders_by_customer_1m', stream: 'orders', groupBy: ['customerId'], window: { kind: 'tumbling', size: '1m' }, measures: [{ fn: 'count' }] },
        { name: 'orders_by_channel_1m', stream: 'orders', groupBy: ['channel'], window: { kind: 'tumbling', size: '1m' }, measures: [{ fn: 'sum', field: 'amount' }] },
      ],
      processing: { decodeThreads: 1 },
    });
    result = await runKeyBenchmark({
      config,
      input: { kind: 'path', path: workspace.file('orders.avro') },
      keys: 'channel,customerId,none',
      partitionCounts: [4, 8],
      hash: 'eventhubs',
      limit: EVENT_HUBS_STANDARD_LIMIT,
      maxEvents: 1_000_000,
      outDir: workspace.file('out'),
      command: 'tributary bench keys ...',
      signal: new AbortController().signal,
      log: createLogger('silent'),
    });
  });

  afterAll(async () => {
    await workspace?.cleanup();
  });

  it('reads every record of the Avro file into the sample', () => {
    expect(result.report.sample.events).toBe(EVENTS);
    expect(result.report.sample.source).toContain('orders.avro');
  });

  it('ranks the high-cardinality key above the low-cardinality one', () => {
    const keyed = result.report.recommendation.ranking.filter((r) => r.keyed).map((r) => r.candidate);
    expect(keyed).toEqual(['customerId', 'channel']);
    expect(result.report.recommendation.candidate).toBe('customerId');
  });

  it('runs the real pipeline for every candidate, landing every event', () => {
    expect(result.report.measured.map((m) => m.candidate)).toEqual(['channel', 'customerId', 'none']);
    for (const run of result.report.measured) {
      expect(run.partitionCount).toBe(8);
      expect(run.rowsLanded).toBe(EVENTS);
      expect(run.partitions.reduce((sum, p) => sum + p.events, 0)).toBe(EVENTS);
    }
  });

  it('agrees with the arithmetic: the skewed key\'s slowest partition lags most', () => {
    const byCandidate = Object.fromEntries(result.report.measured.map((m) => [m.candidate, m]));
    const channel = byCandidate.channel!;
    const customer = byCandidate.customerId!;
    const none = byCandidate.none!;
    expect(channel.slowestLagEvents).toBeGreaterThan(customer.slowestLagEvents);
    expect(customer.slowestLagEvents).toBeGreaterThanOrEqual(none.slowestLagEvents);
    // The measured slowest partition is the one the arithmetic calls hottest.
    const channelAt8 = result.report.skew.analyses.find((a) => a.candidate.name === 'channel' && a.partitionCount === 8)!;
    expect(channel.slowestPartition).toBe(channelAt8.hottestPartition);
    expect(channel.partitions.map((p) => p.events)).toEqual(channelAt8.partitions.map((p) => p.events));
  });

  it('writes the Markdown report, the SVG and the JSON', async () => {
    const names = result.files.map((f) => f.split(/[\\/]/).at(-1));
    expect(names).toEqual(['report.md', 'load-per-partition.svg', 'report.json']);
    const markdown = await readFile(result.files[0]!, 'utf8');
    expect(markdown).toContain(result.report.recommendation.line);
    expect(markdown).toMatch(/\| channel \| 8 \| \d+ \| \d+ \| \d+ \| \d+ \| \d+ \| 16000 \|/);
    const svg = await readFile(result.files[1]!, 'utf8');
    expect(svg).toContain('customerId (recommended)');
  });
});
