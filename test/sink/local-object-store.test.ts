/**
 * The local store stages writes outside every table folder and cleans up after processes that died mid-write,
 * so a reader's `<table>/**` glob never meets a partial or temporary file.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore, TEMP_DIR } from '../../src/sink/local-object-store.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';

describe('LocalObjectStore', () => {
  let ws: Workspace;
  beforeEach(async () => {
    ws = await createWorkspace('tributary-local-store-');
  });
  afterEach(() => ws.cleanup());

  it('leaves only complete objects in the table folders (regression: .tmp-* files next to the Parquet files)', async () => {
    const store = new LocalObjectStore(ws.file('lake'));
    await store.put('orders_raw/date=2026-01-01/hour=00/partition=0/a.parquet', new Uint8Array([1, 2, 3]));
    await store.put('deadletters/orders/a.jsonl', new Uint8Array([4]), { total: '1' });
    expect((await readdir(ws.file('lake', 'orders_raw'), { recursive: true })).sort()).toEqual([
      'date=2026-01-01',
      'date=2026-01-01/hour=00',
      'date=2026-01-01/hour=00/partition=0',
      'date=2026-01-01/hour=00/partition=0/a.parquet',
    ]);
    expect((await store.list('')).map((o) => o.key)).toEqual(['deadletters/orders/a.jsonl', 'orders_raw/date=2026-01-01/hour=00/partition=0/a.parquet']);
    expect(await readdir(ws.file('lake', TEMP_DIR))).toEqual([]);
  });

  it('lists each object with its own metadata, and none for an object written without (beside ones with)', async () => {
    const store = new LocalObjectStore(ws.file('state'));
    await store.put('t/a.bin', new Uint8Array([1]), { rows: '1' });
    await store.put('t/b.bin', new Uint8Array([2, 2]));
    await store.put('t/c.bin', new Uint8Array([3]), { rows: '3', tributaryepoch: '7' });
    await store.put('t/d/e.bin', new Uint8Array([4]), { rows: '4' });
    // a sidecar's name is the object's plus a suffix: an object named like another's prefix does not take it
    await store.put('t/a', new Uint8Array([5]));
    expect(await store.list('t/')).toEqual([
      { key: 't/a', size: 1, metadata: {} },
      { key: 't/a.bin', size: 1, metadata: { rows: '1' } },
      { key: 't/b.bin', size: 2, metadata: {} },
      { key: 't/c.bin', size: 1, metadata: { rows: '3', tributaryepoch: '7' } },
      { key: 't/d/e.bin', size: 1, metadata: { rows: '4' } },
    ]);
  });

  it('lists what is there while another writer deletes objects under it (a prune, a second instance)', async () => {
    const store = new LocalObjectStore(ws.file('state'));
    const keys = Array.from({ length: 200 }, (_, i) => `snapshots/orders/partition=0/seg${String(i).padStart(16, '0')}-1.dseg`);
    for (const key of keys) await store.put(key, new Uint8Array([1]), { written: '1' });
    const other = new LocalObjectStore(ws.file('state'));
    // the deletes run between the listing's reads of the folder and of each file
    const [listed] = await Promise.all([store.list('snapshots/'), Promise.all(keys.map((key) => other.delete(key)))]);
    expect(listed.map((o) => o.key).every((key) => keys.includes(key))).toBe(true);
    expect(await store.list('snapshots/')).toEqual([]);
  });

  it('removes what a dead process left in the staging folder when it first writes, and keeps a live one\'s', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    await mkdir(ws.file('lake', TEMP_DIR), { recursive: true });
    await writeFile(ws.file('lake', TEMP_DIR, `${dead}-abc-x.parquet`), 'partial');
    await writeFile(ws.file('lake', TEMP_DIR, `${process.ppid}-def-y.parquet`), 'in progress elsewhere');
    const store = new LocalObjectStore(ws.file('lake'));
    expect((await store.list('')).map((o) => o.key)).toEqual([]);
    await store.put('t/a.parquet', new Uint8Array([1]));
    expect(await readdir(ws.file('lake', TEMP_DIR))).toEqual([`${process.ppid}-def-y.parquet`]);
  });
});
