import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import avro from 'avsc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { captureKey, captureType, type CaptureRecord } from '../../src/ingest/capture/format.js';
import { BodyDecoder, loadSampleFromAvroFile, loadSampleFromPath } from '../../src/partition/sample.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';

const SCHEMA = { type: 'record', name: 'Reading', fields: [{ name: 'deviceId', type: 'string' }, { name: 'value', type: 'int' }] };
const readingType = avro.Type.forSchema(SCHEMA as avro.Schema);
const log = createLogger('silent');

async function container(type: avro.Type, records: unknown[]): Promise<Buffer> {
  const encoder = new avro.streams.BlockEncoder(type, { codec: 'deflate', blockSize: 256 });
  const chunks: Buffer[] = [];
  const done = new Promise((resolve) => encoder.on('data', (c: Buffer) => chunks.push(c)).on('end', resolve));
  for (const record of records) encoder.write(record);
  encoder.end();
  await done;
  return Buffer.concat(chunks);
}

function captured(sequence: number, enqueued: string, body: Buffer, key: string | undefined): CaptureRecord {
  return {
    SequenceNumber: sequence,
    Offset: String(sequence * 100),
    EnqueuedTimeUtc: enqueued,
    SystemProperties: key === undefined ? {} : { 'x-opt-partition-key': { string: key } },
    Properties: { traceparent: { string: `t-${sequence}` } },
    Body: body,
  };
}

describe('samples', () => {
  let workspace: Workspace;
  const decoder = new BodyDecoder(JSON.stringify(SCHEMA), 'avro');

  beforeAll(async () => {
    workspace = await createWorkspace('tributary-sample-');
  });
  afterAll(async () => {
    await workspace?.cleanup();
  });

  it('merges the partitions of a Capture archive in enqueued-time order and decodes the bodies', async () => {
    const root = workspace.file('capture');
    const body = (deviceId: string, value: number): Buffer => readingType.toBuffer({ deviceId, value });
    const files: Array<[string, CaptureRecord[]]> = [
      ['0', [captured(0, '2024-01-01T00:00:00.000Z', body('a', 1), 'a'), captured(1, '2024-01-01T00:00:02.000Z', body('a', 3), 'a')]],
      ['1', [captured(0, '2024-01-01T00:00:01.000Z', body('b', 2), 'b'), captured(1, '2024-01-01T00:00:03.000Z', Buffer.from('not avro'), undefined)]],
    ];
    for (const [partition, records] of files) {
      const key = captureKey({ namespace: 'ns', hub: 'telemetry', partition, windowStart: new Date(Date.UTC(2024, 0, 1)) });
      await mkdir(path.dirname(path.join(root, key)), { recursive: true });
      await writeFile(path.join(root, key), await container(captureType, records));
    }
    const sample = await loadSampleFromPath(root, 'telemetry', decoder, { maxEvents: 100 }, log);
    expect(sample.source).toContain('ns/telemetry');
    expect(sample.events.map((e) => e.fields.value ?? null)).toEqual([1, 2, 3, null]);
    expect(sample.undecodable).toBe(1);
    expect(sample.events.map((e) => e.enqueuedTimeMs)).toEqual([0, 1, 2, 3].map((s) => Date.UTC(2024, 0, 1, 0, 0, s)));
    expect(sample.events[0]!.properties).toEqual({ traceparent: 't-0' });
    expect(sample.events[3]!.bodyBytes).toBe(8);
  });

  it('reads an Avro file of stream records as producer-encoded bodies, up to the limit', async () => {
    const file = workspace.file('readings.avro');
    const records = Array.from({ length: 50 }, (_, i) => ({ deviceId: `d${i % 7}`, value: i }));
    await writeFile(file, await container(readingType, records));
    const sample = await loadSampleFromAvroFile(file, 'telemetry', decoder, { maxEvents: 40 });
    expect(sample.events).toHaveLength(40);
    expect(sample.events.map((e) => e.fields)).toEqual(records.slice(0, 40).map((r) => ({ ...r })));
    expect(Buffer.from(sample.events[5]!.body)).toEqual(readingType.toBuffer(records[5]));
  });

  it('rejects a file whose records are not of the stream schema, naming the record', async () => {
    const other = avro.Type.forSchema({ type: 'record', name: 'Other', fields: [{ name: 'x', type: 'int' }] });
    const file = workspace.file('other.avro');
    await writeFile(file, await container(other, [{ x: 1 }]));
    await expect(loadSampleFromAvroFile(file, 'telemetry', decoder, { maxEvents: 10 })).rejects.toThrow(/record 0 does not match the schema of stream telemetry/);
  });
});
