/**
 * The SDK's CheckpointStore (ownership + checkpoints) on the local file system, for single-instance local runs.
 * It mirrors @azure/eventhubs-checkpointstore-blob: the same folder layout
 * (`<namespace>/<hub>/<group>/{ownership,checkpoint}/<partition>`, names lower-cased), a claim with an etag only
 * succeeds while the record still has that etag (otherwise it is silently not claimed, as on a 412), and a claim
 * without one overwrites. The etag is a hash of the record's content, which includes the claim time, so every
 * write changes it.
 *
 * Claims are serialised inside this process; the compare-and-swap is not atomic across processes, which is why
 * this store is for one instance. Scale-out uses the blob store.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Checkpoint, CheckpointStore, PartitionOwnership } from '@azure/event-hubs';
import { TributaryError, errorMessage } from '../../core/errors.js';

interface OwnershipRecord {
  ownerId: string;
  lastModifiedTimeInMs: number;
}

interface CheckpointRecord {
  sequenceNumber: number;
  offset: string;
}

type Kind = 'ownership' | 'checkpoint';

export class LocalCheckpointStore implements CheckpointStore {
  readonly location: string;
  private claims: Promise<unknown> = Promise.resolve();

  constructor(root: string, private readonly now: () => number = Date.now) {
    this.location = path.resolve(root);
  }

  async listOwnership(fullyQualifiedNamespace: string, eventHubName: string, consumerGroup: string): Promise<PartitionOwnership[]> {
    const scope = { fullyQualifiedNamespace, eventHubName, consumerGroup };
    const records = await this.readAll<OwnershipRecord>(scope, 'ownership');
    return records.map(({ partitionId, record, etag }) => ({
      ...scope,
      partitionId,
      ownerId: record.ownerId,
      lastModifiedTimeInMs: record.lastModifiedTimeInMs,
      etag,
    }));
  }

  claimOwnership(requests: PartitionOwnership[]): Promise<PartitionOwnership[]> {
    const run = this.claims.then(() => this.claimNow(requests));
    this.claims = run.catch(() => undefined);
    return run;
  }

  async listCheckpoints(fullyQualifiedNamespace: string, eventHubName: string, consumerGroup: string): Promise<Checkpoint[]> {
    const scope = { fullyQualifiedNamespace, eventHubName, consumerGroup };
    const records = await this.readAll<CheckpointRecord>(scope, 'checkpoint');
    return records.map(({ partitionId, record }) => ({ ...scope, partitionId, sequenceNumber: record.sequenceNumber, offset: record.offset }));
  }

  async updateCheckpoint(checkpoint: Checkpoint): Promise<void> {
    if (!Number.isInteger(checkpoint.sequenceNumber) || checkpoint.offset === undefined) {
      throw new TypeError('updateCheckpoint needs a sequenceNumber and an offset');
    }
    const record: CheckpointRecord = { sequenceNumber: checkpoint.sequenceNumber, offset: String(checkpoint.offset) };
    await this.write(this.file(checkpoint, 'checkpoint', checkpoint.partitionId), record);
  }

  private async claimNow(requests: PartitionOwnership[]): Promise<PartitionOwnership[]> {
    const claimed: PartitionOwnership[] = [];
    for (const request of requests) {
      const file = this.file(request, 'ownership', request.partitionId);
      if (request.etag !== undefined) {
        const current = await this.read(file);
        if (current === undefined || etagOf(current) !== request.etag) continue;
      }
      const record: OwnershipRecord = { ownerId: request.ownerId, lastModifiedTimeInMs: this.now() };
      const text = await this.write(file, record);
      claimed.push({ ...request, lastModifiedTimeInMs: record.lastModifiedTimeInMs, etag: etagOf(text) });
    }
    return claimed;
  }

  private folder(scope: Pick<PartitionOwnership, 'fullyQualifiedNamespace' | 'eventHubName' | 'consumerGroup'>, kind: Kind): string {
    const part = (value: string): string => encodeURIComponent(value.toLowerCase());
    return path.join(this.location, part(scope.fullyQualifiedNamespace), part(scope.eventHubName), part(scope.consumerGroup), kind);
  }

  private file(scope: Pick<PartitionOwnership, 'fullyQualifiedNamespace' | 'eventHubName' | 'consumerGroup'>, kind: Kind, partitionId: string): string {
    return path.join(this.folder(scope, kind), encodeURIComponent(partitionId));
  }

  private async readAll<T>(
    scope: Pick<PartitionOwnership, 'fullyQualifiedNamespace' | 'eventHubName' | 'consumerGroup'>,
    kind: Kind,
  ): Promise<Array<{ partitionId: string; record: T; etag: string }>> {
    const folder = this.folder(scope, kind);
    let names: string[];
    try {
      names = await readdir(folder);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new TributaryError('STORAGE_PERMANENT', `cannot list ${folder}: ${errorMessage(error)}`, { cause: error });
    }
    const out: Array<{ partitionId: string; record: T; etag: string }> = [];
    for (const name of names.filter((n) => !n.startsWith('.tmp-')).sort()) {
      const text = await this.read(path.join(folder, name));
      if (text === undefined) continue;
      out.push({ partitionId: decodeURIComponent(name), record: parseRecord<T>(text, path.join(folder, name)), etag: etagOf(text) });
    }
    return out;
  }

  private async read(file: string): Promise<string | undefined> {
    try {
      return await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new TributaryError('STORAGE_PERMANENT', `cannot read ${file}: ${errorMessage(error)}`, { cause: error });
    }
  }

  /** Temp file + rename, so a reader sees the old record or the new one, never half of one. */
  private async write(file: string, record: OwnershipRecord | CheckpointRecord): Promise<string> {
    const text = JSON.stringify(record);
    const temp = path.join(path.dirname(file), `.tmp-${randomBytes(6).toString('hex')}`);
    try {
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(temp, text);
      await rename(temp, file);
    } catch (error) {
      await rm(temp, { force: true });
      throw new TributaryError('STORAGE_PERMANENT', `cannot write ${file}: ${errorMessage(error)}`, { cause: error });
    }
    return text;
  }
}

function etagOf(text: string): string {
  return `"${createHash('sha256').update(text).digest('hex').slice(0, 32)}"`;
}

function parseRecord<T>(text: string, file: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new TributaryError('STORAGE_PERMANENT', `${file} is not a checkpoint store record: ${errorMessage(error)}`, { cause: error });
  }
}
