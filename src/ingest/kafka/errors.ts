/**
 * Maps kafkajs errors onto TributaryError: authentication and authorization failures are the operator's to fix
 * (AUTHENTICATION_FAILED, never retried), errors kafkajs marks retriable are BROKER_TRANSIENT, the rest
 * BROKER_PERMANENT. kafkajs wraps the original cause (retries exceeded, aggregate errors), so the whole cause chain
 * is searched for an authentication failure before the outer error's retriable flag is trusted.
 */
import { TributaryError, errorMessage } from '../../core/errors.js';

interface KafkaJsErrorLike {
  name?: unknown;
  type?: unknown;
  code?: unknown;
  retriable?: unknown;
  cause?: unknown;
  originalError?: unknown;
}

const AUTH_ERROR_NAMES = new Set(['KafkaJSSASLAuthenticationError']);
const AUTH_PROTOCOL_TYPES = new Set([
  'SASL_AUTHENTICATION_FAILED',
  'UNSUPPORTED_SASL_MECHANISM',
  'ILLEGAL_SASL_STATE',
  'TOPIC_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
]);
/** Node's TLS verification codes: the broker's identity could not be established. */
const TLS_CODES = /^(CERT_|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|DEPTH_ZERO_SELF_SIGNED|SELF_SIGNED_CERT|ERR_TLS_CERT|ERR_SSL_)/;

const AUTH_HINT =
  'check source.sasl (Event Hubs: mechanism plain, username "$ConnectionString", password = the connection string; or oauthbearer with a role on the namespace) and source.tls';

function causes(error: unknown): KafkaJsErrorLike[] {
  const chain: KafkaJsErrorLike[] = [];
  let current: unknown = error;
  while (current !== null && typeof current === 'object' && chain.length < 10) {
    const link = current as KafkaJsErrorLike;
    chain.push(link);
    current = link.cause ?? link.originalError;
  }
  return chain;
}

export function isAuthenticationError(error: unknown): boolean {
  return causes(error).some(
    (e) =>
      AUTH_ERROR_NAMES.has(String(e.name)) ||
      AUTH_PROTOCOL_TYPES.has(String(e.type)) ||
      (typeof e.code === 'string' && TLS_CODES.test(e.code)),
  );
}

function isRetriable(error: unknown): boolean {
  const chain = causes(error);
  const outer = chain[0];
  if (!outer) return false;
  // kafkajs gives up after its own retries with a non-retriable wrapper around a retriable cause: the fault is
  // still transient (the broker may come back), so the innermost cause decides.
  if (outer.name === 'KafkaJSNumberOfRetriesExceeded') return chain[chain.length - 1]?.retriable === true;
  return outer.retriable === true;
}

/** A TributaryError for anything kafkajs threw; TributaryErrors pass through. `context` says what was being done. */
export function translateKafkaError(error: unknown, context: string): TributaryError {
  if (error instanceof TributaryError) return error;
  const detail = errorMessage(error);
  if (isAuthenticationError(error)) {
    return new TributaryError('AUTHENTICATION_FAILED', `kafka: ${context}: authentication failed: ${detail}; ${AUTH_HINT}`, { cause: error });
  }
  const code = isRetriable(error) ? 'BROKER_TRANSIENT' : 'BROKER_PERMANENT';
  return new TributaryError(code, `kafka: ${context}: ${detail}`, { cause: error });
}

/** Group-membership errors after which this member no longer speaks for its partitions. */
export function isMembershipLost(error: unknown): boolean {
  return causes(error).some((e) => ['UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'REBALANCE_IN_PROGRESS'].includes(String(e.type)));
}
