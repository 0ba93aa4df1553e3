/**
 * The partition-key report in three forms: a table for the terminal, a Markdown report and an SVG of load per
 * partition, plus the numbers as JSON. Rendering is pure; `writeKeyBenchReport` is the only part that touches
 * the file system.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { MeasuredRun } from './measured.js';
import { formatRate, type Recommendation } from './recommend.js';
import type { CandidateAnalysis, SkewResult } from './skew.js';
import { renderLoadSvg } from './svg.js';

export interface SampleDescription {
  /** Where the sample came from: a Capture folder, an Avro file, or the generator and its settings. */
  readonly source: string;
  readonly stream: string;
  readonly events: number;
  readonly bytes: number;
}

export interface KeyBenchReport {
  readonly title: string;
  /** The command that regenerates this report. */
  readonly command: string;
  readonly sample: SampleDescription;
  readonly skew: SkewResult;
  readonly recommendation: Recommendation;
  /** One per candidate at the measured partition count; empty when the run was arithmetic only. */
  readonly measured: readonly MeasuredRun[];
}

export const REPORT_FILES = { markdown: 'report.md', svg: 'load-per-partition.svg', json: 'report.json' } as const;

const pct = (x: number): string => `${(x * 100).toFixed(x < 0.1 ? 1 : 0)}%`;

function alignmentSummary(analysis: CandidateAnalysis): string {
  if (analysis.aggregations.length === 0) return '-';
  const complete = analysis.aggregations.filter((a) => a.alignment === 'complete').length;
  return `${complete}/${analysis.aggregations.length} complete`;
}

function measuredFor(report: KeyBenchReport, analysis: CandidateAnalysis): MeasuredRun | undefined {
  return report.measured.find((m) => m.candidate === analysis.candidate.name && m.partitionCount === analysis.partitionCount);
}

interface Row {
  cells: string[];
}

function tableRows(report: KeyBenchReport): { header: string[]; rows: Row[] } {
  const header = [
    'key',
    'partitions',
    'max/mean',
    'idle',
    'hottest key',
    'ceiling',
    'of ideal',
    'aggregates',
    'measured',
    'slowest lag',
  ];
  const order = new Map(report.recommendation.ranking.map((r, i) => [r.candidate, i]));
  const analyses = [...report.skew.analyses].sort(
    (x, y) => (order.get(x.candidate.name) ?? 0) - (order.get(y.candidate.name) ?? 0) || x.partitionCount - y.partitionCount,
  );
  const rows = analyses.map((a) => {
    const measured = measuredFor(report, a);
    return {
      cells: [
        a.candidate.name,
        String(a.partitionCount),
        a.maxMeanEvents.toFixed(2),
        String(a.idlePartitions),
        a.hotKeys[0] ? pct(a.hotKeys[0].share) : '-',
        formatRate(a.ceiling.eventsPerSecond),
        pct(a.ceiling.efficiency),
        alignmentSummary(a),
        measured ? formatRate(measured.eventsPerSecond) : '',
        measured ? `${measured.slowestLagEvents} ev / ${Math.round(measured.slowestLagMs)} ms (p${measured.slowestPartition})` : '',
      ],
    };
  });
  return { header, rows };
}

/** A plain-text table for the terminal, with the recommendation underneath. */
export function renderTerminal(report: KeyBenchReport): string {
  const { header, rows } = tableRows(report);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r.cells[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(r.cells)),
    '',
    report.recommendation.line,
    '',
  ].join('\n');
}

export function renderMarkdown(report: KeyBenchReport): string {
  const { skew, sample, recommendation } = report;
  const { header, rows } = tableRows(report);
  const out: string[] = [];
  out.push(`# ${report.title}`, '');
  out.push(`**Recommendation.** ${recommendation.line}`, '');
  out.push(`![Load per partition for each candidate key](${REPORT_FILES.svg})`, '');
  out.push(
    `Sample: ${sample.events} events, ${sample.bytes} body bytes of stream \`${sample.stream}\` from ${sample.source}. ` +
      `Keys are mapped to partitions with ${skew.hash === 'eventhubs' ? "Event Hubs' own partition-key hash (lookup3, as the service and the SDKs' buffered producer assign them)" : "Kafka's default partitioner (murmur2, as the Java client and kafkajs)"}. ` +
      `Per-partition limit: ${skew.limit.label}: ${skew.limit.eventsPerSecond} events/s, ${skew.limit.bytesPerSecond} bytes/s.`,
    '',
  );
  out.push(`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`);
  for (const row of rows) out.push(`| ${row.cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`);
  out.push('');
  out.push(
    '- **max/mean**: events on the busiest partition over the mean; 1.00 is perfect balance.',
    '- **ceiling**: total ingress the hub takes before its hottest partition reaches the per-partition limit, with traffic in the sample\'s proportions; **of ideal** compares it with the same traffic perfectly balanced.',
    '- **aggregates**: configured aggregations whose groups never span partitions (complete per-partition results; the others need a merge of partial aggregates).',
    '- **measured / slowest lag**: the real pipeline (decode, aggregate, sink) fed the sample partitioned by that key (see "Measured run" below).',
    '',
  );

  out.push('## Candidates', '');
  for (const ranked of recommendation.ranking) {
    const name = ranked.candidate;
    out.push(`### ${name}`, '');
    const analyses = skew.analyses.filter((a) => a.candidate.name === name);
    const first = analyses[0]!;
    out.push(`- Ordering: ${first.orderingScope}.`);
    out.push(`- Distinct keys in the sample: ${first.distinctKeys}${first.keylessEvents ? `; events without a key (spread round-robin): ${first.keylessEvents}` : ''}.`);
    if (first.hotKeys.length > 0) {
      const cap = first.ceiling.hotKeyCapEventsPerSecond;
      out.push(
        `- Hottest keys: ${first.hotKeys.map((k) => `\`${k.key}\` ${pct(k.share)}`).join(', ')}. The hottest key alone caps the hub at ${formatRate(cap)}, whatever the partition count.`,
      );
    }
    for (const analysis of analyses) {
      const aggregations = analysis.aggregations
        .map((g) => `${g.name} (group by ${g.groupBy.join(', ') || 'nothing'}): ${g.alignment}${g.splitGroups ? `, ${g.splitGroups} of ${g.groups} groups split` : ''}`)
        .join('; ');
      out.push(
        `- ${analysis.partitionCount} partitions: max/mean ${analysis.maxMeanEvents.toFixed(2)} by events, ${analysis.maxMeanBytes.toFixed(2)} by bytes; ` +
          `${analysis.idlePartitions} idle; hottest partition ${analysis.hottestPartition}; ceiling ${formatRate(analysis.ceiling.eventsPerSecond)} ` +
          `(bound by ${analysis.ceiling.boundBy}, ideal ${formatRate(analysis.ceiling.idealEventsPerSecond)})` +
          (aggregations ? `; aggregations: ${aggregations}` : '') +
          '.',
      );
    }
    out.push('');
  }

  out.push('## Measured run', '');
  if (report.measured.length === 0) {
    out.push('Not run (arithmetic only).', '');
  } else {
    const first = report.measured[0]!;
    out.push(
      `Each candidate's sample is replayed through the real pipeline at ${first.partitionCount} partitions. Events arrive in sample order, ` +
        `${pct(first.offeredLoad)} of what perfectly balanced partitions could process per round; each round every partition that has events waiting ` +
        'processes one batch, in order, all partitions concurrently, exactly as a consumer owns a partition. A partition that receives more than its ' +
        'share falls behind: its lag is the most events it ever had waiting, and in time, how long it still needed after the ' +
        'last event of the sample had arrived (its catch-up time). ' +
        '"rounds" is how long the hub needs to get through the sample when each partition has a consumer of its own; ' +
        'events/s is wall-clock throughput of this one process, where all partitions share the same CPUs, so it understates ' +
        'what a skewed key costs a scaled-out deployment.',
      '',
      '| key | partitions | events/s | rounds | slowest partition | its max lag (events) | its catch-up (ms) | rows landed |',
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const m of report.measured) {
      out.push(
        `| ${m.candidate} | ${m.partitionCount} | ${Math.round(m.eventsPerSecond)} | ${m.rounds} | ${m.slowestPartition} | ${m.slowestLagEvents} | ${Math.round(m.slowestLagMs)} | ${m.rowsLanded} |`,
      );
    }
    out.push('');
  }
  out.push('## Regenerate', '', '```sh', report.command, '```', '');
  return out.join('\n');
}

/** Writes report.md, load-per-partition.svg and report.json into `outDir`; returns their paths. */
export async function writeKeyBenchReport(report: KeyBenchReport, outDir: string): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const files: Array<[string, string]> = [
    [REPORT_FILES.markdown, renderMarkdown(report)],
    [REPORT_FILES.svg, renderLoadSvg(report.skew, report.recommendation, report.title)],
    [REPORT_FILES.json, `${JSON.stringify(reportJson(report), jsonReplacer, 2)}\n`],
  ];
  const written: string[] = [];
  for (const [name, content] of files) {
    const file = path.join(outDir, name);
    await writeFile(file, content, 'utf8');
    written.push(file);
  }
  return written;
}

/** The report's numbers, with the ranking by name (its analyses are already under `skew`). */
export function reportJson(report: KeyBenchReport): unknown {
  const { ranking, ...recommendation } = report.recommendation;
  return {
    ...report,
    recommendation: {
      ...recommendation,
      ranking: ranking.map((r) => ({ candidate: r.candidate, ceilingEventsPerSecond: r.ceilingEventsPerSecond, completeAggregations: r.completeAggregations })),
    },
  };
}

function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? null : value;
}
