/**
 * A staged upload on blob storage: each part is one Put Block, the commit one Put Block List under the same
 * etag condition as BlobObjectStore.putFenced. Staged blocks are invisible until the commit; blocks a failed or
 * abandoned upload leaves uncommitted are discarded by the service (at the blob's next commit, or after a week).
 * That discard is also the one way two owners of a file meet here: an older owner that commits the blob while a
 * newer one is staging takes the newer one's blocks with it, and the newer one's commit then fails (see commit);
 * never is a mix of the two committed.
 */
import { abortError } from '../../core/errors.js';
import { TributaryError } from '../../core/errors.js';
import { EPOCH_METADATA, checkPart, type Fence, type StagedUpload, type StoreCallOptions, type UploadCommitOptions } from '../../core/object-store.js';
import { isNotFound } from './blob-errors.js';
import { encodeMetadata, decodeMetadata } from './blob-metadata.js';
import type { BlobOperations } from './blob-operations.js';

const MIB = 1024 * 1024;

/**
 * Block ids are derived from the owner's epoch and the part number, so a retried Put Block replaces its own
 * block, and two owners of one file (an old one not yet stopped) never replace each other's blocks. They are
 * 42 characters before base64, like the SDK's own (uploadData's), because every block id of a blob must have
 * the same length, including blocks a plain put left uncommitted under the same name.
 */
export function blockId(epoch: number, kind: 'p' | 't', n: number): string {
  const raw = `tributary-e${String(epoch).padStart(16, '0')}${kind}${String(n).padStart(14, '0')}`;
  return Buffer.from(raw).toString('base64');
}

export class BlobUpload implements StagedUpload {
  private staged = 0;
  private commits = 0;
  private finished = false;

  constructor(
    private readonly ops: BlobOperations,
    readonly key: string,
    private readonly name: string,
    private readonly fence: Fence,
  ) {}

  async stage(part: number, bytes: Uint8Array, options: StoreCallOptions = {}): Promise<void> {
    checkPart(this.key, part, this.staged, this.finished);
    await this.stageBlock(blockId(this.fence.epoch, 'p', part), bytes, `stage part ${part} of ${this.name}`, options.signal);
    this.staged = part + 1;
  }

  /** Read the blob's epoch and etag, refuse if a newer owner wrote it, else commit on the condition that the blob
   * is still the one read; a lost race (412/409) reads again. */
  async commit(tail: Uint8Array, metadata: Record<string, string>, options: UploadCommitOptions = {}): Promise<void> {
    checkPart(this.key, 0, 0, this.finished);
    const blocks: string[] = [];
    for (let part = 0; part < this.staged; part++) blocks.push(blockId(this.fence.epoch, 'p', part));
    if (tail.byteLength > 0) {
      const id = blockId(this.fence.epoch, 't', this.commits);
      await this.stageBlock(id, tail, `stage the tail of ${this.name}`, options.signal);
      blocks.push(id);
    }
    const fenced = encodeMetadata({ ...metadata, [EPOCH_METADATA]: String(this.fence.epoch) });
    await this.ops.run(`commit ${this.name} (epoch ${this.fence.epoch})`, (abortSignal) => callAborts(options.signal, abortSignal, async (signal) => {
      // An upload may commit before it staged anything (an empty file, or only a tail): the container must exist
      // for the commit as for a stage.
      await this.ops.ensureContainer(signal);
      const blob = this.ops.container.getBlockBlobClient(this.name);
      for (;;) {
        if (options.signal?.aborted) throw abortError(options.signal);
        let etag: string | undefined;
        let existing = Number.NEGATIVE_INFINITY;
        try {
          const properties = await blob.getProperties({ abortSignal: signal });
          etag = properties.etag;
          const stored = decodeMetadata(properties.metadata)[EPOCH_METADATA];
          if (stored !== undefined) existing = Number(stored);
        } catch (error) {
          if (!isNotFound(error)) throw error;
        }
        if (existing > this.fence.epoch || (this.fence.claim === true && existing >= this.fence.epoch)) {
          throw new TributaryError('OWNERSHIP_LOST', `${this.name} was written by a newer owner (epoch ${existing}; ours is ${this.fence.epoch}): this owner no longer owns its partition`);
        }
        try {
          await blob.commitBlockList(blocks, {
            metadata: fenced,
            conditions: etag !== undefined ? { ifMatch: etag } : { ifNoneMatch: '*' },
            abortSignal: signal,
          });
          break;
        } catch (error) {
          const status = (error as { statusCode?: number }).statusCode;
          if (status === 412 || status === 409) continue;
          if (isNotFound(error)) this.ops.forgetContainer();
          if ((error as { code?: unknown }).code === 'InvalidBlockList') {
            // The service drops every uncommitted block of a blob when anyone commits it: an older owner still
            // flushing this file took ours. They cannot be listed back; the partition restarts and stages again.
            throw new TributaryError('STORAGE_PERMANENT', `commit ${this.name}: its staged blocks are gone (another writer committed the blob after they were staged)`, { cause: error });
          }
          throw error;
        }
      }
    }));
    this.commits++;
    if (options.keepOpen !== true) this.finished = true;
  }

  /** Nothing to delete: uncommitted blocks cannot be removed one by one, and the service discards them. */
  async abort(): Promise<void> {
    this.finished = true;
  }

  private async stageBlock(id: string, bytes: Uint8Array, action: string, callSignal: AbortSignal | undefined): Promise<void> {
    // Big blocks get one more second per MiB on top of the request timeout, as a put does.
    const timeoutMs = this.ops.requestTimeoutMs + Math.ceil(bytes.byteLength / MIB) * 1000;
    await this.ops.run(action, (abortSignal) => callAborts(callSignal, abortSignal, async (signal) => {
      await this.ops.ensureContainer(signal);
      try {
        await this.ops.container.getBlockBlobClient(this.name).stageBlock(id, bytes, bytes.byteLength, { abortSignal: signal });
      } catch (error) {
        if (isNotFound(error)) this.ops.forgetContainer();
        throw error;
      }
    }), timeoutMs);
  }
}

/**
 * Runs one request under the request's own signal (timeout, shutdown) and the caller's: an end the caller asked
 * for (the partition's owner changed) is ABORTED, never mistaken for a timeout and retried.
 */
async function callAborts<T>(callSignal: AbortSignal | undefined, requestSignal: AbortSignal, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  if (callSignal === undefined) return run(requestSignal);
  if (callSignal.aborted) throw abortError(callSignal);
  try {
    return await run(AbortSignal.any([requestSignal, callSignal]));
  } catch (error) {
    if (callSignal.aborted) throw abortError(callSignal);
    throw error;
  }
}
