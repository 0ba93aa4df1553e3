/**
 * Record batch (message format v2) framing, enough for a broker that stores batches as the producer sent them:
 * read the header, check the CRC, stamp the base offset. Record contents are decoded only for timestamp lookups,
 * with kafkajs's own decoder so compressed batches work too.
 *
 *   baseOffset INT64 | batchLength INT32 | partitionLeaderEpoch INT32 | magic INT8 | crc UINT32 |
 *   attributes INT16 | lastOffsetDelta INT32 | firstTimestamp INT64 | maxTimestamp INT64 | producerId INT64 |
 *   producerEpoch INT16 | baseSequence INT32 | recordCount INT32 | records...
 *
 * The CRC (CRC-32C) covers attributes to the end, so a broker may rewrite the base offset and leader epoch.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface KafkajsDecoder {
  readonly buffer: Buffer;
}
type DecoderConstructor = new (buffer: Buffer) => KafkajsDecoder;
interface DecodedRecord {
  offset: string;
  timestamp: string;
}
type RecordBatchDecoder = (decoder: KafkajsDecoder) => Promise<{ records: DecodedRecord[] }>;

const KafkajsDecoder = require('kafkajs/src/protocol/decoder') as DecoderConstructor;
const decodeKafkajsRecordBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as RecordBatchDecoder;
const crc32c = require('kafkajs/src/protocol/recordBatch/crc32C') as (buffer: Buffer) => number;

export const BATCH_HEADER_BYTES = 61;
/** Bytes before batchLength's coverage starts: baseOffset + batchLength. */
const LOG_OVERHEAD = 12;
const MAGIC_V2 = 2;
const CRC_AT = 17;
const ATTRIBUTES_AT = 21;

export interface BatchHeader {
  /** Bytes of the whole batch, headers included. */
  size: number;
  magic: number;
  attributes: number;
  lastOffsetDelta: number;
  firstTimestamp: number;
  maxTimestamp: number;
  recordCount: number;
}

export class InvalidRecordBatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidRecordBatchError';
  }
}

export function readBatchHeader(bytes: Buffer, at = 0): BatchHeader {
  if (bytes.length - at < BATCH_HEADER_BYTES) throw new InvalidRecordBatchError(`record batch shorter than its header (${bytes.length - at} bytes)`);
  const batchLength = bytes.readInt32BE(at + 8);
  const size = LOG_OVERHEAD + batchLength;
  if (batchLength < BATCH_HEADER_BYTES - LOG_OVERHEAD || at + size > bytes.length) {
    throw new InvalidRecordBatchError(`record batch length ${batchLength} does not fit the ${bytes.length - at} bytes sent`);
  }
  return {
    size,
    magic: bytes.readInt8(at + 16),
    attributes: bytes.readInt16BE(at + ATTRIBUTES_AT),
    lastOffsetDelta: bytes.readInt32BE(at + 23),
    firstTimestamp: Number(bytes.readBigInt64BE(at + 27)),
    maxTimestamp: Number(bytes.readBigInt64BE(at + 35)),
    recordCount: bytes.readInt32BE(at + 57),
  };
}

/** Splits a produced record set into its batches, validating magic and CRC of each. */
export function splitRecordSet(recordSet: Buffer): Array<{ header: BatchHeader; bytes: Buffer }> {
  const batches: Array<{ header: BatchHeader; bytes: Buffer }> = [];
  for (let at = 0; at < recordSet.length; ) {
    const header = readBatchHeader(recordSet, at);
    if (header.magic !== MAGIC_V2) throw new InvalidRecordBatchError(`unsupported message format magic ${header.magic}`);
    const bytes = recordSet.subarray(at, at + header.size);
    const expected = bytes.readUInt32BE(CRC_AT);
    const actual = crc32c(bytes.subarray(ATTRIBUTES_AT));
    if (expected !== actual) throw new InvalidRecordBatchError(`record batch CRC mismatch (${expected} != ${actual})`);
    if (header.recordCount !== header.lastOffsetDelta + 1) {
      throw new InvalidRecordBatchError(`record count ${header.recordCount} disagrees with lastOffsetDelta ${header.lastOffsetDelta}`);
    }
    batches.push({ header, bytes });
    at += header.size;
  }
  return batches;
}

/** A copy of the batch with the broker-assigned base offset (and leader epoch 0) stamped in. */
export function stampBaseOffset(batch: Buffer, baseOffset: number): Buffer {
  const copy = Buffer.from(batch);
  copy.writeBigInt64BE(BigInt(baseOffset), 0);
  copy.writeInt32BE(0, 12);
  return copy;
}

/** Offsets and timestamps of the records in a stored batch, in order. */
export async function recordTimestamps(batch: Buffer): Promise<Array<{ offset: number; timestamp: number }>> {
  const decoded = await decodeKafkajsRecordBatch(new KafkajsDecoder(batch));
  return decoded.records.map((record) => ({ offset: Number(record.offset), timestamp: Number(record.timestamp) }));
}
