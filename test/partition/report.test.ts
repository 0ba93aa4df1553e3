import { describe, expect, it } from 'vitest';
import { parseKeyCandidates } from '../../src/partition/key-candidate.js';
import { recommend } from '../../src/partition/recommend.js';
import { renderMarkdown, renderTerminal, reportJson, type KeyBenchReport } from '../../src/partition/report.js';
import { analyzeSkew, EVENT_HUBS_STANDARD_LIMIT } from '../../src/partition/skew.js';
import { renderLoadSvg } from '../../src/partition/svg.js';
import { zipfOrders } from './zipf-sample.js';

function report(keys: string, counts: number[]): KeyBenchReport {
  const records = zipfOrders(20_000);
  const skew = analyzeSkew(records, {
    candidates: parseKeyCandidates(keys),
    partitionCounts: counts,
    hash: 'eventhubs',
    limit: EVENT_HUBS_STANDARD_LIMIT,
    aggregations: [
      { name: 'orders_by_customer', groupBy: ['customerId'] },
      { name: 'orders_by_channel', groupBy: ['channel'] },
    ],
  });
  return {
    title: 'Partition keys for orders',
    command: 'npm run bench:keys',
    sample: { source: 'test', stream: 'orders', events: skew.totalEvents, bytes: skew.totalBytes },
    skew,
    recommendation: recommend(skew),
    measured: [],
  };
}

describe('recommendation', () => {
  it('ranks a high-cardinality key above a low-cardinality one on a Zipf-skewed sample', () => {
    const { recommendation, skew } = report('channel,customerId', [4, 8, 32]);
    expect(recommendation.partitionCount).toBe(32);
    expect(recommendation.ranking.map((r) => r.candidate)).toEqual(['customerId', 'channel']);
    expect(recommendation.candidate).toBe('customerId');
    expect(recommendation.line).toMatch(/^Use customerId at 32 partitions: .*keeps order per customerId/);
    // 4 channels can never use more than 4 of 32 partitions.
    const channelAt32 = skew.analyses.find((a) => a.candidate.name === 'channel' && a.partitionCount === 32)!;
    expect(channelAt32.idlePartitions).toBeGreaterThanOrEqual(28);
    const customerAt32 = skew.analyses.find((a) => a.candidate.name === 'customerId' && a.partitionCount === 32)!;
    expect(customerAt32.maxMeanEvents).toBeLessThan(channelAt32.maxMeanEvents);
    expect(customerAt32.aggregations.map((a) => a.alignment)).toEqual(['complete', 'partial']);
  });

  it('recommends round-robin when every keyed candidate throttles below half of its ceiling', () => {
    const { recommendation } = report('channel,none', [32]);
    expect(recommendation.candidate).toBe('none');
    expect(recommendation.line).toMatch(/every keyed candidate throttles early \(best: channel/);
  });

  it('prefers the key of fewer fields among near-ties: its ordering scope is wider', () => {
    const { recommendation } = report('customerId+channel,customerId', [8]);
    expect(recommendation.ranking[0]!.candidate).toBe('customerId+channel');
    expect(recommendation.candidate).toBe('customerId');
    expect(recommendation.line).toMatch(/; customerId\+channel reaches .* but keeps order only per \(customerId, channel\)\.$/);
  });

  it('keeps a keyed candidate that reaches half of round-robin', () => {
    const { recommendation } = report('customerId,channel,none', [4]);
    expect(recommendation.ranking[0]!.candidate).toBe('none');
    expect(recommendation.candidate).toBe('customerId');
  });
});

describe('rendering', () => {
  const r = report('customerId,channel,none', [4, 8]);

  it('prints one terminal row per candidate and partition count, best candidate first, then the recommendation', () => {
    const lines = renderTerminal(r).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^key\s+partitions\s+max\/mean/);
    const rows = lines.slice(2, 2 + 6);
    expect(rows.map((l) => l.split(/\s+/).slice(0, 2).join(' '))).toEqual(
      r.recommendation.ranking.flatMap((c) => [`${c.candidate} 4`, `${c.candidate} 8`]),
    );
    expect(lines.at(-1)).toBe(r.recommendation.line);
  });

  it('writes a Markdown report with the recommendation, the picture, a section per candidate and the command', () => {
    const markdown = renderMarkdown(r);
    expect(markdown).toContain(`**Recommendation.** ${r.recommendation.line}`);
    expect(markdown).toContain('![Load per partition for each candidate key](load-per-partition.svg)');
    for (const name of ['customerId', 'channel', 'none']) expect(markdown).toContain(`### ${name}`);
    expect(markdown).toContain('```sh\nnpm run bench:keys\n```');
    expect(markdown).toContain('Not run (arithmetic only).');
  });

  it('draws one bar or idle tick per partition for every candidate, with the recommended one marked', () => {
    const svg = renderLoadSvg(r.skew, r.recommendation, r.title);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    const bars = svg.match(/<title>partition \d+: /g) ?? [];
    const idle = svg.match(/fill="#afb8c1"/g) ?? [];
    const expectedBars = r.skew.analyses.reduce((sum, a) => sum + a.partitions.length - a.idlePartitions, 0);
    const expectedIdle = r.skew.analyses.reduce((sum, a) => sum + a.idlePartitions, 0);
    expect(bars.length).toBe(expectedBars);
    expect(idle.length).toBe(expectedIdle);
    expect(svg).toContain(`${r.recommendation.candidate} (recommended)`);
    expect((svg.match(/<g>/g) ?? []).length).toBe(6);
  });

  it('serialises to JSON without infinities and with the ranking by name', () => {
    const json = JSON.parse(JSON.stringify(reportJson(r), (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))) as {
      recommendation: { ranking: Array<{ candidate: string }> };
    };
    expect(json.recommendation.ranking.map((c) => c.candidate)).toEqual(r.recommendation.ranking.map((c) => c.candidate));
  });
});
