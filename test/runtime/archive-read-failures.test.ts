/**
 * An archive that can no longer be read past the retry budget: each failed read counts as a failure of its
 * partition (restart from the snapshot, with backoff), and once a partition has failed
 * processing.maxConsecutiveFailures times in a row the run stops, naming the partition and the read that failed.
 * Nothing is checkpointed past what the lake holds, and a rerun with the archive readable again lands everything.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TributaryConfig } from '../../src/config/schema.js';
import { createLogger } from '../../src/core/log.js';
import { generateArchive } from '../../src/gen/archive.js';
import { runWorker } from '../../src/runtime/worker.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { ObjectCheckpointStore } from '../../src/sink/object-checkpoint-store.js';
import { embeddedConfig } from '../support/embedded-config.js';
import { snapshotLake } from '../support/lake.js';
import { unreadableAfterIndexing } from '../support/faulty-store.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';

const log = createLogger('silent');
let ws: Workspace;

async function setup(name: string): Promise<TributaryConfig> {
  const input = embeddedConfig(ws);
  input.source.store.path = ws.file('capture');
  const { config } = await ws.writeConfig(
    {
      ...input,
      lake: { kind: 'local', path: ws.file(name, 'lake') },
      deadLetter: { kind: 'local', path: ws.file(name, 'deadletter') },
      state: { kind: 'local', path: ws.file(name, 'state') },
      retry: { initialDelay: '1ms', maxDelay: '4ms', budget: '30ms' },
      processing: { ...input.processing, maxConsecutiveFailures: 3 },
    },
    `${name}.yaml`,
  );
  return config;
}

beforeAll(async () => {
  ws = await createWorkspace('tributary-archive-reads-');
  await generateArchive(await setup('gen'), { events: 400, partitions: 2, span: '20m', seed: 12 });
}, 120_000);
afterAll(() => ws?.cleanup());

it('restarts the partition for each failed read, stops after maxConsecutiveFailures naming the read, and a rerun lands everything', async () => {
  const failures: string[] = [];
  const failing = await setup('failing');
  const error = await runWorker(failing, {
    bounded: true,
    signal: new AbortController().signal,
    log,
    wrapStore: (role, store) => (role === 'archive' ? unreadableAfterIndexing(store, failures) : store),
  }).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toMatchObject({ code: 'STORAGE_PERMANENT', message: expect.stringMatching(/failed 3 times in a row.*cannot be read/) });
  // three sessions of the partition that stopped the run read a file and failed (a restart per failure)
  expect(failures.length).toBeGreaterThanOrEqual(3);
  const checkpoints = await new ObjectCheckpointStore(new LocalObjectStore(ws.file('failing', 'state'))).list('orders');
  expect(checkpoints.every((c) => c.nextPosition === 0)).toBe(true);

  const clean = await setup('clean');
  await runWorker(clean, { bounded: true, signal: new AbortController().signal, log });
  await runWorker(failing, { bounded: true, signal: new AbortController().signal, log });
  expect(await snapshotLake(new LocalObjectStore(ws.file('failing', 'lake')))).toEqual(await snapshotLake(new LocalObjectStore(ws.file('clean', 'lake'))));
}, 120_000);
