/**
 * The read position of the compiled decoder: one body at a time, kept in module state so the compiled readers
 * (closures) share it without passing or allocating anything per value.
 *
 * Every read is checked against the end of the body before it happens, and every length or count against the
 * bytes that remain before anything is allocated for it; the rules are those of avro-bounds (the guard that runs
 * before avsc), so the two paths reject the same bodies:
 * - varints are at most 5 bytes and within int32 for int, at most 10 bytes and within avsc's safe range for long;
 * - booleans are 0 or 1; strings, bytes and fixed never announce more bytes than remain;
 * - an array or map block of n items needs n times the smallest encoding of its item, and must fit in what
 *   remains (a block with a byte size must fit and be filled exactly by its items);
 * - items that encode in zero bytes are limited to ZERO_BYTE_ITEM_ALLOWANCE plus the body's length.
 */

export const ZERO_BYTE_ITEM_ALLOWANCE = 1024;

/** avsc's safe long range (`isSafeLong`): beyond it avsc refuses the value ("potential precision loss"). */
const SAFE_LONG = 9007199254740990;

/**
 * A body that does not decode; only the message matters (it goes into the dead letter), so no stack is captured:
 * capturing it cost ~50 µs per error in a profile of bench/decode-orders.ts, as much as decoding ~25 bodies.
 */
export class BodyError extends Error {
  constructor(message: string) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.name = 'BodyError';
  }
}

interface Utf8Buffer extends Buffer {
  utf8Slice(start: number, end: number): string;
  latin1Slice(start: number, end: number): string;
}

export let bytes: Utf8Buffer = Buffer.alloc(0) as Utf8Buffer;
export let view = new DataView(bytes.buffer);
export let pos = 0;
export let end = 0;
/** zero-byte items this body may still hold */
export let zeroItemBudget = 0;

export function begin(buffer: Buffer, start: number, stop: number): void {
  if (bytes !== buffer) {
    bytes = buffer as Utf8Buffer;
    view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }
  pos = start;
  end = stop;
  zeroItemBudget = ZERO_BYTE_ITEM_ALLOWANCE + (stop - start);
}

/** The body must be used up exactly (avsc: "trailing data"). */
export function finish(): void {
  if (pos !== end) throw new BodyError(`trailing data: ${end - pos} bytes after the value`);
}

function truncated(what: string): BodyError {
  return new BodyError(`truncated buffer: ${what} runs past the end of the body`);
}

export function readLong(): number {
  let b = pos < end ? bytes[pos++]! : -1;
  if (b < 0) throw truncated('long');
  let n = b & 0x7f;
  if (b < 0x80) return (n >>> 1) ^ -(n & 1);
  let shift = 7;
  // Integer arithmetic while it cannot overflow (28 bits), float arithmetic after that.
  while (shift < 28) {
    b = pos < end ? bytes[pos++]! : -1;
    if (b < 0) throw truncated('long');
    n |= (b & 0x7f) << shift;
    shift += 7;
    if (b < 0x80) return (n >>> 1) ^ -(n & 1);
  }
  let f = n;
  let scale = 268435456; // 2 ** 28
  for (let count = 4; ; count++) {
    if (count === 10) throw new BodyError('invalid long: varint longer than 10 bytes');
    b = pos < end ? bytes[pos++]! : -1;
    if (b < 0) throw truncated('long');
    f += (b & 0x7f) * scale;
    scale *= 128;
    if (b < 0x80) break;
  }
  const value = f % 2 ? -(f + 1) / 2 : f / 2;
  if (!(value >= -SAFE_LONG && value <= SAFE_LONG)) throw new BodyError('potential precision loss: long outside the safe integer range');
  return value;
}

export function readInt(): number {
  const start = pos;
  const value = readLong();
  if (pos - start > 5 || value > 2147483647 || value < -2147483648) throw new BodyError(`invalid int: ${value} is not a 32-bit integer`);
  return value;
}

export function readBoolean(): boolean {
  if (pos >= end) throw truncated('boolean');
  const b = bytes[pos++]!;
  if (b > 1) throw new BodyError(`invalid boolean byte ${b}`);
  return b === 1;
}

export function readFloat(): number {
  if (end - pos < 4) throw truncated('float');
  const value = view.getFloat32(pos, true);
  pos += 4;
  return value;
}

export function readDouble(): number {
  if (end - pos < 8) throw truncated('double');
  const value = view.getFloat64(pos, true);
  pos += 8;
  return value;
}

/** Length of a string or bytes value, checked against what remains; the cursor is left on its first byte. */
export function readLength(what: string): number {
  const length = readLong();
  if (length < 0) throw new BodyError(`invalid ${what} length ${length}`);
  if (length > end - pos) throw truncated(`${what} of ${length} bytes`);
  return length;
}

export function readString(): string {
  const length = readLength('string');
  const start = pos;
  pos += length;
  return bytes.utf8Slice(start, pos);
}

/** Passes over a string and returns where its bytes start (they end at the new position). */
export function readStringSpan(): number {
  const length = readLength('string');
  const start = pos;
  pos += length;
  return start;
}

/** Passes over a string or bytes value (checked like a read). */
export function skipBytes(what: string): void {
  const length = readLength(what); // not `pos += readLength()`: that reads pos before the length's varint moves it
  pos += length;
}

/** A copy: the value outlives the batch buffer. */
export function readBytes(): Buffer {
  const length = readLength('bytes');
  const start = pos;
  pos += length;
  return Buffer.from(bytes.subarray(start, pos));
}

export function readFixed(size: number): Buffer {
  if (end - pos < size) throw truncated(`fixed of ${size} bytes`);
  const start = pos;
  pos += size;
  return Buffer.from(bytes.subarray(start, pos));
}

export function skip(count: number, what: string): void {
  if (end - pos < count) throw truncated(what);
  pos += count;
}

/**
 * The item count of the next array or map block (0 at the end), checked against the bytes that remain: `n`
 * items of at least `minItemBytes` each must fit. A block that announces its byte size must fit too, and the
 * caller checks with `blockEnd` that its items fill it exactly.
 */
export let blockEnd = -1;

export function readBlockCount(minItemBytes: number, what: string): number {
  let count = blockHeaderLong(what, 'count');
  blockEnd = -1;
  if (count === 0) return 0;
  if (count < 0) {
    count = -count;
    const size = blockHeaderLong(what, 'size');
    if (size < 0 || size > end - pos) throw new BodyError(`invalid ${what} block size ${size}`);
    blockEnd = pos + size;
  }
  if (minItemBytes > 0) {
    if (count * minItemBytes > end - pos) throw truncated(`${what} block of ${count} items`);
  } else {
    zeroItemBudget -= count;
    if (zeroItemBudget < 0) throw new BodyError(`${what} block of ${count} empty items exceeds what a body of ${end} bytes may hold`);
  }
  return count;
}

/** A block header's count or size; its errors say so (a reader that does not check counts would allocate here). */
function blockHeaderLong(what: string, part: string): number {
  try {
    return readLong();
  } catch (error) {
    throw new BodyError(`${what} block ${part}: ${(error as Error).message}`);
  }
}

/** After a block's items: a sized block must end exactly where it said. */
export function checkBlockEnd(expectedEnd: number, what: string): void {
  if (expectedEnd >= 0 && pos !== expectedEnd) throw new BodyError(`${what} block size does not match its items`);
}

export function position(): number {
  return pos;
}
