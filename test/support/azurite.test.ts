import { BlobServiceClient } from '@azure/storage-blob';
import { describe, expect, it } from 'vitest';
import { startAzurite } from './azurite.js';

async function readText(service: BlobServiceClient, container: string, name: string): Promise<string> {
  const buffer = await service.getContainerClient(container).getBlockBlobClient(name).downloadToBuffer();
  return buffer.toString('utf8');
}

describe('startAzurite', () => {
  it('serves the blob API on a free loopback port and stops', async () => {
    const azurite = await startAzurite();
    try {
      expect(azurite.blobEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1$/);
      expect(azurite.port).toBeGreaterThan(0);
      const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
      await service.getContainerClient('smoke').create();
      await service.getContainerClient('smoke').getBlockBlobClient('a/b.txt').uploadData(Buffer.from('hello'));
      expect(await readText(service, 'smoke', 'a/b.txt')).toBe('hello');
    } finally {
      await azurite.stop();
    }
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString, { retryOptions: { maxTries: 1 } });
    await expect(service.getContainerClient('smoke').exists()).rejects.toThrow();
  });

  it('keeps persistent data across an outage on the same port', async () => {
    const azurite = await startAzurite({ persistent: true });
    try {
      const service = BlobServiceClient.fromConnectionString(azurite.connectionString, { retryOptions: { maxTries: 1 } });
      await service.getContainerClient('outage').create();
      await service.getContainerClient('outage').getBlockBlobClient('kept.txt').uploadData(Buffer.from('still here'));

      await azurite.suspend();
      await expect(service.getContainerClient('outage').exists()).rejects.toThrow();
      await azurite.resume();

      expect(await readText(service, 'outage', 'kept.txt')).toBe('still here');
    } finally {
      await azurite.stop();
    }
  });
});
