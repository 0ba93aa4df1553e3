/**
 * Crash safety of the embedded pipeline: the worker runs as a child process (the built `tributary` CLI), is
 * killed with SIGKILL at random moments (seeded, so a failure can be replayed) at least five times, restarted each
 * time, and left to finish. Its lake must equal, file for file and byte for byte, the lake of a run that was
 * never killed: the same rows, no duplicates, no loss, the same aggregates. Dead letters must match too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSnapshot } from '../../src/aggregate/snapshot.js';
import { generateArchive } from '../../src/gen/archive.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { startCli } from '../support/cli.js';
import { seeded } from '../support/random.js';
import { readDeadLetters, snapshotLake } from '../support/lake.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';
import { embeddedConfig } from '../support/embedded-config.js';

const KILLS = 6;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('SIGKILL at random moments', () => {
  let clean: Workspace;
  let crashed: Workspace;
  let crashedConfigFile: string;
  const kills: Array<{ afterMs: number; snapshots: number; exit: string }> = [];
  /** snapshot writes so far: the snapshot objects' total modification count, read from their positions */
  const countSnapshotWrites = async (): Promise<number> => {
    let total = 0;
    const store = new LocalObjectStore(crashed.file('state'));
    for (const object of await store.list('snapshots/')) {
      const bytes = await store.get(object.key);
      if (bytes) total += decodeSnapshot(bytes).position;
    }
    return total;
  };

  beforeAll(async () => {
    clean = await createWorkspace('tributary-clean-');
    crashed = await createWorkspace('tributary-crashed-');
    const gen = { events: 50_000, partitions: 4, keys: 2000, span: '2h', faults: { duplicate: 0.02, outOfOrder: 0.03, late: 0.01, corrupt: 0.005 }, seed: 99 };
    const cleanSetup = await clean.writeConfig(embeddedConfig(clean));
    await generateArchive(cleanSetup.config, gen);
    const started = Date.now();
    const cleanRun = await startCli(['run', '--bounded', '-q', '--config', cleanSetup.file]).done;
    if (cleanRun.code !== 0) throw new Error(`the clean run failed: ${cleanRun.stderr}`);
    const cleanMs = Date.now() - started;

    const crashedSetup = await crashed.writeConfig(embeddedConfig(crashed));
    crashedConfigFile = crashedSetup.file;
    await generateArchive(crashedSetup.config, gen);
    const random = seeded(20261123);
    while (kills.length < KILLS) {
      const { child, done } = startCli(['run', '--bounded', '-q', '--config', crashedConfigFile]);
      // A random moment: either blind (anywhere early in the run) or just after the worker committed another cell,
      // so both "nothing committed yet" and "killed between commits" restarts are exercised whatever the load.
      const before = await countSnapshotWrites();
      let afterMs: number;
      if (kills.length % 2 === 0) {
        afterMs = 200 + Math.floor(random() * cleanMs * 0.5);
        await sleep(afterMs);
      } else {
        const started = Date.now();
        while ((await countSnapshotWrites()) <= before && Date.now() - started < cleanMs * 3) await sleep(20);
        await sleep(Math.floor(random() * 300));
        afterMs = Date.now() - started;
      }
      const killed = child.kill('SIGKILL');
      const result = await done;
      const snapshots = (await new LocalObjectStore(crashed.file('state')).list('snapshots/')).length;
      kills.push({ afterMs, snapshots, exit: killed && result.signal === 'SIGKILL' ? 'killed' : `exited ${result.code}: ${result.stderr.slice(-500)}` });
    }
    const final = await startCli(['run', '--bounded', '-q', '--config', crashedConfigFile]).done;
    if (final.code !== 0) throw new Error(`the final run failed: ${final.stderr}`);
  }, 300_000);
  afterAll(async () => {
    await clean?.cleanup();
    await crashed?.cleanup();
  });

  it('was really killed mid-run every time', async () => {
    expect(kills.map((k) => k.exit)).toEqual(Array(KILLS).fill('killed'));
    // most kills must land after some cells were committed, or the restarts would not exercise the restore
    expect(kills.filter((k) => k.snapshots > 0).length, JSON.stringify(kills)).toBeGreaterThanOrEqual(KILLS / 2);
  });

  it('leaves a lake identical to the run that was never killed', async () => {
    const want = await snapshotLake(new LocalObjectStore(clean.file('lake')));
    const got = await snapshotLake(new LocalObjectStore(crashed.file('lake')));
    expect(want.size).toBeGreaterThan(20);
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [key, bytes] of want) expect(got.get(key), key).toBe(bytes);
  });

  it('leaves the same dead letters (apart from when they were written)', async () => {
    const strip = (records: Awaited<ReturnType<typeof readDeadLetters>>) =>
      records.map(({ deadLetteredAt: _at, ...rest }) => JSON.stringify(rest)).sort();
    const want = strip(await readDeadLetters(new LocalObjectStore(clean.file('deadletter'))));
    expect(want.length).toBeGreaterThan(0);
    expect(strip(await readDeadLetters(new LocalObjectStore(crashed.file('deadletter'))))).toEqual(want);
  });
});
