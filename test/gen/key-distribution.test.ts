import { describe, expect, it } from 'vitest';
import { ZipfKeySampler, createKeySampler } from '../../src/gen/key-distribution.js';
import { Prng } from '../../src/gen/prng.js';

/** Pearson's chi-square of observed counts against expected probabilities, pooling bins with expectation < 5. */
function chiSquare(counts: number[], probabilities: ArrayLike<number>, samples: number): { statistic: number; bins: number } {
  let statistic = 0;
  let bins = 0;
  let pooledObserved = 0;
  let pooledExpected = 0;
  for (let i = 0; i < counts.length; i++) {
    const expected = probabilities[i]! * samples;
    if (expected < 5) {
      pooledObserved += counts[i]!;
      pooledExpected += expected;
      continue;
    }
    statistic += (counts[i]! - expected) ** 2 / expected;
    bins++;
  }
  if (pooledExpected > 0) {
    statistic += (pooledObserved - pooledExpected) ** 2 / pooledExpected;
    bins++;
  }
  return { statistic, bins };
}

/** Upper 0.1% point of the chi-square distribution (Wilson-Hilferty), so a correct sampler fails 1 in 1000 seeds. */
function critical(df: number): number {
  const z = 3.0902;
  return df * (1 - 2 / (9 * df) + z * Math.sqrt(2 / (9 * df))) ** 3;
}

function sample(keys: number, distribution: Parameters<typeof createKeySampler>[1], n: number, seed: number): number[] {
  const sampler = createKeySampler(keys, distribution);
  const rng = new Prng(seed, 'keys');
  const counts = new Array<number>(keys).fill(0);
  let outOfRange = 0;
  for (let i = 0; i < n; i++) {
    const k = sampler.sample(rng);
    if (Number.isInteger(k) && k >= 0 && k < keys) counts[k]!++;
    else outOfRange++;
  }
  expect(outOfRange).toBe(0);
  return counts;
}

describe('key distributions', () => {
  it.each([
    { keys: 50, skew: 1.1 },
    { keys: 1000, skew: 0.8 },
    { keys: 200, skew: 1 }, // the skew where the closed forms switch to their series expansions
    { keys: 20, skew: 2.5 },
  ])('Zipf frequencies over $keys keys with skew $skew match 1/k^s (chi-square, 0.1% level)', ({ keys, skew }) => {
    const n = 200_000;
    const counts = sample(keys, { kind: 'zipf', skew }, n, 11);
    const p = ZipfKeySampler.probabilities(keys, skew);
    const { statistic, bins } = chiSquare(counts, p, n);
    expect(bins).toBeGreaterThan(5);
    expect(statistic).toBeLessThan(critical(bins - 1));
    // Rank-frequency shape: the hottest key's share, and the ratio between ranks 1 and 2 is 2^s.
    expect(counts[0]! / n).toBeCloseTo(p[0]!, 2);
    expect(counts[0]! / counts[1]!).toBeGreaterThan(2 ** skew * 0.9);
    expect(counts[0]! / counts[1]!).toBeLessThan(2 ** skew * 1.1);
  });

  it('rejects a sampler that is not Zipf: a uniform sample fails the same test', () => {
    const n = 200_000;
    const counts = sample(50, { kind: 'uniform' }, n, 11);
    const { statistic, bins } = chiSquare(counts, ZipfKeySampler.probabilities(50, 1.1), n);
    expect(statistic).toBeGreaterThan(critical(bins - 1));
  });

  it('uniform keys are uniform (chi-square, 0.1% level)', () => {
    const n = 100_000;
    const counts = sample(100, { kind: 'uniform' }, n, 5);
    const { statistic, bins } = chiSquare(counts, new Array(100).fill(0.01), n);
    expect(statistic).toBeLessThan(critical(bins - 1));
  });

  it('works for key spaces far too large for a table', () => {
    const sampler = createKeySampler(2 ** 31, { kind: 'zipf', skew: 1.2 });
    const rng = new Prng(1);
    let top = 0;
    for (let i = 0; i < 10_000; i++) if (sampler.sample(rng) === 0) top++;
    // P(rank 1) = 1 / zeta(1.2) restricted to 2^31 terms, about 0.18.
    expect(top / 10_000).toBeGreaterThan(0.15);
    expect(top / 10_000).toBeLessThan(0.21);
  });

  it('rejects invalid parameters', () => {
    expect(() => createKeySampler(0, { kind: 'uniform' })).toThrow(RangeError);
    expect(() => createKeySampler(10, { kind: 'zipf', skew: 0 })).toThrow(RangeError);
  });
});
