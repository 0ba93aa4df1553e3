import type { ContainerClient } from '@azure/storage-blob';
import { TributaryError } from '../../core/errors.js';
import { EPOCH_METADATA, type Fence, type ObjectInfo, type ObjectStore, type StagedUpload } from '../../core/object-store.js';
import { createContainerClient, describeContainer, normalizePrefix, type BlobStoreConfig } from './blob-client.js';
import { isNotFound } from './blob-errors.js';
import { TributaryError as FenceError } from '../../core/errors.js';
import { decodeMetadata, encodeMetadata } from './blob-metadata.js';
import { BlobOperations, DEFAULT_REQUEST_TIMEOUT_MS, type BlobOperationOptions } from './blob-operations.js';
import { BlobUpload } from './blob-upload.js';

export interface BlobObjectStoreOptions extends BlobOperationOptions {
  /** Objects up to this size go up in one Put Blob; larger ones as blocks committed at once. Default 8 MiB. */
  blockSize?: number;
  /** Blocks in flight per upload. Default 4. */
  concurrency?: number;
}

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
  private readonly ops: BlobOperations;
  private readonly blockSize: number;
  private readonly concurrency: number;

  static fromConfig(config: BlobStoreConfig, options: BlobObjectStoreOptions = {}): BlobObjectStore {
    const client = createContainerClient(config, options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
    return new BlobObjectStore(client, config.prefix, options);
  }

  constructor(container: ContainerClient, prefix: string, options: BlobObjectStoreOptions = {}) {
    this.root = normalizePrefix(prefix);
    this.location = describeContainer(container, this.root);
    this.ops = new BlobOperations(container, this.location, options);
    this.blockSize = options.blockSize ?? 8 * MIB;
    this.concurrency = options.concurrency ?? 4;
  }

  async put(key: string, bytes: Uint8Array, metadata: Record<string, string> = {}): Promise<void> {
    const name = this.blobName(key);
    // Big uploads get one more second per MiB on top of the request timeout.
    const timeoutMs = this.ops.requestTimeoutMs + Math.ceil(bytes.byteLength / MIB) * 1000;
    await this.ops.run(`upload ${name}`, async (abortSignal) => {
      await this.ops.ensureContainer(abortSignal);
      try {
        await this.ops.container.getBlockBlobClient(name).uploadData(bytes, {
          metadata: encodeMetadata(metadata),
          maxSingleShotSize: this.blockSize,
          blockSize: this.blockSize,
          concurrency: this.concurrency,
          abortSignal,
        });
      } catch (error) {
        if (isNotFound(error)) this.ops.forgetContainer();
        throw error;
      }
    }, timeoutMs);
  }

  /**
   * Read the blob's epoch and etag, refuse if a newer owner wrote it, else upload on the condition that the blob
   * is still the one read (If-Match, or If-None-Match * when absent). A lost race (412/409) reads again.
   */
  async putFenced(key: string, bytes: Uint8Array, metadata: Record<string, string>, fence: Fence): Promise<void> {
    const name = this.blobName(key);
    const timeoutMs = this.ops.requestTimeoutMs + Math.ceil(bytes.byteLength / MIB) * 1000;
    await this.ops.run(`upload ${name} (epoch ${fence.epoch})`, async (abortSignal) => {
      await this.ops.ensureContainer(abortSignal);
      const blob = this.ops.container.getBlockBlobClient(name);
      for (;;) {
        let etag: string | undefined;
        let existing = Number.NEGATIVE_INFINITY;
        try {
          const properties = await blob.getProperties({ abortSignal });
          etag = properties.etag;
          const stored = decodeMetadata(properties.metadata)[EPOCH_METADATA];
          if (stored !== undefined) existing = Number(stored);
        } catch (error) {
          if (!isNotFound(error)) throw error;
        }
        if (existing > fence.epoch || (fence.claim === true && existing >= fence.epoch)) {
          throw new FenceError('OWNERSHIP_LOST', `${name} was written by a newer owner (epoch ${existing}; ours is ${fence.epoch}): this owner no longer owns its partition`);
        }
        try {
          await blob.uploadData(bytes, {
            metadata: encodeMetadata({ ...metadata, [EPOCH_METADATA]: String(fence.epoch) }),
            conditions: etag !== undefined ? { ifMatch: etag } : { ifNoneMatch: '*' },
            maxSingleShotSize: this.blockSize,
            blockSize: this.blockSize,
            concurrency: this.concurrency,
            abortSignal,
          });
          return;
        } catch (error) {
          const status = (error as { statusCode?: number }).statusCode;
          if (status === 412 || status === 409) continue;
          if (isNotFound(error)) this.ops.forgetContainer();
          throw error;
        }
      }
    }, timeoutMs);
  }

  /** Parts as blocks (Put Block), made visible by a fenced Put Block List: see BlobUpload. */
  openUpload(key: string, fence: Fence): StagedUpload {
    return new BlobUpload(this.ops, key, this.blobName(key), fence);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const name = this.blobName(key);
    return this.ops.run(`download ${name}`, async (abortSignal) => {
      try {
        // One GET of the whole blob, not downloadToBuffer's parallel ranges: a concurrent rewrite of the same name
        // can never mix two versions into one buffer.
        const response = await this.ops.container.getBlobClient(name).download(0, undefined, { abortSignal });
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
      const page = await this.ops.run(`list ${fullPrefix}`, async (abortSignal) => {
        try {
          const pages = this.ops.container
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
    await this.ops.run(`delete ${name}`, async (abortSignal) => {
      try {
        await this.ops.container.getBlobClient(name).deleteIfExists({ abortSignal });
      } catch (error) {
        if (isNotFound(error)) return;
        throw error;
      }
    });
  }

  /** Creates the container when it does not exist yet (put does this by itself before its first upload). */
  async ensureContainer(): Promise<void> {
    await this.ops.run(`create container ${this.location}`, (abortSignal) => this.ops.ensureContainer(abortSignal));
  }

  private blobName(key: string): string {
    if (key.length === 0 || key.split('/').some((part) => part === '..' || part === '.')) {
      throw new TypeError(`invalid object key: "${key}"`);
    }
    return this.root + key;
  }
}
