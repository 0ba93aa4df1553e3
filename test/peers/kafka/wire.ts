/**
 * Kafka protocol primitives (https://kafka.apache.org/protocol#protocol_types) for the non-flexible versions the
 * peer serves: big-endian integers, INT16-length strings, INT32-length bytes and INT32-count arrays, where -1 means
 * null. Offsets and timestamps travel as INT64 and are held as JS numbers inside the peer (safe below 2^53).
 */

export class MalformedRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedRequestError';
  }
}

export class Reader {
  private offset = 0;

  constructor(private readonly buffer: Buffer) {}

  get remaining(): number {
    return this.buffer.length - this.offset;
  }

  private take(length: number): number {
    if (length < 0 || this.offset + length > this.buffer.length) {
      throw new MalformedRequestError(`request truncated: need ${length} bytes at ${this.offset}, have ${this.remaining}`);
    }
    const at = this.offset;
    this.offset += length;
    return at;
  }

  int8(): number {
    return this.buffer.readInt8(this.take(1));
  }

  boolean(): boolean {
    return this.int8() !== 0;
  }

  int16(): number {
    return this.buffer.readInt16BE(this.take(2));
  }

  int32(): number {
    return this.buffer.readInt32BE(this.take(4));
  }

  int64(): number {
    return Number(this.buffer.readBigInt64BE(this.take(8)));
  }

  nullableString(): string | null {
    const length = this.int16();
    if (length === -1) return null;
    const at = this.take(length);
    return this.buffer.toString('utf8', at, at + length);
  }

  string(): string {
    const value = this.nullableString();
    if (value === null) throw new MalformedRequestError('unexpected null string');
    return value;
  }

  nullableBytes(): Buffer | null {
    const length = this.int32();
    if (length === -1) return null;
    const at = this.take(length);
    return this.buffer.subarray(at, at + length);
  }

  bytes(): Buffer {
    return this.nullableBytes() ?? Buffer.alloc(0);
  }

  /** An INT32-count array; null when the count is -1. */
  nullableArray<T>(item: (reader: Reader) => T): T[] | null {
    const count = this.int32();
    if (count === -1) return null;
    if (count < 0 || count > this.remaining) throw new MalformedRequestError(`implausible array length ${count}`);
    const items: T[] = [];
    for (let i = 0; i < count; i++) items.push(item(this));
    return items;
  }

  array<T>(item: (reader: Reader) => T): T[] {
    return this.nullableArray(item) ?? [];
  }
}

/** Appends into a growing buffer; `toBuffer()` returns exactly the bytes written. */
export class Writer {
  private buffer = Buffer.alloc(256);
  private length = 0;

  private reserve(size: number): number {
    if (this.length + size > this.buffer.length) {
      const grown = Buffer.alloc(Math.max(this.buffer.length * 2, this.length + size));
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    const at = this.length;
    this.length += size;
    return at;
  }

  int8(value: number): this {
    const at = this.reserve(1);
    this.buffer.writeInt8(value, at);
    return this;
  }

  boolean(value: boolean): this {
    return this.int8(value ? 1 : 0);
  }

  int16(value: number): this {
    const at = this.reserve(2);
    this.buffer.writeInt16BE(value, at);
    return this;
  }

  int32(value: number): this {
    const at = this.reserve(4);
    this.buffer.writeInt32BE(value, at);
    return this;
  }

  int64(value: number): this {
    const at = this.reserve(8);
    this.buffer.writeBigInt64BE(BigInt(value), at);
    return this;
  }

  string(value: string | null): this {
    if (value === null) return this.int16(-1);
    const encoded = Buffer.from(value, 'utf8');
    return this.int16(encoded.length).raw(encoded);
  }

  bytes(value: Uint8Array | null): this {
    if (value === null) return this.int32(-1);
    return this.int32(value.length).raw(value);
  }

  array<T>(items: readonly T[] | null, item: (writer: Writer, value: T) => void): this {
    if (items === null) return this.int32(-1);
    this.int32(items.length);
    for (const value of items) item(this, value);
    return this;
  }

  raw(value: Uint8Array): this {
    const at = this.reserve(value.length);
    this.buffer.set(value, at);
    return this;
  }

  toBuffer(): Buffer {
    return Buffer.from(this.buffer.subarray(0, this.length));
  }
}
