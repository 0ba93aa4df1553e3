/**
 * A strict reader of Avro object container files held in memory. It walks the block structure (count, size,
 * data, sync marker) itself, so a truncated or corrupt file is detected before any record is used, and the
 * error names the file and the byte position. Blocks are inflated only when read.
 */
import { inflateRaw } from 'node:zlib';
import { promisify } from 'node:util';
import avro from 'avsc';
import { TributaryError } from '../../core/errors.js';

const MAGIC = Buffer.from('Obj\x01', 'latin1');
const headerType = avro.Type.forSchema({
  type: 'record',
  name: 'org.apache.avro.file.Header',
  fields: [
    { name: 'magic', type: { type: 'fixed', name: 'Magic', size: 4 } },
    { name: 'meta', type: { type: 'map', values: 'bytes' } },
    { name: 'sync', type: { type: 'fixed', name: 'Sync', size: 16 } },
  ],
});
const longType = avro.Type.forSchema('long');

export interface ContainerBlock {
  count: number;
  /** record bytes as stored (deflated when the codec is deflate) */
  stored: Buffer;
}

const inflateRawAsync = promisify(inflateRaw);
const INFLATE_CHUNK_BYTES = 1 << 20;

export interface Container {
  schema: avro.Schema;
  codec: string;
  blocks: ContainerBlock[];
}

function fail(name: string, message: string): never {
  throw new TributaryError('INPUT_UNREADABLE', `${name}: ${message}`);
}

export function readContainer(bytes: Uint8Array, name: string): Container {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 4 || !buf.subarray(0, 4).equals(MAGIC)) fail(name, 'not an Avro object container file (bad magic bytes)');
  const header = headerType.decode(buf, 0) as { value?: { meta: Record<string, Buffer>; sync: Buffer }; offset: number };
  if (!header.value || header.offset < 0) fail(name, 'truncated Avro header');
  const { meta, sync } = header.value;
  const codec = meta['avro.codec']?.toString() ?? 'null';
  if (codec !== 'null' && codec !== 'deflate') fail(name, `unsupported Avro codec "${codec}" (expected null or deflate)`);
  let schema: avro.Schema;
  try {
    schema = JSON.parse(meta['avro.schema']?.toString() ?? '') as avro.Schema;
  } catch {
    fail(name, 'the Avro header has no valid schema');
  }
  const blocks: ContainerBlock[] = [];
  let pos = header.offset;
  while (pos < buf.length) {
    const count = longType.decode(buf, pos) as { value: number; offset: number };
    if (count.offset < 0) fail(name, `truncated block header at byte ${pos}`);
    const size = longType.decode(buf, count.offset) as { value: number; offset: number };
    if (size.offset < 0 || size.value < 0) fail(name, `truncated block header at byte ${pos}`);
    const end = size.offset + size.value;
    if (end + 16 > buf.length) fail(name, `truncated block at byte ${pos}: ${size.value} bytes announced, ${buf.length - size.offset} present`);
    if (!buf.subarray(end, end + 16).equals(sync)) fail(name, `corrupt block at byte ${pos}: sync marker mismatch`);
    blocks.push({ count: count.value, stored: buf.subarray(size.offset, end) });
    pos = end + 16;
  }
  return { schema, codec, blocks };
}

/** A block's record bytes; deflate runs on libuv's thread pool, off the thread that orders events. */
export async function blockData(container: Container, block: ContainerBlock, name: string): Promise<Buffer> {
  if (container.codec !== 'deflate') return block.stored;
  try {
    // One output chunk per block: with the default 16 KiB chunks the main thread stitches dozens per block.
    return await inflateRawAsync(block.stored, { chunkSize: INFLATE_CHUNK_BYTES });
  } catch (error) {
    fail(name, `corrupt deflate block: ${(error as Error).message}`);
  }
}

/** Decodes a block's records with the file's own writer schema. */
export function decodeBlock(type: avro.Type, data: Buffer, count: number, name: string): unknown[] {
  const records: unknown[] = new Array(count);
  let pos = 0;
  for (let i = 0; i < count; i++) {
    const decoded = type.decode(data, pos) as { value: unknown; offset: number };
    if (decoded.offset < 0) fail(name, `corrupt block: record ${i} of ${count} is truncated`);
    records[i] = decoded.value;
    pos = decoded.offset;
  }
  return records;
}
