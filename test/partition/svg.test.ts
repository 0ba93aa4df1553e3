/**
 * The load-per-partition picture: every chart has its own labelled scale (so a 16x hot spot in one candidate does
 * not flatten the others), no "hottest" marker where the load is even, and every label fits the picture.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseKeyCandidates } from '../../src/partition/key-candidate.js';
import { recommend } from '../../src/partition/recommend.js';
import { analyzeSkew, EVENT_HUBS_STANDARD_LIMIT } from '../../src/partition/skew.js';
import { EVEN_LOAD_MAX_MEAN, compactNumber, niceCeiling, renderLoadSvg } from '../../src/partition/svg.js';
import { zipfOrders } from './zipf-sample.js';

const skew = analyzeSkew(zipfOrders(20_000), {
  candidates: parseKeyCandidates('customerId,channel,customerId+channel,none'),
  partitionCounts: [4, 8, 32],
  hash: 'eventhubs',
  limit: EVENT_HUBS_STANDARD_LIMIT,
  aggregations: [],
});
const svg = renderLoadSvg(skew, recommend(skew), 'Partition keys for orders, a title long enough to need care when it is drawn');
const charts = svg.split('<g>').slice(1).map((chunk) => chunk.slice(0, chunk.indexOf('</g>')));

/** "2.5k" -> 2500 */
const parseCompact = (text: string): number => Number.parseFloat(text) * (text.endsWith('M') ? 1e6 : text.endsWith('k') ? 1e3 : 1);

describe('load-per-partition SVG', () => {
  it('draws one chart per candidate and partition count, in the order of the analyses by row', () => {
    expect(charts).toHaveLength(skew.analyses.length);
  });

  it('gives every chart its own y axis, from 0 to a round number just above its busiest partition', () => {
    const tops: number[] = [];
    for (const chart of charts) {
      const peak = Math.max(...[...chart.matchAll(/<title>partition \d+: (\d+) events/g)].map((m) => Number(m[1])));
      const ticks = [...chart.matchAll(/text-anchor="end" fill="#57606a">([\d.]+[kM]?)<\/text>/g)].map((m) => parseCompact(m[1]!));
      expect(ticks[0]).toBe(0);
      const top = Math.max(...ticks);
      expect(top).toBeGreaterThanOrEqual(peak);
      expect(top).toBeLessThanOrEqual(peak * 1.34);
      tops.push(top);
    }
    // at 32 partitions `channel` peaks near 16x the mean; the others must not share its scale
    expect(new Set(tops).size).toBeGreaterThan(3);
  });

  it('marks the hottest partition red only where max/mean >= the even-load threshold', () => {
    const ordered = [...new Set(skew.analyses.map((a) => a.partitionCount))]
      .sort((a, b) => a - b)
      .flatMap((count) => [...new Set(skew.analyses.map((a) => a.candidate.name))].map((name) => skew.analyses.find((a) => a.partitionCount === count && a.candidate.name === name)!));
    ordered.forEach((analysis, i) => {
      const red = (charts[i]!.match(/fill="#cf222e"/g) ?? []).length;
      expect(red, `${analysis.candidate.name} at ${analysis.partitionCount}`).toBe(analysis.maxMeanEvents >= EVEN_LOAD_MAX_MEAN ? 1 : 0);
    });
    const none = ordered.filter((a) => a.candidate.name === 'none');
    expect(none.every((a) => a.maxMeanEvents < EVEN_LOAD_MAX_MEAN)).toBe(true); // the case the rule is for
  });

  it('labels the axes and the partition counts in full', () => {
    for (const chart of charts) {
      expect(chart).toContain('>events</text>');
      expect(chart).toContain('>partition</text>');
      expect(chart).toMatch(/mean [\d.]+k? · max [\d.]+k? events\/partition/);
    }
    for (const count of [4, 8, 32]) expect(svg).toContain(`>${count} partitions</text>`);
  });

  it('keeps every text inside the picture (estimated at 0.56 em per character)', () => {
    const width = Number(/width="(\d+)"/.exec(svg)![1]);
    for (const match of svg.matchAll(/<text x="([\d.]+)" y="[\d.]+"((?: [a-z-]+="[^"]*")*)>([^<]*)<\/text>/g)) {
      const x = Number(match[1]);
      const size = Number(/font-size="(\d+)"/.exec(match[2]!)?.[1] ?? 11);
      const anchor = /text-anchor="(\w+)"/.exec(match[2]!)?.[1] ?? 'start';
      const w = match[3]!.replace(/&[a-z]+;/g, '&').length * size * 0.56;
      const [left, right] = anchor === 'start' ? [x, x + w] : anchor === 'end' ? [x - w, x] : [x - w / 2, x + w / 2];
      expect(left, match[3]).toBeGreaterThanOrEqual(0);
      expect(right, match[3]).toBeLessThanOrEqual(width);
    }
  });
});

describe('axis numbers', () => {
  it('rounds an axis top up by at most a third, to 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.001, max: 1e9, noNaN: true }), (value) => {
        const top = niceCeiling(value);
        expect(top).toBeGreaterThanOrEqual(value * (1 - 1e-9));
        expect(top).toBeLessThanOrEqual(value * 1.34);
        const mantissa = top / 10 ** Math.floor(Math.log10(top) + 1e-9);
        expect([1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8].some((m) => Math.abs(m - mantissa) < 1e-9)).toBe(true);
      }),
    );
  });

  it('writes numbers compactly without rounding an axis tick away', () => {
    expect([0, 750, 1250, 2500, 25_000, 13_222, 3_000_000].map((n) => compactNumber(n))).toEqual(['0', '750', '1.25k', '2.5k', '25k', '13.22k', '3M']);
    expect(compactNumber(13_222, 3)).toBe('13.2k');
  });
});
