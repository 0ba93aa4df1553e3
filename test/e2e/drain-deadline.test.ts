/**
 * The drain deadline in the real binary: a worker whose lake never answers (a TCP peer that accepts and stays
 * silent) is asked to stop while a write hangs; once shutdown.drainDeadline has passed it says what was in flight
 * and exits 1, and no checkpoint moved. And /healthz, /readyz of the same worker before the stop.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateArchive } from '../../src/gen/archive.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { ObjectCheckpointStore } from '../../src/sink/object-checkpoint-store.js';
import { devConnectionString, DEV_ACCOUNT } from '../support/azurite.js';
import { startCli } from '../support/cli.js';
import { embeddedConfig } from '../support/embedded-config.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';

/** Accepts connections and never answers: every blob request to it hangs until the client gives up. */
async function silentPeer(): Promise<{ port: number; connected: Promise<void>; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let onConnect!: () => void;
  const connected = new Promise<void>((resolve) => (onConnect = resolve));
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined); // the worker's exit resets the connection; nothing to report
    onConnect();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    connected,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe('drain deadline of the real binary', () => {
  let ws: Workspace;
  let peer: Awaited<ReturnType<typeof silentPeer>>;

  beforeAll(async () => {
    ws = await createWorkspace();
    const { config } = await ws.writeConfig(embeddedConfig(ws));
    await generateArchive(config, { events: 4000, partitions: 1, faults: { duplicate: 0, outOfOrder: 0, late: 0, corrupt: 0 }, seed: 3 });
    peer = await silentPeer();
  });
  afterAll(async () => {
    await peer?.close();
    await ws?.cleanup();
  });

  it('exits 1 after the deadline with what was in flight, the checkpoints where they were', async () => {
    const base = embeddedConfig(ws);
    const lake = { kind: 'blob' as const, container: 'lake', connectionString: devConnectionString(`http://127.0.0.1:${peer.port}/${DEV_ACCOUNT}`) };
    const { file } = await ws.writeConfig({ ...base, lake, metrics: { port: 0 }, shutdown: { drainDeadline: '2s' } }, 'hang.yaml');
    const { child, done } = startCli(['run', '-q', '--config', file], { env: { TRIBUTARY_LOG_LEVEL: 'info' } });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // a write to the lake is under way (and will never finish) once the peer sees a connection
    await peer.connected;
    const url = /"url":"([^"]+)"/.exec(stderr)?.[1];
    expect(url).toBeDefined();
    const ready = await fetch(url!.replace('/metrics', '/readyz'));
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { ownedPartitions: string[] }).ownedPartitions.length).toBeGreaterThan(0);
    // work is pending but the liveness timeout (5 min by default) is far off: alive
    expect((await fetch(url!.replace('/metrics', '/healthz'))).status).toBe(200);

    child.kill('SIGTERM');
    const result = await done;
    expect(result.code).toBe(1);
    const said = result.stderr.split('\n').filter((line) => line.includes('drain deadline of 2 s passed'));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/Still in flight: [1-9]\d* batch\(es\) of (orders|telemetry)\/0/);
    expect(result.stdout).not.toContain('Tributary run summary');
    // nothing was written to the lake, so no checkpoint may exist
    const checkpoints = new ObjectCheckpointStore(new LocalObjectStore(ws.file('state')));
    expect([...(await checkpoints.list('orders')), ...(await checkpoints.list('telemetry'))]).toEqual([]);
  });
});
