/**
 * Storage outages on blob storage (Azurite with its data on disk, stopped and started again):
 *
 * - stopped for 60 s in the middle of a run: the default retry budget rides it out; the run completes with a lake
 *   and dead letters byte-identical to a run that saw no outage, and no checkpoint ever moved ahead of the lake;
 * - stopped for longer than the retry budget: the run stops non-zero; once storage is back a rerun gives the
 *   identical lake;
 * - SIGTERM during an outage: the worker exits at its drain deadline (the stores stop retrying), non-zero, saying
 *   so, and no checkpoint is ahead of the lake.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import type { TributaryConfigInput } from '../../src/config/schema.js';
import { createLogger } from '../../src/core/log.js';
import { runWorker } from '../../src/runtime/worker.js';
import { ObjectCheckpointStore } from '../../src/sink/object-checkpoint-store.js';
import { createObjectStore } from '../../src/sink/store-factory.js';
import { devConnectionString, startAzurite, type Azurite } from '../support/azurite.js';
import { startCli } from '../support/cli.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { snapshotLake } from '../support/lake.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';
import { CheckpointGuard, STREAMS, blob, demoConfig, freshBlobRun, readDeadLetters, readLake, writeDemoArchive } from './blob-support.js';

const SPEC = { partitions: 2, eventsPerPartition: 900, seed: 11 };
const log = createLogger('silent');

let azurite: Azurite;
let ws: Workspace;
let archiveContainer: string;
let reference: { lakeBytes: Map<string, string>; lake: Awaited<ReturnType<typeof readLake>>; deadLetters: Awaited<ReturnType<typeof readDeadLetters>> };

function stores(connectionString: string, containers: { lake: string; deadLetters: string; state: string }) {
  return {
    archive: blob(archiveContainer, connectionString),
    lake: blob(containers.lake, connectionString),
    deadLetter: blob(containers.deadLetters, connectionString, '$Default'),
    state: blob(containers.state, connectionString),
  };
}

/** A proxy in front of Azurite that stops Azurite at the `nth` lake upload and starts it `outageMs` later. */
async function outageProxy(containers: { lake: string; state: string }, nth: number, outageMs: number, guard?: CheckpointGuard, direct?: ReturnType<typeof freshBlobRun>['direct']) {
  let lakeUploads = 0;
  let outage: Promise<void> | undefined;
  const proxy: FaultProxy = await startFaultProxy(azurite.port, async (request) => {
    if (request.method !== 'PUT') return { kind: 'forward' };
    if (request.url.includes(`/${containers.lake}/`) && ++lakeUploads === nth) {
      await azurite.suspend();
      outage = new Promise((resolve) => setTimeout(resolve, outageMs)).then(() => azurite.resume());
    }
    if (guard && direct && request.url.includes(`/${containers.state}/checkpoints/`)) {
      await outage;
      await guard.check(JSON.parse(request.body.toString('utf8')) as { stream: string; partition: string; nextPosition: number }, direct.lake, direct.deadLetters);
    }
    return { kind: 'forward' };
  });
  return { proxy, through: devConnectionString(`http://127.0.0.1:${proxy.port}/devstoreaccount1`), outage: () => outage };
}

beforeAll(async () => {
  azurite = await startAzurite({ persistent: true });
  ws = await createWorkspace('tributary-blob-outage-');
  archiveContainer = `capture-${randomBytes(3).toString('hex')}`;
  await writeDemoArchive([createObjectStore(blob(archiveContainer, azurite.connectionString))], SPEC);
  const { containers, direct } = freshBlobRun(azurite.connectionString);
  await runWorker(parseConfig(await demoConfig(stores(azurite.connectionString, containers)), 'reference'), { bounded: true, signal: new AbortController().signal, log });
  reference = { lakeBytes: await snapshotLake(direct.lake), lake: await readLake(direct.lake), deadLetters: await readDeadLetters(direct.deadLetters) };
}, 120_000);

afterAll(async () => {
  await azurite?.stop();
  await ws?.cleanup();
});

describe('blob storage outages', () => {
  it('rides out a 60 s outage mid-run with the default retry budget: identical lake, checkpoint never ahead', async () => {
    const { containers, direct } = freshBlobRun(azurite.connectionString);
    const guard = new CheckpointGuard(reference);
    const { proxy, through, outage } = await outageProxy(containers, 6, 60_000, guard, direct);
    try {
      const config = parseConfig(await demoConfig(stores(through, containers)), 'outage');
      expect(config.retry.budget).toBeGreaterThan(60_000);
      await runWorker(config, { bounded: true, signal: new AbortController().signal, log });
      expect(outage()).toBeDefined();
      expect(proxy.unreachable).toBeGreaterThan(0);
    } finally {
      await outage();
      await proxy.close();
    }
    expect(guard.violations).toEqual([]);
    expect(guard.checks).toBeGreaterThan(STREAMS.length * SPEC.partitions);
    expect(await snapshotLake(direct.lake)).toEqual(reference.lakeBytes);
    expect(await readDeadLetters(direct.deadLetters)).toEqual(reference.deadLetters);
  }, 240_000);

  it('stops non-zero when the outage outlasts the retry budget; a rerun gives the identical lake', async () => {
    const { containers, direct } = freshBlobRun(azurite.connectionString);
    const { proxy, through, outage } = await outageProxy(containers, 6, 25_000);
    const input: TributaryConfigInput = {
      ...(await demoConfig(stores(through, containers))),
      retry: { initialDelay: '100ms', maxDelay: '1s', budget: '3s' },
    };
    input.processing = { ...input.processing, maxConsecutiveFailures: 2 };
    let failure: unknown;
    try {
      await runWorker(parseConfig(input, 'long outage'), { bounded: true, signal: new AbortController().signal, log });
    } catch (error) {
      failure = error;
    } finally {
      await outage();
      await proxy.close();
    }
    expect(failure).toMatchObject({ message: expect.stringMatching(/failed 2 times in a row|STORAGE|storage|ECONNREFUSED|timed out/) });
    await runWorker(parseConfig(await demoConfig(stores(azurite.connectionString, containers)), 'rerun'), { bounded: true, signal: new AbortController().signal, log });
    expect(await snapshotLake(direct.lake)).toEqual(reference.lakeBytes);
    expect(await readDeadLetters(direct.deadLetters)).toEqual(reference.deadLetters);
  }, 240_000);

  it('exits at the drain deadline when SIGTERM comes during an outage, checkpoint not ahead of the lake', async () => {
    const { containers, direct } = freshBlobRun(azurite.connectionString);
    let lakeUploads = 0;
    let suspended: Promise<void> | undefined;
    const proxy = await startFaultProxy(azurite.port, async (request) => {
      if (request.method === 'PUT' && request.url.includes(`/${containers.lake}/`) && ++lakeUploads === 6) suspended ??= azurite.suspend();
      return { kind: 'forward' };
    });
    const through = devConnectionString(`http://127.0.0.1:${proxy.port}/devstoreaccount1`);
    const file = ws.file(`sigterm-${containers.lake}.yaml`);
    // A retry budget far past the deadline: only the drain deadline can end this run.
    await writeFile(file, stringify({ ...(await demoConfig(stores(through, containers))), retry: { budget: '10m' }, shutdown: { drainDeadline: '3s' } }));
    try {
      const { child, done } = startCli(['run', '-q', '--config', file]);
      while (!suspended) await new Promise((resolve) => setTimeout(resolve, 50));
      await suspended;
      await new Promise((resolve) => setTimeout(resolve, 500));
      child.kill('SIGTERM');
      const result = await done;
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/drain deadline/);
    } finally {
      await proxy.close();
      await azurite.resume();
    }
    // With storage back: every checkpoint the run left is behind what the lake holds.
    const guard = new CheckpointGuard(reference);
    for (const stream of STREAMS) {
      for (const checkpoint of await new ObjectCheckpointStore(createObjectStore(blob(containers.state, azurite.connectionString))).list(stream)) {
        await guard.check(checkpoint, direct.lake, direct.deadLetters);
      }
    }
    expect(guard.violations).toEqual([]);
  }, 120_000);
});
