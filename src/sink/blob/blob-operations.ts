import type { ContainerClient } from '@azure/storage-blob';
import type { Logger } from '../../core/log.js';
import { DEFAULT_RETRY, withRetry, type RetryPolicy } from '../../core/retry.js';
import { TributaryError } from '../../core/errors.js';
import { translateBlobError } from './blob-errors.js';

export interface BlobOperationOptions {
  /** Backoff for transient faults. Default BLOB_RETRY. */
  retry?: RetryPolicy;
  /** Client-side limit for one request. Default 60 s. */
  requestTimeoutMs?: number;
  /** Shutdown: stops waiting between retries and aborts requests in flight. */
  signal?: AbortSignal;
  logger?: Logger;
  /** Every failed attempt, the retried ones and the last (tributary_errors_total counts them). */
  onFailure?: (error: unknown) => void;
}

/** Patient enough to ride out a storage failover or a throttling burst (about half a minute of backoff on average). */
export const BLOB_RETRY: RetryPolicy = { ...DEFAULT_RETRY, maxAttempts: 10, maxDelayMs: 30_000 };
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

/**
 * What every blob-backed store does around a request: a timeout per attempt, our retry policy, SDK errors
 * translated to TributaryError, and the container created once before the first write.
 */
export class BlobOperations {
  readonly requestTimeoutMs: number;
  private readonly retry: RetryPolicy;
  private containerReady: Promise<void> | undefined;

  constructor(
    readonly container: ContainerClient,
    readonly location: string,
    private readonly options: BlobOperationOptions = {},
  ) {
    this.retry = options.retry ?? BLOB_RETRY;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  /** One storage operation under the retry policy; each attempt gets its own abort signal (timeout + shutdown). */
  run<T>(action: string, operation: (abortSignal: AbortSignal) => Promise<T>, timeoutMs = this.requestTimeoutMs): Promise<T> {
    return withRetry(
      async () => {
        try {
          return await operation(this.requestSignal(timeoutMs));
        } catch (error) {
          const translated = translateBlobError(error, action, this.options.signal);
          if (!(translated instanceof TributaryError && translated.code === 'ABORTED')) this.options.onFailure?.(translated);
          throw translated;
        }
      },
      {
        policy: this.retry,
        signal: this.options.signal,
        onRetry: (error, attempt, delayMs) => {
          this.options.logger?.warn(
            { store: this.location, action, attempt, delayMs, err: error instanceof Error ? error.message : String(error) },
            'transient blob storage fault, retrying',
          );
        },
      },
    );
  }

  /** Creates the container if it is missing; once per store, again after a failure or `forgetContainer()`. */
  ensureContainer(abortSignal: AbortSignal): Promise<void> {
    this.containerReady ??= this.createContainer(abortSignal).catch((error: unknown) => {
      this.containerReady = undefined;
      throw error;
    });
    return this.containerReady;
  }

  /** The container vanished under us (a 404 on write): check again before the next write. */
  forgetContainer(): void {
    this.containerReady = undefined;
  }

  private async createContainer(abortSignal: AbortSignal): Promise<void> {
    // exists() first: an identity with only data-plane rights may use an existing container but not create one.
    if (await this.container.exists({ abortSignal })) return;
    await this.container.createIfNotExists({ abortSignal });
  }

  private requestSignal(timeoutMs: number): AbortSignal {
    const timeout = AbortSignal.timeout(timeoutMs);
    return this.options.signal ? AbortSignal.any([this.options.signal, timeout]) : timeout;
  }
}
