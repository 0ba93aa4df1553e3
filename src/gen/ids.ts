/**
 * Unique, random-looking identifiers that are pure functions of (salt, ordinal): a generated event id never
 * repeats inside a stream (the low 48 bits are a bijection of the ordinal), and a rerun with the same seed
 * produces the same ids. Shaped as RFC 4122 version-4 UUIDs so they fit `uuid` logical types.
 */
const MASK24 = 0xff_ffff;
const TWO_POW_24 = 0x100_0000;

/** A bijection on [0, 2^48): a 4-round Feistel network over two 24-bit halves. */
export function permute48(value: number, salt: number): number {
  let left = Math.floor(value / TWO_POW_24) & MASK24;
  let right = value % TWO_POW_24;
  for (let round = 0; round < 4; round++) {
    const mixed = mix32(right ^ Math.imul(salt ^ round, 0x9e3779b9)) & MASK24;
    const next = left ^ mixed;
    left = right;
    right = next;
  }
  return left * TWO_POW_24 + right;
}

export function mix32(value: number): number {
  let z = value | 0;
  z = Math.imul(z ^ (z >>> 16), 0x7feb352d);
  z = Math.imul(z ^ (z >>> 15), 0x846ca68b);
  return (z ^ (z >>> 16)) >>> 0;
}

/** lowercase hex of a 32-bit unsigned integer, 8 digits */
const BYTE_HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
export const hex32 = (v: number): string => BYTE_HEX[v >>> 24]! + BYTE_HEX[(v >>> 16) & 0xff]! + BYTE_HEX[(v >>> 8) & 0xff]! + BYTE_HEX[v & 0xff]!;
const hex16 = (v: number): string => BYTE_HEX[(v >>> 8) & 0xff]! + BYTE_HEX[v & 0xff]!;
const hex24 = (v: number): string => BYTE_HEX[(v >>> 16) & 0xff]! + hex16(v);

/** A version-4-shaped UUID, unique per ordinal in [0, 2^48) for a given salt. */
export function uuidFor(ordinal: number, salt: number): string {
  if (!Number.isSafeInteger(ordinal) || ordinal < 0 || ordinal >= 2 ** 48) throw new RangeError(`ordinal out of range: ${ordinal}`);
  const tail = permute48(ordinal, salt);
  const a = mix32(salt ^ mix32(ordinal % TWO_POW_24) ^ Math.imul(Math.floor(ordinal / TWO_POW_24), 0x27d4eb2d));
  const b = mix32(a ^ salt);
  const c = mix32(b ^ 0x5bd1e995);
  // xxxxxxxx-xxxx-4xxx-Vxxx-tttttttttttt: version 4, RFC 4122 variant V in 8..b, t = the unique 48 bits.
  const variant = (8 | (c & 0x3)) << 12 | ((c >>> 20) & 0xfff);
  const version = 0x4000 | (b & 0xfff);
  return `${hex32(a)}-${hex16(b >>> 16)}-${hex16(version)}-${hex16(variant)}-${hex24(Math.floor(tail / TWO_POW_24))}${hex24(tail % TWO_POW_24)}`;
}
