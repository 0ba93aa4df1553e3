/**
 * The Capture archive's own index: per file of a partition, the first and last position and enqueued time and
 * the number of records. Capture file names give only the window a file covers, so the first and last records
 * are read (two blocks; the other blocks' record counts come from their headers, without inflating them).
 *
 * A run that reads every file anyway does not need those edges before it starts: with `edges: 'last'` only each
 * partition's last file (its end, for the lag) is decoded, every file's structure is still checked, and the other
 * files' edges come from the lanes as they read them (`fileEdgesFrom`), so the cache is filled without inflating
 * the archive a second time. A resume inside the archive decodes the edges still missing (`withEdges`).
 *
 * It lets the source start at the file that holds a resume position instead of decoding the archive from its
 * first file, and lets `tributary reset` turn times into positions and count the events a replay reads. It is
 * cached in the state store (`capture-index/<namespace>/<hub>/partition=<p>.json`); a file whose size changed
 * is indexed again. Indexing a file checks it whole (container structure and Capture's record fields), so a bad
 * file fails before anything is processed.
 */
import { TributaryError, errorMessage } from '../../core/errors.js';
import type { ObjectInfo, ObjectStore } from '../../core/object-store.js';
import { releaseBytes } from '../../core/release-bytes.js';
import type { CaptureBlockEdges, CaptureEdge, SourceEvent } from '../../core/source.js';
import type { Logger } from '../../core/log.js';
import { blockData, readContainer, type Container } from './container.js';
import { corruptBlockError, openCaptureFile, type CorruptBlockPolicy } from './file-events.js';
import { captureBlockEdges, captureEventReader } from './event-reader.js';
import { parseCaptureKey } from './format.js';

export interface IndexedFile {
  key: string;
  size: number;
  windowStart: number;
  /** records in the file (0 for an empty or header-only file, which has no positions) */
  count: number;
  first?: CaptureEdge;
  last?: CaptureEdge;
  /** only the file's structure was read: its edges are not known yet (until then it is read in full) */
  edgesPending?: true;
}

export interface IndexOptions {
  /** decode every file's first and last record (the default), or only each partition's last file's */
  edges?: 'all' | 'last';
  /** hub -> its listing, when the caller has just listed the archive (else it is listed here) */
  listed?: ReadonlyMap<string, readonly ObjectInfo[]>;
}

/** stream -> partition -> files in archive order */
export type ArchiveIndex = Map<string, Map<string, IndexedFile[]>>;

const cacheKey = (namespace: string, hub: string, partition: string): string => `capture-index/${namespace}/${hub}/partition=${partition}.json`;

export interface ArchiveLocation {
  store: ObjectStore;
  namespace: string;
  /** stream -> hub folder */
  hubs: Record<string, string>;
  /** a corrupt block fails indexing (the default), or is left to be dead-lettered when the partition reads it */
  onCorruptBlock?: CorruptBlockPolicy;
  log?: Logger;
}

/** Lists the archive and indexes the files not yet in the cache (or whose size changed); updates the cache. */
export async function indexArchive(archive: ArchiveLocation, cache: ObjectStore | undefined, signal?: AbortSignal, options: IndexOptions = {}): Promise<ArchiveIndex> {
  const index: ArchiveIndex = new Map();
  // Cache writes wait until every file is indexed: a bad file fails the run with nothing written at all.
  const cacheWrites: Array<[string, IndexedFile[]]> = [];
  for (const [stream, hub] of Object.entries(archive.hubs)) {
    const listed = new Map<string, Array<{ key: string; size: number; windowStart: number }>>();
    for (const object of options.listed?.get(hub) ?? (await archive.store.list(`${archive.namespace}/${hub}/`))) {
      const parts = parseCaptureKey(object.key);
      if (!parts || parts.hub !== hub) continue;
      let files = listed.get(parts.partition);
      if (!files) listed.set(parts.partition, (files = []));
      files.push({ key: object.key, size: object.size, windowStart: parts.windowStart.getTime() });
    }
    const partitions = new Map<string, IndexedFile[]>();
    for (const [partition, files] of listed) {
      files.sort((a, b) => a.windowStart - b.windowStart || (a.key < b.key ? -1 : 1));
      const cached = cache ? await readCache(cache, cacheKey(archive.namespace, hub, partition), archive.log) : new Map<string, IndexedFile>();
      let changed = false;
      const indexed = await inOrder(files, INDEX_CONCURRENCY, async (file, at) => {
        signal?.throwIfAborted();
        const known = cached.get(file.key);
        if (known && known.size === file.size) return known;
        changed = true;
        return indexFile(archive, file, options.edges !== 'last' || at === files.length - 1);
      });
      if (cache && (changed || cached.size !== indexed.length)) {
        cacheWrites.push([cacheKey(archive.namespace, hub, partition), indexed]);
      }
      partitions.set(partition, indexed);
    }
    index.set(stream, partitions);
  }
  for (const [key, files] of cacheWrites) await writeCache(archive, cache!, key, files);
  return index;
}

/** Caches the files whose edges are known (a file without them is indexed again by the next run that needs it). */
async function writeCache(archive: ArchiveLocation, cache: ObjectStore, key: string, files: IndexedFile[]): Promise<void> {
  try {
    await cache.put(key, Buffer.from(JSON.stringify(files.filter((file) => !file.edgesPending))));
  } catch (error) {
    // The index is only a shortcut: without its cache the next run indexes these files again.
    archive.log?.warn({ cache: `${cache.location}/${key}`, err: errorMessage(error) }, 'could not cache the archive index; the next run indexes again');
  }
}

/** Caches a partition's index as it stands (after `fileEdgesFrom` completed some of its files). */
export async function cachePartitionIndex(archive: ArchiveLocation, cache: ObjectStore, stream: string, partition: string, files: IndexedFile[]): Promise<void> {
  await writeCache(archive, cache, cacheKey(archive.namespace, archive.hubs[stream]!, partition), files);
}

/**
 * A partition's index with every file's edges decoded (those `edges: 'last'` left pending), cached: what a resume
 * inside the archive needs to start at the right file.
 */
export async function withEdges(archive: ArchiveLocation, cache: ObjectStore | undefined, stream: string, partition: string, files: IndexedFile[], signal?: AbortSignal): Promise<IndexedFile[]> {
  if (!files.some((file) => file.edgesPending)) return files;
  const complete = await inOrder(files, INDEX_CONCURRENCY, async (file) => {
    signal?.throwIfAborted();
    return file.edgesPending ? indexFile(archive, file, true) : file;
  });
  if (cache) await cachePartitionIndex(archive, cache, stream, partition, complete);
  return complete;
}

/**
 * The file's edges from its blocks' edges as a lane read them: what `indexFile` would decode, taken from the
 * first and last blocks holding records (a lane reports a block only when it read it in one pass, every record
 * sound); undefined when either is missing, and the file stays pending.
 */
export function fileEdgesFrom(file: IndexedFile, blocks: { start: number; count: number }[], read: ReadonlyMap<number, CaptureBlockEdges>): IndexedFile | undefined {
  const firstBlock = blocks.find((b) => b.count > 0);
  const lastBlock = [...blocks].reverse().find((b) => b.count > 0);
  if (!firstBlock || !lastBlock) return undefined;
  const first = read.get(firstBlock.start)?.first;
  const last = read.get(lastBlock.start)?.last;
  if (!first || !last || !Number.isSafeInteger(first.position) || !Number.isSafeInteger(last.position)) return undefined;
  return { key: file.key, size: file.size, windowStart: file.windowStart, count: file.count, first, last };
}

/**
 * Files of a partition indexed at once: reading and inflating one (libuv's pool) overlaps walking another (this
 * thread), so indexing an archive no longer keeps one core idle before any partition starts.
 */
const INDEX_CONCURRENCY = 4;

/**
 * `work` over `items` with at most `limit` running, results in the items' order. The first failure in that order
 * is what rejects, as when one item was done after the other: no item is started after a failure, and every item
 * before a failing one was started before it.
 */
async function inOrder<T, R>(items: readonly T[], limit: number, work: (item: T, at: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  const failures: Array<{ at: number; error: unknown }> = [];
  let next = 0;
  const runner = async (): Promise<void> => {
    while (next < items.length && failures.length === 0) {
      const at = next++;
      try {
        results[at] = await work(items[at]!, at);
      } catch (error) {
        failures.push({ at, error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, runner));
  if (failures.length > 0) throw failures.reduce((a, b) => (b.at < a.at ? b : a)).error;
  return results;
}

async function readCache(cache: ObjectStore, key: string, log: Logger | undefined): Promise<Map<string, IndexedFile>> {
  let bytes: Uint8Array | undefined;
  try {
    bytes = await cache.get(key);
  } catch (error) {
    // A cache is only a shortcut: one that cannot be read is rebuilt from the archive, which is the truth.
    log?.warn({ cache: `${cache.location}/${key}`, err: errorMessage(error) }, 'could not read the archive index cache; indexing the files again');
    return new Map();
  }
  if (!bytes) return new Map();
  try {
    const files = JSON.parse(Buffer.from(bytes).toString('utf8')) as IndexedFile[];
    return new Map(files.map((f) => [f.key, f]));
  } catch {
    // A cache is only a shortcut: an unreadable one is rebuilt from the archive, which is the truth.
    return new Map();
  }
}

/** Reads a file and checks its structure; `edges`: decodes its first and last record too (else they are pending). */
async function indexFile(archive: ArchiveLocation, listed: { key: string; size: number; windowStart: number }, edges: boolean): Promise<IndexedFile> {
  const { store } = archive;
  const file = { key: listed.key, size: listed.size, windowStart: listed.windowStart };
  const name = `${store.location}/${file.key}`;
  const bytes = await store.get(file.key);
  if (!bytes) throw new TributaryError('INPUT_MISSING', `${name} disappeared while indexing the archive`);
  try {
    return await indexBytes(archive, file, name, bytes, edges);
  } finally {
    // the entry holds numbers and copied text only
    releaseBytes(bytes);
  }
}

async function indexBytes(archive: ArchiveLocation, file: { key: string; size: number; windowStart: number }, name: string, bytes: Uint8Array, edges: boolean): Promise<IndexedFile> {
  // Zero-length and header-only files hold no events: indexed with no positions, skipped when read.
  const container = openCaptureFile(bytes, { name, log: archive.log ?? SILENT });
  if (!container) return { ...file, count: 0 };
  const firstCorrupt = container.corrupt[0];
  if (firstCorrupt && (archive.onCorruptBlock ?? 'fail') === 'fail') throw corruptBlockError(name, firstCorrupt.start, firstCorrupt.end, firstCorrupt.reason);
  const fields = (container.schema as { fields?: Array<{ name: string }> }).fields?.map((f) => f.name) ?? [];
  if (!['SequenceNumber', 'Offset', 'EnqueuedTimeUtc', 'Body'].every((f) => fields.includes(f))) {
    throw new TributaryError('INPUT_UNREADABLE', `${name}: not an Event Hubs Capture file (its records lack SequenceNumber/Offset/EnqueuedTimeUtc/Body)`);
  }
  const count = container.blocks.reduce((sum, block) => sum + block.count, 0);
  const entry: IndexedFile = { ...file, count };
  if (!edges) return count > 0 ? { ...entry, edgesPending: true } : entry;
  const firstBlock = container.blocks.find((b) => b.count > 0);
  const lastBlock = [...container.blocks].reverse().find((b) => b.count > 0);
  if (firstBlock && lastBlock) {
    try {
      // Only the two edge records are decoded; the rest of the two blocks is walked (the bounds guard's check).
      const edges = captureBlockEdges(container.schema);
      const { first, last: lastOfFirst } = edges(await blockData(container, firstBlock, name), firstBlock.count, name);
      const last = lastBlock === firstBlock ? lastOfFirst : edges(await blockData(container, lastBlock, name), lastBlock.count, name).last;
      // An unreadable position (a hostile envelope) leaves the file unindexed by position: it is read in full.
      if (Number.isSafeInteger(first.position) && Number.isSafeInteger(last.position)) {
        entry.first = { position: first.position, enqueuedTimeMs: first.enqueuedTimeMs, offset: first.offset };
        entry.last = { position: last.position, enqueuedTimeMs: last.enqueuedTimeMs, offset: last.offset };
      }
    } catch (error) {
      archive.log?.debug({ file: name, err: error }, 'the first or last block of this file is unreadable; it is read in full');
    }
  }
  return entry;
}

const SILENT = { info: () => undefined, debug: () => undefined } as unknown as Logger;

/** The files to read to resume at `position`: from the last file whose first position is at or before it. */
export function filesFrom(files: IndexedFile[], position: number): IndexedFile[] {
  let start = 0;
  files.forEach((file, i) => {
    if (file.first && file.first.position <= position) start = i;
  });
  // Files wholly before the position hold nothing to read; an empty file in between is harmless either way.
  return files.slice(start).filter((file, i) => i === 0 || !file.last || file.last.position >= position);
}

/** Every event of one file, in order. */
export async function readFileEvents(store: ObjectStore, key: string): Promise<{ container: Container; events: SourceEvent[] }> {
  const name = `${store.location}/${key}`;
  const bytes = await store.get(key);
  if (!bytes) throw new TributaryError('INPUT_MISSING', `${name} disappeared while reading the archive`);
  const container = readContainer(bytes, name);
  const read = captureEventReader(container.schema);
  const events: SourceEvent[] = [];
  for (const block of container.blocks) for (const event of read(await blockData(container, block, name), block.count, name)) events.push(event);
  return { container, events };
}
