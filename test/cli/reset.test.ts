/**
 * Replays: a snapshot taken under other file-layout settings is refused with a message that says what to do;
 * `tributary reset --forget-all --lake --execute` forgets state and the streams' tables, and the replay lands the same rows.
 */
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { generateArchive } from '../../src/gen/archive.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { runCli } from '../support/cli.js';
import { embeddedConfig } from '../support/embedded-config.js';
import { readTable } from '../support/lake.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';

describe('tributary reset', () => {
  let ws: Workspace;
  let configFile: string;
  beforeAll(async () => {
    ws = await createWorkspace();
    const setup = await ws.writeConfig(embeddedConfig(ws));
    configFile = setup.file;
    await generateArchive(setup.config, { events: 4000, partitions: 2, seed: 3 });
  });
  afterAll(() => ws?.cleanup());

  it('refuses state from other settings, then replays cleanly after a reset', async () => {
    expect((await runCli(['run', '--bounded', '-q', '--config', configFile])).code).toBe(0);
    const lake = new LocalObjectStore(ws.file('lake'));
    const ids = (await readTable(lake, 'orders_raw')).map((r) => r.orderId).sort();
    expect(ids.length).toBeGreaterThan(3000);

    const changed = embeddedConfig(ws);
    changed.processing.rowsPerFile = 1000;
    await writeFile(configFile, stringify(changed));
    const refused = await runCli(['run', '--bounded', '-q', '--config', configFile]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('tributary reset');

    const dryRun = await runCli(['reset', '--forget-all', '--lake', '--config', configFile]);
    expect(dryRun.stdout).toContain('nothing deleted');
    expect((await lake.list('orders_raw/')).length).toBeGreaterThan(0);

    const reset = await runCli(['reset', '--forget-all', '--lake', '--execute', '--config', configFile]);
    expect(reset.code).toBe(0);
    expect(await lake.list('orders_raw/')).toEqual([]);
    expect(await new LocalObjectStore(ws.file('state')).list('snapshots/')).toEqual([]);

    expect((await runCli(['run', '--bounded', '-q', '--config', configFile])).code).toBe(0);
    expect((await readTable(lake, 'orders_raw')).map((r) => r.orderId).sort()).toEqual(ids);
  });
});
