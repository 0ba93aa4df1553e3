/**
 * A strict reader of Avro object container files held in memory. It walks the block structure (count, size,
 * data, sync marker) itself, so a truncated or corrupt file is detected before any record is used, and every
 * error names the file and the byte position. Blocks are inflated only when read.
 *
 * Hostile bytes: the header is checked with the bounds guard before avsc decodes it, block counts and sizes are
 * checked against the bytes that remain, inflating stops at `MAX_BLOCK_BYTES`, and records are guarded one by
 * one before avsc decodes them. A block whose structure is bad does not end the walk: it is kept as a corrupt
 * region (its byte range and why) and reading resumes after it (at the next sync marker when its size cannot be
 * trusted), so the caller decides whether a corrupt block fails the partition or becomes a dead letter.
 */
import { constants as zlibConstants, createInflateRaw, inflateRaw, inflateRawSync } from 'node:zlib';
import { promisify } from 'node:util';
import avro from 'avsc';
import { TributaryError } from '../../core/errors.js';
import { BoundsGuard, ZERO_BYTE_ITEM_ALLOWANCE } from '../decode/avro-bounds.js';

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
const headerGuard = BoundsGuard.for(headerType);
const longType = avro.Type.forSchema('long');
const longGuard = BoundsGuard.for(longType);

/**
 * The most bytes one block may inflate to. Capture (like Avro's writers) closes a block at about 64 KiB to
 * 1 MiB of records; a block announcing more is a deflate bomb, not data.
 */
export const MAX_BLOCK_BYTES = 64 * 1024 ** 2;

export interface ContainerBlock {
  count: number;
  /** record bytes as stored (deflated when the codec is deflate) */
  stored: Buffer;
  /** byte offset of the block (its count) in the file */
  start: number;
  /** byte offset of the block's data in the file */
  dataStart: number;
  /** byte offset just past the block's sync marker */
  end: number;
}

/** Bytes of the file that hold no readable block. */
export interface CorruptRegion {
  start: number;
  end: number;
  reason: string;
  /** the region's bytes as stored */
  stored: Buffer;
}

const inflateRawAsync = promisify(inflateRaw);
/**
 * zlib's output chunk for a block: about what it inflates to, so one chunk holds it (the default 16 KiB chunks
 * are stitched together dozens per block) without allocating a fixed megabyte per block that the result then
 * keeps alive (Capture blocks of ~85 KiB inflate ~3x; more compressible data takes a second chunk).
 */
function inflateChunkBytes(stored: Uint8Array): number {
  return Math.min(4 << 20, Math.max(64 << 10, Math.ceil((stored.byteLength * 4) / (64 << 10)) * (64 << 10)));
}

export interface Container {
  schema: avro.Schema;
  /** `schema` as JSON text (one text per distinct header schema): what goes to a lane with the file's blocks */
  schemaJson: string;
  codec: string;
  /** readable blocks, in file order */
  blocks: ContainerBlock[];
  /** unreadable stretches between or instead of blocks, in file order */
  corrupt: CorruptRegion[];
  /** the header's length: a file no longer than this holds no events */
  headerBytes: number;
}

function fail(name: string, message: string): never {
  throw new TributaryError('INPUT_UNREADABLE', `${name}: ${message}`);
}

/** A varint long at `pos`, or a reason it is not one; bounded to the bytes of `buf`. */
function readLong(buf: Buffer, pos: number): { value: number; offset: number } | { error: string } {
  const end = longGuard.skip(buf, pos, buf.length, 0);
  if (end < 0) return { error: longGuard.lastFailure().message };
  return longType.decode(buf, pos) as { value: number; offset: number };
}

export function readContainer(bytes: Uint8Array, name: string): Container {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 4 || !buf.subarray(0, 4).equals(MAGIC)) fail(name, 'not an Avro object container file (bad magic bytes)');
  const headerEnd = headerGuard.skip(buf, 0, buf.length, 0);
  if (headerEnd < 0) {
    const failure = headerGuard.lastFailure();
    fail(name, `corrupt Avro header at byte ${failure.offset}: ${failure.message}`);
  }
  const header = headerType.decode(buf, 0) as { value: { meta: Record<string, Buffer>; sync: Buffer }; offset: number };
  const { meta, sync } = header.value;
  const codec = meta['avro.codec']?.toString() ?? 'null';
  if (codec !== 'null' && codec !== 'deflate') fail(name, `unsupported Avro codec "${codec}" (expected null or deflate)`);
  const checked = checkedSchema(meta['avro.schema']?.toString() ?? '');
  if (!checked) fail(name, 'the Avro header has no valid schema');
  const { schema, json: schemaJson } = checked;
  const blocks: ContainerBlock[] = [];
  const corrupt: CorruptRegion[] = [];
  let pos = header.offset;
  while (pos < buf.length) {
    const start = pos;
    /** a block, or why not (and where the bad block ends when its size can be trusted) */
    const problem = ((): string | { reason: string; end: number } | ContainerBlock => {
      const count = readLong(buf, pos);
      if ('error' in count) return `bad block count: ${count.error}`;
      if (count.value < 0) return `negative block count ${count.value}`;
      const size = readLong(buf, count.offset);
      if ('error' in size) return `bad block size: ${size.error}`;
      if (size.value < 0) return `negative block size ${size.value}`;
      const end = size.offset + size.value;
      if (end + 16 > buf.length) return `block size ${size.value} exceeds the ${Math.max(0, buf.length - size.offset - 16)} bytes before the file's end`;
      // The count and size read well, so the next block most likely starts after this one's (damaged) marker.
      if (!buf.subarray(end, end + 16).equals(sync)) return { reason: 'sync marker mismatch', end: end + 16 };
      return { count: count.value, stored: buf.subarray(size.offset, end), start, dataStart: size.offset, end: end + 16 };
    })();
    if (typeof problem !== 'string' && 'count' in problem) {
      blocks.push(problem);
      pos = problem.end;
      continue;
    }
    let end: number;
    if (typeof problem === 'string') {
      // Resynchronise on the next sync marker (the one that closes this block, if the bytes still hold it).
      const next = buf.indexOf(sync, start);
      end = next < 0 ? buf.length : next + 16;
    } else end = problem.end;
    const reason = typeof problem === 'string' ? problem : problem.reason;
    corrupt.push({ start, end, reason, stored: buf.subarray(start, end) });
    pos = end;
  }
  return { schema, schemaJson, codec, blocks, corrupt, headerBytes: header.offset };
}

/**
 * Header schemas already checked, by their text: every file of a hub carries the same schema, and
 * building an avsc type for it (code generated per record type) once per file cost the thread that reads the
 * archive more than walking the file's blocks. Bounded: an archive with ever-new schemas only re-checks them.
 */
const checkedSchemas = new Map<string, { schema: avro.Schema; json: string }>();
const CHECKED_SCHEMAS_MAX = 64;

function checkedSchema(text: string): { schema: avro.Schema; json: string } | undefined {
  const known = checkedSchemas.get(text);
  if (known) return known;
  let schema: avro.Schema;
  try {
    schema = JSON.parse(text) as avro.Schema;
    avro.Type.forSchema(schema);
  } catch {
    return undefined;
  }
  if (checkedSchemas.size >= CHECKED_SCHEMAS_MAX) checkedSchemas.clear();
  const entry = { schema, json: JSON.stringify(schema) };
  checkedSchemas.set(text, entry);
  return entry;
}

/** A block's record bytes; deflate runs on libuv's thread pool, off the thread that orders events. */
export async function blockData(container: Container, block: ContainerBlock, name: string): Promise<Buffer> {
  if (container.codec !== 'deflate') return block.stored;
  try {
    return await inflateRawAsync(block.stored, { chunkSize: inflateChunkBytes(block.stored), maxOutputLength: MAX_BLOCK_BYTES });
  } catch (error) {
    const tooLarge = (error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
    fail(name, `corrupt deflate block at byte ${block.start}: ${tooLarge ? `inflates past ${MAX_BLOCK_BYTES} bytes` : (error as Error).message}`);
  }
}

/**
 * A block's record bytes, inflated on the calling thread: what a partition's lane does with the blocks it is
 * handed (it is a worker thread already). Fails like blockData.
 */
export function blockDataSync(codec: string, stored: Buffer, blockStart: number, name: string): Buffer {
  if (codec !== 'deflate') return stored;
  try {
    return inflateRawSync(stored, { chunkSize: inflateChunkBytes(stored), maxOutputLength: MAX_BLOCK_BYTES });
  } catch (error) {
    const tooLarge = (error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
    fail(name, `corrupt deflate block at byte ${blockStart}: ${tooLarge ? `inflates past ${MAX_BLOCK_BYTES} bytes` : (error as Error).message}`);
  }
}

/** A buffer lent for inflated bytes, kept (and grown) from one use to the next. */
export interface InflateTarget {
  buffer: Buffer;
}

/** The native handle under a node:zlib stream, as its own synchronous functions drive it. */
interface ZlibHandle {
  writeSync(flush: number, input: Uint8Array, inOffset: number, inLength: number, output: Uint8Array, outOffset: number, outLength: number): void;
  reset(): void;
  close(): void;
  onerror: (message: string) => void;
}

/**
 * Inflates blocks into a buffer the caller keeps, where inflateRawSync allocates a new output buffer per block. In
 * a lane those buffers were most of what its external memory grew by, and that growth is what starts V8's major
 * GCs (bench/NOTES.md "External memory"). It drives the native handle of one InflateRaw stream, reset per block,
 * the way node:zlib's own synchronous functions do (same flush, same loop, so the same bytes and the same errors);
 * where the handle does not have that shape (another Node), it inflates with inflateRawSync and copies.
 */
export class BlockInflater {
  private handle: ZlibHandle | undefined;
  private state: Uint32Array | undefined;
  /** this Node's zlib streams have no handle of the known shape */
  private unsupported = false;
  private error: string | undefined;

  /** Inflates `stored` into `target` at `at` (growing it, keeping what lies before `at`); returns the bytes written. */
  inflateInto(stored: Buffer, target: InflateTarget, at: number, blockStart: number, name: string): number {
    const handle = this.handle ?? (this.unsupported ? undefined : this.open());
    if (!handle) {
      const records = blockDataSync('deflate', stored, blockStart, name);
      reserve(target, at, records.length);
      return records.copy(target.buffer, at);
    }
    const state = this.state!;
    handle.reset();
    let produced = 0;
    let inOffset = 0;
    let inLength = stored.length;
    for (;;) {
      if (target.buffer.length - at - produced < INFLATE_STEP) reserve(target, at + produced, Math.max(INFLATE_STEP, stored.length * 4));
      const outLength = Math.min(target.buffer.length - at - produced, MAX_BLOCK_BYTES + 1 - produced);
      handle.writeSync(zlibConstants.Z_FINISH, stored, inOffset, inLength, target.buffer, at + produced, outLength);
      if (this.error !== undefined) {
        const message = this.error;
        // the handle is not trusted after a failure: the next block gets a new one
        this.handle = undefined;
        this.error = undefined;
        handle.close();
        fail(name, `corrupt deflate block at byte ${blockStart}: ${message}`);
      }
      const outLeft = state[0]!;
      produced += outLength - outLeft;
      inOffset += inLength - state[1]!;
      inLength = state[1]!;
      if (produced > MAX_BLOCK_BYTES) fail(name, `corrupt deflate block at byte ${blockStart}: inflates past ${MAX_BLOCK_BYTES} bytes`);
      // output space left over: the stream ended (or zlib said why not, above)
      if (outLeft !== 0) return produced;
    }
  }

  private open(): ZlibHandle | undefined {
    const stream = createInflateRaw() as unknown as { _handle?: Partial<ZlibHandle>; _writeState?: unknown };
    const handle = stream._handle;
    if (typeof handle?.writeSync !== 'function' || typeof handle.reset !== 'function' || typeof handle.close !== 'function' || !(stream._writeState instanceof Uint32Array)) {
      this.unsupported = true;
      return undefined;
    }
    handle.onerror = (message) => {
      this.error = message;
    };
    this.state = stream._writeState;
    this.handle = handle as ZlibHandle;
    return this.handle;
  }
}

/** Output room asked of zlib per call at least */
const INFLATE_STEP = 64 << 10;

/** `target` with room for `bytes` more at `at`, its first `at` bytes kept. */
export function reserve(target: InflateTarget, at: number, bytes: number): void {
  if (target.buffer.length >= at + bytes) return;
  const buffer = Buffer.allocUnsafeSlow(Math.max(at + bytes, Math.ceil(target.buffer.length * 1.5)));
  target.buffer.copy(buffer, 0, 0, at);
  target.buffer = buffer;
}

/** Records of a block, as far as they could be read, and why the rest could not. */
export interface BlockRecords {
  records: unknown[];
  /** `start`: where the failing record begins in the data; `offset`: the byte found wrong */
  failure?: { record: number; start: number; offset: number; message: string };
}

/**
 * Decodes a block's records with the file's own writer schema, each one checked by the bounds guard first: a
 * record that fails ends the block (its successors cannot be found), with the records before it kept.
 */
export function readBlockRecords(type: avro.Type, data: Buffer, count: number): BlockRecords {
  const guard = BoundsGuard.for(type);
  const most = guard.minBytes > 0 ? Math.floor(data.length / guard.minBytes) : data.length + ZERO_BYTE_ITEM_ALLOWANCE;
  if (count > most) return { records: [], failure: { record: 0, start: 0, offset: 0, message: `block count ${count} is more than its ${data.length} bytes can hold` } };
  const records: unknown[] = [];
  let pos = 0;
  for (let i = 0; i < count; i++) {
    const end = guard.skip(data, pos, data.length, data.length);
    if (end < 0) {
      const failure = guard.lastFailure();
      return { records, failure: { record: i, start: pos, offset: failure.offset, message: failure.message } };
    }
    try {
      records.push(type.decode(data, pos).value);
    } catch (error) {
      return { records, failure: { record: i, start: pos, offset: pos, message: (error as Error).message } };
    }
    pos = end;
  }
  if (pos !== data.length) return { records, failure: { record: count, start: pos, offset: pos, message: `${data.length - pos} bytes after the block's last record` } };
  return { records };
}

/** Decodes a block's records with the file's own writer schema; a record that cannot be read is an error. */
export function decodeBlock(type: avro.Type, data: Buffer, count: number, name: string): unknown[] {
  const { records, failure } = readBlockRecords(type, data, count);
  if (failure) fail(name, `corrupt block: record ${failure.record} of ${count} at byte ${failure.offset} of its data: ${failure.message}`);
  return records;
}
