import type { TributaryConfig } from '../config/schema.js';
import type { Logger } from '../core/log.js';
import type { PipelineObserver } from '../runtime/observer.js';

export interface Observability {
  observers: PipelineObserver[];
  markReady: () => void;
  close: () => Promise<void>;
}

/** Metrics and health endpoints; wired to prom-client once the metrics module lands. */
export async function startObservability(_config: TributaryConfig, _signal: AbortSignal, _log: Logger): Promise<Observability> {
  return { observers: [], markReady: () => undefined, close: async () => undefined };
}
