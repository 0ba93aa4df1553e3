/**
 * Hostile Capture files: zero-length and header-only files hold no events; a corrupt block (bad count, size, sync
 * marker, deflate data, a deflate bomb, or a bomb in a record's envelope) either fails with the file and the byte
 * offset, or becomes one dead-letter event naming the file and byte range while the blocks around it are read
 * whole; envelope fields that parse but cannot be used become events with envelopeError and safe coordinates.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { TributaryError } from '../../src/core/errors.js';
import type { SourceEvent } from '../../src/core/source.js';
import { readContainer } from '../../src/ingest/capture/container.js';
import {
  CORRUPT_BYTES_PROPERTY,
  CORRUPT_FILE_PROPERTY,
  captureFileEvents,
  openCaptureFile,
  type CorruptBlockPolicy,
} from '../../src/ingest/capture/file-events.js';
import { CAPTURE_SCHEMA } from '../../src/ingest/capture/format.js';
import { captureFile, captureRecord, envelopePoisons, headerOnlyCaptureFile, type BlockSpec } from '../support/poison.js';

const log = pino({ level: 'silent' });
const T0 = Date.UTC(2026, 0, 1);
const WINDOW = Date.UTC(2025, 11, 31);

const body = (n: number) => Buffer.from(`body-${n}`);
const records = (from: number, count: number) => Array.from({ length: count }, (_, i) => captureRecord(from + i, T0 + (from + i) * 1000, body(from + i)));

async function readAll(bytes: Buffer, onCorruptBlock: CorruptBlockPolicy, previous?: number): Promise<SourceEvent[]> {
  const container = openCaptureFile(bytes, { name: 'f.avro', log });
  if (!container) return [];
  const events: SourceEvent[] = [];
  for await (const batch of captureFileEvents(container, { name: 'f.avro', windowStartMs: WINDOW, onCorruptBlock, log }, previous)) events.push(...batch);
  return events;
}

const summary = (events: SourceEvent[]) =>
  events.map((e) => (e.envelopeError === undefined ? `${e.position}:${Buffer.from(e.body).toString()}` : `${e.position}:${e.envelopeReason ?? 'schema'}`));

describe('hostile Capture files', () => {
  it('skips zero-length and header-only files', async () => {
    expect(openCaptureFile(new Uint8Array(0), { name: 'empty.avro', log })).toBeUndefined();
    expect(openCaptureFile(headerOnlyCaptureFile(), { name: 'header.avro', log })).toBeUndefined();
    // a header cut short is not "empty": it is an unreadable file, named
    expect(() => openCaptureFile(headerOnlyCaptureFile().subarray(0, 30), { name: 'cut.avro', log })).toThrow(/cut\.avro: corrupt Avro header at byte \d+/);
  });

  it('each file gets its own header schema, and a schema that does not parse is refused after good ones were read', () => {
    const evolved = { ...CAPTURE_SCHEMA, fields: CAPTURE_SCHEMA.fields.map((f) => (f.name === 'SequenceNumber' ? { name: 'SequenceNumber', type: ['long', 'string'] } : f)) };
    const plain = captureFile({ blocks: [{ records: records(0, 2) }] });
    const other = captureFile({ schema: evolved, blocks: [{ records: records(2, 2) }] });
    // the same bytes with one type name spelled wrong (same length, so the header's lengths still hold)
    const at = plain.indexOf('"long"');
    const unknownType = Buffer.concat([plain.subarray(0, at), Buffer.from('"lonk"'), plain.subarray(at + 6)]);
    for (const [file, expected] of [[plain, CAPTURE_SCHEMA], [other, evolved], [plain, CAPTURE_SCHEMA]] as const) {
      const container = readContainer(file, 'f.avro');
      expect(container.schema).toEqual(expected);
      expect(JSON.parse(container.schemaJson)).toEqual(expected);
    }
    expect(() => readContainer(unknownType, 'bad.avro')).toThrow('bad.avro: the Avro header has no valid schema');
    expect(readContainer(other, 'f.avro').schema).toEqual(evolved);
  });

  it('refuses a header whose metadata map announces 2^31 entries without looping over them', () => {
    const file = headerOnlyCaptureFile();
    // magic (4 bytes), then the map's block count: 2 as one byte; make it 2^31
    const bomb = Buffer.concat([file.subarray(0, 4), Buffer.from([0x80, 0x80, 0x80, 0x80, 0x10]), file.subarray(5)]);
    expect(() => readContainer(bomb, 'bomb.avro')).toThrow(/bomb\.avro: corrupt Avro header at byte 4: map: block count 2147483648 needs at least/);
  });

  const corruptions: Array<NonNullable<BlockSpec['corrupt']>> = ['sync', 'count-bomb', 'size-bomb', 'negative-count', 'deflate', 'deflate-bomb'];
  for (const corrupt of corruptions) {
    it(`a ${corrupt} block fails with the file and byte offset, or is dead-lettered whole while its neighbours are read`, async () => {
      const file = captureFile({ codec: 'deflate', blocks: [{ records: records(0, 3) }, { records: records(3, 2), corrupt }, { records: records(5, 3) }] });
      const container = readContainer(file, 'f.avro');
      const badStart = container.corrupt[0]?.start ?? container.blocks[1]!.start;
      await expect(readAll(file, 'fail')).rejects.toThrow(new RegExp(`^f\\.avro: corrupt block at byte ${badStart} \\(bytes ${badStart}\\.\\.\\d+\\): `));
      const events = await readAll(file, 'deadletter');
      // size-bomb: the size cannot be trusted, so reading resynchronises on the next sync marker, which closes the
      // bad block itself; the third block is intact either way
      expect(summary(events)).toEqual(['0:body-0', '1:body-1', '2:body-2', '3:decode', '5:body-5', '6:body-6', '7:body-7']);
      const dead = events[3]!;
      expect(dead.properties[CORRUPT_FILE_PROPERTY]).toBe('f.avro');
      const [start, end] = String(dead.properties[CORRUPT_BYTES_PROPERTY]).split('-').map(Number);
      expect(start).toBe(badStart);
      expect(end).toBe(container.blocks.at(-1)!.start);
      expect(dead.envelopeError).toMatch(new RegExp(`^unreadable Capture block in f\\.avro at bytes ${start}\\.\\.${end}: `));
      expect(dead.enqueuedTimeMs).toBe(WINDOW);
    });
  }

  it('a deflate bomb is stopped at MAX_BLOCK_BYTES, not inflated', async () => {
    const file = captureFile({ codec: 'deflate', blocks: [{ records: records(0, 1), corrupt: 'deflate-bomb' }] });
    await expect(readAll(file, 'fail')).rejects.toThrow(/inflates past 67108864 bytes/);
  });

  for (const poison of envelopePoisons(1, T0, body(1))) {
    it(`an envelope with ${poison.name} makes its block unreadable; the records before it are kept`, async () => {
      const file = captureFile({ blocks: [{ records: [records(0, 1)[0]!, { raw: poison.raw }, records(2, 1)[0]!] }, { records: records(3, 1) }] });
      const container = readContainer(file, 'f.avro');
      const block = container.blocks[0]!;
      await expect(readAll(file, 'fail')).rejects.toThrow(new RegExp(`^f\\.avro: corrupt block at byte ${block.start} .*record 1 of 3 at byte \\d+ of the file: `));
      const events = await readAll(file, 'deadletter');
      expect(summary(events)).toEqual(['0:body-0', '1:decode', '3:body-3']);
      // the dead letter keeps the bytes that could not be read: from the failing record to the block's end
      expect(Buffer.from(events[1]!.body).subarray(0, poison.raw.length).equals(poison.raw)).toBe(true);
    });
  }

  it('envelope fields that parse but cannot be used become events with envelopeError and safe coordinates', async () => {
    const schema = { ...CAPTURE_SCHEMA, fields: CAPTURE_SCHEMA.fields.map((f) => (f.name === 'SequenceNumber' ? { name: 'SequenceNumber', type: ['long', 'string'] } : f)) };
    const good = records(10, 5);
    const file = captureFile({
      schema,
      blocks: [
        {
          records: [
            good[0]!,
            { ...good[1]!, EnqueuedTimeUtc: 'not a time' },
            { ...good[2]!, SequenceNumber: 'twelve' as unknown as number },
            { ...good[3]!, Offset: '' },
            { ...good[4]!, EnqueuedTimeUtc: '+275760-09-13T00:00:00.001Z' },
          ],
        },
      ],
    });
    const events = await readAll(file, 'fail');
    expect(events.map((e) => [e.position, e.envelopeError ?? null])).toEqual([
      [10, null],
      [11, 'unreadable Capture envelope: EnqueuedTimeUtc "not a time" is not a time'],
      [12, 'unreadable Capture envelope: SequenceNumber "twelve" is not a non-negative integer'],
      [13, 'unreadable Capture envelope: Offset "" is not an offset'],
      [14, 'unreadable Capture envelope: EnqueuedTimeUtc "+275760-09-13T00:00:00.001Z" is not a time'],
    ]);
    expect(events.map((e) => e.enqueuedTimeMs)).toEqual([T0 + 10_000, WINDOW, T0 + 12_000, T0 + 13_000, WINDOW]);
    expect(events.every((e) => e.envelopeReason === undefined)).toBe(true);
  });

  it('a first event without a usable sequence number takes the slot before the next one', async () => {
    const schema = { ...CAPTURE_SCHEMA, fields: CAPTURE_SCHEMA.fields.map((f) => (f.name === 'SequenceNumber' ? { name: 'SequenceNumber', type: ['long', 'string'] } : f)) };
    const good = records(20, 2);
    const file = captureFile({ schema, blocks: [{ records: [{ ...good[0]!, SequenceNumber: 'x' as unknown as number }, good[1]!] }] });
    expect((await readAll(file, 'fail')).map((e) => e.position)).toEqual([20, 21]);
    // with an event before the file, it follows that one
    expect((await readAll(file, 'fail', 7)).map((e) => e.position)).toEqual([8, 21]);
  });

  it('a fail stops exactly at the bad block: the events before it are handed over, none after', async () => {
    const file = captureFile({ blocks: [{ records: records(0, 2) }, { records: records(2, 2), corrupt: 'sync' }, { records: records(4, 2) }] });
    const container = openCaptureFile(file, { name: 'f.avro', log })!;
    const seen: number[] = [];
    const error = await (async () => {
      try {
        for await (const batch of captureFileEvents(container, { name: 'f.avro', windowStartMs: WINDOW, onCorruptBlock: 'fail', log })) seen.push(...batch.map((e) => e.position));
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(TributaryError);
    expect((error as TributaryError).code).toBe('INPUT_UNREADABLE');
    expect(seen).toEqual([0, 1]);
  });
});
