/**
 * A corrupt Capture block with the default `source.onCorruptBlock: fail`: the run stops with the file and the
 * byte offset, and nothing at or past the block is written (no row, no dead letter, no checkpoint). Zero-length
 * and header-only files next to it are skipped, not failures.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateArchive } from '../../src/gen/archive.js';
import { readContainer } from '../../src/ingest/capture/container.js';
import { captureKey, parseCaptureKey } from '../../src/ingest/capture/format.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { runCli, type CliResult } from '../support/cli.js';
import { embeddedConfig } from '../support/embedded-config.js';
import { readDeadLetters, readTable } from '../support/lake.js';
import { captureFile, captureRecord, headerOnlyCaptureFile, type BlockSpec } from '../support/poison.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';

describe('a corrupt block under onCorruptBlock: fail', () => {
  let ws: Workspace;
  let capture: LocalObjectStore;
  let configFile: string;
  let lastSequence = -1;
  let lastWindow = 0;
  let emptyOnly: CliResult;

  /** appends one file to orders partition 0, after what is there; returns its key and first position */
  const append = async (blocks: Array<{ count: number; corrupt?: BlockSpec['corrupt'] }>): Promise<{ key: string; first: number }> => {
    const first = lastSequence + 1;
    const specs = blocks.map(({ count, corrupt }) => ({
      records: Array.from({ length: count }, () => {
        lastSequence++;
        return captureRecord(lastSequence, lastWindow + 60_000, Buffer.from('not used'), 'k');
      }),
      ...(corrupt ? { corrupt } : {}),
    }));
    lastWindow += 60_000;
    const key = captureKey({ namespace: 'test', hub: 'orders', partition: '0', windowStart: new Date(lastWindow) });
    await capture.put(key, captureFile({ blocks: specs, codec: 'deflate' }));
    return { key, first };
  };

  beforeAll(async () => {
    ws = await createWorkspace('tributary-poison-fail-');
    const setup = await ws.writeConfig(embeddedConfig(ws));
    configFile = setup.file;
    await generateArchive(setup.config, { streams: ['orders'], events: 300, partitions: 1, seed: 5 });
    capture = new LocalObjectStore(ws.file('capture'));
    for (const object of await capture.list('test/orders/0/')) {
      lastWindow = Math.max(lastWindow, parseCaptureKey(object.key)!.windowStart.getTime());
      const container = readContainer((await capture.get(object.key))!, object.key);
      lastSequence += container.blocks.reduce((n, b) => n + b.count, 0);
    }
    lastWindow += 60_000;
    await capture.put(captureKey({ namespace: 'test', hub: 'orders', partition: '0', windowStart: new Date(lastWindow) }), new Uint8Array(0));
    lastWindow += 60_000;
    await capture.put(captureKey({ namespace: 'test', hub: 'orders', partition: '0', windowStart: new Date(lastWindow) }), headerOnlyCaptureFile());
    emptyOnly = await runCli(['run', '--bounded', '-q', '--config', configFile]);
  }, 120_000);
  afterAll(() => ws?.cleanup());

  it('skips zero-length and header-only files', () => {
    expect({ code: emptyOnly.code, stderr: emptyOnly.stderr }).toEqual({ code: 0, stderr: '' });
  });

  it('a block whose structure is bad fails the run before anything is written', async () => {
    const bad = await append([{ count: 2 }, { count: 2, corrupt: 'sync' }, { count: 2 }]);
    const rowsBefore = (await readTable(new LocalObjectStore(ws.file('lake')), 'orders_raw')).length;
    const result = await runCli(['run', '--bounded', '-q', '--config', configFile]);
    expect(result.code).toBe(1);
    const container = readContainer((await capture.get(bad.key))!, bad.key);
    const at = container.corrupt[0]!.start;
    expect(result.stderr).toContain(`${ws.file('capture')}/${bad.key}: corrupt block at byte ${at} (bytes ${at}..`);
    expect(result.stderr).toContain('sync marker mismatch; set source.onCorruptBlock: deadletter');
    // the preflight found it: not one row more, not even the good block before it
    expect((await readTable(new LocalObjectStore(ws.file('lake')), 'orders_raw')).length).toBe(rowsBefore);
    await capture.delete(bad.key);
  });

  it('a block whose records cannot be read stops the partition there: nothing at or past it is written', async () => {
    // the block's structure is sound; its count (2^31) is found out only when its records are read
    const bad = await append([{ count: 2 }, { count: 3, corrupt: 'count-bomb' }, { count: 2 }]);
    const result = await runCli(['run', '--bounded', '-q', '--config', configFile]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`${bad.key.replaceAll('/', '\\/')}: corrupt block at byte \\d+ \\(bytes \\d+\\.\\.\\d+\\): record 0 of 2147483648 at byte 0 of the inflated block: block count 2147483648 is more than its \\d+ bytes can hold`));
    const badFirst = bad.first + 2;
    const rows = await readTable(new LocalObjectStore(ws.file('lake')), 'orders_raw');
    expect(rows.filter((r) => Number(r._position) >= badFirst)).toEqual([]);
    expect((await readDeadLetters(new LocalObjectStore(ws.file('deadletter')))).filter((d) => d.position >= badFirst)).toEqual([]);
    const checkpoints = await new LocalObjectStore(ws.file('state')).list('checkpoints/orders/');
    for (const object of checkpoints) {
      const checkpoint = JSON.parse(Buffer.from((await new LocalObjectStore(ws.file('state')).get(object.key))!).toString()) as { nextPosition: number };
      expect(checkpoint.nextPosition).toBeLessThanOrEqual(badFirst);
    }
  });
});
