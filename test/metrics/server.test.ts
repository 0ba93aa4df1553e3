import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { TributaryError } from '../../src/core/errors.js';
import { startMetricsServer, type MetricsServerOptions } from '../../src/metrics/server.js';
import { parseExposition, sampleValue } from './exposition.js';

const stops: AbortController[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop.abort();
});

async function start(registry: Registry, options: Partial<MetricsServerOptions> = {}): Promise<{ url: string; stop: AbortController; closed: Promise<void> }> {
  const stop = new AbortController();
  stops.push(stop);
  const server = await startMetricsServer(registry, { host: '127.0.0.1', port: 0, readiness: () => true, signal: stop.signal, ...options });
  return { url: `http://127.0.0.1:${server.port}`, stop, closed: server.closed };
}

describe('startMetricsServer', () => {
  it('binds a free port when asked for port 0 and serves the registry on /metrics', async () => {
    const registry = new Registry();
    new Counter({ name: 'tributary_test_total', help: 'test', registers: [registry] }).inc(3);
    const { url } = await start(registry);
    expect(Number(new URL(url).port)).toBeGreaterThan(0);
    const response = await fetch(`${url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(registry.contentType);
    expect(sampleValue(parseExposition(await response.text()), 'tributary_test_total')).toBe(3);
  });

  it('answers /healthz while alive and 503 when the liveness check says the worker is wedged', async () => {
    let alive = true;
    const { url } = await start(new Registry(), { liveness: () => alive });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    alive = false;
    expect((await fetch(`${url}/healthz`)).status).toBe(503);
  });

  it('makes /readyz follow the readiness callback', async () => {
    let ready = false;
    const { url } = await start(new Registry(), { readiness: () => ready });
    const notReady = await fetch(`${url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(notReady.headers.get('content-type')).toBe('application/json');
    expect(await notReady.json()).toEqual({ ok: false, reason: 'not ready' });
    ready = true;
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    ready = false;
    expect((await fetch(`${url}/readyz`)).status).toBe(503);
  });

  it('reports a readiness check that throws as not ready, with the reason', async () => {
    const { url } = await start(new Registry(), {
      readiness: () => {
        throw new Error('checkpoint store unreachable');
      },
    });
    const response = await fetch(`${url}/readyz`);
    expect(response.status).toBe(503);
    expect(await response.text()).toContain('checkpoint store unreachable');
  });

  it('answers 404 for unknown paths and 405 for writes', async () => {
    const { url } = await start(new Registry());
    expect((await fetch(`${url}/nope`)).status).toBe(404);
    const post = await fetch(`${url}/metrics`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('answers 500 when collecting the metrics fails', async () => {
    const registry = new Registry();
    new Counter({
      name: 'tributary_broken_total',
      help: 'collect throws',
      registers: [registry],
      collect() {
        throw new Error('collector broke');
      },
    });
    const { url } = await start(registry);
    const response = await fetch(`${url}/metrics`);
    expect(response.status).toBe(500);
    expect(await response.text()).toContain('collector broke');
  });

  it('closes when the signal aborts, open keep-alive connections included', async () => {
    const { url, stop, closed } = await start(new Registry());
    expect((await fetch(`${url}/healthz`)).status).toBe(200); // leaves a keep-alive connection open
    stop.abort();
    await closed;
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });

  it('fails with a typed error naming the address when the port is taken', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    try {
      const error = await start(new Registry(), { port }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TributaryError);
      expect((error as TributaryError).code).toBe('CONFIG_INVALID');
      expect((error as Error).message).toContain(`127.0.0.1:${port}`);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it('refuses to start on an aborted signal', async () => {
    const stop = new AbortController();
    stop.abort();
    await expect(startMetricsServer(new Registry(), { host: '127.0.0.1', port: 0, readiness: () => true, signal: stop.signal })).rejects.toMatchObject({ code: 'ABORTED' });
  });
});
