/**
 * A blob store reports every failed attempt through onFailure, so tributary_errors_total counts retried faults and
 * the one that exhausted the retries, and that last one, when the run reports it again, is not counted twice.
 * Nothing listens on the store's port (a real connection refused, no service needed).
 */
import { createServer } from 'node:net';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { storeSchema } from '../../src/config/schema.js';
import { TributaryError } from '../../src/core/errors.js';
import { TributaryMetrics } from '../../src/metrics/metrics.js';
import { createObjectStore } from '../../src/sink/store-factory.js';
import { parseExposition } from '../metrics/exposition.js';
import { devConnectionString } from '../support/azurite.js';

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address.port;
}

describe('blob store failure reports', () => {
  it('reports each failed attempt; the run reporting the final error again adds nothing', async () => {
    const port = await closedPort();
    const registry = new Registry();
    const metrics = new TributaryMetrics(registry);
    const reported: unknown[] = [];
    const config = storeSchema.parse({ kind: 'blob', container: 'lake', connectionString: devConnectionString(`http://127.0.0.1:${port}/devstoreaccount1`) });
    const store = createObjectStore(config, {
      retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2, factor: 2 },
      onFailure: (error) => {
        reported.push(error);
        metrics.error('sink', error);
      },
    });
    const failure = await store.put('x.parquet', new Uint8Array([1])).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(TributaryError);
    expect(reported).toHaveLength(3);
    expect(reported.every((e) => e instanceof TributaryError && e.code === 'STORAGE_TRANSIENT')).toBe(true);
    expect(reported.at(-1)).toBe(failure);
    metrics.error('run', failure);
    const errors = parseExposition(await registry.metrics()).filter((s) => s.name === 'tributary_errors_total');
    expect(errors.map((s) => ({ ...s.labels, value: s.value }))).toEqual([{ stage: 'sink', error_type: 'storage_transient', value: 3 }]);
  });
});
