/**
 * Bad config, a missing archive and an unreadable file each give a clear error that names the problem, exit
 * non-zero, and write no partial output.
 */
import { copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli } from '../support/cli.js';
import { REPO_ROOT, FIXTURES, createWorkspace, type Workspace } from '../support/workspace.js';

async function listAll(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => e.name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

describe('bad input fails clearly and writes nothing', () => {
  let ws: Workspace;
  beforeEach(async () => {
    ws = await createWorkspace();
  });
  afterEach(() => ws.cleanup());

  const baseConfig = () => ({
    streams: {
      orders: { schema: path.join(REPO_ROOT, 'examples/schemas/orders.avsc'), eventId: 'orderId', eventTime: 'createdAt' },
    },
    source: { kind: 'capture', store: { kind: 'local', path: ws.file('archive') }, namespace: 'demo', hubs: { orders: 'orders' } },
    aggregations: [
      { name: 'orders_1m', stream: 'orders', groupBy: ['channel'], window: { kind: 'tumbling', size: '1m' }, measures: [{ fn: 'count' }] } as Record<string, unknown>,
    ],
    processing: {} as Record<string, unknown>,
    lake: { kind: 'local', path: ws.file('lake') },
    deadLetter: { kind: 'local', path: ws.file('deadletter') },
    state: { kind: 'local', path: ws.file('state') },
    metrics: { enabled: false },
  });

  const run = async (config: unknown) => {
    await writeFile(ws.file('config.yaml'), stringify(config));
    return runCli(['run', '--bounded', '--config', ws.file('config.yaml')]);
  };

  const expectNothingWritten = async () => {
    expect(await listAll(ws.file('lake'))).toEqual([]);
    expect(await listAll(ws.file('deadletter'))).toEqual([]);
    expect(await listAll(ws.file('state'))).toEqual([]);
  };

  it('names each bad field and what was expected in an invalid config', async () => {
    const config = baseConfig();
    config.aggregations[0]!.window = { kind: 'tumbling', size: 'soon' };
    config.processing = { decodeThreads: 0, rowsPerFlie: 5 };
    const result = await run(config);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('aggregations[0].window.size');
    expect(result.stderr).toContain('expected a duration');
    expect(result.stderr).toContain('processing.decodeThreads');
    expect(result.stderr).toContain('rowsPerFlie');
    await expectNothingWritten();
  });

  it('names the config path when it refers to a field the schema lacks', async () => {
    const config = baseConfig();
    config.aggregations[0]!.groupBy = ['chanel'];
    const result = await run(config);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('aggregations[0].groupBy[0]: no field "chanel"');
    await expectNothingWritten();
  });

  it('reports a missing archive with where it looked', async () => {
    const result = await run(baseConfig());
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('no Event Hubs Capture files found under');
    expect(result.stderr).toContain(path.join(ws.file('archive'), 'demo', 'orders'));
    await expectNothingWritten();
  });

  it('reports an unreadable archive file by name before writing anything', async () => {
    const good = ws.file('archive', 'demo', 'orders', '0', '2026', '01', '01', '00', '00', '00.avro');
    const bad = ws.file('archive', 'demo', 'orders', '1', '2026', '01', '01', '00', '00', '00.avro');
    await mkdir(path.dirname(good), { recursive: true });
    await mkdir(path.dirname(bad), { recursive: true });
    // partition 0 holds a readable file (written by Azure), partition 1 garbage: nothing may be processed at all
    await copyFile(path.join(FIXTURES, 'capture/real-capture-2016-single-event.avro'), good);
    await writeFile(bad, Buffer.from('Obj\x01 this is not really avro', 'latin1'));
    const result = await run(baseConfig());
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(bad);
    expect(result.stderr).toMatch(/truncated|corrupt/);
    await expectNothingWritten();
  });
});
