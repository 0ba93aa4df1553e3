/**
 * Event Hubs' partition-key -> partition assignment, as the service makes it and as the SDKs' buffered
 * producers reproduce it client-side (Azure SDK for .NET `PartitionResolver`, Java `PartitionResolver`, JS
 * `partitionKeyToIdMapper`):
 *
 * 1. Jenkins lookup3 `hashlittle2` over the key's UTF-8 bytes with both seeds 0, giving two 32-bit words (c, b);
 * 2. fold them to a signed 16-bit value: `(short)(c ^ b)`;
 * 3. partition = |hash16 % partitionCount|, with the remainder taking the dividend's sign (C#/Java/JS `%`).
 *
 * Partition ids are the decimal strings "0".."n-1"; this returns the index.
 */

export interface Lookup3Result {
  /** The primary hash (`*pc` in lookup3.c). */
  readonly c: number;
  /** The secondary hash (`*pb` in lookup3.c). */
  readonly b: number;
}

const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k));

/**
 * Bob Jenkins' lookup3 `hashlittle2` (public domain, 2006): reads the input as little-endian 32-bit words,
 * whatever the host byte order, so results match the reference on every machine. All arithmetic is kept in
 * unsigned 32 bits with `>>> 0` after each step.
 */
export function hashlittle2(data: Uint8Array, primarySeed = 0, secondarySeed = 0): Lookup3Result {
  let a = (0xdeadbeef + data.length + primarySeed) >>> 0;
  let b = a;
  let c = (a + secondarySeed) >>> 0;

  const word = (at: number): number =>
    ((data[at] ?? 0) | ((data[at + 1] ?? 0) << 8) | ((data[at + 2] ?? 0) << 16) | ((data[at + 3] ?? 0) << 24)) >>> 0;

  let offset = 0;
  let remaining = data.length;
  while (remaining > 12) {
    a = (a + word(offset)) >>> 0;
    b = (b + word(offset + 4)) >>> 0;
    c = (c + word(offset + 8)) >>> 0;
    // mix(a, b, c)
    a = (a - c) >>> 0; a = (a ^ rotl(c, 4)) >>> 0; c = (c + b) >>> 0;
    b = (b - a) >>> 0; b = (b ^ rotl(a, 6)) >>> 0; a = (a + c) >>> 0;
    c = (c - b) >>> 0; c = (c ^ rotl(b, 8)) >>> 0; b = (b + a) >>> 0;
    a = (a - c) >>> 0; a = (a ^ rotl(c, 16)) >>> 0; c = (c + b) >>> 0;
    b = (b - a) >>> 0; b = (b ^ rotl(a, 19)) >>> 0; a = (a + c) >>> 0;
    c = (c - b) >>> 0; c = (c ^ rotl(b, 4)) >>> 0; b = (b + a) >>> 0;
    offset += 12;
    remaining -= 12;
  }

  // The reference returns before the final mix when nothing is left (only possible for an empty input).
  if (remaining === 0) return { c, b };

  // The last 1..12 bytes, zero-padded: the same as lookup3's masked word reads and byte-wise fall-through.
  const tail = (at: number): number => {
    let value = 0;
    for (let i = 3; i >= 0; i--) {
      const index = offset + at + i;
      value = (value << 8) | (index < data.length ? (data[index] ?? 0) : 0);
    }
    return value >>> 0;
  };
  a = (a + tail(0)) >>> 0;
  b = (b + tail(4)) >>> 0;
  c = (c + tail(8)) >>> 0;

  // final(a, b, c)
  c = (c ^ b) >>> 0; c = (c - rotl(b, 14)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rotl(c, 11)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rotl(a, 25)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rotl(b, 16)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rotl(c, 4)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rotl(a, 14)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rotl(b, 24)) >>> 0;
  return { c, b };
}

const utf8 = new TextEncoder();

/** The signed 16-bit hash Event Hubs derives from a partition key (`PartitionResolver.GenerateHashCode`). */
export function hashPartitionKey(key: string): number {
  const { c, b } = hashlittle2(utf8.encode(key));
  // Keep the low 16 bits and reinterpret them as a signed short.
  return ((c ^ b) << 16) >> 16;
}

/**
 * The partition index (0-based) Event Hubs assigns an event with this partition key on a hub with
 * `partitionCount` partitions.
 */
export function mapPartitionKeyToId(key: string, partitionCount: number): number {
  if (!Number.isInteger(partitionCount) || partitionCount < 1) {
    throw new RangeError(`partitionCount must be a positive integer, got ${partitionCount}`);
  }
  // JS `%` keeps the dividend's sign, as C# and Java do; `Math.abs` then matches `Math.Abs` there. `+ 0` turns
  // a -0 into 0.
  return Math.abs(hashPartitionKey(key) % partitionCount) + 0;
}
