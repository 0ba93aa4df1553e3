import { z } from 'zod';

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;
const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE = /^(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|KB|MB|GB)?$/;
const SIZE_BYTES: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, KB: 1e3, MB: 1e6, GB: 1e9 };

/** A duration such as `30s`, `5m`, `250ms`, or a number of milliseconds; parsed to milliseconds. */
export const duration = z.union([
  z.number().int().nonnegative(),
  z.string().regex(DURATION, 'expected a duration such as "30s", "5m", "1h" or "250ms"'),
]).transform((value) => {
  if (typeof value === 'number') return value;
  const [, amount, unit] = DURATION.exec(value)!;
  return Math.round(Number(amount) * DURATION_MS[unit!]!);
});

/**
 * A size such as `128MiB` or a number of bytes; parsed to bytes, and more than 0 however it is written ("0",
 * "0B" and "0.0001KiB" are as wrong as 0).
 */
export const byteSize = z.union([
  z.number().int(),
  z.string().regex(SIZE, 'expected a size such as "64MiB", "512KiB" or a number of bytes'),
]).transform((value) => {
  if (typeof value === 'number') return value;
  const [, amount, unit] = SIZE.exec(value)!;
  return Math.round(Number(amount) * SIZE_BYTES[unit ?? 'B']!);
}).refine((bytes) => bytes > 0, 'a size must be > 0 bytes');

/** A duration that must be longer than 0 (a span, an interval): 0 would divide by zero or spin. */
export const positiveDuration = duration.refine((ms) => ms > 0, 'must be > 0 (a duration such as "1h")');
