/**
 * The Azure storage SDKs, loaded on first use: a run on a local lake never pays for them (~0.8 s and ~25 MiB
 * for @azure/storage-blob and @azure/identity together, measured with `node -e "import(...)"`).
 *
 * `require` rather than `import()`: creating a store is synchronous and validates its config there (a malformed
 * connection string is a config error at startup, not at the first upload), so the SDK must load synchronously.
 * Every SDK this directory uses comes through here, so one copy (the CommonJS build) is loaded; errors are
 * recognised by shape (blob-errors.ts), never by class, so either build's errors translate the same.
 */
import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

export type StorageBlobSdk = typeof import('@azure/storage-blob');
export type IdentitySdk = typeof import('@azure/identity');
export type CheckpointStoreBlobSdk = typeof import('@azure/eventhubs-checkpointstore-blob');

export const storageBlobSdk = (): StorageBlobSdk => load('@azure/storage-blob') as StorageBlobSdk;
export const identitySdk = (): IdentitySdk => load('@azure/identity') as IdentitySdk;
export const checkpointStoreBlobSdk = (): CheckpointStoreBlobSdk => load('@azure/eventhubs-checkpointstore-blob') as CheckpointStoreBlobSdk;
