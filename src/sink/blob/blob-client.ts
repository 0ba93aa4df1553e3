import type { BlobServiceClient, ContainerClient, StoragePipelineOptions } from '@azure/storage-blob';
import type { StoreConfig } from '../../config/schema.js';
import { TributaryError, errorMessage } from '../../core/errors.js';
import { redactSecrets } from './blob-errors.js';
import { identitySdk, storageBlobSdk } from './sdk.js';

export type BlobStoreConfig = Extract<StoreConfig, { kind: 'blob' }>;

/**
 * The SDK tries once; src/core/retry.ts decides about retries, so backoff, jitter and the give-up point are ours
 * and are the same for every store. The server-side timeout bounds one request on the service's end.
 */
export function pipelineOptions(requestTimeoutMs: number): StoragePipelineOptions {
  return { retryOptions: { maxTries: 1, tryTimeoutInMs: requestTimeoutMs } };
}

/**
 * A client for the configured container: a connection string (account key or SAS), or an account URL
 * authenticated with DefaultAzureCredential (managed identity, workload identity, Azure CLI, ...). The blob
 * endpoint is used for ADLS Gen2 (hierarchical namespace) accounts as well.
 */
export function createContainerClient(config: BlobStoreConfig, requestTimeoutMs: number): ContainerClient {
  const options = pipelineOptions(requestTimeoutMs);
  let service: BlobServiceClient;
  const { BlobServiceClient } = storageBlobSdk();
  try {
    if (config.connectionString) {
      service = BlobServiceClient.fromConnectionString(config.connectionString, options);
    } else if (config.accountUrl) {
      service = new BlobServiceClient(config.accountUrl, new (identitySdk().DefaultAzureCredential)(), options);
    } else {
      throw new TributaryError('CONFIG_INVALID', 'blob store: set exactly one of connectionString or accountUrl');
    }
  } catch (error) {
    if (error instanceof TributaryError) throw error;
    // The SDK's messages about a malformed connection string do not echo it; redacted all the same.
    throw new TributaryError('CONFIG_INVALID', redactSecrets(`blob store for container "${config.container}": ${errorMessage(error)}`), { cause: error });
  }
  return service.getContainerClient(config.container);
}

/** The container URL without its query string, so a SAS token never reaches a log line. */
export function describeContainer(client: ContainerClient, prefix = ''): string {
  const url = new URL(client.url);
  url.search = '';
  const base = url.toString().replace(/\/$/, '');
  return prefix ? `${base}/${prefix.replace(/^\/+/, '')}` : base;
}

/** `''` or a prefix ending in exactly one `/`, so keys join without doubled or missing slashes. */
export function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, '');
  return trimmed ? `${trimmed}/` : '';
}
