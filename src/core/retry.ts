import { isProgrammingError, isRetriable, abortError } from './errors.js';

export interface RetryPolicy {
  /** attempts in all, the first included */
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  /** multiplier per attempt */
  factor: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 8, initialDelayMs: 100, maxDelayMs: 10_000, factor: 2 };

/** Full jitter (AWS architecture blog): a uniform delay in [0, capped exponential). */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** (attempt - 1));
  return Math.floor(random() * exp);
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
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (isProgrammingError(error) || !classify(error) || attempt >= policy.maxAttempts) throw error;
      if (options.signal?.aborted) throw abortError(options.signal);
      const delay = backoffDelay(policy, attempt);
      options.onRetry?.(error, attempt, delay);
      await sleep(delay, options.signal);
    }
  }
}

