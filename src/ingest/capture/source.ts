/**
 * Reads an Event Hubs Capture archive (from a folder or a blob container, through ObjectStore) as a source:
 * each hub folder is a stream, each partition folder a partition, files in capture-window order. Every file's
 * structure is checked before any event is processed, so a missing archive or an unreadable file fails the run
 * before it writes anything. Without `bounded`, the archive is polled for new files.
 *
 * The archive index (archive-index.ts) is built with `edges: 'last'`: a partition read from its start needs no
 * file's edges, and a handler that reads the blocks in its lane reports them (`onCaptureEdges`), so the index
 * cache is filled as the files are read; a resume inside the archive decodes the edges still missing first.
 */
import { TributaryError, errorMessage, isRestartable, isRetriable } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { sleep } from '../../core/retry.js';
import { releaseBytes } from '../../core/release-bytes.js';
import type { CheckpointStore } from '../../core/checkpoint-store.js';
import type { ObjectInfo, ObjectStore } from '../../core/object-store.js';
import type { CaptureBlockEdges, CaptureBlocks, CaptureItem, PartitionFeed, PartitionHandler, RunOptions, Source, SourceEvent } from '../../core/source.js';
import type { Container, ContainerBlock, CorruptRegion } from './container.js';
import { acquireLease, type LeaseOptions, type PartitionLease } from './ownership.js';
import { captureFileEvents, corruptBlockError, openCaptureFile, type CorruptBlockPolicy } from './file-events.js';
import { parseCaptureKey } from './format.js';
import { cachePartitionIndex, fileEdgesFrom, filesFrom, indexArchive, withEdges, type ArchiveLocation, type IndexedFile } from './archive-index.js';

export interface CaptureSourceOptions {
  store: ObjectStore;
  namespace: string;
  /** stream name -> hub folder */
  hubs: Record<string, string>;
  checkpoints: CheckpointStore;
  /** where partition leases live (the state store, shared by every instance on this archive) */
  leases: ObjectStore;
  /** names this instance in leases */
  owner: string;
  /** a lease not renewed for this long can be taken by another instance; default 30 s */
  leaseTtlMs?: number;
  batchSize: number;
  pollIntervalMs?: number;
  /** what a corrupt container block does: fail the partition (default) or become one dead letter */
  onCorruptBlock?: CorruptBlockPolicy;
  log: Logger;
  /** where the archive index (first and last position of each file) is cached: the state store */
  indexCache?: ObjectStore;
}

interface CaptureFile {
  key: string;
  windowStart: number;
}

type PartitionFiles = Map<string, CaptureFile[]>;

/** What one partition's reading needs: its files (listed and indexed) and its last position, for the lag. */
interface PartitionWork {
  stream: string;
  partition: string;
  files: CaptureFile[];
  indexed: IndexedFile[];
  /** file key -> its place in `indexed` (made when first needed) */
  indexAt?: Map<string, number>;
  endPosition: number | undefined;
}

export class CaptureSource implements Source {
  readonly description: string;

  constructor(private readonly options: CaptureSourceOptions) {
    this.description = `capture archive ${options.store.location}/${options.namespace}`;
  }

  async run(handler: PartitionHandler, { signal, bounded }: RunOptions): Promise<void> {
    const listed = await this.list();
    const layout = this.layoutOf(listed);
    if ([...layout.values()].every((partitions) => partitions.size === 0)) {
      const where = Object.values(this.options.hubs).map((hub) => `${this.options.store.location}/${this.options.namespace}/${hub}/`).join(', ');
      throw new TributaryError('INPUT_MISSING', `no Event Hubs Capture files found under ${where}; run "tributary gen" or point source.store at an archive`);
    }
    // Indexing reads and checks every file not indexed before (container structure, Capture's record fields), so
    // a bad file fails the run before anything is written; files indexed by an earlier run were checked then.
    // The last record of each partition's last file is its end, which the consumer lag is reported from.
    const index = await indexArchive(this.archive(), this.options.indexCache, signal, { edges: 'last', listed });
    const ends = new Map<string, number>();
    for (const [stream, partitions] of index) {
      for (const [partition, files] of partitions) {
        const last = files.at(-1)?.last;
        if (last) ends.set(`${stream}/${partition}`, last.position);
      }
    }
    const failed = new AbortController();
    const linked = AbortSignal.any([signal, failed.signal]);
    const loops: Array<Promise<void>> = [];
    for (const [stream, partitions] of layout) {
      for (const [partition, files] of partitions) {
        loops.push(
          this.runPartition({ stream, partition, files, indexed: index.get(stream)?.get(partition) ?? [], endPosition: ends.get(`${stream}/${partition}`) }, handler, linked, bounded).catch((error: unknown) => {
            failed.abort(error);
            throw error;
          }),
        );
      }
    }
    await Promise.allSettled(loops);
    // Every partition that fails aborts `failed`, the first one with its error: that is the cause, and the others
    // ended because of it (an aborted session may end with its own restartable error), so the run reports the first
    // failure, not the first partition in order.
    const cause: unknown = failed.signal.aborted ? failed.signal.reason : undefined;
    if (cause !== undefined && !(signal.aborted && cause instanceof TributaryError && cause.code === 'ABORTED')) throw cause;
  }

  /** hub -> the archive's objects under it */
  private async list(): Promise<Map<string, ObjectInfo[]>> {
    const listed = new Map<string, ObjectInfo[]>();
    for (const hub of new Set(Object.values(this.options.hubs))) listed.set(hub, await this.options.store.list(`${this.options.namespace}/${hub}/`));
    return listed;
  }

  private layoutOf(listed: ReadonlyMap<string, readonly ObjectInfo[]>): Map<string, PartitionFiles> {
    const layout = new Map<string, PartitionFiles>();
    for (const [stream, hub] of Object.entries(this.options.hubs)) {
      const partitions: PartitionFiles = new Map();
      for (const object of listed.get(hub) ?? []) {
        const parts = parseCaptureKey(object.key);
        if (!parts || parts.hub !== hub) continue;
        let files = partitions.get(parts.partition);
        if (!files) partitions.set(parts.partition, (files = []));
        files.push({ key: object.key, windowStart: parts.windowStart.getTime() });
      }
      for (const files of partitions.values()) files.sort((a, b) => a.windowStart - b.windowStart || (a.key < b.key ? -1 : 1));
      layout.set(stream, partitions);
    }
    return layout;
  }

  /**
   * One partition: take its lease (waiting while another instance holds one), then run reading sessions until the
   * partition is done. A session is one ownership period of the handler; when the handler fails the partition
   * with a restartable error, the session ends and a new one restores the snapshot and reads again from there.
   */
  private async runPartition(work: PartitionWork, handler: PartitionHandler, signal: AbortSignal, bounded: boolean): Promise<void> {
    const { stream, partition } = work;
    // A partition another live instance reads is waited for: it is taken over when that instance releases it
    // (its run ended) or stops renewing it (it died), so instances share an archive and none lands it twice. A
    // lease lost while reading (renewals failed past its lifetime, another instance took it) is waited for again:
    // the partition is not done until a session of ours finishes it.
    const ttlMs = this.options.leaseTtlMs ?? 30_000;
    for (;;) {
      let lease: PartitionLease | undefined;
      for (;;) {
        let transient = false;
        try {
          lease = await acquireLease(this.leaseOptions(), stream, partition);
        } catch (error) {
          if (!isRetriable(error)) throw error;
          transient = true;
          this.options.log.warn({ stream, partition, err: errorMessage(error) }, 'could not take the partition lease; trying again');
        }
        if (lease) break;
        await sleep(transient ? Math.min(1000, Math.max(50, Math.floor(ttlMs / 3))) : Math.max(50, Math.floor(ttlMs / 3)), signal);
      }
      try {
        const session = AbortSignal.any([signal, lease.signal]);
        for (;;) {
          try {
            await this.session(work, handler, session, lease.signal, bounded);
            break;
          } catch (error) {
            if (!isRestartable(error) || session.aborted) {
              if (lease.signal.aborted && !signal.aborted) break;
              throw error;
            }
          }
        }
      } finally {
        await lease.release().catch((error: unknown) => {
          // Not a loss: the lease expires by itself after leaseTtl, and then another instance may take it.
          this.options.log.warn({ stream, partition, err: errorMessage(error) }, 'could not release the partition lease; it expires on its own');
        });
      }
      if (!lease.signal.aborted || signal.aborted) return;
      this.options.log.warn({ stream, partition }, 'the partition lease was lost while reading; waiting to take it again');
    }
  }

  private archive(): ArchiveLocation {
    return { ...this.options, onCorruptBlock: this.options.onCorruptBlock ?? 'fail' };
  }

  private leaseOptions(): LeaseOptions {
    return { store: this.options.leases, owner: this.options.owner, ttlMs: this.options.leaseTtlMs ?? 30_000, log: this.options.log };
  }

  private async session(work: PartitionWork, handler: PartitionHandler, signal: AbortSignal, leaseLost: AbortSignal, bounded: boolean): Promise<void> {
    const { stream, partition, files, endPosition } = work;
    const feed: PartitionFeed = {
      commit: (position, offset) => this.options.checkpoints.update({ stream, partition, nextPosition: position, offset }),
    };
    const resume = await handler.onAssigned(stream, partition, feed);
    const resumeAt = resume?.position ?? 0;
    const deliver = (events: SourceEvent[]): Promise<void> =>
      handler.onBatch({ stream, partition, events, ...(endPosition !== undefined ? { endPosition } : {}) });
    let done = new Set<string>();
    /** the position of the last event read, which places events whose own position cannot be read */
    let previousPosition: number | undefined;
    /** files whose edges a lane reported since the index was last cached */
    let edgesLearned = false;
    try {
      // Resuming, start at the file that holds the resume position: the files before it hold nothing to read.
      // Finding it needs every file's edges; those no run has decoded or learned from a lane yet are decoded now.
      // From the start, every file is read (even in an archive whose positions start again at 0 part-way through).
      let pending = files;
      if (resumeAt > 0) {
        const indexed = (work.indexed = await withEdges(this.archive(), this.options.indexCache, stream, partition, work.indexed, signal));
        const startKeys = new Set(filesFrom(indexed, resumeAt).map((f) => f.key));
        const indexedKeys = new Set(indexed.map((f) => f.key));
        pending = files.filter((f) => startKeys.has(f.key) || !indexedKeys.has(f.key));
      }
      const reading = new Set(pending);
      for (const file of files) if (!reading.has(file)) done.add(file.key);
      for (;;) {
        // the highest position read in archive order: an event at or below it goes backwards (delivered, so the
        // driver dead-letters it), one below the resume point in order is a redelivery (skipped)
        let highest = -1;
        let newPass = true;
        for (const file of pending) {
          const name = `${this.options.store.location}/${file.key}`;
          const bytes = await this.mustGet(file.key);
          const container = openCaptureFile(bytes, { name, log: this.options.log });
          if (!container) {
            done.add(file.key);
            continue;
          }
          if (handler.takesCaptureBlocks) {
            // The handler's lane reads the records (and skips what lies below the resume point), and reports the
            // edges of the blocks it read whole: a file the index has no edges for gets them from there.
            const learn = this.edgeLearner(work, file.key, container, () => (edgesLearned = true));
            for (const blocks of this.blockBatches(container, name, file.windowStart)) {
              if (signal.aborted) return;
              await handler.onBatch({ stream, partition, events: [], capture: { ...blocks, newPass }, ...(endPosition !== undefined ? { endPosition } : {}), ...(learn ? { onCaptureEdges: learn } : {}) });
              newPass = false;
            }
            // every block was copied into a batch: nothing views the file's bytes any more
            releaseBytes(bytes);
            done.add(file.key);
            continue;
          }
          const options = { name, windowStartMs: file.windowStart, onCorruptBlock: this.options.onCorruptBlock ?? 'fail', log: this.options.log };
          let batch: SourceEvent[] = [];
          for await (const events of captureFileEvents(container, options, previousPosition)) {
            for (const event of events) {
              previousPosition = event.position;
              const backwards = event.position <= highest;
              highest = Math.max(highest, event.position);
              if (event.position < resumeAt && !(backwards && highest >= resumeAt)) continue;
              batch.push(event);
              if (batch.length >= this.options.batchSize) {
                if (signal.aborted) return;
                await deliver(batch);
                batch = [];
              }
            }
          }
          if (batch.length > 0) {
            if (signal.aborted) return;
            await deliver(batch);
          }
          done.add(file.key);
        }
        if (signal.aborted) return;
        if (handler.onCaughtUp) await handler.onCaughtUp(stream, partition);
        // everything handed over is processed: every edge the lanes will report for these files is in
        if (edgesLearned && this.options.indexCache) {
          edgesLearned = false;
          await cachePartitionIndex(this.archive(), this.options.indexCache, stream, partition, work.indexed);
        }
        if (bounded) return;
        await sleep(this.options.pollIntervalMs ?? 10_000, signal);
        const fresh = this.layoutOf(await this.list()).get(stream)?.get(partition) ?? [];
        pending = fresh.filter((f) => !done.has(f.key));
        done = new Set([...done].filter((key) => fresh.some((f) => f.key === key)));
      }
    } catch (error) {
      if (signal.aborted && error instanceof TributaryError && error.code === 'ABORTED') return;
      // A read of the archive failed past the store's retry budget (the handler's own failures are restartable,
      // not retriable): the partition restarts like after a failed batch, instead of the whole run stopping.
      if (isRetriable(error) && handler.onReadFailed) throw handler.onReadFailed(stream, partition, error);
      throw error;
    } finally {
      // 'lost' when another instance took the lease: nothing more may be written for this partition.
      await handler.onRevoked(stream, partition, leaseLost.aborted ? 'lost' : 'shutdown');
    }
  }

  /**
   * Collects the edges a lane reports for a file the index has no edges for, and completes its entry once the
   * first and last blocks holding records were both read whole; undefined when the file needs none.
   */
  private edgeLearner(work: PartitionWork, key: string, container: Container, learned: () => void): ((edges: CaptureBlockEdges[]) => void) | undefined {
    // work.indexed may be replaced by a later session's withEdges, always file for file in the same order
    const at = (work.indexAt ??= new Map(work.indexed.map((f, i) => [f.key, i]))).get(key);
    if (at === undefined || !work.indexed[at]!.edgesPending) return undefined;
    // the blocks' places only: the file's bytes are not kept alive until its last batch is processed
    const blocks = container.blocks.map(({ start, count }) => ({ start, count }));
    const read = new Map<number, CaptureBlockEdges>();
    return (edges) => {
      for (const edge of edges) read.set(edge.start, edge);
      const entry = work.indexed[at]!;
      if (!entry.edgesPending) return;
      const complete = fileEdgesFrom(entry, blocks, read);
      if (!complete) return;
      work.indexed[at] = complete;
      learned();
    };
  }

  /**
   * A file's blocks in batches of about `batchSize` records (whole blocks), their stored bytes copied into one
   * buffer per batch. A corrupt region under onCorruptBlock: fail stops here, before anything after the last
   * batch is handed over, as on the path that parses on this thread; under deadletter it goes along, to become one
   * dead letter in the lane.
   */
  private *blockBatches(container: Container, name: string, windowStartMs: number): Generator<Omit<CaptureBlocks, 'newPass'>> {
    const policy = this.options.onCorruptBlock ?? 'fail';
    const schema = container.schemaJson;
    const items: Array<ContainerBlock | CorruptRegion> = [...container.blocks, ...container.corrupt].sort((a, b) => a.start - b.start);
    let group: Array<ContainerBlock | CorruptRegion> = [];
    let records = 0;
    const pack = (): Omit<CaptureBlocks, 'newPass'> => {
      const data = new Uint8Array(group.reduce((sum, item) => sum + item.stored.byteLength, 0));
      let at = 0;
      const packed: CaptureItem[] = group.map((item) => {
        data.set(item.stored, at);
        const from = at;
        at += item.stored.byteLength;
        return 'reason' in item
          ? { reason: item.reason, from, to: at, start: item.start, end: item.end }
          : { count: item.count, from, to: at, start: item.start, end: item.end, dataStart: item.dataStart };
      });
      group = [];
      records = 0;
      return { name, windowStartMs, schema, codec: container.codec, onCorruptBlock: policy, data: data.buffer, items: packed };
    };
    for (const item of items) {
      if ('reason' in item && policy === 'fail') throw corruptBlockError(name, item.start, item.end, item.reason);
      group.push(item);
      records += 'reason' in item ? 1 : item.count;
      if (records >= this.options.batchSize) yield pack();
    }
    if (group.length > 0) yield pack();
  }

  private async mustGet(key: string): Promise<Uint8Array> {
    const bytes = await this.options.store.get(key);
    if (!bytes) throw new TributaryError('INPUT_MISSING', `${this.options.store.location}/${key} disappeared while reading the archive`);
    return bytes;
  }
}
