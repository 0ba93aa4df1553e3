import { Registry } from 'prom-client';
import type { TributaryConfig } from '../config/schema.js';
import type { Logger } from '../core/log.js';
import { TributaryMetrics } from '../metrics/metrics.js';
import { startMetricsServer } from '../metrics/server.js';
import type { PipelineObserver } from '../runtime/observer.js';

export interface Observability {
  observers: PipelineObserver[];
  markReady: () => void;
  close: () => Promise<void>;
}

/** Prometheus metrics on their own registry and the /metrics, /healthz, /readyz endpoints, for one run. */
export async function startObservability(config: TributaryConfig, signal: AbortSignal, log: Logger): Promise<Observability> {
  if (!config.metrics.enabled) return { observers: [], markReady: () => undefined, close: async () => undefined };
  const registry = new Registry();
  const metrics = new TributaryMetrics(registry, { processMetrics: true });
  let ready = false;
  const stop = new AbortController();
  const server = await startMetricsServer(registry, {
    host: config.metrics.host,
    port: config.metrics.port,
    readiness: () => ready && !signal.aborted,
    signal: AbortSignal.any([signal, stop.signal]),
  });
  log.info({ url: `http://${server.host}:${server.port}/metrics` }, 'metrics listening');
  return {
    observers: [metrics],
    markReady: () => {
      ready = true;
    },
    close: async () => {
      stop.abort();
      await server.closed;
    },
  };
}
