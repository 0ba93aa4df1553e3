import { isProgrammingError, isRetriable, abortError } from './errors.js';

export interface RetryPolicy {
  /** attempts in all, the first included */
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  /** multiplier per attempt */
  factor: number;
  /** stop retrying once this much time has passed since the first attempt (whatever maxAttempts says) */
  budgetMs?: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 8, initialDelayMs: 100, maxDelayMs: 10_000, factor: 2 };

/** Full jitter (AWS architecture blog): a uniform delay in [0, capped exponential). */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** (attempt - 1));
  return Math.floor(random() * exp);
}

/** The policy a `retry` config section describes: as many attempts as fit in the budget. */
export function retryPolicyFromConfig(config: { initialDelay: number; maxDelay: number; budget: number }): RetryPolicy {
  return { maxAttempts: Number.MAX_SAFE_INTEGER, initialDelayMs: config.initialDelay, maxDelayMs: config.maxDelay, factor: 2, budgetMs: config.budget };
}

/** A delay the service asked for (HTTP Retry-After, throttling), carried on the error or its cause. */
export function requestedDelayMs(error: unknown): number | undefined {
  for (let current: unknown = error, depth = 0; current !== undefined && current !== null && depth < 4; depth++) {
    const value = (current as { retryAfterMs?: unknown }).retryAfterMs;
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal!));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `operation` until it succeeds, retrying only errors `classify` marks transient (by default
 * TributaryError.retriable). Programming errors and permanent errors propagate at once.
 */
export async function withRetry<T>(
  operation: (attempt: number) => Promise<T>,
  options: {
    policy?: RetryPolicy;
    signal?: AbortSignal;
    classify?: (error: unknown) => boolean;
    onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  } = {},
): Promise<T> {
  const policy = options.policy ?? DEFAULT_RETRY;
  const classify = options.classify ?? isRetriable;
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (isProgrammingError(error) || !classify(error) || attempt >= policy.maxAttempts) throw error;
      if (options.signal?.aborted) throw abortError(options.signal);
      // Full jitter, but never sooner than the service asked for, nor past the budget.
      let delay = Math.max(backoffDelay(policy, attempt), requestedDelayMs(error) ?? 0);
      if (policy.budgetMs !== undefined) {
        const left = policy.budgetMs - (Date.now() - started);
        if (left <= 0) throw error;
        delay = Math.min(delay, left);
      }
      options.onRetry?.(error, attempt, delay);
      await sleep(delay, options.signal);
    }
  }
}

