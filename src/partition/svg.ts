/**
 * A hand-written SVG of load per partition: one bar chart per (candidate, partition count), candidates in columns,
 * partition counts in rows. Each chart has its own scale with a labelled axis: one scale per row would let the
 * worst candidate (a 16x hot spot) flatten the others, and the choice is usually between two good ones whose
 * difference is a few tens of percent. The dashed line is the mean (perfect balance); the hottest partition is
 * red only where the load is uneven (max/mean >= 1.05); idle partitions are grey ticks. Every text is sized to
 * fit its box (estimated at 0.56 em per character), and shortened with an ellipsis where it cannot.
 */
import type { Recommendation } from './recommend.js';
import type { CandidateAnalysis, SkewResult } from './skew.js';

const CELL_WIDTH = 300;
const CELL_HEIGHT = 214;
const CELL_GAP = 12;
const ROW_BAND = 24;
const AXIS_LEFT = 46;
const PLOT_RIGHT = 12;
const PLOT_TOP = 52;
const PLOT_BOTTOM = 50;
const MARGIN = 16;
const HEADER = 78;

/** Loads this close to even get no "hottest" marker: a 4% difference is sampling noise, not a hot spot. */
export const EVEN_LOAD_MAX_MEAN = 1.05;

/** Estimated width of `text` at `size` px in a sans-serif face: about 0.56 em per character (DejaVu Sans, the widest common fallback). */
export function textWidth(text: string, size: number): number {
  return text.length * size * 0.56;
}

/** `text` as it fits in `width` px at `size` px: whole, or cut with an ellipsis. */
export function fitText(text: string, size: number, width: number): string {
  if (textWidth(text, size) <= width) return text;
  const chars = Math.max(1, Math.floor(width / (size * 0.56)) - 1);
  return `${text.slice(0, chars)}…`;
}

/** The smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten that is at least `value`: an axis top
 * that reads well and wastes at most a fifth of the chart. */
export function niceCeiling(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (step * power >= value * (1 - 1e-12)) return step * power;
  return 10 * power;
}

/**
 * 1250 -> "1.25k", 25000 -> "25k", 3000000 -> "3M": exact to 0.1% with at most two decimals (axis ticks must not
 * round 1.25k to 1.3k); with `significant`, rounded to that many significant digits first (13,222 -> "13.2k").
 */
export function compactNumber(value: number, significant?: number): string {
  if (significant !== undefined && value !== 0) value = Number(value.toPrecision(significant));
  const abs = Math.abs(value);
  const [divisor, suffix] = abs >= 1e6 ? [1e6, 'M'] : abs >= 1e3 ? [1e3, 'k'] : [1, ''];
  const scaled = value / divisor;
  // as few decimals as keep the value (axis ticks such as 1.25k must not read 1.3k), at most two
  const digits = [0, 1, 2].find((d) => Math.abs(Number(scaled.toFixed(d)) - scaled) <= Math.abs(scaled) * 0.001) ?? 2;
  return `${Number(scaled.toFixed(digits))}${suffix}`;
}

export function renderLoadSvg(skew: SkewResult, recommendation: Recommendation, title: string): string {
  const candidates = [...new Set(skew.analyses.map((a) => a.candidate.name))];
  const counts = [...new Set(skew.analyses.map((a) => a.partitionCount))].sort((x, y) => x - y);
  const width = 2 * MARGIN + candidates.length * CELL_WIDTH + (candidates.length - 1) * CELL_GAP;
  const inner = width - 2 * MARGIN;
  const footer = wrap(recommendation.line, Math.floor(inner / (11 * 0.56)));
  const rowHeight = ROW_BAND + CELL_HEIGHT + CELL_GAP;
  const height = HEADER + counts.length * rowHeight + 8 + footer.length * 15 + MARGIN;
  const hash = skew.hash === 'eventhubs' ? 'Event Hubs hash' : 'Kafka murmur2';
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    text(MARGIN, 24, fitText(title, 16, inner), { size: 16, bold: true }),
    text(MARGIN, 42, fitText(`Events per partition (${hash}) in the sample; each chart has its own scale, so read its axis.`, 11, inner), { fill: '#444' }),
    text(MARGIN, 57, fitText(`Dashed line = mean (perfect balance); red = hottest partition where max/mean ≥ ${EVEN_LOAD_MAX_MEAN}; grey tick = idle partition.`, 11, inner), { fill: '#444' }),
  ];
  candidates.forEach((name, column) => {
    const x = MARGIN + column * (CELL_WIDTH + CELL_GAP) + CELL_WIDTH / 2;
    const chosen = name === recommendation.candidate;
    parts.push(text(x, HEADER - 4, fitText(chosen ? `${name} (recommended)` : name, 13, CELL_WIDTH - 8), { size: 13, bold: true, anchor: 'middle', fill: chosen ? '#1a7f37' : '#222' }));
  });
  counts.forEach((count, row) => {
    const y = HEADER + row * rowHeight;
    parts.push(text(MARGIN, y + 16, `${count} partitions`, { size: 12, bold: true }));
    candidates.forEach((name, column) => {
      const analysis = skew.analyses.find((a) => a.partitionCount === count && a.candidate.name === name);
      if (analysis) parts.push(chart(analysis, MARGIN + column * (CELL_WIDTH + CELL_GAP), y + ROW_BAND, name === recommendation.candidate && count === recommendation.partitionCount));
    });
  });
  footer.forEach((line, i) => parts.push(text(MARGIN, HEADER + counts.length * rowHeight + 14 + i * 15, line, { fill: '#1a7f37' })));
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function chart(analysis: CandidateAnalysis, x: number, y: number, chosen: boolean): string {
  const plotLeft = x + AXIS_LEFT;
  const plotWidth = CELL_WIDTH - AXIS_LEFT - PLOT_RIGHT;
  const plotHeight = CELL_HEIGHT - PLOT_TOP - PLOT_BOTTOM;
  const baseline = y + PLOT_TOP + plotHeight;
  const n = analysis.partitionCount;
  const slot = plotWidth / n;
  const barWidth = Math.max(slot * 0.8, 1);
  const peak = Math.max(...analysis.partitions.map((p) => p.events), 1);
  const top = niceCeiling(peak);
  const yOf = (events: number): number => baseline - (events / top) * plotHeight;
  const uneven = analysis.maxMeanEvents >= EVEN_LOAD_MAX_MEAN;
  const mean = analysis.totalEvents / n;
  const headline = `max/mean ${analysis.maxMeanEvents.toFixed(2)} · idle ${analysis.idlePartitions} · ${Math.round(analysis.ceiling.efficiency * 100)}% of ideal`;
  const out: string[] = [
    '<g>',
    `<rect x="${x}" y="${y}" width="${CELL_WIDTH}" height="${CELL_HEIGHT}" fill="${chosen ? '#eef8f0' : '#f6f8fa'}" stroke="${chosen ? '#1a7f37' : '#d0d7de'}" rx="4"/>`,
    text(x + 10, y + 18, fitText(headline, 11, CELL_WIDTH - 20), { fill: '#222' }),
    text(x + 10, y + 33, fitText(`mean ${compactNumber(mean, 3)} · max ${compactNumber(peak, 3)} events/partition`, 11, CELL_WIDTH - 20), { fill: '#222' }),
  ];
  // y axis: 0, half and the top of this chart's scale, in events
  for (const tick of [0, top / 2, top]) {
    const ty = yOf(tick);
    out.push(
      `<line x1="${plotLeft - 4}" y1="${fmt(ty)}" x2="${plotLeft + plotWidth}" y2="${fmt(ty)}" stroke="${tick === 0 ? '#57606a' : '#d8dee4'}"/>`,
      text(plotLeft - 7, ty + 4, compactNumber(tick), { anchor: 'end', fill: '#57606a', size: 10 }),
    );
  }
  out.push(
    `<line x1="${plotLeft}" y1="${y + PLOT_TOP - 4}" x2="${plotLeft}" y2="${baseline}" stroke="#57606a"/>`,
    text(plotLeft - 7, y + PLOT_TOP - 9, 'events', { anchor: 'end', fill: '#57606a', size: 10 }),
  );
  for (const load of analysis.partitions) {
    const left = plotLeft + load.partition * slot + (slot - barWidth) / 2;
    if (load.events === 0) {
      out.push(`<rect x="${fmt(left)}" y="${baseline - 2}" width="${fmt(barWidth)}" height="2" fill="#afb8c1"/>`);
      continue;
    }
    const hottest = uneven && load.partition === analysis.hottestPartition;
    out.push(
      `<rect x="${fmt(left)}" y="${fmt(yOf(load.events))}" width="${fmt(barWidth)}" height="${fmt(baseline - yOf(load.events))}" fill="${hottest ? '#cf222e' : '#0969da'}"><title>partition ${load.partition}: ${load.events} events, ${load.bytes} bytes</title></rect>`,
    );
  }
  const meanY = yOf(mean);
  out.push(`<line x1="${plotLeft}" y1="${fmt(meanY)}" x2="${plotLeft + plotWidth}" y2="${fmt(meanY)}" stroke="#24292f" stroke-dasharray="5 3"/>`);
  // x axis: first, middle and last partition numbers
  const xTicks = [...new Set([0, Math.floor((n - 1) / 2), n - 1])];
  for (const p of xTicks) {
    const cx = plotLeft + p * slot + slot / 2;
    out.push(`<line x1="${fmt(cx)}" y1="${baseline}" x2="${fmt(cx)}" y2="${baseline + 4}" stroke="#57606a"/>`, text(cx, baseline + 14, String(p), { anchor: 'middle', fill: '#57606a', size: 10 }));
  }
  out.push(text(plotLeft + plotWidth / 2, baseline + 27, 'partition', { anchor: 'middle', fill: '#57606a', size: 10 }));
  const hot = analysis.hotKeys[0];
  const keys = analysis.candidate.fields.length === 0 ? 'no key: round-robin' : `hottest key ${hot ? `${Math.round(hot.share * 1000) / 10}%` : '-'} of events · ${analysis.distinctKeys} keys`;
  out.push(text(x + 10, y + CELL_HEIGHT - 9, fitText(keys, 11, CELL_WIDTH - 20), { fill: '#57606a' }), '</g>');
  return out.join('\n');
}

interface TextStyle {
  size?: number;
  bold?: boolean;
  anchor?: 'start' | 'middle' | 'end';
  fill?: string;
}

function text(x: number, y: number, content: string, style: TextStyle = {}): string {
  const attributes = [
    `x="${fmt(x)}"`,
    `y="${fmt(y)}"`,
    style.size !== undefined && style.size !== 11 ? `font-size="${style.size}"` : '',
    style.bold ? 'font-weight="bold"' : '',
    style.anchor && style.anchor !== 'start' ? `text-anchor="${style.anchor}"` : '',
    style.fill ? `fill="${style.fill}"` : '',
  ].filter((a) => a !== '');
  return `<text ${attributes.join(' ')}>${escape(content)}</text>`;
}

function wrap(content: string, width: number): string[] {
  const lines: string[] = [];
  let current = '';
  for (const word of content.split(' ')) {
    if (current && current.length + 1 + word.length > width) {
      lines.push(current);
      current = word;
    } else current = current ? `${current} ${word}` : word;
  }
  if (current) lines.push(current);
  return lines;
}

const fmt = (value: number): string => (Math.round(value * 10) / 10).toString();

function escape(content: string): string {
  return content.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
