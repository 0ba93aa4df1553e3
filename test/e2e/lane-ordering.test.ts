/**
 * Regression: with many small batches, a partition's lane operations queue behind other partitions' decoding
 * and encoding, and piscina does not run one thread's queue strictly in submission order; rows were once
 * appended after their batch had been released ("lane has no decoded batch"). Every row must still land once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { generateArchive } from '../../src/gen/archive.js';
import { runWorker } from '../../src/runtime/worker.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { embeddedConfig } from '../support/embedded-config.js';
import { readTable } from '../support/lake.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';

describe('lane operations under contention', () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await createWorkspace();
  });
  afterAll(() => ws?.cleanup());

  it('lands every row once with tiny batches and row groups on one busy lane', async () => {
    const base = embeddedConfig(ws);
    const { config } = await ws.writeConfig({ ...base, processing: { ...base.processing, batchSize: 37, rowGroupRows: 101, rowsPerFile: 700, decodeThreads: 1 } });
    await generateArchive(config, { events: 8000, partitions: 8, seed: 12 });
    const summary = await runWorker(config, { bounded: true, signal: new AbortController().signal, log: createLogger('silent') });
    expect(summary.totals.eventsRead).toBe(16_000);
    const rows = await readTable(new LocalObjectStore(ws.file('lake')), 'orders_raw');
    expect(rows).toHaveLength(8000);
    expect(new Set(rows.map((r) => r.orderId)).size).toBe(8000);
  });
});
