/**
 * /healthz and /readyz answered from the HealthState the pipeline feeds, over a real HTTP server: every
 * transition of both probes, with a clock the test moves (no waiting).
 */
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { TributaryError } from '../../src/core/errors.js';
import { HealthState, type ProbeResult } from '../../src/metrics/health.js';
import { startMetricsServer } from '../../src/metrics/server.js';

const TIMEOUT_MS = 300_000;
const stops: AbortController[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop.abort();
});

interface Probe {
  status: number;
  body: ProbeResult;
}

async function served(): Promise<{ health: HealthState; clock: { ms: number }; healthz: () => Promise<Probe>; readyz: () => Promise<Probe> }> {
  const clock = { ms: Date.parse('2026-01-01T00:00:00Z') };
  const health = new HealthState({ livenessTimeoutMs: TIMEOUT_MS, now: () => clock.ms });
  const stop = new AbortController();
  stops.push(stop);
  const server = await startMetricsServer(new Registry(), {
    host: '127.0.0.1',
    port: 0,
    readiness: () => health.readiness(),
    liveness: () => health.liveness(),
    signal: stop.signal,
  });
  const get = async (path: string): Promise<Probe> => {
    const response = await fetch(`http://127.0.0.1:${server.port}${path}`);
    expect(response.headers.get('content-type')).toBe('application/json');
    return { status: response.status, body: (await response.json()) as ProbeResult };
  };
  return { health, clock, healthz: () => get('/healthz'), readyz: () => get('/readyz') };
}

describe('/healthz (liveness)', () => {
  it('stays alive however long an idle worker waits, with no partition and with caught-up partitions', async () => {
    const { health, clock, healthz } = await served();
    clock.ms += 10 * TIMEOUT_MS;
    expect((await healthz()).status).toBe(200);
    health.partitionAssigned('orders', '0');
    health.lag('orders', '0', 0);
    clock.ms += 10 * TIMEOUT_MS;
    const idle = await healthz();
    expect(idle.status).toBe(200);
    expect(idle.body.reason).toBe('idle: no work pending');
  });

  it('fails with a reason once events wait in an owned partition and nothing progressed for the timeout', async () => {
    const { health, clock, healthz } = await served();
    health.partitionAssigned('orders', '3');
    health.lag('orders', '3', 1200);
    clock.ms += TIMEOUT_MS;
    expect((await healthz()).status).toBe(200); // at the limit, not past it
    clock.ms += 1000;
    const wedged = await healthz();
    expect(wedged.status).toBe(503);
    expect(wedged.body.ok).toBe(false);
    expect(wedged.body.reason).toContain('no batch processed, no retry and no source heartbeat for 301 s (limit 300 s)');
    expect(wedged.body.reason).toContain('orders/3 (1200)');
    expect(wedged.body.laggingPartitions).toEqual([{ partition: 'orders/3', lag: 1200 }]);
  });

  it('fails when a batch stays in flight past the timeout, even with no lag reported', async () => {
    const { health, clock, healthz } = await served();
    health.partitionAssigned('telemetry', '1');
    health.batchStarted('telemetry', '1');
    clock.ms += TIMEOUT_MS + 1;
    const wedged = await healthz();
    expect(wedged.status).toBe(503);
    expect(wedged.body.batchesInFlight).toBe(1);
    expect(wedged.body.reason).toContain('1 batch(es) in flight');
  });

  it('recovers when a batch is processed, and a heartbeat alone also counts as a sign of life', async () => {
    const { health, clock, healthz } = await served();
    health.partitionAssigned('orders', '0');
    health.lag('orders', '0', 50);
    clock.ms += TIMEOUT_MS + 1;
    expect((await healthz()).status).toBe(503);
    health.batchStarted('orders', '0');
    health.batchProcessed();
    health.batchSettled('orders', '0');
    expect((await healthz()).status).toBe(200);
    clock.ms += TIMEOUT_MS + 1;
    expect((await healthz()).status).toBe(503);
    health.heartbeat();
    const alive = await healthz();
    expect(alive.status).toBe(200);
    expect(alive.body.lastSignOfLifeKind).toBe('source heartbeat');
  });

  it('counts retrying a transient fault as a sign of life, a permanent failure not', async () => {
    const { health, clock, healthz } = await served();
    health.partitionAssigned('orders', '0');
    health.batchStarted('orders', '0');
    clock.ms += TIMEOUT_MS + 1;
    health.error('sink', new TributaryError('STORAGE_PERMANENT', 'HTTP 403'));
    expect((await healthz()).status).toBe(503);
    health.error('sink', new TributaryError('STORAGE_TRANSIENT', 'HTTP 503'));
    const retrying = await healthz();
    expect(retrying.status).toBe(200);
    expect(retrying.body.lastSignOfLifeKind).toBe('retrying a transient fault');
  });

  it('does not count a failed batch as progress', async () => {
    const { health, clock, healthz } = await served();
    health.partitionAssigned('orders', '0');
    health.lag('orders', '0', 50);
    clock.ms += TIMEOUT_MS + 1;
    health.batchStarted('orders', '0');
    health.batchSettled('orders', '0'); // settled without batchProcessed: it failed
    expect((await healthz()).status).toBe(503);
  });

  it('stops counting a released partition\'s lag, but keeps its batch in flight until it settles', async () => {
    const { health, clock, healthz } = await served();
    health.partitionAssigned('orders', '0');
    health.lag('orders', '0', 50);
    health.batchStarted('orders', '0');
    health.partitionReleased('orders', '0');
    clock.ms += TIMEOUT_MS + 1;
    const stuck = await healthz();
    expect(stuck.status).toBe(503);
    expect(stuck.body.laggingPartitions).toEqual([]);
    expect(health.inFlight()).toEqual({ batchesInFlight: 1, partitions: ['orders/0'] });
    health.batchSettled('orders', '0');
    expect((await healthz()).status).toBe(200);
    expect(health.inFlight()).toEqual({ batchesInFlight: 0, partitions: [] });
  });
});

describe('/readyz (readiness)', () => {
  it('is not ready before any partition is owned and restored, ready after, not ready once all are released', async () => {
    const { health, readyz } = await served();
    const before = await readyz();
    expect(before.status).toBe(503);
    expect(before.body.reason).toBe('no partition owned and restored yet');
    health.partitionAssigned('orders', '0');
    health.partitionAssigned('telemetry', '0');
    const ready = await readyz();
    expect(ready.status).toBe(200);
    expect(ready.body.ownedPartitions).toEqual(['orders/0', 'telemetry/0']);
    health.partitionReleased('orders', '0');
    expect((await readyz()).status).toBe(200);
    health.partitionReleased('telemetry', '0');
    expect((await readyz()).status).toBe(503);
  });

  it('is ready with nothing owned once the source says balancing gave this worker no partition', async () => {
    const { health, readyz } = await served();
    health.ownershipSettled(2);
    expect((await readyz()).status).toBe(503); // the source says 2 are coming, none restored yet
    health.ownershipSettled(0);
    const spare = await readyz();
    expect(spare.status).toBe(200);
    expect(spare.body.reason).toContain('more replicas than partitions');
    health.partitionAssigned('orders', '5');
    health.partitionReleased('orders', '5');
    expect((await readyz()).status).toBe(503); // assignment cleared the "nothing to own" answer
  });

  it('is not ready while draining, partitions still owned or not', async () => {
    const { health, readyz, healthz } = await served();
    health.partitionAssigned('orders', '0');
    expect((await readyz()).status).toBe(200);
    health.startDraining();
    const draining = await readyz();
    expect(draining.status).toBe(503);
    expect(draining.body.reason).toContain('draining');
    expect((await healthz()).status).toBe(200);
  });
});
