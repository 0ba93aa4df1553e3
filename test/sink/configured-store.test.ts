/**
 * Every command opens its stores through configuredStore, so the config's `retry` section (not the stores' built-in
 * ten attempts) decides how long a storage fault is ridden out: the archive a run reads, the stores of reset,
 * inspect and range replay.
 */
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { configuredStore } from '../../src/sink/store-factory.js';
import { devConnectionString } from '../support/azurite.js';

/** A loopback port nothing listens on: every request is refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('configuredStore', () => {
  it('retries a refused connection for the configured budget, far past the built-in ten attempts', async () => {
    const retries: number[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
          const entry = JSON.parse(line) as { msg?: string; attempt?: number };
          if (entry.msg === 'transient blob storage fault, retrying' && entry.attempt !== undefined) retries.push(entry.attempt);
        }
        done();
      },
    });
    const connectionString = devConnectionString(`http://127.0.0.1:${await closedPort()}/devstoreaccount1`);
    const store = configuredStore(
      { retry: { initialDelay: 1, maxDelay: 2, budget: 1500 } },
      { kind: 'blob', container: 'configured-store', prefix: '', connectionString },
      { logger: createLogger('warn', sink) },
    );
    await expect(store.get('any/key')).rejects.toMatchObject({ code: 'STORAGE_TRANSIENT', message: expect.stringMatching(/any\/key/) });
    expect(retries.length).toBeGreaterThan(10);
    expect(retries).toEqual(retries.map((_, i) => i + 1));
  });
});
