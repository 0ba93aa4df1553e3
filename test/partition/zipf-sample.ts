/** A deterministic Zipf-skewed order sample for the partition-key tests (the tests must not depend on timing or on other areas' generators). */
import type { SampleRecord } from '../../src/partition/skew.js';

export function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** Inverse-CDF sampler over ranks 1..n with P(rank k) proportional to 1/k^s. */
export function zipf(n: number, s: number, random: () => number): () => number {
  const cdf = new Float64Array(n);
  let total = 0;
  for (let k = 1; k <= n; k++) cdf[k - 1] = total += 1 / k ** s;
  return () => {
    const u = random() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
}

export interface OrderFields {
  orderId: string;
  customerId: string;
  channel: string;
  amount: number;
  ts: number;
}

/** customerId: 2000 customers, Zipf s=0.8 (high cardinality); channel: 4 channels, Zipf s=1.5 (low cardinality). */
export function zipfOrders(count: number, seed = 1): Array<SampleRecord & { fields: OrderFields }> {
  const random = lcg(seed);
  const customer = zipf(2000, 0.8, random);
  const channel = zipf(4, 1.5, random);
  const channels = ['web', 'app', 'store', 'phone'];
  return Array.from({ length: count }, (_, i) => ({
    fields: {
      orderId: `o-${i}`,
      customerId: `c-${customer()}`,
      channel: channels[channel() - 1]!,
      amount: Math.round(random() * 10_000) / 100,
      ts: 1_700_000_000_000 + i * 10,
    },
    bodyBytes: 60 + Math.floor(random() * 40),
  }));
}
