/**
 * Capture records become SourceEvents with the coordinates, partition key and application properties the records
 * hold (property values arrive as wrapped union branches), on a file Azure wrote and on generated ones.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import avro from 'avsc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateArchive } from '../../src/gen/archive.js';
import { blockData, readContainer, type Container } from '../../src/ingest/capture/container.js';
import { captureEventReader } from '../../src/ingest/capture/event-reader.js';
import { parseEnqueuedTimeUtc } from '../../src/ingest/capture/format.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { embeddedConfig } from '../support/embedded-config.js';
import { FIXTURES, createWorkspace, type Workspace } from '../support/workspace.js';

/** What a SourceEvent must hold, computed here from avsc's own decoding of the record. */
function viaAvsc(record: Record<string, unknown>) {
  const unwrap = (v: unknown) => (v !== null && typeof v === 'object' && !(v instanceof Uint8Array) ? Object.values(v as object)[0] : v);
  const system = record.SystemProperties as Record<string, unknown>;
  const properties = Object.fromEntries(
    Object.entries(record.Properties as Record<string, unknown>).map(([k, v]) => {
      const value = unwrap(v);
      return [k, value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : value];
    }),
  );
  const key = unwrap(system['x-opt-partition-key']);
  return {
    body: Buffer.from((record.Body as Buffer | null) ?? new Uint8Array()).toString('base64'),
    position: Number(record.SequenceNumber),
    offset: record.Offset,
    enqueuedTimeMs: parseEnqueuedTimeUtc(record.EnqueuedTimeUtc as string),
    partitionKey: typeof key === 'string' ? key : null,
    properties,
  };
}

async function compare(container: Container, name: string): Promise<number> {
  const type = avro.Type.forSchema(container.schema);
  const read = captureEventReader(container.schema);
  let events = 0;
  for (const block of container.blocks) {
    const data = await blockData(container, block, name);
    const mine = read(data, block.count, name).map((e) => ({ ...e, body: Buffer.from(e.body).toString('base64') }));
    const theirs: unknown[] = [];
    let pos = 0;
    for (let i = 0; i < block.count; i++) {
      const decoded = type.decode(data, pos) as { value: Record<string, unknown>; offset: number };
      theirs.push(viaAvsc(decoded.value));
      pos = decoded.offset;
    }
    expect(mine).toEqual(theirs);
    events += block.count;
  }
  return events;
}

describe('Capture records to SourceEvents', () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await createWorkspace();
    const { config } = await ws.writeConfig(embeddedConfig(ws));
    await generateArchive(config, { events: 1500, partitions: 2, faults: { duplicate: 0.02, outOfOrder: 0, late: 0, corrupt: 0.02 }, seed: 4 });
  });
  afterAll(() => ws?.cleanup());

  it('reads the file Azure wrote as avsc does', async () => {
    const file = path.join(FIXTURES, 'capture', 'real-capture-2016-single-event.avro');
    expect(await compare(readContainer(await readFile(file), file), file)).toBe(1);
  });

  it('reads generated archives (deflate, null property values, traceparent) as avsc does', async () => {
    const store = new LocalObjectStore(ws.file('capture'));
    let events = 0;
    for (const object of await store.list('test/')) {
      if (object.key.endsWith('.avro')) events += await compare(readContainer((await store.get(object.key))!, object.key), object.key);
    }
    expect(events).toBeGreaterThan(3000);
  });
});
