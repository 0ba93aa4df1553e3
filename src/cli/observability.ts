import { Registry } from 'prom-client';
import type { TributaryConfig } from '../config/schema.js';
import type { Logger } from '../core/log.js';
import { HealthState } from '../metrics/health.js';
import { TributaryMetrics } from '../metrics/metrics.js';
import { startMetricsServer } from '../metrics/server.js';
import { armDrainDeadline } from '../runtime/drain-deadline.js';
import type { PipelineObserver } from '../runtime/observer.js';

export interface Observability {
  observers: PipelineObserver[];
  /** the worker started its source (readiness also needs a partition owned and restored) */
  markReady: () => void;
  /** the worker stopped: disarm the drain deadline, close the metrics server */
  close: () => Promise<void>;
}

/**
 * For one run: the health state behind /healthz and /readyz, the drain deadline (armed whatever metrics.enabled
 * says), and Prometheus metrics on their own registry with the /metrics, /healthz, /readyz endpoints.
 */
export async function startObservability(config: TributaryConfig, signal: AbortSignal, log: Logger): Promise<Observability> {
  const health = new HealthState({ livenessTimeoutMs: config.health.livenessTimeout });
  signal.addEventListener('abort', () => health.startDraining(), { once: true });
  const deadline = armDrainDeadline(signal, {
    deadlineMs: config.shutdown.drainDeadline,
    log,
    inFlight: () => {
      const { batchesInFlight, partitions } = health.inFlight();
      const owned = health.ownedPartitions();
      return `${batchesInFlight} batch(es)${partitions.length > 0 ? ` of ${partitions.join(', ')}` : ''}; partitions not yet released: ${owned.length > 0 ? owned.join(', ') : 'none'}`;
    },
  });
  if (!config.metrics.enabled) {
    return { observers: [health], markReady: () => undefined, close: async () => deadline.disarm() };
  }
  const registry = new Registry();
  const metrics = new TributaryMetrics(registry, { processMetrics: true });
  let started = false;
  const stop = new AbortController();
  const server = await startMetricsServer(registry, {
    host: config.metrics.host,
    port: config.metrics.port,
    readiness: () => (started ? health.readiness() : { ok: false, reason: 'the source has not started yet' }),
    liveness: () => health.liveness(),
    // open until the worker has stopped, not just asked to: /readyz says "draining" and /metrics stays scrapable
    signal: stop.signal,
  });
  log.info({ url: `http://${server.host}:${server.port}/metrics` }, 'metrics listening');
  return {
    observers: [metrics, health],
    markReady: () => {
      started = true;
    },
    close: async () => {
      deadline.disarm();
      stop.abort();
      await server.closed;
    },
  };
}
