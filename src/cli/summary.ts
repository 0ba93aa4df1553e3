import type { RunSummary } from '../runtime/worker.js';

const number = (n: number): string => n.toLocaleString('en-US');

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
