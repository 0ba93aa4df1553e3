/**
 * Maps what the Event Hubs SDK and the checkpoint store throw onto TributaryError:
 * - MessagingError (core-amqp): `UnauthorizedError` -> AUTHENTICATION_FAILED; a missing hub or consumer group,
 *   or an argument the service refuses -> CONFIG_INVALID; `ReceiverDisconnectedError` (another reader with an
 *   equal or higher owner level took the partition) -> OWNERSHIP_LOST; `retryable` ones -> BROKER_TRANSIENT;
 *   the rest BROKER_PERMANENT;
 * - RestError (storage, the checkpoint store): 401/403 -> AUTHENTICATION_FAILED, 404 -> STORAGE_PERMANENT (the
 *   container is missing), 408/429/5xx or no status (network) -> STORAGE_TRANSIENT, other 4xx STORAGE_PERMANENT;
 * - Node socket errors -> BROKER_TRANSIENT; AbortError -> ABORTED.
 */
import { TributaryError, errorMessage, type ErrorCode } from '../../core/errors.js';

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  retryable?: unknown;
  statusCode?: unknown;
}

const CONFIG_CODES = new Set([
  'MessagingEntityNotFoundError',
  'ArgumentError',
  'ArgumentOutOfRangeError',
  'MessagingEntityDisabledError',
  'InvalidOperationError',
]);
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

export function translateEventHubsError(error: unknown, doing: string): TributaryError {
  if (error instanceof TributaryError) return error;
  const e = (typeof error === 'object' && error !== null ? error : {}) as ErrorLike;
  const message = `${doing}: ${errorMessage(error)}`;
  return new TributaryError(classify(e), message, { cause: error });
}

function classify(e: ErrorLike): ErrorCode {
  const name = String(e.name ?? '');
  const code = typeof e.code === 'string' ? e.code : '';
  if (name === 'AbortError') return 'ABORTED';
  if (name === 'RestError') return classifyStorage(typeof e.statusCode === 'number' ? e.statusCode : undefined, code);
  if (code === 'UnauthorizedError') return 'AUTHENTICATION_FAILED';
  if (code === 'ReceiverDisconnectedError') return 'OWNERSHIP_LOST';
  if (CONFIG_CODES.has(code)) return 'CONFIG_INVALID';
  if (SOCKET_CODES.has(code)) return 'BROKER_TRANSIENT';
  if (name === 'CredentialUnavailableError' || name === 'AuthenticationError') return 'AUTHENTICATION_FAILED';
  if (e.retryable === true) return 'BROKER_TRANSIENT';
  return 'BROKER_PERMANENT';
}

function classifyStorage(status: number | undefined, code: string): ErrorCode {
  if (status === 401 || status === 403) return 'AUTHENTICATION_FAILED';
  if (status === undefined || status === 408 || status === 429 || status >= 500) return 'STORAGE_TRANSIENT';
  if (code === 'ConditionNotMet' || code === 'BlobAlreadyExists') return 'OWNERSHIP_LOST';
  return 'STORAGE_PERMANENT';
}

/**
 * Faults no amount of waiting fixes: the run stops with them. Everything else (a dropped connection, a busy
 * service, a storage blip, a stolen partition) the SDK's own loop recovers from.
 */
export function stopsTheRun(error: TributaryError): boolean {
  if (error.code === 'ABORTED') return false;
  return error.code === 'AUTHENTICATION_FAILED' || error.code === 'CONFIG_INVALID' || error.code === 'STORAGE_PERMANENT' || error.fault === 'internal';
}
