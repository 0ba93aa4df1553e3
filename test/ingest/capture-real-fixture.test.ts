/**
 * test/fixtures/capture holds a file written by Azure Event Hubs Capture itself (2016, codec null,
 * culture-formatted EnqueuedTimeUtc, JSON body). Its README says: a worker configured for Avro bodies must
 * dead-letter it with reason `decode`, keeping its coordinates; one configured for JSON bodies must land it.
 */
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { runWorker } from '../../src/runtime/worker.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { decodeDeadLetters } from '../../src/sink/dead-letter.js';
import { readParquet } from '../support/read-parquet.js';
import { FIXTURES, createWorkspace, type Workspace } from '../support/workspace.js';

const FIXTURE = path.join(FIXTURES, 'capture', 'real-capture-2016-single-event.avro');

describe('the Capture source on a file written by Azure', () => {
  let ws: Workspace;
  beforeEach(async () => {
    ws = await createWorkspace();
    // Capture's layout: namespace/hub/partition/yyyy/mm/dd/hh/mm/ss.avro
    const target = ws.file('archive', 'realns', 'realhub', '0', '2016', '11', '16', '16', '44', '11.avro');
    await mkdir(path.dirname(target), { recursive: true });
    await copyFile(FIXTURE, target);
    await writeFile(ws.file('fields.avsc'), JSON.stringify({
      type: 'record', name: 'Sample', fields: [{ name: 'field1', type: 'string' }, { name: 'field2', type: 'string' }],
    }));
  });
  afterEach(() => ws.cleanup());

  const configFor = (bodyFormat: 'avro' | 'json') => ({
    streams: { sample: { schema: ws.file('fields.avsc'), bodyFormat, eventId: 'field1', eventTime: '_enqueued_time' } },
    source: { kind: 'capture' as const, store: { kind: 'local' as const, path: ws.file('archive') }, namespace: 'realns', hubs: { sample: 'realhub' } },
    lake: { kind: 'local' as const, path: ws.file('lake') },
    deadLetter: { kind: 'local' as const, path: ws.file('deadletter') },
    state: { kind: 'local' as const, path: ws.file('state') },
    processing: { decodeThreads: 1 },
  });

  it('dead-letters the JSON body with reason decode and its coordinates when configured for Avro', async () => {
    const { config } = await ws.writeConfig(configFor('avro'));
    const summary = await runWorker(config, { bounded: true, signal: new AbortController().signal, log: createLogger('silent') });
    expect(summary.totals.eventsRead).toBe(1);
    expect(summary.totals.deadLettersByReason.get('decode')).toBe(1);
    const store = new LocalObjectStore(ws.file('deadletter'));
    const [object] = await store.list('');
    expect(object?.metadata.count_decode).toBe('1');
    const [record] = decodeDeadLetters((await store.get(object!.key))!);
    expect(record).toMatchObject({ reason: 'decode', stream: 'sample', partition: '0', position: 0, offset: '0', enqueuedTime: '2016-11-16T16:44:11.000Z' });
    expect(Buffer.from(record!.body, 'base64').toString()).toBe('{"field1": "value1", "field2": "value2"}');
    expect(await new LocalObjectStore(ws.file('lake')).list('')).toEqual([]);
  });

  it('lands the event when configured for JSON bodies', async () => {
    const { config } = await ws.writeConfig(configFor('json'));
    const summary = await runWorker(config, { bounded: true, signal: new AbortController().signal, log: createLogger('silent') });
    expect(summary.totals.deadLettersByReason.size).toBe(0);
    const lake = new LocalObjectStore(ws.file('lake'));
    const files = await lake.list('sample_raw/');
    expect(files.map((f) => f.key)).toEqual(['sample_raw/date=2016-11-16/hour=16/partition=0/sample_raw-p0-pos0000000000000000-part000.parquet']);
    const { rows } = await readParquet((await lake.get(files[0]!.key))!);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ field1: 'value1', field2: 'value2', _partition: '0', _offset: '0' });
    expect(Number(rows[0]!._position)).toBe(0);
    expect(Number(rows[0]!._enqueued_time)).toBe(Date.UTC(2016, 10, 16, 16, 44, 11));
  });
});
