/**
 * `tributary reset` on a Capture archive: run to the end, then reset (to a time in the middle, to a position on
 * one partition, by a negative shift, to earliest) and rerun after each. The lake and the dead letters must be
 * those of the run that was never reset, the dry run must say exactly how many events the rerun reads, the start
 * must be the newest snapshot at or before the target, and no file outside the dry run's list may change.
 * To latest: nothing is replayed and nothing changes.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TributaryConfig } from '../../src/config/schema.js';
import { createLogger } from '../../src/core/log.js';
import { generateArchive } from '../../src/gen/archive.js';
import { indexArchive } from '../../src/ingest/capture/archive-index.js';
import { runWorker } from '../../src/runtime/worker.js';
import type { PipelineObserver } from '../../src/runtime/observer.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { snapshotPosition } from '../../src/sink/lake-layout.js';
import { runCli } from '../support/cli.js';
import { embeddedConfig } from '../support/embedded-config.js';
import { readDeadLetters, snapshotLake } from '../support/lake.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';

interface Row { stream: string; partition: string; current: number | null; target: number; start: number; state: string; events: number; replayed: number; files: string[] }

describe('tributary reset on a Capture archive', () => {
  let ws: Workspace;
  let configFile: string;
  let config: TributaryConfig;
  let lake: LocalObjectStore;
  let state: LocalObjectStore;
  let wantLake: Map<string, string>;
  let wantDeadLetters: string[];

  const deadLetters = async (): Promise<string[]> =>
    (await readDeadLetters(new LocalObjectStore(ws.file('deadletter')))).map((record) => JSON.stringify(record)).sort();

  /** A bounded run in this process, counting the events each partition reads. */
  const rerun = async (): Promise<Map<string, number>> => {
    const read = new Map<string, number>();
    const counter = { eventsIn: (stream: string, partition: string, n: number) => read.set(`${stream}/${partition}`, (read.get(`${stream}/${partition}`) ?? 0) + n) } as Partial<PipelineObserver>;
    const noop = () => undefined;
    const observer = new Proxy(counter, { get: (target, key) => (target as Record<string | symbol, unknown>)[key] ?? noop }) as PipelineObserver;
    await runWorker(config, { bounded: true, signal: new AbortController().signal, log: createLogger('warn'), observers: [observer] });
    return read;
  };

  const reset = async (args: string[]): Promise<Row[]> => {
    const result = await runCli(['reset', '--config', configFile, '--json', ...args]);
    if (result.code !== 0) throw new Error(`reset ${args.join(' ')} failed: ${result.stderr}`);
    return JSON.parse(result.stdout) as Row[];
  };

  const snapshotPositions = async (stream: string, partition: string): Promise<number[]> =>
    (await state.list(`snapshots/${stream}/partition=${partition}/`)).map((o) => snapshotPosition(o.key)!).filter((p) => p !== undefined);

  const mtimes = async (): Promise<Map<string, number>> => {
    const times = new Map<string, number>();
    for (const [root, store] of [['lake', lake], ['deadletter', new LocalObjectStore(ws.file('deadletter'))]] as const) {
      for (const object of await store.list('')) times.set(`${root}:${object.key}`, (await stat(path.join(ws.file(root), object.key))).mtimeMs);
    }
    return times;
  };

  /** dry run, check its starts against the snapshot history, execute, rerun; returns the rows */
  const resetAndRerun = async (args: string[]): Promise<Row[]> => {
    const stateBefore = await snapshotLake(state);
    const rows = await reset(args);
    expect(await snapshotLake(state), 'a dry run changes nothing').toEqual(stateBefore);
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      const history = await snapshotPositions(row.stream, row.partition);
      const atOrBefore = history.filter((p) => p <= row.target);
      if (atOrBefore.length > 0) expect(row.start, `${row.stream}/${row.partition}`).toBe(Math.max(...atOrBefore));
      else expect([row.start, row.state], `${row.stream}/${row.partition}`).toEqual([0, 'empty']);
    }
    const before = await mtimes();
    const listed = new Set(rows.flatMap((r) => r.files.map((f) => (f.endsWith('.jsonl') ? `deadletter:${f}` : `lake:${f}`))));
    // The listed files are deleted first: the rerun must write every one of them again, with the same bytes.
    for (const file of listed) {
      const [root, key] = file.split(/:(.*)/s) as [string, string];
      await new LocalObjectStore(ws.file(root)).delete(key);
    }
    await reset([...args, '--execute']);
    const read = await rerun();
    for (const row of rows) expect(read.get(`${row.stream}/${row.partition}`) ?? 0, `events read by ${row.stream}/${row.partition}`).toBe(row.events);
    const after = await mtimes();
    const reset_ = new Set(rows.map((r) => `${r.stream}/${r.partition}`));
    for (const [file, time] of before) {
      const partition = /partition=(\d+)/.exec(file)![1];
      const stream = /(^|:)(orders|telemetry)/.exec(file)![2];
      if (reset_.has(`${stream}/${partition}`) && !listed.has(file)) expect(after.get(file), `${file} changed without being listed`).toBe(time);
    }
    expect(await snapshotLake(lake)).toEqual(wantLake);
    expect(await deadLetters()).toEqual(wantDeadLetters);
    return rows;
  };

  beforeAll(async () => {
    ws = await createWorkspace('tributary-reset-');
    const input = embeddedConfig(ws);
    input.processing.rowsPerFile = 400;
    const setup = await ws.writeConfig(input);
    configFile = setup.file;
    config = setup.config;
    await generateArchive(config, { events: 5000, partitions: 2, keys: 300, span: '2h', faults: { duplicate: 0.03, outOfOrder: 0.05, late: 0.02, corrupt: 0.01 }, seed: 11 });
    lake = new LocalObjectStore(ws.file('lake'));
    state = new LocalObjectStore(ws.file('state'));
    await rerun();
    wantLake = await snapshotLake(lake);
    wantDeadLetters = await deadLetters();
    expect(wantLake.size).toBeGreaterThan(20);
    expect(wantDeadLetters.length).toBeGreaterThan(0);
  }, 300_000);
  afterAll(() => ws?.cleanup());

  it('to a time in the middle', async () => {
    const index = await indexArchive({ store: new LocalObjectStore(ws.file('capture')), namespace: 'test', hubs: { orders: 'orders' } }, undefined);
    const files = [...index.get('orders')!.values()].flat();
    const first = Math.min(...files.map((f) => f.first!.enqueuedTimeMs));
    const last = Math.max(...files.map((f) => f.last!.enqueuedTimeMs));
    const middle = new Date((first + last) / 2).toISOString();
    const rows = await resetAndRerun(['--stream', 'orders', '--to-datetime', middle]);
    expect(rows.map((r) => r.partition)).toEqual(['0', '1']);
    for (const row of rows) {
      expect(row.replayed).toBeGreaterThan(0);
      expect(row.start).toBeLessThanOrEqual(row.target);
      expect(row.files.some((f) => f.startsWith('orders_raw/'))).toBe(true);
    }
  });

  it('to a position on one partition', async () => {
    const rows = await resetAndRerun(['--stream', 'telemetry', '--partitions', '1', '--to-offset', '1000']);
    expect(rows.map((r) => [r.partition, r.target, r.start])).toEqual([['1', 1000, 800]]);
  });

  it('by a negative shift', async () => {
    const rows = await resetAndRerun(['--shift-by', '-900']);
    expect(rows).toHaveLength(4);
    for (const row of rows) {
      expect(row.target).toBe(Math.max(0, row.current! - 900));
      expect(row.replayed).toBeGreaterThanOrEqual(900 - 400);
    }
  });

  it('to earliest', async () => {
    const rows = await resetAndRerun(['--to-earliest']);
    for (const row of rows) expect([row.target, row.start, row.state]).toEqual([0, 0, 'empty']);
  });

  it('to latest: nothing is replayed and nothing changes', async () => {
    const stateBefore = await snapshotLake(state);
    const rows = await resetAndRerun(['--to-latest']);
    for (const row of rows) {
      expect(row.replayed).toBe(0);
      expect(row.start).toBe(row.current);
    }
    const stateAfter = await snapshotLake(state);
    // positions and state; owner records and leases change with every run by design
    const positions = (m: Map<string, string>) => new Map([...m].filter(([k]) => k.startsWith('snapshots/') || k.startsWith('checkpoints/')));
    expect(positions(stateAfter).size).toBeGreaterThan(4);
    expect(positions(stateAfter)).toEqual(positions(stateBefore));
  });

  it('names a bad flag', async () => {
    const bad = await runCli(['reset', '--config', configFile, '--to-datetime', 'yesterday']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--to-datetime');
    const two = await runCli(['reset', '--config', configFile, '--to-earliest', '--to-latest']);
    expect(two.stderr).toContain('exactly one of');
    const partition = await runCli(['reset', '--config', configFile, '--to-earliest', '--partitions', '7']);
    expect(partition.stderr).toContain('no partition 7');
  });
});
