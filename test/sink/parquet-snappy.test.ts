/**
 * Native and JavaScript Snappy: files written with either read back, with DuckDB and with parquet-wasm, as the
 * rows that went in; each is deterministic; and a process where the native binding cannot load writes the
 * JavaScript compressor's bytes.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { assembleParquet, encodeParquet, encodeRowGroup } from '../../src/sink/parquet.js';
import { nativeSnappy } from '../../src/sink/snappy.js';
import type { TableData } from '../../src/core/table.js';
import { readParquet } from '../support/read-parquet.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'tributary-snappy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const schema = {
  name: 'orders_raw',
  columns: [
    { name: 'order_id', type: 'string' as const, nullable: false },
    { name: 'channel', type: 'string' as const, nullable: true },
    { name: 'amount', type: 'double' as const, nullable: false },
    { name: 'quantity', type: 'int32' as const, nullable: false },
    { name: 'created_at', type: 'timestamp_ms' as const, nullable: false },
    { name: '_position', type: 'int64' as const, nullable: false },
    { name: 'lines', type: 'json_text' as const, nullable: true },
  ],
};

const rowArb = fc.record({
  order_id: fc.uuid(),
  channel: fc.option(fc.constantFrom('web', 'app', 'store', 'partner', 'ünï'), { nil: null }),
  amount: fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e9, max: 1e9 }).map((x) => (Object.is(x, -0) ? 0 : x)),
  quantity: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  created_at: fc.integer({ min: 0, max: 2 ** 42 }),
  _position: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  lines: fc.option(fc.array(fc.record({ sku: fc.string(), n: fc.integer() }), { maxLength: 4 }).map((l) => JSON.stringify(l)), { nil: null }),
});

function table(rows: Array<Record<string, unknown>>): TableData {
  return { schema, columns: schema.columns.map((c) => rows.map((r) => r[c.name])) };
}

async function readWithDuckDb(bytes: Uint8Array, name: string): Promise<Record<string, unknown>[]> {
  const file = path.join(dir, name);
  writeFileSync(file, bytes);
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(
      `select order_id, channel, amount, quantity, epoch_ms(created_at)::BIGINT as created_at, _position, lines from read_parquet('${file}')`,
    );
    // DuckDB reads a JSON-annotated column without the JSON converted type as a BLOB: its bytes are the text.
    return reader.getRowObjectsJS().map((row) => ({
      ...row,
      created_at: Number(row.created_at),
      _position: Number(row._position),
      lines: row.lines instanceof Uint8Array ? Buffer.from(row.lines).toString('utf8') : row.lines,
    }));
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** parquet-wasm's rows, JSON columns (which arrow-rs hands over as bytes) as text. */
async function readRows(bytes: Uint8Array): Promise<Record<string, unknown>[]> {
  return (await readParquet(bytes)).rows.map((row) => ({ ...row, lines: row.lines instanceof Uint8Array ? Buffer.from(row.lines).toString('utf8') : row.lines }));
}

let files = 0;

describe('Snappy implementations', () => {
  it('the native binding loads on this platform (the tests below would otherwise compare the fallback with itself)', () => {
    expect(nativeSnappy()).not.toBeNull();
  });

  it('native and JavaScript Snappy files read back, with DuckDB and parquet-wasm, as the rows written; each is deterministic', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(rowArb, { minLength: 1, maxLength: 300 }), async (rows) => {
        const data = table(rows);
        for (const snappy of ['native', 'js'] as const) {
          const bytes = encodeParquet(data, { snappy, rowGroupSize: 128 });
          expect(Buffer.from(encodeParquet(data, { snappy, rowGroupSize: 128 })).equals(Buffer.from(bytes))).toBe(true);
          expect(await readRows(bytes)).toEqual(rows);
          expect(await readWithDuckDb(bytes, `f${files++}.parquet`)).toEqual(rows);
          // Groups encoded apart and assembled read back the same.
          const groups = [];
          for (let start = 0; start < rows.length; start += 100) groups.push(encodeRowGroup(table(rows.slice(start, start + 100)), { snappy }));
          expect(await readRows(assembleParquet(schema, groups))).toEqual(rows);
        }
      }),
      { numRuns: 15 },
    );
  });

  it('falls back to JavaScript Snappy, with its bytes, where the native binding cannot load', () => {
    const rows = fc.sample(rowArb, { numRuns: 500, seed: 42 });
    const data = table(rows);
    const here = path.dirname(fileURLToPath(import.meta.url));
    const script = path.join(dir, 'encode.mts');
    // The child makes require('snappy') fail, as on a platform without a prebuilt binary, and writes the file.
    writeFileSync(
      script,
      [
        `import Module from 'node:module';`,
        `const resolve = (Module as any)._resolveFilename;`,
        `(Module as any)._resolveFilename = function (request: string, ...rest: unknown[]) {`,
        `  if (request === 'snappy') throw new Error('no prebuilt binary for this platform');`,
        `  return resolve.call(this, request, ...rest);`,
        `};`,
        `const { encodeParquet } = await import(${JSON.stringify(path.resolve(here, '../../src/sink/parquet.ts'))});`,
        `const { nativeSnappy } = await import(${JSON.stringify(path.resolve(here, '../../src/sink/snappy.ts'))});`,
        `if (nativeSnappy() !== null) throw new Error('the native binding loaded after all');`,
        `const data = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));`,
        `process.stdout.write(Buffer.from(encodeParquet(data)).toString('base64'));`,
      ]
        .join('\n')
        .replace(`require('node:fs')`, `(await import('node:fs'))`),
    );
    const out = execFileSync(process.execPath, ['--import', 'tsx', script], { input: JSON.stringify(data), cwd: path.resolve(here, '../..'), encoding: 'utf8' });
    const fallback = Buffer.from(out, 'base64');
    expect(fallback.equals(Buffer.from(encodeParquet(data, { snappy: 'js' })))).toBe(true);
    expect(fallback.equals(Buffer.from(encodeParquet(data, { snappy: 'native' })))).toBe(false);
  });
});
