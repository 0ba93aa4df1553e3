/**
 * Crash safety of the embedded pipeline: the worker runs as a child process (the built `tributary` CLI), is
 * killed with SIGKILL at random moments (seeded, so a failure can be replayed) twenty times, restarted each
 * time, and left to finish. After every kill the lake is read as a user reads it (DuckDB over
 * `<table>/**\/*.parquet` with Hive partitioning): the query succeeds (no partial or temporary file is in reach)
 * and returns only complete rows (each one equal to the brute-force model's row, or a raw row the model accepts,
 * once). At the end the lake equals the model and, file for file and byte for byte, the lake of a run that was
 * never killed; so do the dead letters (sha256 of every file).
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TributaryConfig } from '../../src/config/schema.js';
import { generateArchive } from '../../src/gen/archive.js';
import { LocalObjectStore, TEMP_DIR } from '../../src/sink/local-object-store.js';
import { startCli } from '../support/cli.js';
import { seeded } from '../support/random.js';
import { snapshotLake } from '../support/lake.js';
import { readLakeTable } from '../support/duckdb.js';
import { modelLake, readLakeTables, type LakeModel } from '../support/lake-model.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';
import { embeddedConfig } from '../support/embedded-config.js';

const KILLS = 20;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** sha256 of every data file under a folder, by relative path. */
async function digests(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    const relative = path.relative(dir, full);
    // the staging folder, locks, and the sidecar metadata (it holds the writer's ownership epoch, which differs by design)
    if (relative.startsWith('_tributary') || relative.endsWith('.meta.json')) continue;
    files.set(relative, createHash('sha256').update(await readFile(full)).digest('hex'));
  }
  return files;
}

describe('SIGKILL at random moments', () => {
  let clean: Workspace;
  let crashed: Workspace;
  let config: TributaryConfig;
  let model: LakeModel;
  const kills: Array<{ afterMs: number; snapshots: number; exit: string }> = [];
  /** what a reader saw after each kill, checked against the model once it is known */
  const seen: Array<{ kill: number; problems: string[] }> = [];
  /** snapshot writes so far, seen as modification times (whatever the snapshot encoding) */
  const snapshotProgress = async (): Promise<number> => {
    let total = 0;
    for (const object of await new LocalObjectStore(crashed.file('state')).list('snapshots/')) {
      // The running worker deletes objects here (expired snapshots, dedup segments no snapshot names any more)
      // between the listing and the stat.
      const info = await stat(crashed.file('state', object.key)).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
      });
      total += info?.mtimeMs ?? 0;
    }
    return total;
  };

  /** Reads every table with DuckDB and lists whatever is not a complete, final row. */
  const checkMidRun = async (kill: number): Promise<void> => {
    const problems: string[] = [];
    const lake = crashed.file('lake');
    for (const [table, ids] of model.raw) {
      const rows = (await readLakeTable(lake, table).catch((error: unknown) => ({ rows: [], error }))) as { rows: Array<Record<string, unknown>>; error?: unknown };
      if (rows.error && !String(rows.error).includes('No files found')) problems.push(`${table}: ${String(rows.error)}`);
      const idField = table.startsWith('orders') ? 'orderId' : 'eventId';
      const got = rows.rows.map((r) => String(r[idField]));
      if (new Set(got).size !== got.length) problems.push(`${table}: duplicate rows`);
      const unknown = got.filter((id) => !ids.has(id));
      if (unknown.length > 0) problems.push(`${table}: ${unknown.length} rows the model does not accept`);
    }
    const tables = await readLakeTables(lake, config, model);
    for (const [table, rows] of tables) {
      const want = model.tables.get(table)!;
      for (const [key, row] of rows) {
        const expected = want.get(key);
        if (!expected) problems.push(`${table}: row ${key} is not in the model`);
        else if (table.endsWith('_late') ? Number(row.late_events) > Number(expected.late_events) : JSON.stringify(row) !== JSON.stringify(expected)) {
          problems.push(`${table}: row ${key} is ${JSON.stringify(row)}, the model says ${JSON.stringify(expected)}`);
        }
      }
    }
    seen.push({ kill, problems });
  };

  beforeAll(async () => {
    clean = await createWorkspace('tributary-clean-');
    crashed = await createWorkspace('tributary-crashed-');
    const gen = { events: 12_000, partitions: 4, keys: 1000, span: '3h', faults: { duplicate: 0.02, outOfOrder: 0.03, late: 0.01, corrupt: 0.005 }, seed: 99 };
    // small cells, so that a run of this small archive commits often (about 15 cells per partition and stream)
    // and twenty short runs killed early do not finish the work before the last kill
    const crashConfig = (ws: Workspace) => {
      const base = embeddedConfig(ws);
      return { ...base, processing: { ...base.processing, rowsPerFile: 100, batchSize: 50 } };
    };
    const cleanSetup = await clean.writeConfig(crashConfig(clean));
    await generateArchive(cleanSetup.config, gen);
    const started = Date.now();
    const cleanRun = await startCli(['run', '--bounded', '-q', '--config', cleanSetup.file]).done;
    if (cleanRun.code !== 0) throw new Error(`the clean run failed: ${cleanRun.stderr}`);
    const cleanMs = Date.now() - started;

    const crashedSetup = await crashed.writeConfig(crashConfig(crashed));
    config = crashedSetup.config;
    await generateArchive(config, gen);
    model = await modelLake(config, crashed.file('capture'), 'test');
    const random = seeded(20261123);
    while (kills.length < KILLS) {
      const { child, done } = startCli(['run', '--bounded', '-q', '--config', crashedSetup.file]);
      // A random moment: either blind (anywhere early in the run) or just after the worker committed another cell,
      // so both "nothing committed yet" and "killed between commits" restarts are exercised whatever the load.
      const before = await snapshotProgress();
      let afterMs: number;
      if (kills.length % 2 === 0) {
        // at most a tenth of a clean run: ten blind kills must not add up to the whole work, however fast it runs
        afterMs = 200 + Math.floor(random() * cleanMs * 0.1);
        await sleep(afterMs);
      } else {
        const waitStart = Date.now();
        while ((await snapshotProgress()) === before && Date.now() - waitStart < cleanMs * 3) await sleep(20);
        await sleep(Math.floor(random() * 300));
        afterMs = Date.now() - waitStart;
      }
      const killed = child.kill('SIGKILL');
      const result = await done;
      const snapshots = (await new LocalObjectStore(crashed.file('state')).list('snapshots/')).length;
      kills.push({ afterMs, snapshots, exit: killed && result.signal === 'SIGKILL' ? 'killed' : `exited ${result.code}: ${result.stderr.slice(-500)}` });
      await checkMidRun(kills.length);
    }
    const final = await startCli(['run', '--bounded', '-q', '--config', crashedSetup.file]).done;
    if (final.code !== 0) throw new Error(`the final run failed: ${final.stderr}`);
  }, 1_200_000); // about 4 minutes on 2 idle cores; more when the machine is shared
  afterAll(async () => {
    await clean?.cleanup();
    await crashed?.cleanup();
  });

  it('was really killed mid-run every time', async () => {
    expect(kills.map((k) => k.exit)).toEqual(Array(KILLS).fill('killed'));
    // most kills must land after some cells were committed, or the restarts would not exercise the restore
    expect(kills.filter((k) => k.snapshots > 0).length, JSON.stringify(kills)).toBeGreaterThanOrEqual(KILLS / 2);
  });

  it('showed a reader only complete rows after every kill, through DuckDB with Hive partitioning', () => {
    expect(seen).toHaveLength(KILLS);
    expect(seen.filter((s) => s.problems.length > 0)).toEqual([]);
  });

  it('leaves a lake equal to the brute-force model', async () => {
    const tables = await readLakeTables(crashed.file('lake'), config, model);
    for (const [table, want] of model.tables) {
      expect(want.size, table).toBeGreaterThan(0);
      expect(Object.fromEntries(tables.get(table)!), table).toEqual(Object.fromEntries(want));
    }
    for (const [table, ids] of model.raw) {
      const idField = table.startsWith('orders') ? 'orderId' : 'eventId';
      const rows = (await readLakeTable(crashed.file('lake'), table)).rows.map((r) => String(r[idField]));
      expect(rows.length, table).toBe(ids.size);
      expect(new Set(rows), table).toEqual(ids);
    }
  });

  it('leaves a lake identical to the run that was never killed', async () => {
    const want = await snapshotLake(new LocalObjectStore(clean.file('lake')));
    const got = await snapshotLake(new LocalObjectStore(crashed.file('lake')));
    expect(want.size).toBeGreaterThan(20);
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [key, bytes] of want) expect(got.get(key), key).toBe(bytes);
  });

  it('leaves dead-letter files sha256-identical to the run that was never killed', async () => {
    const want = await digests(clean.file('deadletter'));
    expect([...want.keys()].filter((k) => k.endsWith('.jsonl')).length).toBeGreaterThan(3);
    expect(await digests(crashed.file('deadletter'))).toEqual(want);
  });

  it('removed the temporary files the kills left behind once it ran again', async () => {
    for (const store of ['lake', 'deadletter', 'state']) {
      const leftovers = await readdir(crashed.file(store, TEMP_DIR)).catch(() => []);
      expect(leftovers, store).toEqual([]);
    }
  });
});
