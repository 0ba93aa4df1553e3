/**
 * A real run reports what it did through Prometheus: events in, rows landed per table, dead letters by reason,
 * batch latency, and per partition the watermark and checkpoint position, scraped from /metrics over HTTP.
 * And the source's flow control: a slow sink never has more than two batches of a partition in flight.
 */
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { generateArchive } from '../../src/gen/archive.js';
import { CaptureSource } from '../../src/ingest/capture/source.js';
import type { PartitionBatch, PartitionHandler } from '../../src/core/source.js';
import { TributaryMetrics } from '../../src/metrics/metrics.js';
import { startMetricsServer } from '../../src/metrics/server.js';
import { runWorker, type RunSummary } from '../../src/runtime/worker.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { ObjectCheckpointStore } from '../../src/sink/object-checkpoint-store.js';
import type { TributaryConfig } from '../../src/config/schema.js';
import { embeddedConfig } from '../support/embedded-config.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';
import { startCli } from '../support/cli.js';

function sampleValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const lines = text.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
  const match = lines.find((line) => Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)));
  if (!match) throw new Error(`no sample ${name} ${JSON.stringify(labels)} in:\n${lines.join('\n')}`);
  return Number(match.slice(match.lastIndexOf(' ') + 1));
}

describe('observability and flow control of a real run', () => {
  let ws: Workspace;
  let config: TributaryConfig;
  let summary: RunSummary;
  let exposition: string;

  beforeAll(async () => {
    ws = await createWorkspace();
    ({ config } = await ws.writeConfig(embeddedConfig(ws)));
    await generateArchive(config, { events: 5000, partitions: 2, faults: { duplicate: 0.02, outOfOrder: 0, late: 0.02, corrupt: 0.01 }, seed: 8 });
    const registry = new Registry();
    const controller = new AbortController();
    const server = await startMetricsServer(registry, { host: '127.0.0.1', port: 0, readiness: () => true, signal: controller.signal });
    summary = await runWorker(config, { bounded: true, signal: new AbortController().signal, log: createLogger('silent'), observers: [new TributaryMetrics(registry)] });
    exposition = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
    controller.abort();
    await server.closed;
  });
  afterAll(() => ws?.cleanup());

  it('counts events in, rows landed per table and dead letters by reason as the run summary does', () => {
    const eventsIn = ['0', '1'].flatMap((p) => ['orders', 'telemetry'].map((s) => sampleValue(exposition, 'tributary_events_in_total', { stream: s, partition: p })));
    expect(eventsIn.reduce((a, b) => a + b, 0)).toBe(summary.totals.eventsRead);
    for (const [table, rows] of summary.totals.rowsPerTable) {
      expect(sampleValue(exposition, 'tributary_rows_landed_total', { table })).toBe(rows);
    }
    const late = summary.totals.deadLettersByReason.get('late')!;
    expect(late).toBeGreaterThan(0);
    expect(sampleValue(exposition, 'tributary_dead_letters_total', { stream: 'orders', reason: 'late' }) + sampleValue(exposition, 'tributary_dead_letters_total', { stream: 'telemetry', reason: 'late' })).toBe(late);
    expect(sampleValue(exposition, 'tributary_batch_latency_seconds_count', { stream: 'orders' })).toBeGreaterThan(0);
  });

  it('serves each partition\'s watermark and checkpoint position while it runs, and stops cleanly on SIGTERM', async () => {
    const live = embeddedConfig(ws);
    const { file } = await ws.writeConfig({ ...live, state: { kind: 'local', path: ws.file('live-state') }, lake: { kind: 'local', path: ws.file('live-lake') }, metrics: { port: 0 } }, 'live.yaml');
    const { child, done } = startCli(['run', '-q', '--config', file], { env: { TRIBUTARY_LOG_LEVEL: 'info' } });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const deadline = Date.now() + 60_000;
    let url: string | undefined;
    let text = '';
    const checkpoints = new ObjectCheckpointStore(new LocalObjectStore(ws.file('live-state')));
    // unbounded: it catches up, flushes and keeps polling the archive, holding its partitions
    for (;;) {
      if (Date.now() > deadline) throw new Error(`no checkpoints served in time:\n${stderr}`);
      url ??= /"url":"([^"]+)"/.exec(stderr)?.[1];
      const committed = await checkpoints.list('orders');
      if (url && committed.length === 2) {
        text = await (await fetch(url)).text();
        if (committed.every((c) => text.includes(`tributary_checkpoint_position{stream="orders",partition="${c.partition}"} ${c.nextPosition}`))) break;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect((await fetch(url!.replace('/metrics', '/readyz'))).status).toBe(200);
    for (const partition of ['0', '1']) {
      expect(sampleValue(text, 'tributary_watermark_timestamp_seconds', { stream: 'orders', partition })).toBeGreaterThan(Date.parse('2024-01-01T00:00:00Z') / 1000);
    }
    child.kill('SIGTERM');
    const result = await done;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Tributary run summary');
  });

  it('hands a partition over one batch at a time: a slow handler holds the source back (backpressure)', async () => {
    let inFlight = 0;
    let most = 0;
    let batches = 0;
    const slow: PartitionHandler = {
      onAssigned: async () => undefined,
      onBatch: async (_batch: PartitionBatch): Promise<void> => {
        inFlight++;
        most = Math.max(most, inFlight);
        batches++;
        await new Promise((resolve) => setTimeout(resolve, 5));
        inFlight--;
      },
      onRevoked: async () => undefined,
    };
    const source = new CaptureSource({
      store: new LocalObjectStore(ws.file('capture')),
      namespace: 'test',
      hubs: { orders: 'orders' },
      checkpoints: new ObjectCheckpointStore(new LocalObjectStore(ws.file('unused-state'))),
      leases: new LocalObjectStore(ws.file('unused-state')),
      owner: 'test',
      batchSize: 100,
      log: createLogger('silent'),
    });
    // one partition at a time would hide concurrency between partitions; count per source run instead
    await source.run(slow, { signal: new AbortController().signal, bounded: true });
    expect(batches).toBeGreaterThan(40);
    expect(most).toBeLessThanOrEqual(2); // two partitions, one batch each until the handler accepts it
  });
});
