/** Reads a whole lake back with the independent Parquet reader (parquet-wasm), table by table. */
import type { ObjectStore } from '../../src/core/object-store.js';
import { decodeDeadLetters, type DeadLetterRecord } from '../../src/sink/dead-letter.js';
import { readParquet } from './read-parquet.js';

export async function readTable(lake: ObjectStore, table: string): Promise<Array<Record<string, unknown>>> {
  const rows: Array<Record<string, unknown>> = [];
  for (const object of await lake.list(`${table}/`)) {
    if (!object.key.endsWith('.parquet')) continue;
    rows.push(...(await readParquet((await lake.get(object.key))!)).rows);
  }
  return rows;
}

/** Every file of the lake with its bytes, for byte-for-byte comparisons between runs. */
export async function snapshotLake(lake: ObjectStore): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const object of await lake.list('')) {
    const bytes = await lake.get(object.key);
    files.set(object.key, Buffer.from(bytes!).toString('base64'));
  }
  return files;
}

export async function readDeadLetters(store: ObjectStore): Promise<DeadLetterRecord[]> {
  const records: DeadLetterRecord[] = [];
  for (const object of await store.list('')) records.push(...decodeDeadLetters((await store.get(object.key))!));
  return records;
}
