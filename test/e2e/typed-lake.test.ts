/**
 * Typed column buffers end to end change no byte of the lake. On a generated archive with every fault kind:
 * - the compiled decoder (UTF-8 spans and typed arrays from the body) and avsc (JS values, converted once per
 *   batch) write the same lake and the same dead letters, file for file and byte for byte;
 * - every raw file is the file the JS-value encoder writes for the same rows (read back with parquet-wasm, an
 *   independent reader, turned into the JS values the raw table's conventions name, and encoded again row group
 *   by row group with the file's own group sizes), which is what the lane wrote before its cells held buffers.
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { generateArchive } from '../../src/gen/archive.js';
import { loadStreamPlans } from '../../src/runtime/stream-plan.js';
import { runWorker } from '../../src/runtime/worker.js';
import { assembleParquet, encodeRowGroup } from '../../src/sink/parquet.js';
import type { TableSchema } from '../../src/core/table.js';
import type { TributaryConfig } from '../../src/config/schema.js';
import { readParquet, readParquetMetadata } from '../support/read-parquet.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';
import { FAULTY_GEN, embeddedConfig } from '../support/embedded-config.js';

async function filesUnder(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    files.set(path.relative(dir, file), await readFile(file));
  }
  return files;
}

describe('typed column buffers, end to end', () => {
  let ws: Workspace;
  let config: TributaryConfig;
  const lakes = new Map<'compiled' | 'avsc', { lake: Map<string, Buffer>; deadLetters: Map<string, Buffer> }>();

  beforeAll(async () => {
    ws = await createWorkspace();
    const base = embeddedConfig(ws);
    // small row groups, so raw files hold several (sealed and staged, then the open tail)
    ({ config } = await ws.writeConfig({ ...base, processing: { ...base.processing, rowGroupRows: 128 } }));
    await generateArchive(config, FAULTY_GEN);
    for (const decoder of ['compiled', 'avsc'] as const) {
      const root = ws.file(decoder);
      const run: TributaryConfig = {
        ...config,
        lake: { kind: 'local', path: path.join(root, 'lake') },
        deadLetter: { kind: 'local', path: path.join(root, 'deadletter') },
        state: { kind: 'local', path: path.join(root, 'state') },
      };
      // The lanes are threads started by runWorker: they take the environment as it is when they start.
      if (decoder === 'avsc') process.env.TRIBUTARY_DECODER = 'avsc';
      try {
        await runWorker(run, { bounded: true, signal: new AbortController().signal, log: createLogger('silent') });
      } finally {
        delete process.env.TRIBUTARY_DECODER;
      }
      lakes.set(decoder, { lake: await filesUnder(path.join(root, 'lake')), deadLetters: await filesUnder(path.join(root, 'deadletter')) });
    }
  }, 240_000);
  afterAll(() => ws?.cleanup());

  it('the compiled decoder and avsc write the same lake and dead letters, byte for byte', () => {
    const compiled = lakes.get('compiled')!;
    const avsc = lakes.get('avsc')!;
    expect([...compiled.lake.keys()].filter((k) => k.includes('_raw/')).length).toBeGreaterThan(8);
    expect(compiled.deadLetters.size).toBeGreaterThan(0);
    expect([...compiled.lake.keys()].sort()).toEqual([...avsc.lake.keys()].sort());
    expect([...compiled.deadLetters.keys()].sort()).toEqual([...avsc.deadLetters.keys()].sort());
    for (const [key, bytes] of compiled.lake) expect(bytes.equals(avsc.lake.get(key)!), key).toBe(true);
    for (const [key, bytes] of compiled.deadLetters) expect(bytes.equals(avsc.deadLetters.get(key)!), key).toBe(true);
  });

  it('every raw file is the file the JS-value encoder writes for its rows', async () => {
    const plans = await loadStreamPlans(config);
    const schemas = new Map<string, TableSchema>([...plans.values()].map((plan) => [plan.raw.name, plan.raw]));
    let files = 0;
    let groups = 0;
    for (const [key, bytes] of lakes.get('compiled')!.lake) {
      const schema = schemas.get(key.split('/')[0]!);
      if (!schema || !key.endsWith('.parquet')) continue;
      const { rows } = await readParquet(bytes);
      const { rowGroups } = await readParquetMetadata(bytes);
      const encoded = [];
      let start = 0;
      for (const group of rowGroups) {
        const slice = rows.slice(start, start + group.numRows);
        start += group.numRows;
        encoded.push(encodeRowGroup({ schema, columns: schema.columns.map((spec) => slice.map((row) => row[spec.name] ?? null)) }));
      }
      expect(start).toBe(rows.length);
      expect(Buffer.from(assembleParquet(schema, encoded)).equals(bytes), key).toBe(true);
      files++;
      groups += rowGroups.length;
    }
    expect(files).toBeGreaterThan(8);
    expect(groups).toBeGreaterThan(files); // several groups per file: sealed ones and the tail
  }, 120_000);
});
