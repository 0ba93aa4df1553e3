/**
 * A Parquet file staged one row group at a time (StagedParquetFile over a folder's staged upload) commits the same
 * bytes as the file assembled whole from the same groups, at every flush (with an open group) and at the end, and
 * DuckDB reads it back.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { assembleParquet, encodeRowGroup, type EncodedRowGroup } from '../../src/sink/parquet.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { StagedParquetFile } from '../../src/sink/staged-parquet.js';
import { orderRows, orderSchema } from '../support/order-table.js';
import { queryDuckDb } from '../support/duckdb.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';

const schema = orderSchema;
const rows = orderRows;

describe('StagedParquetFile', () => {
  let ws: Workspace;
  beforeEach(async () => {
    ws = await createWorkspace('tributary-staged-parquet-');
  });
  afterEach(() => ws.cleanup());

  it('commits the bytes assembleParquet makes of the same groups, at every flush and at the end', async () => {
    // a file: sealed groups of these sizes; before some of them a flush with an open group of `open` rows
    const plan = fc.array(fc.record({ rows: fc.integer({ min: 1, max: 60 }), flushBefore: fc.option(fc.integer({ min: 1, max: 30 }), { nil: undefined }) }), { maxLength: 5 });
    const store = new LocalObjectStore(ws.file('lake'));
    let run = 0;
    await fc.assert(
      fc.asyncProperty(plan, fc.option(fc.integer({ min: 1, max: 30 }), { nil: undefined }), async (groups, lastOpen) => {
        const key = `orders_raw/run-${run++}.parquet`;
        const file = new StagedParquetFile(store.openUpload(key, { epoch: 1 }), schema);
        const sealed: EncodedRowGroup[] = [];
        let next = 0;
        for (const group of groups) {
          if (group.flushBefore !== undefined) {
            const open = encodeRowGroup(rows(next, group.flushBefore));
            await file.commit(open, {}, { keepOpen: true });
            expect(Buffer.from((await store.get(key))!).equals(Buffer.from(assembleParquet(schema, [...sealed, open])))).toBe(true);
          }
          const encoded = encodeRowGroup(rows(next, group.rows));
          await file.addGroup(encoded);
          sealed.push(encoded);
          next += group.rows;
        }
        const open = lastOpen === undefined ? undefined : encodeRowGroup(rows(next, lastOpen));
        await file.commit(open, { rows: String(next + (lastOpen ?? 0)) });
        const expected = assembleParquet(schema, open ? [...sealed, open] : sealed);
        expect(Buffer.from((await store.get(key))!).equals(Buffer.from(expected))).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('is read back by DuckDB as the rows of every group in order', async () => {
    const store = new LocalObjectStore(ws.file('lake'));
    const file = new StagedParquetFile(store.openUpload('orders_raw/a.parquet', { epoch: 1 }), schema);
    await file.addGroup(encodeRowGroup(rows(0, 1000)));
    await file.addGroup(encodeRowGroup(rows(1000, 37)));
    await file.commit(encodeRowGroup(rows(1037, 500)), {});
    const result = await queryDuckDb(`SELECT count(*)::INTEGER AS n, min(position)::BIGINT AS lo, max(position)::BIGINT AS hi, count(DISTINCT id)::INTEGER AS ids,
      sum(CASE WHEN channel IS NULL THEN 1 ELSE 0 END)::INTEGER AS nulls FROM read_parquet('${ws.file('lake', 'orders_raw', 'a.parquet')}')`);
    expect(result.rows).toEqual([{ n: 1537, lo: 1_000_000, hi: 1_001_536, ids: 1537, nulls: Math.ceil(1537 / 7) }]);
    const order = await queryDuckDb(`SELECT id FROM read_parquet('${ws.file('lake', 'orders_raw', 'a.parquet')}') WHERE position IN (1000999, 1001000, 1001037)`);
    expect(order.rows.map((r) => r.id)).toEqual(['order-999', 'order-1000', 'order-1037']);
  });
});
