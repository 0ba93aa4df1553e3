/**
 * When one partition of a Capture run fails, the others are stopped because of it, and may end with errors of
 * their own (a restartable failure of a session that was aborted). The run must report the failure that came
 * first, whatever the order of the partitions: that is what an operator needs to read.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TributaryConfig } from '../../src/config/schema.js';
import { TributaryError } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/log.js';
import type { PartitionBatch, PartitionHandler } from '../../src/core/source.js';
import { generateArchive } from '../../src/gen/archive.js';
import { CaptureSource } from '../../src/ingest/capture/source.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { ObjectCheckpointStore } from '../../src/sink/object-checkpoint-store.js';
import { embeddedConfig } from '../support/embedded-config.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';

let ws: Workspace;
let config: TributaryConfig;

beforeAll(async () => {
  ws = await createWorkspace('tributary-capture-cause-');
  const setup = await ws.writeConfig(embeddedConfig(ws));
  config = setup.config;
  await generateArchive(config, { events: 600, partitions: 2, span: '30m', seed: 9 });
}, 120_000);
afterAll(() => ws?.cleanup());

it('reports the partition that failed first, not the first partition in order', async () => {
  const state = new LocalObjectStore(ws.file('state'));
  const source = new CaptureSource({
    store: new LocalObjectStore(ws.file('capture')),
    namespace: 'test',
    hubs: { orders: 'orders' },
    checkpoints: new ObjectCheckpointStore(state),
    leases: state,
    owner: 'test',
    batchSize: 50,
    log: createLogger('silent'),
  });
  let rootFailed!: () => void;
  const root = new Promise<void>((resolve) => (rootFailed = resolve));
  const seen = new Set<string>();
  const handler: PartitionHandler = {
    onAssigned: async () => undefined,
    onBatch: async (batch: PartitionBatch) => {
      seen.add(batch.partition);
      if (batch.partition === '1') {
        rootFailed();
        throw new TributaryError('STORAGE_PERMANENT', 'partition 1: the lake refused the write');
      }
      // partition 0 is stopped because partition 1 failed, and ends with a restartable error of its own once the
      // run has stopped its session (the margin lets partition 1 finish failing first; were it too short, partition
      // 0 would restart instead and the test would prove less, never fail wrongly)
      await root;
      await new Promise((resolve) => setTimeout(resolve, 200));
      throw new TributaryError('PARTITION_FAILED', 'partition 0: its batch was abandoned; it restarts from its last snapshot');
    },
    onRevoked: async () => undefined,
  };
  const outcome = await source.run(handler, { signal: new AbortController().signal, bounded: true }).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect([...seen].sort()).toEqual(['0', '1']);
  expect(outcome).toMatchObject({ code: 'STORAGE_PERMANENT', message: 'partition 1: the lake refused the write' });
});
