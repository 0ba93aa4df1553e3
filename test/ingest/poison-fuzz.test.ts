/**
 * Seeded structure-aware fuzzing. Mutations aim where decoders trust the bytes: lengths, counts, union and enum
 * indexes (overwritten with random, often multi-byte, varints), plus bit flips, insertions, deletions and
 * truncations.
 * - Bodies through the decode worker: it never throws, and every event is accounted for (Ok with a row, or a
 *   dead-letter status with an error); whatever it decodes, avsc decodes too.
 * - Capture files through the block reader: it never throws under `deadletter`, the readable blocks and the
 *   corrupt regions tile the file after its header, every record of a block the mutation did not touch comes out
 *   unchanged or inside a dead-lettered byte range, and under `fail` the reader hands over exactly the events
 *   before the first unreadable block and then stops with the file and byte offset.
 */
import avro from 'avsc';
import fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { TributaryError } from '../../src/core/errors.js';
import type { SourceEvent } from '../../src/core/source.js';
import { BoundsGuard } from '../../src/ingest/decode/avro-bounds.js';
import { packBodies } from '../../src/ingest/decode/pool.js';
import { DecodeStatus } from '../../src/ingest/decode/task.js';
import decodeBatch from '../../src/ingest/decode/worker.js';
import { batchLength } from '../../src/core/column-builder.js';
import { readContainer } from '../../src/ingest/capture/container.js';
import { CORRUPT_BYTES_PROPERTY, captureFileEvents, openCaptureFile } from '../../src/ingest/capture/file-events.js';
import { avroValue } from '../support/avro-arbitrary.js';
import { KITCHEN_SINK_SCHEMA, captureFile, captureRecord, encodeWithSites, varint } from '../support/poison.js';

const log = pino({ level: 'silent' });
const sinkType = avro.Type.forSchema(KITCHEN_SINK_SCHEMA as unknown as avro.Schema);
const T0 = Date.UTC(2026, 0, 1);

type Mutation =
  | { op: 'site'; site: number; value: bigint }
  | { op: 'flip'; at: number; bit: number }
  | { op: 'insert'; at: number; byte: number }
  | { op: 'delete'; at: number }
  | { op: 'truncate'; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('site' as const), site: fc.nat(), value: fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.bigInt({ min: -300n, max: 300n }), fc.constantFrom(2n ** 31n, -(2n ** 31n), 2n ** 62n)) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }) },
);

/** Applies mutations to `bytes`, whose varint sites (start, end) are known; returns the bytes and where they changed. */
function mutate(bytes: Buffer, sites: Array<{ start: number; end: number }>, mutations: Mutation[], from = 0): { bytes: Buffer; touched: number } {
  let out = Buffer.from(bytes);
  let touched = Number.POSITIVE_INFINITY;
  const span = () => Math.max(1, out.length - from);
  for (const m of mutations) {
    if (m.op === 'site' && sites.length > 0) {
      const site = sites[m.site % sites.length]!;
      if (site.end > out.length) continue;
      out = Buffer.concat([out.subarray(0, site.start), varint(m.value), out.subarray(site.end)]);
      touched = Math.min(touched, site.start);
      // later sites may have moved: only the first site mutation is placed exactly
      sites = [];
      continue;
    }
    const at = from + (('at' in m ? m.at : 0) % span());
    if (at > out.length) continue;
    if (m.op === 'flip' && at < out.length) out[at]! ^= 1 << m.bit;
    else if (m.op === 'insert') out = Buffer.concat([out.subarray(0, at), Buffer.from([m.byte]), out.subarray(at)]);
    else if (m.op === 'delete' && at < out.length) out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1)]);
    else if (m.op === 'truncate') out = out.subarray(0, at);
    else continue;
    touched = Math.min(touched, at);
  }
  return { bytes: out, touched };
}

describe('seeded structure-aware fuzzing', () => {
  it('the decode worker never throws on mutated bodies and accounts for every event', () => {
    const guard = BoundsGuard.for(sinkType);
    const body = avroValue(sinkType).chain((value) => {
      const { bytes, sites } = encodeWithSites(sinkType, { ...(value as object), id: 'x', at: T0 });
      return fc.array(mutation, { minLength: 0, maxLength: 3 }).map((ms) => mutate(bytes, sites, ms).bytes);
    });
    fc.assert(
      fc.property(fc.array(body, { minLength: 1, maxLength: 25 }), (bodies) => {
        const result = decodeBatch({
          spec: { stream: 'fuzz', schema: JSON.stringify(KITCHEN_SINK_SCHEMA), bodyFormat: 'avro', eventIdPath: ['id'], eventTimePath: ['at'], maxEventBytes: 1 << 20 },
          ...packBodies(bodies.map((b) => ({ body: b }))),
        });
        expect(result.status.length).toBe(bodies.length);
        const ok = [...result.status].filter((s) => s === DecodeStatus.Ok).length;
        expect(result.ids.length).toBe(ok);
        expect(result.eventTimes.length).toBe(ok);
        for (const column of result.columns) expect(batchLength(column)).toBe(ok);
        expect(result.errors.map(([i]) => i)).toEqual([...result.status.keys()].filter((i) => result.status[i] !== DecodeStatus.Ok));
        bodies.forEach((b, i) => {
          if (result.status[i] === DecodeStatus.Ok) {
            expect(guard.check(b)).toBeUndefined();
            expect(() => sinkType.fromBuffer(b)).not.toThrow();
          }
        });
      }),
      { seed: 9_2026, numRuns: 150 },
    );
  });

  it('the Capture reader never throws on mutated files and accounts for every record', async () => {
    const fileArbitrary = fc
      .record({
        blockSizes: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 5 }),
        codec: fc.constantFrom('null' as const, 'deflate' as const),
        mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }),
        bodies: fc.array(fc.uint8Array({ maxLength: 30 }), { minLength: 20, maxLength: 20 }),
      })
      .map(({ blockSizes, codec, mutations, bodies }) => {
        let sequence = 0;
        const blocks = blockSizes.map((n) => ({ records: Array.from({ length: n }, () => captureRecord(sequence, T0 + sequence * 1000, Buffer.from(bodies[sequence++ % bodies.length]!), `k${sequence % 3}`)) }));
        const original = captureFile({ blocks, codec, seed: 'fuzz' });
        const container = readContainer(original, 'fuzz.avro');
        // the sites of the block structure: counts and sizes (varints) and sync markers; records inside too when stored plain
        const sites = container.blocks.flatMap((b) => [
          { start: b.start, end: b.start + varint(b.count).length },
          { start: b.start + varint(b.count).length, end: b.dataStart },
          { start: b.end - 16, end: b.end - 15 },
        ]);
        const { bytes, touched } = mutate(original, sites, mutations, container.headerBytes);
        const recordBlocks = container.blocks.map((b, i) => ({ start: b.start, end: b.end, records: blocks[i]!.records }));
        return { bytes, touched, recordBlocks };
      });

    await fc.assert(
      fc.asyncProperty(fileArbitrary, async ({ bytes, touched, recordBlocks }) => {
        const read = async (policy: 'fail' | 'deadletter') => {
          const container = openCaptureFile(bytes, { name: 'fuzz.avro', log });
          const events: SourceEvent[] = [];
          if (!container) return { events, error: undefined, container };
          try {
            for await (const batch of captureFileEvents(container, { name: 'fuzz.avro', windowStartMs: T0, onCorruptBlock: policy, log })) events.push(...batch);
          } catch (error) {
            return { events, error, container };
          }
          return { events, error: undefined, container };
        };
        const dead = await read('deadletter');
        expect(dead.error).toBeUndefined();
        const container = dead.container;
        if (!container) {
          // a truncation can leave a header-only file: then nothing of it was a block
          expect(bytes.length).toBeLessThanOrEqual(recordBlocks[0]!.start);
          return;
        }
        // readable blocks and corrupt regions tile the file after its header
        const ranges = [...container.blocks.map((b) => [b.start, b.end]), ...container.corrupt.map((c) => [c.start, c.end])].sort((a, b) => a[0]! - b[0]!);
        let at = container.headerBytes;
        for (const [start, end] of ranges) {
          expect(start).toBe(at);
          at = end!;
        }
        expect(at).toBe(bytes.length);
        // every record of an untouched block comes out as written, or inside a dead-lettered range
        const deadRanges = dead.events
          .filter((e) => e.envelopeReason === 'decode')
          .map((e) => String(e.properties[CORRUPT_BYTES_PROPERTY]).split('-').map(Number) as [number, number]);
        // the first event at each position: blocks before the first mutation come first, and a mutated block
        // may well come out holding a sequence number of its own choosing
        const byPosition = new Map<number, SourceEvent>();
        for (const e of dead.events) if (e.envelopeError === undefined && !byPosition.has(e.position)) byPosition.set(e.position, e);
        for (const block of recordBlocks) {
          if (block.end > touched) continue;
          const covered = deadRanges.some(([s, e]) => s < block.end && e > block.start);
          for (const record of block.records) {
            const event = byPosition.get(record.SequenceNumber);
            if (!event) {
              expect(covered, `record ${record.SequenceNumber}`).toBe(true);
              continue;
            }
            expect(Buffer.from(event.body).equals(record.Body!)).toBe(true);
          }
        }
        // under fail: exactly the events before the first unreadable block, then the file and byte offset
        const fail = await read('fail');
        const firstDead = dead.events.findIndex((e) => e.envelopeReason === 'decode');
        if (firstDead < 0) {
          expect(fail.error).toBeUndefined();
          expect(fail.events.length).toBe(dead.events.length);
        } else {
          expect(fail.error).toBeInstanceOf(TributaryError);
          expect((fail.error as Error).message).toMatch(/^fuzz\.avro: corrupt block at byte \d+ \(bytes \d+\.\.\d+\): /);
          expect(fail.events.map((e) => e.position)).toEqual(dead.events.slice(0, firstDead).map((e) => e.position));
        }
      }),
      { seed: 4_2026, numRuns: 400 },
    );
  });
});
