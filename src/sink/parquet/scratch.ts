/**
 * Typed scratch arrays reused by every column a thread encodes: encoding is synchronous, so one set per thread
 * suffices, and reusing them keeps per-row-group allocation (and so garbage collection) to the output bytes.
 */
let validity = new Uint8Array(1024);
let f64 = new Float64Array(1024);
let i32 = new Int32Array(1024);
let i64 = new BigInt64Array(64);
let u8 = new Uint8Array(1024);
let ones = new Uint8Array(1024).fill(1);

function size(n: number, current: number): number {
  return Math.max(n, current * 2);
}

export function validityScratch(n: number): Uint8Array {
  if (validity.length < n) validity = new Uint8Array(size(n, validity.length));
  return validity;
}

export function f64Scratch(n: number): Float64Array {
  if (f64.length < n) f64 = new Float64Array(size(n, f64.length));
  return f64;
}

export function i32Scratch(n: number): Int32Array {
  if (i32.length < n) i32 = new Int32Array(size(n, i32.length));
  return i32;
}

export function i64Scratch(n: number): BigInt64Array {
  if (i64.length < n) i64 = new BigInt64Array(size(n, i64.length));
  return i64;
}

export function u8Scratch(n: number): Uint8Array {
  if (u8.length < n) u8 = new Uint8Array(size(n, u8.length));
  return u8;
}

/** An all-ones validity of at least `n` rows (read-only): a column given no validity, as one with every row present. */
export function allPresent(n: number): Uint8Array {
  if (ones.length < n) ones = new Uint8Array(size(n, ones.length)).fill(1);
  return ones;
}
