/**
 * A range replay whose archive can no longer be read past the retry budget fails like a run does: each failed
 * read is a failure of its partition (restarted from its snapshot, with backoff) until
 * processing.maxConsecutiveFailures, then the replay stops naming the read. The archive goes through the run's
 * store wrapper (where faults are injected here), and the range's cut passes read failures on to the router.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TributaryConfig } from '../../src/config/schema.js';
import { createLogger } from '../../src/core/log.js';
import { generateArchive } from '../../src/gen/archive.js';
import { runWorker } from '../../src/runtime/worker.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { runRange } from '../../src/state/range-replay.js';
import { embeddedConfig } from '../support/embedded-config.js';
import { snapshotLake } from '../support/lake.js';
import { unreadableAfterIndexing } from '../support/faulty-store.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';

const log = createLogger('silent');
let ws: Workspace;
let config: TributaryConfig;

beforeAll(async () => {
  ws = await createWorkspace('tributary-range-reads-');
  const input = embeddedConfig(ws);
  input.processing.rowsPerFile = 100;
  ({ config } = await ws.writeConfig({ ...input, retry: { initialDelay: '1ms', maxDelay: '4ms', budget: '30ms' }, processing: { ...input.processing, rowsPerFile: 100, maxConsecutiveFailures: 3 } }));
  await generateArchive(config, { events: 600, partitions: 2, span: '20m', seed: 5 });
  await runWorker(config, { bounded: true, signal: new AbortController().signal, log });
}, 120_000);
afterAll(() => ws?.cleanup());

it('restarts the partition for each failed read, stops after maxConsecutiveFailures naming the read, and a replay that can read writes the main lake files', async () => {
  const failures: string[] = [];
  const replay = (lake: string, wrapStore?: Parameters<typeof runRange>[1]['wrapStore']) =>
    runRange(config, { from: '100', until: '250', lake: ws.file(lake), signal: new AbortController().signal, log, ...(wrapStore ? { wrapStore } : {}) });
  const error = await replay('failing', (role, store) => (role === 'archive' ? unreadableAfterIndexing(store, failures) : store)).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toMatchObject({ code: 'STORAGE_PERMANENT', message: expect.stringMatching(/failed 3 times in a row.*cannot be read/) });
  // a restart per failed read: without the range's cut passing failures on, the first one would end the replay
  expect(failures.length).toBeGreaterThanOrEqual(3);
  expect([...(await snapshotLake(new LocalObjectStore(ws.file('failing')))).keys()]).toEqual([]);

  await replay('readable');
  const main = await snapshotLake(new LocalObjectStore(ws.file('lake')));
  const replayed = await snapshotLake(new LocalObjectStore(ws.file('readable')));
  expect(replayed.size).toBeGreaterThan(0);
  for (const [key, bytes] of replayed) expect(main.get(key), key).toBe(bytes);
}, 120_000);
