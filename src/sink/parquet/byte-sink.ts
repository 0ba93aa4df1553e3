/**
 * A growable byte buffer that the page encoders write into directly. One sink is reused for every page a thread
 * encodes (`scratch`), so steady-state encoding allocates no buffer per page or per value; the bytes a caller
 * keeps are copied out once (`copy`).
 */
const TWO_32 = 4294967296;

/** Node's UTF-8 writer without `Buffer#write`'s argument parsing (present on every Buffer, untyped). */
interface Utf8Writable {
  utf8Write(text: string, offset: number): number;
}

export class ByteSink {
  bytes: Uint8Array;
  view: DataView;
  buffer: Buffer;
  offset = 0;

  constructor(capacity = 1 << 16) {
    this.buffer = Buffer.allocUnsafeSlow(capacity);
    this.bytes = this.buffer;
    this.view = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.byteLength);
  }

  reset(): void {
    this.offset = 0;
  }

  /**
   * Empties the sink and, when one large row group grew it past `retain` bytes, lets that buffer go: a thread
   * keeps no more than `retain` bytes between row groups, whatever the largest group was.
   */
  release(retain: number): void {
    this.offset = 0;
    if (this.bytes.length > retain) this.allocate(Math.min(retain, 1 << 16));
  }

  private allocate(capacity: number): void {
    this.buffer = Buffer.allocUnsafeSlow(capacity);
    this.bytes = this.buffer;
    this.view = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.byteLength);
  }

  /** Room for `extra` more bytes. Callers reserve once per run of writes, so single writes skip the check. */
  reserve(extra: number): void {
    const needed = this.offset + extra;
    if (needed <= this.bytes.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(needed, this.bytes.length * 2));
    next.set(this.bytes.subarray(0, this.offset));
    this.buffer = next;
    this.bytes = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  /** The bytes written so far, as a view (valid until the next write). */
  written(): Uint8Array {
    return this.bytes.subarray(0, this.offset);
  }

  /** The bytes written so far, as a copy the caller may keep. */
  copy(): Uint8Array {
    // Uint8Array's slice copies; Buffer's (which `bytes` is) would return a view.
    return Uint8Array.prototype.slice.call(this.bytes, 0, this.offset);
  }

  u8(value: number): void {
    this.bytes[this.offset++] = value;
  }

  u32(value: number): void {
    this.view.setUint32(this.offset, value, true);
    this.offset += 4;
  }

  /** Unsigned varint of a non-negative safe integer. */
  varint(value: number): void {
    while (value > 0x7f) {
      this.bytes[this.offset++] = (value % 128) | 0x80;
      value = Math.floor(value / 128);
    }
    this.bytes[this.offset++] = value;
  }

  /** Unsigned varint of the 64-bit number hi * 2^32 + lo (both unsigned 32-bit). */
  varint64(hi: number, lo: number): void {
    if (hi === 0) {
      this.varint(lo);
      return;
    }
    // Seven bits at a time across the two halves: 4 full groups and 4 bits come from lo.
    for (let i = 0; i < 4; i++) {
      this.bytes[this.offset++] = (lo & 0x7f) | 0x80;
      lo >>>= 7;
    }
    let rest = ((hi << 4) | lo) >>> 0; // lo has 4 bits left
    let high = hi >>> 28;
    while (high > 0 || rest > 0x7f) {
      this.bytes[this.offset++] = (rest & 0x7f) | 0x80;
      rest = ((rest >>> 7) | ((high & 0x7f) << 25)) >>> 0;
      high >>>= 7;
    }
    this.bytes[this.offset++] = rest;
  }

  /** Zigzag varint of a safe integer (the thrift i32/i64 and delta-encoding form). */
  zigzag(value: number): void {
    if (value >= -0x40000000 && value < 0x40000000) {
      this.varint(value >= 0 ? value * 2 : -value * 2 - 1);
      return;
    }
    // 2|v| can pass 2^53, where doubles skip odd integers: build the 64-bit result from 32-bit halves.
    const magnitude = value >= 0 ? value : -value - 1; // zigzag = 2 * magnitude + (negative ? 1 : 0)
    const hi = Math.floor(magnitude / TWO_32);
    const lo = magnitude - hi * TWO_32;
    const lo2 = (lo * 2 + (value >= 0 ? 0 : 1)) % TWO_32;
    const hi2 = hi * 2 + (lo >= 0x80000000 ? 1 : 0);
    this.varint64(hi2, lo2);
  }

  append(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.bytes.set(bytes, this.offset);
    this.offset += bytes.length;
  }

  /** UTF-8 of `text` (at most 3 bytes per UTF-16 unit; the caller reserved them); returns the byte count. */
  utf8(text: string): number {
    const written = (this.buffer as unknown as Utf8Writable).utf8Write(text, this.offset);
    this.offset += written;
    return written;
  }
}
