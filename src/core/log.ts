import { pino, destination, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Logs for machines: one JSON object per line with a string level ("info", not 30) and an ISO time (not epoch
 * milliseconds), pino's standard options, so log stores and people read them without a lookup table. Partition-
 * scoped code logs through child loggers carrying `stream` and `partition`.
 */
export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: ['*.connectionString', '*.password', '*.accountKey', '*.sasToken'], censor: '[redacted]' },
  };
}

/** Logs go to stderr so stdout stays for command output (summaries, reports). */
export function createLogger(level: string = process.env.TRIBUTARY_LOG_LEVEL || 'info', to: DestinationStream = destination(2)): Logger {
  return pino(loggerOptions(level), to);
}
