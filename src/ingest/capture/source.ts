/**
 * Reads an Event Hubs Capture archive (from a folder or a blob container, through ObjectStore) as a source:
 * each hub folder is a stream, each partition folder a partition, files in capture-window order. Every file is
 * checked before any event is processed, so a missing archive or an unreadable file fails the run before it
 * writes anything. Without `bounded`, the archive is polled for new files.
 */
import { TributaryError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { sleep } from '../../core/retry.js';
import type { CheckpointStore } from '../../core/checkpoint-store.js';
import type { ObjectStore } from '../../core/object-store.js';
import type { BatchOutcome, PartitionHandler, RunOptions, Source, SourceEvent } from '../../core/source.js';

const BATCHES_IN_FLIGHT = 2;
import { blockData, readContainer } from './container.js';
import { captureEventReader } from './event-reader.js';
import { parseCaptureKey } from './format.js';
import { filesFrom, indexArchive, type IndexedFile } from './archive-index.js';

export interface CaptureSourceOptions {
  store: ObjectStore;
  namespace: string;
  /** stream name -> hub folder */
  hubs: Record<string, string>;
  checkpoints: CheckpointStore;
  batchSize: number;
  pollIntervalMs?: number;
  log: Logger;
  /** where the archive index (first and last position of each file) is cached: the state store */
  indexCache?: ObjectStore;
}

interface CaptureFile {
  key: string;
  windowStart: number;
}

type PartitionFiles = Map<string, CaptureFile[]>;

export class CaptureSource implements Source {
  readonly description: string;

  constructor(private readonly options: CaptureSourceOptions) {
    this.description = `capture archive ${options.store.location}/${options.namespace}`;
  }

  async run(handler: PartitionHandler, { signal, bounded }: RunOptions): Promise<void> {
    const layout = await this.discover();
    if ([...layout.values()].every((partitions) => partitions.size === 0)) {
      const where = Object.values(this.options.hubs).map((hub) => `${this.options.store.location}/${this.options.namespace}/${hub}/`).join(', ');
      throw new TributaryError('INPUT_MISSING', `no Event Hubs Capture files found under ${where}; run "tributary gen" or point source.store at an archive`);
    }
    // Indexing reads and checks every file not indexed before (container structure, Capture's record fields), so
    // a bad file fails the run before anything is written; files indexed by an earlier run were checked then.
    // The last record of each partition's last file is its end, which the consumer lag is reported from.
    const index = await indexArchive(this.options, this.options.indexCache, signal);
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
          this.runPartition(stream, partition, files, index.get(stream)?.get(partition) ?? [], ends.get(`${stream}/${partition}`), handler, linked, bounded).catch((error: unknown) => {
            failed.abort(error);
            throw error;
          }),
        );
      }
    }
    const results = await Promise.allSettled(loops);
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (rejected && !(signal.aborted && rejected.reason instanceof TributaryError && rejected.reason.code === 'ABORTED')) throw rejected.reason;
  }

  private async discover(): Promise<Map<string, PartitionFiles>> {
    const layout = new Map<string, PartitionFiles>();
    for (const [stream, hub] of Object.entries(this.options.hubs)) {
      const partitions: PartitionFiles = new Map();
      for (const object of await this.options.store.list(`${this.options.namespace}/${hub}/`)) {
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

  private async runPartition(
    stream: string,
    partition: string,
    files: CaptureFile[],
    indexed: IndexedFile[],
    endPosition: number | undefined,
    handler: PartitionHandler,
    signal: AbortSignal,
    bounded: boolean,
  ): Promise<void> {
    const resume = await handler.onAssigned(stream, partition);
    let nextPosition = resume?.position ?? 0;
    const commit = async (outcome: BatchOutcome): Promise<void> => {
      if (!outcome.commitBelow) return;
      await this.options.checkpoints.update({ stream, partition, nextPosition: outcome.commitBelow.position, offset: outcome.commitBelow.offset });
    };
    // Two batches in flight per partition: the next one decodes while this one is applied (the handler keeps
    // their effects in order); commits are taken in order as each completes.
    const inFlight: Array<Promise<BatchOutcome>> = [];
    const deliver = async (events: SourceEvent[]): Promise<void> => {
      inFlight.push(handler.onBatch({ stream, partition, events, ...(endPosition !== undefined ? { endPosition } : {}) }, signal));
      if (inFlight.length >= BATCHES_IN_FLIGHT) await commit(await inFlight.shift()!);
    };
    const drain = async (): Promise<void> => {
      while (inFlight.length > 0) await commit(await inFlight.shift()!);
    };
    let done = new Set<string>();
    // Start at the file that holds the resume position: the files before it hold nothing to read.
    const startKeys = new Set(filesFrom(indexed, nextPosition).map((f) => f.key));
    let pending = files.filter((f) => startKeys.has(f.key) || !indexed.some((i) => i.key === f.key));
    for (const file of files) if (!pending.includes(file)) done.add(file.key);
    try {
      for (;;) {
        for (const file of pending) {
          const container = readContainer(await this.mustGet(file.key), `${this.options.store.location}/${file.key}`);
          const readEvents = captureEventReader(container.schema);
          const name = `${this.options.store.location}/${file.key}`;
          let batch: SourceEvent[] = [];
          for (const block of container.blocks) {
            for (const event of readEvents(await blockData(container, block, name), block.count, name)) {
              if (event.position < nextPosition) continue;
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
        await drain();
        if (handler.onCaughtUp) await commit(await handler.onCaughtUp(stream, partition));
        if (bounded || signal.aborted) return;
        await sleep(this.options.pollIntervalMs ?? 10_000, signal);
        const fresh = (await this.discover()).get(stream)?.get(partition) ?? [];
        pending = fresh.filter((f) => !done.has(f.key));
        done = new Set([...done].filter((key) => fresh.some((f) => f.key === key)));
      }
    } finally {
      // Let batches already handed over finish before releasing the partition; their errors are reported by
      // whoever awaited them first, or are moot once another error is unwinding this loop.
      await Promise.allSettled(inFlight);
      await handler.onRevoked(stream, partition, 'shutdown');
    }
  }

  private async mustGet(key: string): Promise<Uint8Array> {
    const bytes = await this.options.store.get(key);
    if (!bytes) throw new TributaryError('INPUT_MISSING', `${this.options.store.location}/${key} disappeared while reading the archive`);
    return bytes;
  }
}
