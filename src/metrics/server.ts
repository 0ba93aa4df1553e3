/**
 * The worker's HTTP side: /metrics for Prometheus, /healthz for liveness, /readyz for readiness (Kubernetes
 * probes). node:http only; it lives as long as the signal.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { TributaryError, abortError, errorMessage } from '../core/errors.js';
import type { ProbeResult } from './health.js';

export const METRICS_PATH = '/metrics';
export const LIVENESS_PATH = '/healthz';
export const READINESS_PATH = '/readyz';

export interface MetricsServerOptions {
  host: string;
  /** 0 = any free port. */
  port: number;
  /** Ready once the worker owns its partitions and processes; not while starting and while draining. */
  readiness: () => boolean | ProbeResult;
  /** Not alive when the worker is wedged and should be restarted; default always alive while the process serves. */
  liveness?: () => boolean | ProbeResult;
  /** Aborting closes the server (open keep-alive connections included). */
  signal: AbortSignal;
}

export interface MetricsServer {
  host: string;
  /** The bound port (the real one when 0 was asked for). */
  port: number;
  /** Settles once the server has closed after the signal aborted. */
  closed: Promise<void>;
}

export async function startMetricsServer(registry: Registry, options: MetricsServerOptions): Promise<MetricsServer> {
  const { signal } = options;
  if (signal.aborted) throw abortError(signal);
  const server = createServer((request, response) => {
    handle(registry, options, request, response).catch((error: unknown) => {
      // headers may already be out when a scrape fails mid-body; then all that is left is to cut the response
      if (response.headersSent) response.destroy(error instanceof Error ? error : new Error(errorMessage(error)));
      else send(response, 500, `metrics failed: ${errorMessage(error)}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => {
      reject(new TributaryError('CONFIG_INVALID', `metrics server cannot listen on ${options.host}:${options.port}: ${error.message}`, { cause: error }));
    };
    server.once('error', onError);
    server.listen(options.port, options.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const closed = new Promise<void>((resolve, reject) => {
    const close = (): void => {
      server.close((error) => (error ? reject(error) : resolve()));
      server.closeAllConnections();
    };
    if (signal.aborted) close();
    else signal.addEventListener('abort', close, { once: true });
  });
  const { port } = server.address() as AddressInfo;
  return { host: options.host, port, closed };
}

async function handle(registry: Registry, options: MetricsServerOptions, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('allow', 'GET, HEAD');
    send(response, 405, 'method not allowed\n');
    return;
  }
  switch (path) {
    case METRICS_PATH: {
      const body = await registry.metrics();
      send(response, 200, body, registry.contentType);
      return;
    }
    case LIVENESS_PATH:
      probe(response, options.liveness ?? (() => true), 'alive', 'not alive');
      return;
    case READINESS_PATH:
      probe(response, options.readiness, 'ready', 'not ready');
      return;
    default:
      send(response, 404, 'not found\n');
  }
}

/**
 * 200 or 503 with a JSON body `{ ok, reason, ... }`: the kubelet only looks at the status, the operator (kubectl
 * describe, curl) sees why. A probe callback that throws answers 503 with the error as the reason.
 */
function probe(response: ServerResponse, check: () => boolean | ProbeResult, up: string, down: string): void {
  let result: ProbeResult;
  try {
    const answer = check();
    result = typeof answer === 'boolean' ? { ok: answer, reason: answer ? up : down } : answer;
  } catch (error) {
    result = { ok: false, reason: `${down}: ${errorMessage(error)}` };
  }
  send(response, result.ok ? 200 : 503, `${JSON.stringify(result)}\n`, 'application/json');
}

function send(response: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  response.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}
