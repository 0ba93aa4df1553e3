import { pino, destination, type Logger } from 'pino';

export type { Logger };

/** Logs go to stderr so stdout stays for command output (summaries, reports). */
export function createLogger(level: string = process.env.TRIBUTARY_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: undefined, redact: { paths: ['*.connectionString', '*.password', '*.accountKey', '*.sasToken'], censor: '[redacted]' } }, destination(2));
}
