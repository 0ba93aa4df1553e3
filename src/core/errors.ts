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
  | 'PARTITION_FAILED'
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
  PARTITION_FAILED: 'external',
  ABORTED: 'internal',
  INTERNAL: 'internal',
};

export class TributaryError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly fault: FaultOwner;
  /** how long the service asked us to wait before the next attempt (HTTP Retry-After), when it did */
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retryAfterMs?: number | undefined }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'TributaryError';
    this.code = code;
    this.retriable = RETRIABLE.has(code);
    this.fault = OWNER[code];
    this.retryAfterMs = options?.retryAfterMs;
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

/**
 * What a failed partition means for the run. A transient fault that outlasted the store's retries restarts the
 * partition (its processor is discarded, its snapshot restored, its events read again): PARTITION_FAILED, with
 * the fault as cause. Anything else stops the run: permanent and configuration faults as they are, everything
 * that is not a TributaryError as INTERNAL (a bug must stop loudly, not loop).
 */
export function partitionFailure(where: string, error: unknown): TributaryError {
  if (error instanceof TributaryError) {
    if (error.code === 'PARTITION_FAILED' || error.code === 'ABORTED' || error.code === 'OWNERSHIP_LOST') return error;
    if (error.retriable) return new TributaryError('PARTITION_FAILED', `${where} failed (${error.message}); it restarts from its last snapshot`, { cause: error });
    return error;
  }
  return new TributaryError('INTERNAL', `${where}: ${errorMessage(error)}`, { cause: error });
}

/** The source should release the partition and assign it again (see partitionFailure). */
export function isRestartable(error: unknown): boolean {
  return error instanceof TributaryError && error.code === 'PARTITION_FAILED';
}

/** Ends of work that are not failures: an abort on shutdown, or ownership that moved to another owner. */
export function isStop(error: unknown): boolean {
  return error instanceof TributaryError && (error.code === 'ABORTED' || error.code === 'OWNERSHIP_LOST');
}
