/**
 * Capture blocks read in the partition's lane (issue 12, item 1): a handler that takes Capture blocks gets each
 * batch as one buffer of stored block bytes, no event objects, and reading those blocks in the lane
 * (captureBlockEvents) gives exactly the events the source's own reader hands to any other handler: the same
 * coordinates, bodies, properties and envelope errors, the same resume filtering, and the same hostile-bytes
 * verdicts (corrupt blocks dead-lettered with their bytes, or failing with the file and byte offset). The archive
 * index, which reads on the main thread before anything is assigned, decodes only a block's edge records.
 */
import avro from 'avsc';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TributaryError } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/log.js';
import type { ApplicationProperties, CaptureItem, PartitionHandler, ResumePoint, SourceEvent } from '../../src/core/source.js';
import { CAPTURE_SCHEMA, captureKey } from '../../src/ingest/capture/format.js';
import { captureBlockEdges, captureEventReader } from '../../src/ingest/capture/event-reader.js';
import { captureBlockColumns, captureBlockEvents, type CaptureReadState } from '../../src/ingest/capture/lane-blocks.js';
import { indexArchive, type IndexedFile } from '../../src/ingest/capture/archive-index.js';
import { CaptureSource } from '../../src/ingest/capture/source.js';
import { packEvents } from '../../src/runtime/partition-processor.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { ObjectCheckpointStore } from '../../src/sink/object-checkpoint-store.js';
import { captureFile, captureRecord, envelopePoisons, type BlockSpec, type FileRecord } from '../support/poison.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';
import { observableEvent } from '../support/source-event.js';

const log = createLogger('silent');
const T0 = Date.UTC(2026, 0, 1);

interface BlockPlan {
  records: number;
  corrupt: BlockSpec['corrupt'] | undefined;
  /** one record replaced by an envelope bomb (index into envelopePoisons) */
  poison: number | undefined;
  /** the block's first record goes this many positions back */
  back: number;
}

interface ArchivePlan {
  files: Array<{ codec: 'null' | 'deflate'; blocks: BlockPlan[] }>;
  resume: number | undefined;
  batchSize: number;
}

const blockPlan = fc.record({
  records: fc.integer({ min: 0, max: 5 }),
  corrupt: fc.oneof(
    { weight: 4, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constantFrom<NonNullable<BlockSpec['corrupt']>>('sync', 'count-bomb', 'negative-count', 'size-bomb', 'deflate') },
  ),
  poison: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 6 }) }),
  back: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }) }),
});

const archivePlan = fc.record({
  files: fc.array(fc.record({ codec: fc.constantFrom<'null' | 'deflate'>('null', 'deflate'), blocks: fc.array(blockPlan, { minLength: 1, maxLength: 4 }) }), { minLength: 1, maxLength: 3 }),
  resume: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
  batchSize: fc.integer({ min: 1, max: 7 }),
});


describe('Capture blocks read in the lane', () => {
  let ws: Workspace;
  let run = 0;
  beforeAll(async () => {
    ws = await createWorkspace('tributary-lane-blocks-');
  });
  afterAll(() => ws?.cleanup());

  async function writeArchive(plan: ArchivePlan): Promise<LocalObjectStore> {
    const archive = new LocalObjectStore(ws.file(`capture-${++run}`));
    let sequence = 0;
    let window = 0;
    for (const file of plan.files) {
      const blocks: BlockSpec[] = file.blocks.map((block) => {
        sequence = Math.max(0, sequence - block.back);
        const records: FileRecord[] = Array.from({ length: block.records }, () => {
          const position = sequence++;
          return captureRecord(position, T0 + position * 1000, Buffer.from(`body-${position}`), position % 2 === 0 ? `k${position}` : null);
        });
        if (block.poison !== undefined && records.length > 0) {
          const position = sequence - 1;
          records[records.length - 1] = { raw: envelopePoisons(position, T0, Buffer.from('x'))[block.poison]!.raw };
        }
        const corrupt = block.corrupt === 'deflate' && file.codec !== 'deflate' ? undefined : block.corrupt;
        return { records, ...(corrupt ? { corrupt } : {}) };
      });
      const key = captureKey({ namespace: 'ns', hub: 'orders', partition: '0', windowStart: new Date(T0 + window++ * 60_000) });
      await archive.put(key, captureFile({ blocks, codec: file.codec }));
    }
    return archive;
  }

  function source(archive: LocalObjectStore, plan: ArchivePlan, policy: 'fail' | 'deadletter'): CaptureSource {
    const state = new LocalObjectStore(ws.file(`state-${++run}`));
    return new CaptureSource({
      store: archive,
      namespace: 'ns',
      hubs: { orders: 'orders' },
      checkpoints: new ObjectCheckpointStore(state),
      leases: state,
      owner: 'test',
      batchSize: plan.batchSize,
      onCorruptBlock: policy,
      log,
    });
  }

  const resumePoint = (plan: ArchivePlan): ResumePoint => (plan.resume === undefined ? undefined : { position: plan.resume });

  /** Events as the source's own reader hands them over, and how the run ended. */
  async function readOnMainThread(archive: LocalObjectStore, plan: ArchivePlan, policy: 'fail' | 'deadletter'): Promise<{ events: SourceEvent[]; error?: string }> {
    const events: SourceEvent[] = [];
    const handler: PartitionHandler = {
      onAssigned: async () => resumePoint(plan),
      onBatch: async (batch) => {
        events.push(...batch.events);
      },
      onRevoked: async () => undefined,
    };
    try {
      await source(archive, plan, policy).run(handler, { signal: new AbortController().signal, bounded: true });
      return { events };
    } catch (error) {
      return { events, error: (error as Error).message };
    }
  }

  /** Events as a lane reads them from the batches of blocks a block-taking handler gets. */
  async function readInLane(archive: LocalObjectStore, plan: ArchivePlan, policy: 'fail' | 'deadletter'): Promise<{ events: SourceEvent[]; error?: string; batches: number }> {
    const events: SourceEvent[] = [];
    const state: CaptureReadState = { resumeAt: plan.resume ?? 0, previousPosition: undefined, highest: -1 };
    let batches = 0;
    const handler: PartitionHandler = {
      takesCaptureBlocks: true,
      onAssigned: async () => resumePoint(plan),
      onBatch: async (batch) => {
        batches++;
        // what crosses to the lane: one buffer of block bytes and one small item per block, no event objects
        expect(batch.events).toEqual([]);
        expect(batch.capture?.data).toBeInstanceOf(ArrayBuffer);
        expect(batch.capture!.items.length).toBeGreaterThan(0);
        // a block's stored data lies between its header and its 16-byte sync marker; a corrupt region goes whole
        const storedBytes = (item: CaptureItem): number => ('dataStart' in item ? item.end - 16 - item.dataStart : item.end - item.start);
        expect(batch.capture!.items.every((item) => item.to - item.from === storedBytes(item))).toBe(true);
        const read = captureBlockEvents(batch.capture!, state, []);
        events.push(...read.events);
        if (read.failure) throw new TributaryError(read.failure.code, read.failure.message);
      },
      onRevoked: async () => undefined,
    };
    try {
      await source(archive, plan, policy).run(handler, { signal: new AbortController().signal, bounded: true });
      return { events, batches };
    } catch (error) {
      return { events, batches, error: (error as Error).message };
    }
  }

  it('dead-letters what the source would and hands over the same events, hostile files and resume points included', async () => {
    await fc.assert(
      fc.asyncProperty(archivePlan, async (plan) => {
        const archive = await writeArchive(plan);
        const main = await readOnMainThread(archive, plan, 'deadletter');
        const lane = await readInLane(archive, plan, 'deadletter');
        expect(lane.error).toBe(main.error);
        expect(lane.events.map(observableEvent)).toEqual(main.events.map(observableEvent));
      }),
      { numRuns: 40 },
    );
  });

  it("the edges a lane reports give each file the index's own first and last record, hostile files included", async () => {
    /** files whose edges were learned from the lane, over all runs: the property holds for more than empty caches */
    let learned = 0;
    await fc.assert(
      fc.asyncProperty(archivePlan, async (plan) => {
        const archive = await writeArchive(plan);
        const state = new LocalObjectStore(ws.file(`state-${++run}`));
        const readState: CaptureReadState = { resumeAt: 0, previousPosition: undefined, highest: -1 };
        const handed = new Set<string>();
        const handler: PartitionHandler = {
          takesCaptureBlocks: true,
          onAssigned: async () => undefined,
          onBatch: async (batch) => {
            handed.add(batch.capture!.name);
            const read = captureBlockColumns(batch.capture!, readState, [], [], 0);
            batch.onCaptureEdges?.(read.edges);
          },
          onRevoked: async () => undefined,
        };
        const options = { store: archive, namespace: 'ns', hubs: { orders: 'orders' }, onCorruptBlock: 'deadletter' as const, log };
        await new CaptureSource({ ...options, checkpoints: new ObjectCheckpointStore(state), leases: state, owner: 'test', batchSize: plan.batchSize, indexCache: state }).run(handler, {
          signal: new AbortController().signal,
          bounded: true,
        });
        const full = (await indexArchive(options, undefined)).get('orders')!.get('0')!;
        const cachedBytes = await state.get('capture-index/ns/orders/partition=0.json');
        const cached = cachedBytes ? (JSON.parse(Buffer.from(cachedBytes).toString()) as IndexedFile[]) : [];
        // what is cached is what the index itself would say of the file
        for (const entry of cached) expect(entry).toEqual(full.find((f) => f.key === entry.key));
        // a file of sound blocks is never left for a later run to decode, and a run from the start reads every file
        plan.files.forEach((file, i) => {
          expect(handed).toContain(`${archive.location}/${full[i]!.key}`);
          const sound = file.blocks.every((b) => (b.corrupt === undefined || (b.corrupt === 'deflate' && file.codec !== 'deflate')) && (b.poison === undefined || b.records === 0));
          if (sound) expect(cached.map((f) => f.key)).toContain(full[i]!.key);
        });
        learned += cached.filter((f, i) => f.first !== undefined && i < cached.length - 1).length;
      }),
      { numRuns: 40 },
    );
    expect(learned).toBeGreaterThan(0);
  });

  it('under onCorruptBlock: fail, stops with the same error naming the file and byte, after the same good events', async () => {
    /** runs where the lane itself met the bad bytes (not the archive index's preflight) */
    let metInLane = 0;
    await fc.assert(
      fc.asyncProperty(archivePlan, async (plan) => {
        const archive = await writeArchive(plan);
        const main = await readOnMainThread(archive, plan, 'fail');
        const lane = await readInLane(archive, plan, 'fail');
        expect(lane.error).toBe(main.error);
        // The main thread's reader drops the part of a batch it had not handed over yet when it meets the bad
        // block; the lane has the good records before the block in hand: never fewer, never others.
        expect(lane.events.slice(0, main.events.length).map(observableEvent)).toEqual(main.events.map(observableEvent));
        if (lane.error === undefined) expect(lane.events.length).toBe(main.events.length);
        else if (lane.batches > 0) metInLane++;
      }),
      { numRuns: 40 },
    );
    expect(metInLane).toBeGreaterThan(0);
  });
});

describe('batches of events read on the main thread (Kafka, Event Hubs)', () => {
  it('are packed without one object per event: bodies in one buffer, coordinates in typed arrays and text arrays', () => {
    const events: SourceEvent[] = Array.from({ length: 50 }, (_, i) => ({
      body: Buffer.from(`body-${i}`),
      position: 100 + i,
      offset: String(1000 + i),
      enqueuedTimeMs: T0 + i,
      partitionKey: i % 3 === 0 ? null : `k${i}`,
      properties: (i % 2 === 0 ? { region: `r${i}`, n: i } : {}) as ApplicationProperties,
      ...(i === 7 ? { envelopeError: 'unreadable', envelopeReason: 'schema' as const } : {}),
    }));
    const packed = packEvents(events, ['region'], undefined);
    expect(packed.bodies).toBeInstanceOf(ArrayBuffer);
    expect(Buffer.from(packed.bodies).toString()).toBe(events.map((e) => Buffer.from(e.body).toString()).join(''));
    expect([...packed.offsets.slice(0, 3)]).toEqual([0, 6, 12]);
    expect(packed.positions).toBeInstanceOf(Float64Array);
    expect(packed.enqueuedTimes).toBeInstanceOf(Float64Array);
    // arrays as long as the batch hold only text, numbers or null
    const perEvent = [packed.serviceOffsets, packed.partitionKeys, ...packed.propertyColumns];
    for (const column of perEvent) {
      expect(column).toHaveLength(events.length);
      expect(column.every((v) => v === null || typeof v === 'string')).toBe(true);
    }
    expect(packed.propertyColumns[0]![2]).toBe('r2');
    expect(packed.propertyColumns[0]![1]).toBeNull();
    // whole property maps travel as one text, for dead letters
    expect(typeof packed.properties).toBe('string');
    expect((JSON.parse(packed.properties) as unknown[])[4]).toEqual({ region: 'r4', n: 4 });
    expect(packed.envelopeErrors).toEqual([[7, 'unreadable', 'schema']]);
    expect(packEvents(events.map((e) => ({ ...e, properties: {} })), [], undefined).properties).toBe('');
  });
});

describe('the archive index reads a block\'s edge records only', () => {
  it('gives the first and last event of the full read, and fails where it fails', () => {
    const type = avro.Type.forSchema(CAPTURE_SCHEMA as unknown as avro.Schema);
    const edges = captureBlockEdges(CAPTURE_SCHEMA as unknown as avro.Schema);
    const full = captureEventReader(CAPTURE_SCHEMA as unknown as avro.Schema);
    const outcome = (read: () => { first: SourceEvent; last: SourceEvent }): unknown => {
      try {
        const { first, last } = read();
        return { first: observableEvent(first), last: observableEvent(last) };
      } catch (error) {
        return { error: (error as Error).message };
      }
    };
    fc.assert(
      fc.property(
        fc.array(fc.record({ position: fc.integer({ min: 0, max: 1000 }), poison: fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 6 }) }) }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: -1, max: 1 }),
        fc.boolean(),
        (records, countDelta, trailing) => {
          const data = Buffer.concat([
            ...records.map(({ position, poison }) =>
              poison === undefined ? type.toBuffer(captureRecord(position, T0 + position, Buffer.from(`b${position}`), `k${position}`)) : envelopePoisons(position, T0, Buffer.from('x'))[poison]!.raw,
            ),
            trailing ? Buffer.from([0]) : Buffer.alloc(0),
          ]);
          const count = Math.max(0, records.length + countDelta);
          const name = 'test.avro';
          expect(outcome(() => edges(data, count, name))).toEqual(
            outcome(() => {
              const events = full(data, count, name);
              if (events.length === 0) throw new Error(`${name}: an empty block has no first event`);
              return { first: events[0]!, last: events.at(-1)! };
            }),
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});
