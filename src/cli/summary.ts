import type { RunSummary } from '../runtime/worker.js';
import type { RunTotals } from '../runtime/observer.js';

const number = (n: number): string => n.toLocaleString('en-US');

export function formatProgress(totals: RunTotals, elapsedMs: number): string {
  const rate = totals.eventsRead / Math.max(elapsedMs / 1000, 0.001);
  const dead = [...totals.deadLettersByReason.values()].reduce((a, b) => a + b, 0);
  return `… ${number(totals.eventsRead)} events read, ${number(dead)} dead-lettered, ${number(Math.round(rate))} events/s, ${(elapsedMs / 1000).toFixed(1)} s`;
}

export function formatSummary(summary: RunSummary): string {
  const { totals } = summary;
  const seconds = summary.elapsedMs / 1000;
  const lines = [
    'Tributary run summary',
    `  source:            ${summary.source}`,
    `  events read:       ${number(totals.eventsRead)}`,
    `  duplicates:        ${number(totals.duplicatesDropped)} (redeliveries counted once)`,
    `  elapsed:           ${seconds.toFixed(1)} s`,
    `  throughput:        ${number(Math.round(totals.eventsRead / Math.max(seconds, 0.001)))} events/s`,
    '  rows landed per table:',
    ...[...totals.rowsPerTable].sort().map(([table, rows]) => `    ${table.padEnd(28)} ${number(rows)}`),
    '  files written per table:',
    ...[...totals.filesPerTable].sort().map(([table, files]) => `    ${table.padEnd(28)} ${number(files.size)}`),
    '  dead letters by reason:',
    ...(totals.deadLettersByReason.size === 0
      ? ['    (none)']
      : [...totals.deadLettersByReason].sort().map(([reason, count]) => `    ${reason.padEnd(28)} ${number(count)}`)),
    `  lake:              ${summary.lake}`,
    `  dead letters:      ${summary.deadLetters}`,
  ];
  return lines.join('\n');
}
