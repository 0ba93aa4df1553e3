import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import avro from 'avsc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { TributaryConfig } from '../../src/config/schema.js';
import { TributaryError } from '../../src/core/errors.js';
import { generateArchive, readArchiveManifest, type ArchiveSummary, type GenerateArchiveOptions } from '../../src/gen/archive.js';
import { parseCaptureKey, parseEnqueuedTimeUtc } from '../../src/ingest/capture/format.js';
import { mapPartitionKeyToId } from '../../src/partition/eventhubs-hash.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';

interface FileContents {
  codec: string;
  schema: { name: string; namespace?: string };
  records: Array<Record<string, unknown>>;
}

/** Reads a Capture file with avsc's own container decoder, using the schema in its header (as any reader would). */
async function readCaptureFile(file: string): Promise<FileContents> {
  const records: Array<Record<string, unknown>> = [];
  let codec = '';
  let schema: FileContents['schema'] = { name: '' };
  await new Promise<void>((resolve, reject) => {
    avro
      .createFileDecoder(file)
      .on('metadata', (_type: avro.Type, fileCodec: string, header: { meta: Record<string, Buffer> }) => {
        codec = fileCodec;
        schema = JSON.parse(header.meta['avro.schema']!.toString()) as FileContents['schema'];
      })
      .on('data', (record: Record<string, unknown>) => records.push(record))
      .on('error', reject)
      .on('end', resolve);
  });
  return { codec, schema, records };
}

const unwrap = (value: unknown): unknown => (value && typeof value === 'object' && !Buffer.isBuffer(value) ? Object.values(value)[0] : value);

const FAULTS = { duplicate: 0.02, outOfOrder: 0.02, late: 0.01, corrupt: 0.01 };

describe('Capture archive target', () => {
  let workspace: Workspace;
  let config: TributaryConfig;
  const run = (dir: string, options: Omit<GenerateArchiveOptions, 'store'> = {}): Promise<ArchiveSummary> =>
    generateArchive(config, { events: 6000, partitions: 3, keys: 300, distribution: 'zipf', skew: 1, span: '30m', faults: FAULTS, seed: 1, ...options, store: new LocalObjectStore(workspace.file(dir)) });

  beforeAll(async () => {
    workspace = await createWorkspace('tributary-gen-capture-');
    config = await loadConfig('examples/tributary.yaml');
  });
  afterAll(() => workspace.cleanup());

  it('writes Capture files that read back with avsc: schema, layout, sequence numbers, offsets, properties, bodies', async () => {
    const progress: number[] = [];
    const events = 30_000;
    const summary = await generateArchive(
      config,
      { events, partitions: 3, keys: 300, distribution: 'zipf', skew: 1, span: '30m', faults: FAULTS, seed: 1, store: new LocalObjectStore(workspace.file('main')) },
      (p) => progress.push(p.generated),
    );
    expect(progress.at(-1)).toBe(events);
    const store = new LocalObjectStore(workspace.file('main'));
    const objects = (await store.list('demo/')).filter((o) => o.key.endsWith('.avro'));
    expect(objects.length).toBe(summary.output!.files);
    expect(objects.reduce((n, o) => n + o.size, 0)).toBe(summary.output!.bytes);

    const bodyTypes = Object.fromEntries(
      await Promise.all(
        Object.entries(config.streams).map(async ([stream, s]) => [stream, avro.Type.forSchema(JSON.parse(await readFile(s.schema, 'utf8')) as avro.Schema)] as const),
      ),
    );
    // Checked in bulk: per-record expect calls would dominate the run time.
    const problems: string[] = [];
    const check = (ok: boolean, what: string): void => {
      if (!ok && problems.length < 20) problems.push(what);
    };
    for (const streamSummary of summary.streams) {
      const hub = config.source.kind === 'capture' ? config.source.hubs[streamSummary.stream]! : '';
      let undecodable = 0;
      for (const partition of ['0', '1', '2']) {
        const files = objects.filter((o) => o.key.startsWith(`demo/${hub}/${partition}/`));
        expect(files.length).toBeGreaterThanOrEqual(6); // 30 minutes of 5-minute windows
        let sequence = 0;
        let offset = -1;
        let lastEnqueued = 0;
        for (const { key } of files) {
          const parts = parseCaptureKey(key)!;
          expect(parts).toMatchObject({ namespace: 'demo', hub, partition });
          const contents = await readCaptureFile(workspace.file('main', ...key.split('/')));
          expect(contents.codec).toBe('deflate');
          expect(contents.schema).toMatchObject({ name: 'EventData', namespace: 'Microsoft.ServiceBus.Messaging' });
          const where = (record: Record<string, unknown>) => `${key} #${String(record.SequenceNumber)}`;
          for (const record of contents.records) {
            check(record.SequenceNumber === sequence++, `${where(record)}: sequence number not ${sequence - 1}`);
            const recordOffset = Number(record.Offset);
            check(recordOffset > offset, `${where(record)}: offset does not grow`);
            offset = recordOffset;
            const enqueued = parseEnqueuedTimeUtc(record.EnqueuedTimeUtc as string);
            check(record.EnqueuedTimeUtc === new Date(enqueued).toISOString(), `${where(record)}: EnqueuedTimeUtc not ISO`);
            check(enqueued >= lastEnqueued, `${where(record)}: enqueued time went backwards`);
            lastEnqueued = enqueued;
            // A file holds one 5-minute capture window, starting at or after the time in its name.
            check(enqueued >= parts.windowStart.getTime(), `${where(record)}: before its file's window`);
            check(Math.floor(enqueued / 300_000) === Math.floor(parts.windowStart.getTime() / 300_000), `${where(record)}: outside its file's window`);
            const system = record.SystemProperties as Record<string, unknown>;
            check(unwrap(system['x-opt-sequence-number']) === record.SequenceNumber, `${where(record)}: x-opt-sequence-number`);
            check(unwrap(system['x-opt-offset']) === record.Offset, `${where(record)}: x-opt-offset`);
            check(unwrap(system['x-opt-enqueued-time']) === enqueued, `${where(record)}: x-opt-enqueued-time`);
            const partitionKey = unwrap(system['x-opt-partition-key']) as string;
            check(mapPartitionKeyToId(partitionKey, 3) === Number(partition), `${where(record)}: key ${partitionKey} hashes elsewhere`);
            const traceparent = unwrap((record.Properties as Record<string, unknown>).traceparent);
            check(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/.test(String(traceparent)), `${where(record)}: traceparent ${String(traceparent)}`);
            let body: Record<string, unknown> | undefined;
            try {
              body = bodyTypes[streamSummary.stream]!.fromBuffer(record.Body as Buffer) as Record<string, unknown>;
            } catch (error) {
              if (!(error instanceof Error)) throw error;
              undecodable++;
            }
            if (body) check(body[streamSummary.keyField!] === partitionKey, `${where(record)}: body key differs from x-opt-partition-key`);
          }
        }
        expect(sequence).toBe(streamSummary.partitions[partition]);
      }
      expect(undecodable).toBe(streamSummary.faults.corrupt);
      expect(streamSummary.faults.corrupt).toBeGreaterThan(0);
      expect(await readArchiveManifest(store, 'demo', hub)).toMatchObject({ stream: streamSummary.stream, hub, summary: { deliveredEvents: streamSummary.deliveredEvents } });
    }
    expect(problems).toEqual([]);
  });

  it('same seed, same bytes; another seed, other bytes', async () => {
    const fingerprint = async (dir: string): Promise<Map<string, string>> => {
      const store = new LocalObjectStore(workspace.file(dir));
      const result = new Map<string, string>();
      for (const { key } of await store.list('demo/')) {
        if (key.endsWith('.avro')) result.set(key, createHash('sha256').update((await store.get(key))!).digest('hex'));
      }
      return result;
    };
    await run('seed-a');
    await run('seed-b');
    await run('seed-c', { seed: 2 });
    const a = await fingerprint('seed-a');
    expect(a.size).toBeGreaterThan(10);
    expect(await fingerprint('seed-b')).toEqual(a);
    const c = await fingerprint('seed-c');
    expect([...a.entries()].filter(([key, hash]) => c.get(key) === hash)).toEqual([]);
  });

  it('rolls files by size inside a window, with unique growing names and continuous sequence numbers', async () => {
    const summary = await run('small-files', { streams: ['orders'], partitions: 1, capture: { maxFileBytes: '20KiB', codec: 'null', window: '5m' } });
    const store = new LocalObjectStore(workspace.file('small-files'));
    const keys = (await store.list('demo/orders/0/')).map((o) => o.key).filter((k) => k.endsWith('.avro'));
    expect(keys.length).toBeGreaterThan(30);
    expect(keys.length).toBe(summary.output!.files);
    const starts = keys.map((k) => parseCaptureKey(k)!.windowStart.getTime());
    expect(starts).toEqual([...starts].sort((x, y) => x - y));
    expect(new Set(starts).size).toBe(starts.length);
    let sequence = 0;
    for (const key of keys) {
      const contents = await readCaptureFile(workspace.file('small-files', ...key.split('/')));
      expect(contents.codec).toBe('null');
      for (const record of contents.records) expect(record.SequenceNumber).toBe(sequence++);
    }
    expect(sequence).toBe(summary.streams[0]!.deliveredEvents);
  });

  it('refuses to mix with an existing archive unless told to overwrite, and then replaces it whole', async () => {
    await run('reused', { events: 3000 });
    const store = new LocalObjectStore(workspace.file('reused'));
    const before = (await store.list('demo/')).length;
    await expect(run('reused', { events: 3000 })).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/--overwrite/) });
    expect((await store.list('demo/')).length).toBe(before);
    await run('reused', { events: 300, span: '4m', overwrite: true });
    const after = await store.list('demo/');
    expect(after.filter((o) => o.key.endsWith('.avro')).length).toBe(6); // 2 hubs x 3 partitions x one window
  });

  it('fails before writing anything on a bad option or an unknown stream, naming it', async () => {
    await expect(run('bad', { faults: { duplicate: 0.7, late: 0.6 } })).rejects.toThrow(/fault rates must add up to at most 1/);
    await expect(run('bad', { streams: ['payments'] })).rejects.toThrow(/unknown stream "payments"/);
    await expect(run('bad', { keyField: 'nope' })).rejects.toThrow(/keyField \(orders\): no field "nope"/);
    await expect(run('bad', { span: 'forever' })).rejects.toBeInstanceOf(TributaryError);
    expect(await new LocalObjectStore(workspace.file('bad')).list('')).toEqual([]);
  });
});
