/**
 * Dead letters can be replayed once their cause is fixed: events dead-lettered as oversize under a tight limit are
 * written out as a Capture archive and, run under a fixed limit, land; together with what landed the first time
 * they are every event exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayDeadLetters } from '../../src/cli/replay-deadletters.js';
import { createLogger } from '../../src/core/log.js';
import { generateArchive } from '../../src/gen/archive.js';
import { runWorker } from '../../src/runtime/worker.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { embeddedConfig } from '../support/embedded-config.js';
import { readDeadLetters, readTable } from '../support/lake.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';

describe('tributary replay-deadletters', () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await createWorkspace();
  });
  afterAll(() => ws?.cleanup());

  it('lands every oversize event after the limit is raised, exactly once overall', async () => {
    const base = embeddedConfig(ws);
    const tight = await ws.writeConfig({ ...base, processing: { ...base.processing, maxEventBytes: 150 } }, 'tight.yaml');
    await generateArchive(tight.config, { events: 2000, partitions: 2, seed: 17 });
    const first = await runWorker(tight.config, { bounded: true, signal: new AbortController().signal, log: createLogger('silent') });
    const oversize = first.totals.deadLettersByReason.get('oversize') ?? 0;
    expect(oversize).toBeGreaterThan(100);

    const { replayed } = await replayDeadLetters({ config: tight.file, stream: 'orders', reason: 'oversize', out: ws.file('replay'), namespace: 'replay' });
    const orderLetters = (await readDeadLetters(new LocalObjectStore(ws.file('deadletter')))).filter((d) => d.stream === 'orders' && d.reason === 'oversize');
    expect(replayed.get('orders')).toBe(orderLetters.length);

    const fixed = await ws.writeConfig(
      {
        ...base,
        source: { kind: 'capture', store: { kind: 'local', path: ws.file('replay') }, namespace: 'replay', hubs: { orders: 'orders' } },
        lake: { kind: 'local', path: ws.file('lake-replay') },
        deadLetter: { kind: 'local', path: ws.file('deadletter-replay') },
        state: { kind: 'local', path: ws.file('state-replay') },
      },
      'fixed.yaml',
    );
    const second = await runWorker(fixed.config, { bounded: true, signal: new AbortController().signal, log: createLogger('silent') });
    expect(second.totals.deadLettersByReason.size).toBe(0);

    const firstIds = (await readTable(new LocalObjectStore(ws.file('lake')), 'orders_raw')).map((r) => String(r.orderId));
    const replayedIds = (await readTable(new LocalObjectStore(ws.file('lake-replay')), 'orders_raw')).map((r) => String(r.orderId));
    expect(replayedIds).toHaveLength(orderLetters.length);
    const all = [...firstIds, ...replayedIds];
    expect(new Set(all).size).toBe(all.length);
    expect(all).toHaveLength(2000);
  });
});
