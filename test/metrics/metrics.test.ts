import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { TributaryError } from '../../src/core/errors.js';
import { METRIC_NAMES, TributaryMetrics } from '../../src/metrics/metrics.js';
import { startMetricsServer } from '../../src/metrics/server.js';
import { parseExposition, sampleValue, type Sample } from './exposition.js';

const stops: AbortController[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop.abort();
});

/** A registry with TributaryMetrics behind a real server on a free loopback port, and a scrape function. */
async function scraped(now = (): number => 1_700_000_000_000): Promise<{ metrics: TributaryMetrics; scrape: () => Promise<Sample[]> }> {
  const registry = new Registry();
  const metrics = new TributaryMetrics(registry, { now });
  const stop = new AbortController();
  stops.push(stop);
  const server = await startMetricsServer(registry, { host: '127.0.0.1', port: 0, readiness: () => true, signal: stop.signal });
  const scrape = async (): Promise<Sample[]> => {
    const response = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    expect(response.status).toBe(200);
    return parseExposition(await response.text());
  };
  return { metrics, scrape };
}

describe('TributaryMetrics, scraped over HTTP', () => {
  it('counts events in per stream and partition', async () => {
    const { metrics, scrape } = await scraped();
    metrics.eventsIn('orders', '3', 100);
    metrics.eventsIn('orders', '3', 50);
    metrics.eventsIn('orders', '4', 7);
    metrics.eventsIn('telemetry', '3', 1);
    metrics.duplicates('orders', '3', 2);
    const samples = await scrape();
    expect(sampleValue(samples, 'tributary_events_in_total', { stream: 'orders', partition: '3' })).toBe(150);
    expect(sampleValue(samples, 'tributary_events_in_total', { stream: 'orders', partition: '4' })).toBe(7);
    expect(sampleValue(samples, 'tributary_events_in_total', { stream: 'telemetry', partition: '3' })).toBe(1);
    expect(sampleValue(samples, 'tributary_duplicates_dropped_total', { stream: 'orders', partition: '3' })).toBe(2);
  });

  it('counts rows landed, files written and bytes per table', async () => {
    const { metrics, scrape } = await scraped();
    metrics.rowsLanded('orders_raw', 1000);
    metrics.rowsLanded('orders_raw', 24);
    metrics.rowsLanded('revenue_1m', 3);
    metrics.fileWritten('orders_raw', 'orders_raw/date=2024-01-01/hour=00/partition=0/a.parquet', 4096);
    metrics.fileWritten('orders_raw', 'orders_raw/date=2024-01-01/hour=00/partition=0/a.parquet', 8192);
    const samples = await scrape();
    expect(sampleValue(samples, 'tributary_rows_landed_total', { table: 'orders_raw' })).toBe(1024);
    expect(sampleValue(samples, 'tributary_rows_landed_total', { table: 'revenue_1m' })).toBe(3);
    expect(sampleValue(samples, 'tributary_files_written_total', { table: 'orders_raw' })).toBe(2);
    expect(sampleValue(samples, 'tributary_file_bytes_written_total', { table: 'orders_raw' })).toBe(12288);
  });

  it('counts dead letters by stream and reason', async () => {
    const { metrics, scrape } = await scraped();
    metrics.deadLettered('orders', 'decode', 3);
    metrics.deadLettered('orders', 'late', 1);
    metrics.deadLettered('orders', 'late', 1);
    metrics.deadLettered('telemetry', 'oversize', 1);
    const samples = await scrape();
    expect(sampleValue(samples, 'tributary_dead_letters_total', { stream: 'orders', reason: 'decode' })).toBe(3);
    expect(sampleValue(samples, 'tributary_dead_letters_total', { stream: 'orders', reason: 'late' })).toBe(2);
    expect(sampleValue(samples, 'tributary_dead_letters_total', { stream: 'telemetry', reason: 'oversize' })).toBe(1);
    expect(sampleValue(samples, 'tributary_dead_letters_total', { stream: 'orders', reason: 'schema' })).toBeUndefined();
  });

  it('observes batch latency in a seconds histogram per stream', async () => {
    const { metrics, scrape } = await scraped();
    metrics.batchProcessed('orders', 0.02);
    metrics.batchProcessed('orders', 0.3);
    metrics.batchProcessed('orders', 12);
    const samples = await scrape();
    const orders = { stream: 'orders' };
    expect(sampleValue(samples, 'tributary_batch_latency_seconds_count', orders)).toBe(3);
    expect(sampleValue(samples, 'tributary_batch_latency_seconds_sum', orders)).toBeCloseTo(12.32, 9);
    expect(sampleValue(samples, 'tributary_batch_latency_seconds_bucket', { ...orders, le: '0.025' })).toBe(1);
    expect(sampleValue(samples, 'tributary_batch_latency_seconds_bucket', { ...orders, le: '0.5' })).toBe(2);
    expect(sampleValue(samples, 'tributary_batch_latency_seconds_bucket', { ...orders, le: '10' })).toBe(2);
    expect(sampleValue(samples, 'tributary_batch_latency_seconds_bucket', { ...orders, le: '+Inf' })).toBe(3);
  });

  it('reports the watermark in seconds since the epoch, and nothing before the first event', async () => {
    const { metrics, scrape } = await scraped();
    metrics.watermark('orders', '0', Number.NEGATIVE_INFINITY);
    metrics.watermark('orders', '1', Date.UTC(2024, 0, 1, 12, 0, 0, 500));
    const samples = await scrape();
    expect(sampleValue(samples, 'tributary_watermark_timestamp_seconds', { stream: 'orders', partition: '1' })).toBe(Date.UTC(2024, 0, 1, 12) / 1000 + 0.5);
    expect(sampleValue(samples, 'tributary_watermark_timestamp_seconds', { stream: 'orders', partition: '0' })).toBeUndefined();
  });

  it('reports the checkpoint position and when it was written, per partition', async () => {
    let clock = 1_700_000_000_000;
    const { metrics, scrape } = await scraped(() => clock);
    metrics.checkpointed('orders', '2', 4096);
    clock += 30_000;
    metrics.checkpointed('orders', '2', 8192);
    const samples = await scrape();
    expect(sampleValue(samples, 'tributary_checkpoint_position', { stream: 'orders', partition: '2' })).toBe(8192);
    expect(sampleValue(samples, 'tributary_checkpoint_timestamp_seconds', { stream: 'orders', partition: '2' })).toBe(1_700_000_030);
  });

  it('counts errors by stage and a bounded error type', async () => {
    const { metrics, scrape } = await scraped();
    metrics.error('sink', new TributaryError('STORAGE_TRANSIENT', 'HTTP 503'));
    metrics.error('sink', new TributaryError('STORAGE_TRANSIENT', 'HTTP 429'));
    metrics.error('source', new Error('socket hang up'));
    const samples = await scrape();
    expect(sampleValue(samples, 'tributary_errors_total', { stage: 'sink', error_type: 'storage_transient' })).toBe(2);
    expect(sampleValue(samples, 'tributary_errors_total', { stage: 'source', error_type: 'unclassified' })).toBe(1);
  });

  it('counts one error object once, at the first stage that reports it, and never counts an abort', async () => {
    const { metrics, scrape } = await scraped();
    const exhausted = new TributaryError('STORAGE_TRANSIENT', 'HTTP 503 after 10 attempts');
    metrics.error('sink', exhausted); // the store gave up
    metrics.error('aggregate', exhausted); // the batch failed with it
    metrics.error('run', exhausted); // and the run
    metrics.error('run', new TributaryError('ABORTED', 'operation aborted'));
    const samples = await scrape();
    expect(samples.filter((s) => s.name === 'tributary_errors_total')).toEqual([
      { name: 'tributary_errors_total', labels: { stage: 'sink', error_type: 'storage_transient' }, value: 1 },
    ]);
  });

  it('reports dead letters written per stream and reason, a rewritten cell replacing its counts', async () => {
    const { metrics, scrape } = await scraped();
    metrics.deadLettersWritten('orders', 'orders/0/cell-0.jsonl', { decode: 2, late: 1 });
    metrics.deadLettersWritten('orders', 'orders/1/cell-0.jsonl', { decode: 1 });
    metrics.deadLettersWritten('orders', 'orders/0/cell-0.jsonl', { decode: 3 }); // the open cell rewritten whole
    metrics.deadLettersWritten('telemetry', 'telemetry/0/cell-0.jsonl', { oversize: 4 });
    const samples = await scrape();
    expect(sampleValue(samples, 'tributary_dead_letters_pending', { stream: 'orders', reason: 'decode' })).toBe(4);
    expect(sampleValue(samples, 'tributary_dead_letters_pending', { stream: 'orders', reason: 'late' })).toBe(0);
    expect(sampleValue(samples, 'tributary_dead_letters_pending', { stream: 'telemetry', reason: 'oversize' })).toBe(4);
  });

  it('says which version runs on which Node.js in tributary_build_info', async () => {
    const { scrape } = await scraped();
    const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const samples = await scrape();
    expect(sampleValue(samples, 'tributary_build_info', { version: packageJson.version, node: process.version })).toBe(1);
  });

  it('drops the gauges of a released partition and keeps the others', async () => {
    const { metrics, scrape } = await scraped();
    for (const partition of ['0', '1']) {
      metrics.watermark('orders', partition, 1_000_000);
      metrics.checkpointed('orders', partition, 10);
      metrics.lag('orders', partition, 5);
    }
    metrics.partitionReleased('orders', '0');
    const samples = await scrape();
    for (const name of [METRIC_NAMES.watermark, METRIC_NAMES.checkpointPosition, METRIC_NAMES.checkpointTime, METRIC_NAMES.consumerLag]) {
      expect({ name, released: sampleValue(samples, name, { stream: 'orders', partition: '0' }) }).toEqual({ name, released: undefined });
      expect(sampleValue(samples, name, { stream: 'orders', partition: '1' })).toBeDefined();
    }
    expect(sampleValue(samples, METRIC_NAMES.consumerLag, { stream: 'orders', partition: '1' })).toBe(5);
  });
});

describe('TributaryMetrics registry', () => {
  it('registers every declared metric under tributary_<name>_<unit>, counters ending in _total', async () => {
    const registry = new Registry();
    new TributaryMetrics(registry);
    const registered = await registry.getMetricsAsJSON();
    expect(registered.map((m) => m.name).sort()).toEqual(Object.values(METRIC_NAMES).sort());
    for (const metric of registered) {
      expect(metric.name).toMatch(/^tributary_[a-z0-9_]+$/);
      if (String(metric.type) === 'counter') expect(metric.name).toMatch(/_total$/);
    }
  });

  it('uses only the registry it is given, so two workers in one process do not collide', async () => {
    const first = new Registry();
    const second = new Registry();
    new TributaryMetrics(first).eventsIn('orders', '0', 5);
    new TributaryMetrics(second).eventsIn('orders', '0', 9);
    const value = async (registry: Registry): Promise<number | undefined> =>
      sampleValue(parseExposition(await registry.metrics()), 'tributary_events_in_total', { stream: 'orders', partition: '0' });
    expect(await value(first)).toBe(5);
    expect(await value(second)).toBe(9);
  });

  it('adds process and Node.js runtime metrics when asked', async () => {
    const registry = new Registry();
    new TributaryMetrics(registry, { processMetrics: true });
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names).toContain('process_cpu_seconds_total');
    expect(names).toContain('nodejs_eventloop_lag_seconds');
  });
});
