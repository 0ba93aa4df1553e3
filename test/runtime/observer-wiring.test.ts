/**
 * The runtime feeds the health state and the metrics through the observer: a real bounded run on a generated
 * archive (partitions assigned before their batches, every batch settled, dead letters written counted as the
 * store holds them), and a run that fails counts its error once.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TributaryConfig } from '../../src/config/schema.js';
import { createLogger } from '../../src/core/log.js';
import { generateArchive } from '../../src/gen/archive.js';
import { HealthState } from '../../src/metrics/health.js';
import { TributaryMetrics } from '../../src/metrics/metrics.js';
import { ERROR_STAGES, type PipelineObserver } from '../../src/runtime/observer.js';
import { runWorker } from '../../src/runtime/worker.js';
import { countsFromMetadata, DEAD_LETTER_REASONS } from '../../src/sink/dead-letter.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { parseExposition, sampleValue } from '../metrics/exposition.js';
import { embeddedConfig } from '../support/embedded-config.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';

describe('observer wiring of a real run', () => {
  let ws: Workspace;
  let config: TributaryConfig;

  beforeAll(async () => {
    ws = await createWorkspace();
    ({ config } = await ws.writeConfig(embeddedConfig(ws)));
    await generateArchive(config, { events: 4000, partitions: 2, faults: { duplicate: 0.01, outOfOrder: 0, late: 0.02, corrupt: 0.02 }, seed: 14 });
  });
  afterAll(() => ws?.cleanup());

  it('reports each partition ready before its first batch, settles every batch, and counts the dead letters the store holds', async () => {
    const health = new HealthState({ livenessTimeoutMs: 60_000 });
    const registry = new Registry();
    const metrics = new TributaryMetrics(registry);
    const readyAtBatch: boolean[] = [];
    const owned = new Set<string>();
    let assignedBeforeBatch = true;
    const spy: PipelineObserver = {
      ...silentObserver(),
      partitionAssigned: (stream, partition) => owned.add(`${stream}/${partition}`),
      batchStarted: (stream, partition) => {
        assignedBeforeBatch &&= owned.has(`${stream}/${partition}`);
        readyAtBatch.push(health.readiness().ok);
      },
    };
    const summary = await runWorker(config, { bounded: true, signal: new AbortController().signal, log: createLogger('silent'), observers: [health, metrics, spy] });

    expect(summary.totals.eventsRead).toBeGreaterThan(0);
    expect(readyAtBatch.length).toBeGreaterThan(0);
    expect(readyAtBatch.every(Boolean)).toBe(true);
    expect(assignedBeforeBatch).toBe(true);
    expect([...owned].sort()).toEqual(['orders/0', 'orders/1', 'telemetry/0', 'telemetry/1']);
    // every batch settled, and every partition released at the end of a bounded run
    expect(health.inFlight()).toEqual({ batchesInFlight: 0, partitions: [] });
    expect(health.readiness().ok).toBe(false);

    const stored = new Map<string, number>();
    for (const info of await new LocalObjectStore(ws.file('deadletter')).list('')) {
      const stream = info.key.split('/')[0]!;
      for (const [reason, count] of Object.entries(countsFromMetadata(info.metadata))) stored.set(`${stream}/${reason}`, (stored.get(`${stream}/${reason}`) ?? 0) + count);
    }
    expect(stored.size).toBeGreaterThan(0);
    const samples = parseExposition(await registry.metrics());
    for (const stream of ['orders', 'telemetry']) {
      for (const reason of DEAD_LETTER_REASONS) {
        expect({ stream, reason, pending: sampleValue(samples, 'tributary_dead_letters_pending', { stream, reason }) ?? 0 })
          .toEqual({ stream, reason, pending: stored.get(`${stream}/${reason}`) ?? 0 });
      }
    }
    expect(samples.filter((s) => s.name === 'tributary_errors_total')).toEqual([]);
  });

  it('counts each failure once, though the router and the worker both report the one that ends the run', async () => {
    // the lake's folder is a file: every write of a file fails, and keeps failing after each partition restart
    await writeFile(ws.file('blocked-lake'), 'not a folder');
    await mkdir(ws.file('state-2'), { recursive: true });
    const broken: TributaryConfig = { ...config, lake: { kind: 'local', path: ws.file('blocked-lake') }, state: { kind: 'local', path: ws.file('state-2') } };
    const registry = new Registry();
    const metrics = new TributaryMetrics(registry);
    const reports: { stage: string; error: unknown }[] = [];
    const spy = { ...silentObserver(), error: (stage: string, error: unknown) => reports.push({ stage, error }) };
    const failure = await runWorker(broken, { bounded: true, signal: new AbortController().signal, log: createLogger('silent'), observers: [metrics, spy] }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeDefined();
    const distinct = new Set(reports.map((r) => r.error));
    // the run's failure is one of the partitions' failures, reported again by the worker
    expect(distinct.has(failure)).toBe(true);
    expect(reports.filter((r) => r.error === failure).length).toBeGreaterThan(1);
    const errors = parseExposition(await registry.metrics()).filter((s) => s.name === 'tributary_errors_total');
    expect(errors.reduce((sum, s) => sum + s.value, 0)).toBe(distinct.size);
    for (const sample of errors) expect(ERROR_STAGES).toContain(sample.labels.stage);
  });
});

function silentObserver(): PipelineObserver {
  return {
    eventsIn: () => undefined,
    duplicates: () => undefined,
    rowsLanded: () => undefined,
    fileWritten: () => undefined,
    deadLettered: () => undefined,
    batchProcessed: () => undefined,
    watermark: () => undefined,
    checkpointed: () => undefined,
  };
}
