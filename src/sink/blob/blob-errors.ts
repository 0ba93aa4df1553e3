import { TributaryError, errorMessage, isProgrammingError } from '../../core/errors.js';

/**
 * Maps what `@azure/storage-blob` and `@azure/identity` throw onto TributaryError. Transient: timeouts, refused or
 * reset connections, 408, 429 and 5xx (STORAGE_TRANSIENT, retried by src/core/retry.ts). Authentication failures are
 * the operator's to fix. Every other 4xx is STORAGE_PERMANENT. Messages carry the SDK's message and status only:
 * RestError keeps its request (with the Authorization header) non-enumerable, and we never copy it.
 */
const TRANSIENT_NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'REQUEST_SEND_ERROR',
]);

interface ErrorShape {
  name?: unknown;
  code?: unknown;
  statusCode?: unknown;
  cause?: unknown;
}

function shape(error: unknown): ErrorShape {
  return typeof error === 'object' && error !== null ? (error as ErrorShape) : {};
}

export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** A network failure anywhere in the cause chain (the SDK wraps socket errors in RestError REQUEST_SEND_ERROR). */
function networkCode(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current !== undefined && depth < 5; depth++) {
    const code = shape(current).code;
    if (typeof code === 'string' && TRANSIENT_NETWORK_CODES.has(code)) return code;
    current = shape(current).cause;
  }
  return undefined;
}

/**
 * @param action what was being done, for the message, e.g. `upload lake/orders_raw/...parquet`
 * @param shutdown the store's shutdown signal: an abort caused by it is ABORTED, any other abort is our per-request
 *   timeout and so transient
 */
export function translateBlobError(error: unknown, action: string, shutdown?: AbortSignal): unknown {
  if (error instanceof TributaryError || isProgrammingError(error)) return error;
  const { name, statusCode } = shape(error);
  const message = redactSecrets(`${action}: ${errorMessage(error)}`);
  if (name === 'AbortError' || name === 'TimeoutError') {
    if (shutdown?.aborted) return new TributaryError('ABORTED', `${action}: aborted`, { cause: error });
    return new TributaryError('STORAGE_TRANSIENT', `${action}: timed out`, { cause: error });
  }
  if (name === 'CredentialUnavailableError' || name === 'AggregateAuthenticationError' || name === 'AuthenticationRequiredError') {
    return new TributaryError('AUTHENTICATION_FAILED', message, { cause: error });
  }
  if (typeof statusCode === 'number') {
    if (isTransientStatus(statusCode)) {
      return new TributaryError('STORAGE_TRANSIENT', `${message} (HTTP ${statusCode})`, { cause: error, retryAfterMs: retryAfterMs(error) });
    }
    if (statusCode === 401 || statusCode === 403 || name === 'AuthenticationError') {
      return new TributaryError('AUTHENTICATION_FAILED', `${message} (HTTP ${statusCode})`, { cause: error });
    }
    return new TributaryError('STORAGE_PERMANENT', `${message} (HTTP ${statusCode})`, { cause: error });
  }
  if (name === 'AuthenticationError') return new TributaryError('AUTHENTICATION_FAILED', message, { cause: error });
  const network = networkCode(error);
  if (network) return new TributaryError('STORAGE_TRANSIENT', `${message} (${network})`, { cause: error });
  return new TributaryError('STORAGE_PERMANENT', message, { cause: error });
}

/**
 * SDK messages may quote a request URL, and with a SAS connection string the URL carries the signature; an account
 * key has no business in a message either. Both are cut before a message can reach a log.
 */
export function redactSecrets(text: string): string {
  return text.replace(/([?&]sig=)[^&\s"']+/gi, '$1[redacted]').replace(/(AccountKey=)[^;\s"']+/gi, '$1[redacted]');
}

/** The Retry-After header of a throttled or unavailable response (seconds, or an HTTP date), in ms. */
export function retryAfterMs(error: unknown): number | undefined {
  const headers = (error as { response?: { headers?: { get?: (name: string) => string | undefined } } }).response?.headers;
  const value = typeof headers?.get === 'function' ? headers.get('retry-after') : undefined;
  if (value === undefined || value === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** A 404 from the service: `BlobNotFound` or `ContainerNotFound`. */
export function isNotFound(error: unknown): boolean {
  return shape(error).statusCode === 404;
}
