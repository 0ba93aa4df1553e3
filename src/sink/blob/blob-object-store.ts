import type { ContainerClient } from '@azure/storage-blob';
import { TributaryError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { DEFAULT_RETRY, withRetry, type RetryPolicy } from '../../core/retry.js';
import type { ObjectInfo, ObjectStore } from '../object-store.js';
import { createContainerClient, describeContainer, normalizePrefix, type BlobStoreConfig } from './blob-client.js';
import { isNotFound, translateBlobError } from './blob-errors.js';
import { decodeMetadata, encodeMetadata } from './blob-metadata.js';

export interface BlobObjectStoreOptions {
  /** Backoff for transient faults. Default: DEFAULT_RETRY with up to 30 s between attempts. */
  retry?: RetryPolicy;
  /** Client-side limit for one request; uploads get one more second per MiB. Default 60 s. */
  requestTimeoutMs?: number;
  /** Objects up to this size go up in one Put Blob; larger ones as blocks committed at once. Default 8 MiB. */
  blockSize?: number;
  /** Blocks in flight per upload. Default 4. */
  concurrency?: number;
  /** Shutdown: stops waiting between retries and aborts requests in flight. */
  signal?: AbortSignal;
  logger?: Logger;
}

export const BLOB_RETRY: RetryPolicy = { ...DEFAULT_RETRY, maxAttempts: 10, maxDelayMs: 30_000 };
const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
const MIB = 1024 * 1024;
const LIST_PAGE_SIZE = 5000;

/**
 * Azure Blob Storage (or ADLS Gen2 through its blob endpoint) as an ObjectStore. A put is one Put Blob, or staged
 * blocks made visible by one Put Block List, so readers see the old blob or the new one and a failed upload leaves
 * only uncommitted blocks, which no listing shows and the service discards. Metadata is blob metadata and comes
 * back with `list`, so dead-letter counts per reason are visible without downloading anything.
 */
export class BlobObjectStore implements ObjectStore {
  readonly location: string;
  private readonly root: string;
  private readonly retry: RetryPolicy;
  private readonly requestTimeoutMs: number;
  private readonly blockSize: number;
  private readonly concurrency: number;
  private containerReady: Promise<void> | undefined;

  static fromConfig(config: BlobStoreConfig, options: BlobObjectStoreOptions = {}): BlobObjectStore {
    const client = createContainerClient(config, options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
    return new BlobObjectStore(client, config.prefix, options);
  }

  constructor(
    private readonly container: ContainerClient,
    prefix: string,
    private readonly options: BlobObjectStoreOptions = {},
  ) {
    this.root = normalizePrefix(prefix);
    this.location = describeContainer(container, this.root);
    this.retry = options.retry ?? BLOB_RETRY;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.blockSize = options.blockSize ?? 8 * MIB;
    this.concurrency = options.concurrency ?? 4;
  }

  async put(key: string, bytes: Uint8Array, metadata: Record<string, string> = {}): Promise<void> {
    const name = this.blobName(key);
    await this.attempt(`upload ${name}`, async (abortSignal) => {
      await this.containerExists(abortSignal);
      try {
        await this.container.getBlockBlobClient(name).uploadData(bytes, {
          metadata: encodeMetadata(metadata),
          maxSingleShotSize: this.blockSize,
          blockSize: this.blockSize,
          concurrency: this.concurrency,
          abortSignal,
        });
      } catch (error) {
        // The container was deleted under us: create it again on the next attempt.
        if (isNotFound(error)) this.containerReady = undefined;
        throw error;
      }
    }, this.requestTimeoutMs + Math.ceil(bytes.byteLength / MIB) * 1000);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const name = this.blobName(key);
    return this.attempt(`download ${name}`, async (abortSignal) => {
      try {
        // One ranged-less GET, not downloadToBuffer's parallel ranges: a concurrent rewrite of the same name can
        // never mix two versions into one buffer.
        const response = await this.container.getBlobClient(name).download(0, undefined, { abortSignal });
        const body = response.readableStreamBody;
        if (!body) throw new TributaryError('STORAGE_PERMANENT', `download ${name}: the response has no body`);
        const chunks: Buffer[] = [];
        for await (const chunk of body as AsyncIterable<Buffer | string>) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
        return new Uint8Array(Buffer.concat(chunks));
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    });
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const fullPrefix = this.root + prefix;
    const results: ObjectInfo[] = [];
    let continuationToken: string | undefined;
    do {
      const marker = continuationToken;
      // Page by page, each page retried on its own, so a fault late in a long listing does not restart it.
      const page = await this.attempt(`list ${fullPrefix}`, async (abortSignal) => {
        try {
          const pages = this.container
            .listBlobsFlat({ prefix: fullPrefix, includeMetadata: true, abortSignal })
            .byPage({ continuationToken: marker, maxPageSize: LIST_PAGE_SIZE });
          const next = await pages.next();
          return next.done ? undefined : next.value;
        } catch (error) {
          if (isNotFound(error)) return undefined;
          throw error;
        }
      });
      for (const item of page?.segment.blobItems ?? []) {
        // ADLS Gen2 lists its directories as empty blobs marked hdi_isfolder; they are not objects.
        if (item.metadata?.['hdi_isfolder'] === 'true') continue;
        results.push({
          key: item.name.slice(this.root.length),
          size: item.properties.contentLength ?? 0,
          metadata: decodeMetadata(item.metadata),
        });
      }
      continuationToken = page?.continuationToken || undefined;
    } while (continuationToken);
    return results.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    const name = this.blobName(key);
    await this.attempt(`delete ${name}`, async (abortSignal) => {
      try {
        await this.container.getBlobClient(name).deleteIfExists({ abortSignal });
      } catch (error) {
        if (isNotFound(error)) return;
        throw error;
      }
    });
  }

  /** Creates the container when it does not exist yet (put does this by itself before its first upload). */
  async ensureContainer(): Promise<void> {
    await this.attempt(`create container ${this.location}`, (abortSignal) => this.containerExists(abortSignal));
  }

  /** Once per store; again only after a failure or after the container vanished. */
  private containerExists(abortSignal: AbortSignal): Promise<void> {
    this.containerReady ??= this.createContainer(abortSignal).catch((error: unknown) => {
      this.containerReady = undefined;
      throw error;
    });
    return this.containerReady;
  }

  private async createContainer(abortSignal: AbortSignal): Promise<void> {
    // exists() first: an identity with only data-plane rights may read an existing container but not create one.
    if (await this.container.exists({ abortSignal })) return;
    await this.container.createIfNotExists({ abortSignal });
  }

  private blobName(key: string): string {
    if (key.length === 0 || key.split('/').some((part) => part === '..' || part === '.')) {
      throw new TypeError(`invalid object key: "${key}"`);
    }
    return this.root + key;
  }

  private requestSignal(timeoutMs: number): AbortSignal {
    const timeout = AbortSignal.timeout(timeoutMs);
    return this.options.signal ? AbortSignal.any([this.options.signal, timeout]) : timeout;
  }

  /** One storage operation under our retry policy, each attempt with its own timeout, errors translated. */
  private attempt<T>(action: string, operation: (abortSignal: AbortSignal) => Promise<T>, timeoutMs = this.requestTimeoutMs): Promise<T> {
    return withRetry(
      async () => {
        try {
          return await operation(this.requestSignal(timeoutMs));
        } catch (error) {
          throw translateBlobError(error, action, this.options.signal);
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
}
