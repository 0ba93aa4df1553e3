/**
 * `tributary run --bounded --from --until --lake`: a range of history replayed into a second lake writes only
 * that range's files, each byte-identical to the main lake's file of the same name; the main state is not written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateArchive } from '../../src/gen/archive.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { runCli } from '../support/cli.js';
import { embeddedConfig } from '../support/embedded-config.js';
import { snapshotLake } from '../support/lake.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';

const CELL = 400;

describe('range replay into a second lake', () => {
  let ws: Workspace;
  let configFile: string;
  let mainLake: Map<string, string>;
  let mainDeadLetters: Map<string, string>;
  let mainState: Map<string, string>;

  beforeAll(async () => {
    ws = await createWorkspace('tributary-range-');
    const input = embeddedConfig(ws);
    input.processing.rowsPerFile = CELL;
    const setup = await ws.writeConfig(input);
    configFile = setup.file;
    await generateArchive(setup.config, { events: 5000, partitions: 2, keys: 300, span: '2h', faults: { duplicate: 0.03, outOfOrder: 0.05, late: 0.02, corrupt: 0.01 }, seed: 12 });
    const run = await runCli(['run', '--bounded', '-q', '--config', configFile]);
    if (run.code !== 0) throw new Error(run.stderr);
    mainLake = await snapshotLake(new LocalObjectStore(ws.file('lake')));
    mainDeadLetters = await snapshotLake(new LocalObjectStore(ws.file('deadletter')));
    mainState = await snapshotLake(new LocalObjectStore(ws.file('state')));
  }, 300_000);
  afterAll(() => ws?.cleanup());

  const cellOf = (key: string): number | undefined => {
    const match = /-pos(\d{16})/.exec(key);
    return match ? Number(match[1]) : undefined;
  };

  it('by positions: the cells of the range and the aggregate files it completes, as in the main lake', async () => {
    const result = await runCli(['run', '--bounded', '-q', '--config', configFile, '--from', '1000', '--until', '2100', '--lake', ws.file('lake2'), '--dead-letter', ws.file('dl2')]);
    expect(result.code, result.stderr).toBe(0);
    const lake2 = await snapshotLake(new LocalObjectStore(ws.file('lake2')));
    for (const [key, bytes] of lake2) expect(mainLake.get(key), key).toBe(bytes);
    // every raw file of the cells [800, 2400) is there, and no other raw file
    const wantRaw = [...mainLake.keys()].filter((k) => /_raw\//.test(k) && cellOf(k)! >= 800 && cellOf(k)! < 2400).sort();
    expect(wantRaw.length).toBeGreaterThan(4);
    expect([...lake2.keys()].filter((k) => /_raw\//.test(k)).sort()).toEqual(wantRaw);
    const aggregates = [...lake2.keys()].filter((k) => !/_raw\//.test(k));
    expect(aggregates.length).toBeGreaterThan(0);
    // the range's dead letters, byte for byte (they are rewritten whole with their cell, like raw files)
    const dl2 = await snapshotLake(new LocalObjectStore(ws.file('dl2')));
    const wantDl = [...mainDeadLetters.keys()].filter((k) => cellOf(k)! >= 800 && cellOf(k)! < 2400).sort();
    expect([...dl2.keys()].sort()).toEqual(wantDl);
    expect(wantDl.length).toBeGreaterThan(0);
    // dead-letter records carry the time they were written, so compare them without it
    const strip = (text: string) => Buffer.from(text, 'base64').toString().split('\n').filter(Boolean).map((l) => { const { deadLetteredAt: _at, ...rest } = JSON.parse(l) as Record<string, unknown>; return rest; });
    for (const key of wantDl) expect(strip(dl2.get(key)!), key).toEqual(strip(mainDeadLetters.get(key)!));
    expect(await snapshotLake(new LocalObjectStore(ws.file('state'))), 'the main state is not written').toEqual(mainState);
  });

  it('by times: every file written equals the main lake file', async () => {
    const result = await runCli(['run', '--bounded', '-q', '--config', configFile, '--from', '2000-01-01T00:00:00Z', '--until', '2999-01-01T00:00:00Z', '--lake', ws.file('lake3')]);
    expect(result.code, result.stderr).toBe(0);
    const lake3 = await snapshotLake(new LocalObjectStore(ws.file('lake3')));
    // from before the first event to after the last: every raw file, all equal
    expect([...lake3.keys()].filter((k) => /_raw\//.test(k)).sort()).toEqual([...mainLake.keys()].filter((k) => /_raw\//.test(k)).sort());
    for (const [key, bytes] of lake3) expect(mainLake.get(key), key).toBe(bytes);
  });

  it('names what is missing', async () => {
    const result = await runCli(['run', '--bounded', '--config', configFile, '--from', '10']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--until');
    const bad = await runCli(['run', '--bounded', '--config', configFile, '--from', 'soon', '--until', '5', '--lake', ws.file('x')]);
    expect(bad.stderr).toContain('--from');
  });
});
