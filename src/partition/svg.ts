/**
 * A hand-written SVG of load per partition: one small bar chart per (candidate, partition count), candidates side
 * by side in columns, partition counts in rows. Bars in a row share one scale so candidates compare at a glance;
 * the dashed line is the mean (perfect balance), the hottest partition is red, idle partitions are grey ticks.
 */
import type { Recommendation } from './recommend.js';
import type { CandidateAnalysis, SkewResult } from './skew.js';

const CELL_WIDTH = 280;
const CELL_HEIGHT = 170;
const PLOT_TOP = 34;
const PLOT_BOTTOM = 24;
const PLOT_SIDE = 14;
const HEADER = 64;
const ROW_LABEL = 92;

export function renderLoadSvg(skew: SkewResult, recommendation: Recommendation, title: string): string {
  const candidates = [...new Set(skew.analyses.map((a) => a.candidate.name))];
  const counts = [...new Set(skew.analyses.map((a) => a.partitionCount))].sort((x, y) => x - y);
  const width = ROW_LABEL + candidates.length * CELL_WIDTH + 16;
  // The recommendation is wrapped to the picture's width (about 6 px per character at 11 px).
  const footer = wrap(recommendation.line, Math.max(60, Math.floor((width - 32) / 6)));
  const height = HEADER + counts.length * CELL_HEIGHT + 16 + footer.length * 15;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="16" y="22" font-size="15" font-weight="bold">${escape(title)}</text>`,
    `<text x="16" y="40" fill="#444">${escape(`events per partition (${skew.hash === 'eventhubs' ? 'Event Hubs hash' : 'Kafka murmur2'}); dashed = mean; red = hottest; grey tick = idle`)}</text>`,
  );
  candidates.forEach((name, column) => {
    const x = ROW_LABEL + column * CELL_WIDTH + CELL_WIDTH / 2;
    const chosen = name === recommendation.candidate;
    parts.push(
      `<text x="${x}" y="${HEADER - 6}" text-anchor="middle" font-size="13" font-weight="bold" fill="${chosen ? '#1a7f37' : '#222'}">${escape(chosen ? `${name} (recommended)` : name)}</text>`,
    );
  });
  counts.forEach((count, row) => {
    const y = HEADER + row * CELL_HEIGHT;
    parts.push(`<text x="16" y="${y + CELL_HEIGHT / 2}" font-size="12" font-weight="bold">${count} partitions</text>`);
    const rowAnalyses = skew.analyses.filter((a) => a.partitionCount === count);
    const scale = Math.max(...rowAnalyses.flatMap((a) => a.partitions.map((p) => p.events)), 1);
    candidates.forEach((name, column) => {
      const analysis = rowAnalyses.find((a) => a.candidate.name === name);
      if (analysis) parts.push(cell(analysis, ROW_LABEL + column * CELL_WIDTH, y, scale));
    });
  });
  footer.forEach((text, i) => {
    parts.push(`<text x="16" y="${HEADER + counts.length * CELL_HEIGHT + 18 + i * 15}" fill="#1a7f37">${escape(text)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function cell(analysis: CandidateAnalysis, x: number, y: number, scale: number): string {
  const plotWidth = CELL_WIDTH - 2 * PLOT_SIDE;
  const plotHeight = CELL_HEIGHT - PLOT_TOP - PLOT_BOTTOM;
  const baseline = y + PLOT_TOP + plotHeight;
  const n = analysis.partitionCount;
  const slot = plotWidth / n;
  const barWidth = Math.max(slot * 0.8, 1);
  const out: string[] = [
    `<g>`,
    `<rect x="${x + 4}" y="${y + 4}" width="${CELL_WIDTH - 8}" height="${CELL_HEIGHT - 8}" fill="#f6f8fa" stroke="#d0d7de" rx="4"/>`,
    `<text x="${x + PLOT_SIDE}" y="${y + 20}" fill="#222">${escape(
      `max/mean ${analysis.maxMeanEvents.toFixed(2)} · idle ${analysis.idlePartitions} · ${Math.round(analysis.ceiling.efficiency * 100)}% of ideal`,
    )}</text>`,
  ];
  for (const load of analysis.partitions) {
    const left = x + PLOT_SIDE + load.partition * slot + (slot - barWidth) / 2;
    if (load.events === 0) {
      out.push(`<rect x="${fmt(left)}" y="${baseline - 2}" width="${fmt(barWidth)}" height="2" fill="#afb8c1"/>`);
      continue;
    }
    const h = (load.events / scale) * plotHeight;
    const hottest = load.partition === analysis.hottestPartition;
    out.push(
      `<rect x="${fmt(left)}" y="${fmt(baseline - h)}" width="${fmt(barWidth)}" height="${fmt(h)}" fill="${hottest ? '#cf222e' : '#0969da'}"><title>partition ${load.partition}: ${load.events} events, ${load.bytes} bytes</title></rect>`,
    );
  }
  const meanY = baseline - (analysis.totalEvents / n / scale) * plotHeight;
  out.push(
    `<line x1="${x + PLOT_SIDE}" y1="${fmt(meanY)}" x2="${x + CELL_WIDTH - PLOT_SIDE}" y2="${fmt(meanY)}" stroke="#57606a" stroke-dasharray="4 3"/>`,
    `<line x1="${x + PLOT_SIDE}" y1="${baseline}" x2="${x + CELL_WIDTH - PLOT_SIDE}" y2="${baseline}" stroke="#57606a"/>`,
    `<text x="${x + PLOT_SIDE}" y="${baseline + 15}" fill="#57606a">${escape(`hottest key ${Math.round((analysis.hotKeys[0]?.share ?? 0) * 100)}% · ${analysis.distinctKeys} keys`)}</text>`,
    `</g>`,
  );
  return out.join('\n');
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(' ')) {
    if (current && current.length + 1 + word.length > width) {
      lines.push(current);
      current = word;
    } else current = current ? `${current} ${word}` : word;
  }
  if (current) lines.push(current);
  return lines;
}

const fmt = (value: number): string => (Math.round(value * 10) / 10).toString();

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
