/**
 * One error type for the whole worker, classified on two axes (see STYLE.md):
 * - `retriable`: transient faults are retried with backoff and jitter, never dead-lettered for being transient;
 * - `fault`: whose fault it is. `data` = the event itself is bad (dead-letter it now), `external` = a dependency
 *   misbehaved (back off, retry), `config` = the operator must fix something (fail before work), `internal` = a bug
 *   (crash loudly).
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'INPUT_MISSING'
  | 'INPUT_UNREADABLE'
  | 'DECODE_FAILED'
  | 'SCHEMA_MISMATCH'
  | 'EVENT_TOO_LARGE'
  | 'STORAGE_TRANSIENT'
  | 'STORAGE_PERMANENT'
  | 'BROKER_TRANSIENT'
  | 'BROKER_PERMANENT'
  | 'AUTHENTICATION_FAILED'
  | 'OWNERSHIP_LOST'
  | 'ABORTED'
  | 'INTERNAL';

export type FaultOwner = 'data' | 'external' | 'config' | 'internal';

const RETRIABLE: ReadonlySet<ErrorCode> = new Set(['STORAGE_TRANSIENT', 'BROKER_TRANSIENT']);
const OWNER: Record<ErrorCode, FaultOwner> = {
  CONFIG_INVALID: 'config',
  INPUT_MISSING: 'config',
  INPUT_UNREADABLE: 'external',
  DECODE_FAILED: 'data',
  SCHEMA_MISMATCH: 'data',
  EVENT_TOO_LARGE: 'data',
  STORAGE_TRANSIENT: 'external',
  STORAGE_PERMANENT: 'external',
  BROKER_TRANSIENT: 'external',
  BROKER_PERMANENT: 'external',
  AUTHENTICATION_FAILED: 'config',
  OWNERSHIP_LOST: 'external',
  ABORTED: 'internal',
  INTERNAL: 'internal',
};

export class TributaryError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly fault: FaultOwner;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TributaryError';
    this.code = code;
    this.retriable = RETRIABLE.has(code);
    this.fault = OWNER[code];
  }
}

export function isRetriable(error: unknown): boolean {
  return error instanceof TributaryError && error.retriable;
}

/** Programming errors are never retried (STYLE.md: TypeError, RangeError crash loudly). */
export function isProgrammingError(error: unknown): boolean {
  return error instanceof TypeError || error instanceof RangeError || error instanceof SyntaxError;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function abortError(signal: AbortSignal): TributaryError {
  return new TributaryError('ABORTED', 'operation aborted', { cause: signal.reason });
}
