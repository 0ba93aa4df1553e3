/**
 * Which partition key each event carries: an index in [0, keys) drawn uniformly or from a Zipf distribution
 * (P(rank k) proportional to 1 / k^skew, rank 1 = the hottest key), the shape of real customer and device
 * traffic. Zipf sampling uses rejection-inversion (Hörmann & Derflinger, "Rejection-inversion to generate
 * variates from monotone discrete distributions", 1996): O(1) memory and expected O(1) time for any number of
 * keys and any skew > 0, and exact, unlike a truncated or approximated CDF.
 */
import type { Prng } from './prng.js';

export interface KeySampler {
  readonly keys: number;
  /** a key index in [0, keys); index 0 is the most frequent key under Zipf */
  sample(rng: Prng): number;
}

export type KeyDistribution = { kind: 'uniform' } | { kind: 'zipf'; skew: number };

export function createKeySampler(keys: number, distribution: KeyDistribution): KeySampler {
  if (!Number.isSafeInteger(keys) || keys < 1) throw new RangeError(`key count must be a positive integer, got ${keys}`);
  if (distribution.kind === 'uniform' || keys === 1) return new UniformKeySampler(keys);
  return new ZipfKeySampler(keys, distribution.skew);
}

export class UniformKeySampler implements KeySampler {
  constructor(readonly keys: number) {}

  sample(rng: Prng): number {
    return Math.floor(rng.float() * this.keys);
  }
}

export class ZipfKeySampler implements KeySampler {
  private readonly hIntegralX1: number;
  private readonly hIntegralN: number;
  /** acceptance shortcut: x within this distance of its rounded value is always accepted */
  private readonly squeeze: number;

  constructor(readonly keys: number, private readonly skew: number) {
    if (!(skew > 0) || !Number.isFinite(skew)) throw new RangeError(`Zipf skew must be a positive number, got ${skew}`);
    this.hIntegralX1 = this.hIntegral(1.5) - 1;
    this.hIntegralN = this.hIntegral(keys + 0.5);
    this.squeeze = 2 - this.hIntegralInverse(this.hIntegral(2.5) - this.h(2));
  }

  sample(rng: Prng): number {
    for (;;) {
      // u is uniform on (hIntegralX1, hIntegralN]: invert the integral of the hat function h(x) = x^-skew.
      const u = this.hIntegralN + rng.float() * (this.hIntegralX1 - this.hIntegralN);
      const x = this.hIntegralInverse(u);
      let k = Math.floor(x + 0.5);
      if (k < 1) k = 1;
      else if (k > this.keys) k = this.keys;
      // Accept when x is close enough to k (always inside the distribution) or u falls under the bar of k.
      if (k - x <= this.squeeze || u >= this.hIntegral(k + 0.5) - this.h(k)) return k - 1;
    }
  }

  /** exact probability of key index i (rank i + 1); O(keys), for tests and reports */
  static probabilities(keys: number, skew: number): Float64Array {
    const p = new Float64Array(keys);
    let total = 0;
    for (let k = 1; k <= keys; k++) {
      p[k - 1] = Math.pow(k, -skew);
      total += p[k - 1]!;
    }
    for (let i = 0; i < keys; i++) p[i] = p[i]! / total;
    return p;
  }

  private h(x: number): number {
    return Math.exp(-this.skew * Math.log(x));
  }

  /** integral of h from 1 to x, written so it stays accurate when skew is close to 1 */
  private hIntegral(x: number): number {
    const logX = Math.log(x);
    return helper2((1 - this.skew) * logX) * logX;
  }

  private hIntegralInverse(x: number): number {
    let t = x * (1 - this.skew);
    if (t < -1) t = -1; // guards against rounding just past the pole
    return Math.exp(helper1(t) * x);
  }
}

/** log1p(x) / x, with its Taylor series near 0 where the quotient loses precision */
function helper1(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.log1p(x) / x : 1 - x * (0.5 - x * (1 / 3 - 0.25 * x));
}

/** expm1(x) / x, with its Taylor series near 0 */
function helper2(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.expm1(x) / x : 1 + x * 0.5 * (1 + (x / 3) * (1 + 0.25 * x));
}
