import { copyFile, mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { TributaryError, abortError, errorMessage } from '../core/errors.js';
import {
  EPOCH_METADATA,
  checkPart,
  type Fence,
  type ObjectInfo,
  type ObjectStore,
  type StagedUpload,
  type StoreCallOptions,
  type UploadCommitOptions,
} from '../core/object-store.js';

const METADATA_SUFFIX = '.meta.json';
/** the store's own folder at its root, outside every table folder; listings skip it */
const OWN_FOLDER = '_tributary';
/**
 * Where writes are staged, so no reader's glob reaches a partial file (a `<table>/**` glob: DuckDB does not
 * skip `.` or `_` names, so a temporary file inside a table folder would be read).
 */
export const TEMP_DIR = `${OWN_FOLDER}/tmp`;
/** where fenced writes take their locks */
const LOCK_FOLDER = `${OWN_FOLDER}/locks`;
/** a lock older than this was left by a process that died while holding it */
const STALE_LOCK_MS = 30_000;

/**
 * A folder as an object store. Writes go to a temporary file in `<root>/_tributary/tmp/`, are fsynced, then
 * renamed over the final name: rename is atomic on POSIX (the folder is on the same file system), so a reader
 * never sees half a file. A temporary file carries its process id; a crashed process's leftovers are removed
 * when the next process first writes to the store.
 */
export class LocalObjectStore implements ObjectStore {
  readonly location: string;
  private tempReady: Promise<void> | undefined;

  constructor(private readonly root: string) {
    this.location = path.resolve(root);
  }

  private file(key: string): string {
    if (key.split('/').some((part) => part === '..')) throw new TypeError(`object key escapes the store: ${key}`);
    return path.join(this.root, ...key.split('/'));
  }

  async put(key: string, bytes: Uint8Array, metadata?: Record<string, string>): Promise<void> {
    const target = this.file(key);
    try {
      const tempDir = await this.tempDir();
      await this.publish(target, await stage(tempDir, target, bytes), metadata);
    } catch (error) {
      throw storeFault(error, `cannot write ${target}`);
    }
  }

  /**
   * Renames a staged, fsynced file over `target`, with its metadata sidecar. Both files are staged (and fsynced)
   * before either is renamed, so a kill can tear them apart only between two renames; the object goes first, so a
   * torn pair is new bytes with old metadata. The other way round, an object whose fencing epoch was raised in the
   * sidecar but not in its content (an owner record) could never be claimed again: every claim would read the old
   * epoch and be refused by the new one.
   */
  private async publish(target: string, staged: string | undefined, metadata: Record<string, string> | undefined, renamed?: () => void): Promise<void> {
    await mkdir(path.dirname(target), { recursive: true });
    const hasMetadata = metadata !== undefined && Object.keys(metadata).length > 0;
    const stagedMetadata = hasMetadata ? await stage(await this.tempDir(), target + METADATA_SUFFIX, Buffer.from(JSON.stringify(metadata))) : undefined;
    if (staged !== undefined) await rename(staged, target);
    renamed?.();
    if (stagedMetadata) await rename(stagedMetadata, target + METADATA_SUFFIX);
  }

  /** The staging folder, created (and cleared of dead processes' leftovers) on first use. */
  private async tempDir(): Promise<string> {
    const tempDir = path.join(this.root, ...TEMP_DIR.split('/'));
    await (this.tempReady ??= prepareTempDir(tempDir));
    return tempDir;
  }

  /**
   * Parts are written into one temporary file in the staging folder at their offsets (so staging a part again
   * rewrites the same bytes); a commit takes the same lock and epoch check as putFenced and renames the file, with
   * the tail, into place. A commit that keeps the upload open publishes a copy, and the file goes on growing.
   */
  openUpload(key: string, fence: Fence): StagedUpload {
    const target = this.file(key);
    return new LocalUpload(key, target, fence, {
      tempDir: () => this.tempDir(),
      lock: () => this.lock(key),
      checkFence: () => checkFence(target, fence),
      publish: (staged, metadata, renamed) => this.publish(target, staged, metadata, renamed),
    });
  }

  /** Check and write under a lock file (O_EXCL), so two processes on one folder cannot interleave them. */
  async putFenced(key: string, bytes: Uint8Array, metadata: Record<string, string>, fence: Fence): Promise<void> {
    const target = this.file(key);
    const release = await this.lock(key);
    try {
      await checkFence(target, fence);
      await this.put(key, bytes, { ...metadata, [EPOCH_METADATA]: String(fence.epoch) });
    } finally {
      await release();
    }
  }

  private async lock(key: string): Promise<() => Promise<void>> {
    const folder = path.join(this.root, ...LOCK_FOLDER.split('/'));
    const file = path.join(folder, `${createHash('sha1').update(key).digest('hex')}.lock`);
    await mkdir(folder, { recursive: true });
    for (let attempt = 0; ; attempt++) {
      try {
        const handle = await open(file, 'wx');
        await handle.writeFile(String(process.pid));
        await handle.close();
        return () => rm(file, { force: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new TributaryError('STORAGE_PERMANENT', `cannot lock ${key} under ${folder}: ${errorMessage(error)}`, { cause: error });
        }
        // A lock whose holder is no longer running (killed while it held it) is free at once, not after
        // STALE_LOCK_MS: a worker restarted after a crash would otherwise stall on every lock the crash left.
        const holder = Number(await readFile(file, 'utf8').catch(() => ''));
        const age = await stat(file).then((info) => Date.now() - info.mtimeMs, () => 0);
        if (age > STALE_LOCK_MS || (Number.isSafeInteger(holder) && holder > 0 && !isRunning(holder))) await rm(file, { force: true });
        else await new Promise((resolve) => setTimeout(resolve, Math.min(50, 1 + attempt)));
      }
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      return await readFile(this.file(key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new TributaryError(fsFaultCode(error, 'INPUT_UNREADABLE'), `cannot read ${this.file(key)}: ${errorMessage(error)}`, { cause: error });
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const results: ObjectInfo[] = [];
    const walk = async (dir: string, keyPrefix: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw new TributaryError(fsFaultCode(error, 'INPUT_UNREADABLE'), `cannot list ${dir}: ${errorMessage(error)}`, { cause: error });
      }
      // a file's metadata is read only when its sidecar is listed beside it (most objects have none)
      const names = new Set(entries.map((entry) => entry.name));
      for (const entry of entries) {
        const key = keyPrefix ? `${keyPrefix}/${entry.name}` : entry.name;
        if (entry.isDirectory()) {
          if (key === OWN_FOLDER) continue;
          if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) await walk(path.join(dir, entry.name), key);
        } else if (entry.isFile() && key.startsWith(prefix) && !entry.name.endsWith(METADATA_SUFFIX)) {
          const full = path.join(dir, entry.name);
          // Another writer (a prune, a second instance on a shared folder) may delete it after readdir: it is gone.
          const info = await stat(full).catch((error: NodeJS.ErrnoException) => {
            if (error.code === 'ENOENT') return undefined;
            throw new TributaryError(fsFaultCode(error, 'INPUT_UNREADABLE'), `cannot list ${full}: ${errorMessage(error)}`, { cause: error });
          });
          if (info) results.push({ key, size: info.size, metadata: names.has(entry.name + METADATA_SUFFIX) ? await readMetadata(full) : {} });
        }
      }
    };
    await walk(this.root, '');
    return results.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    await rm(this.file(key), { force: true });
    await rm(this.file(key) + METADATA_SUFFIX, { force: true });
  }
}

/** Refuses, with OWNERSHIP_LOST, a write whose epoch is older than the one `target` was last written with. */
async function checkFence(target: string, fence: Fence): Promise<void> {
  const stored = (await readMetadata(target).catch(() => ({}) as Record<string, string>))[EPOCH_METADATA];
  const existing = stored === undefined ? Number.NEGATIVE_INFINITY : Number(stored);
  if (existing > fence.epoch || (fence.claim === true && existing >= fence.epoch)) {
    throw new TributaryError('OWNERSHIP_LOST', `${target} was written by a newer owner (epoch ${existing}; ours is ${fence.epoch}): this owner no longer owns its partition`);
  }
}

interface UploadContext {
  tempDir(): Promise<string>;
  lock(): Promise<() => Promise<void>>;
  checkFence(): Promise<void>;
  /** renames `staged` (when given) and the metadata into place */
  publish(staged: string | undefined, metadata: Record<string, string>, renamed?: () => void): Promise<void>;
}

class LocalUpload implements StagedUpload {
  private readonly sizes: number[] = [];
  private file: string | undefined;
  private finished = false;
  /** a finishing commit renamed the file into place but failed after it: its retry only writes the metadata */
  private renamed = false;

  constructor(
    readonly key: string,
    private readonly target: string,
    private readonly fence: Fence,
    private readonly context: UploadContext,
  ) {}

  async stage(part: number, bytes: Uint8Array, options: StoreCallOptions = {}): Promise<void> {
    checkPart(this.key, part, this.sizes.length, this.finished);
    if (options.signal?.aborted) throw abortError(options.signal);
    try {
      const file = await this.tempFile();
      await writeAt(file, offsetOf(this.sizes, part), bytes, false);
    } catch (error) {
      throw storeFault(error, `cannot stage part ${part} of ${this.target}`);
    }
    this.sizes.length = part;
    this.sizes.push(bytes.byteLength);
  }

  async commit(tail: Uint8Array, metadata: Record<string, string>, options: UploadCommitOptions = {}): Promise<void> {
    checkPart(this.key, 0, 0, this.finished);
    if (options.signal?.aborted) throw abortError(options.signal);
    const keepOpen = options.keepOpen === true;
    const fenced = { ...metadata, [EPOCH_METADATA]: String(this.fence.epoch) };
    let release: (() => Promise<void>) | undefined;
    try {
      release = await this.context.lock();
      await this.context.checkFence();
      if (this.renamed) {
        await this.context.publish(undefined, fenced);
      } else {
        const file = await this.tempFile();
        const end = offsetOf(this.sizes, this.sizes.length);
        if (keepOpen) {
          // A copy goes into place; the upload's own file stays for the parts still to come.
          const copy = `${file}.${randomBytes(4).toString('hex')}`;
          let published = false;
          try {
            await copyFile(file, copy);
            await writeAt(copy, end, tail, true);
            await this.context.publish(copy, fenced, () => {
              published = true;
            });
          } finally {
            if (!published) await rm(copy, { force: true });
          }
        } else {
          await writeAt(file, end, tail, true);
          // From the rename on, the temporary file is the object: a retry must not look for it again.
          await this.context.publish(file, fenced, () => {
            this.renamed = true;
          });
        }
      }
    } catch (error) {
      throw storeFault(error, `cannot commit ${this.target}`);
    } finally {
      await release?.();
    }
    if (!keepOpen) this.finished = true;
  }

  async abort(): Promise<void> {
    this.finished = true;
    this.sizes.length = 0;
    const file = this.file;
    this.file = undefined;
    if (file !== undefined && !this.renamed) {
      try {
        await rm(file, { force: true });
      } catch (error) {
        throw storeFault(error, `cannot remove the staged parts of ${this.target}`);
      }
    }
  }

  private async tempFile(): Promise<string> {
    if (this.file === undefined) {
      const file = path.join(await this.context.tempDir(), `${process.pid}-${randomBytes(6).toString('hex')}-${path.basename(this.target)}`);
      await writeFile(file, new Uint8Array(0));
      this.file = file;
    }
    return this.file;
  }
}

function offsetOf(sizes: readonly number[], part: number): number {
  let offset = 0;
  for (let i = 0; i < part; i++) offset += sizes[i]!;
  return offset;
}

/** Writes `bytes` at `offset` and cuts the file there, so whatever followed (parts staged before a retry) goes. */
async function writeAt(file: string, offset: number, bytes: Uint8Array, sync: boolean): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    for (let written = 0; written < bytes.byteLength; ) {
      const { bytesWritten } = await handle.write(bytes, written, bytes.byteLength - written, offset + written);
      written += bytesWritten;
    }
    await handle.truncate(offset + bytes.byteLength);
    if (sync) await handle.sync();
  } finally {
    await handle.close();
  }
}

function storeFault(error: unknown, what: string): unknown {
  if (error instanceof TributaryError) return error;
  return new TributaryError(fsFaultCode(error), `${what}: ${errorMessage(error)}`, { cause: error });
}

/** File-system faults that pass (too many open files, a busy or interrupted call, a network mount's timeout). */
const TRANSIENT_FS_CODES = new Set(['EAGAIN', 'EBUSY', 'EMFILE', 'ENFILE', 'EINTR', 'ETIMEDOUT', 'ESTALE']);

function fsFaultCode(error: unknown, permanent: 'STORAGE_PERMANENT' | 'INPUT_UNREADABLE' = 'STORAGE_PERMANENT'): 'STORAGE_TRANSIENT' | 'STORAGE_PERMANENT' | 'INPUT_UNREADABLE' {
  return TRANSIENT_FS_CODES.has((error as NodeJS.ErrnoException).code ?? '') ? 'STORAGE_TRANSIENT' : permanent;
}

/** Writes and fsyncs a temporary file for `target` in the staging folder; the caller renames it into place. */
async function stage(tempDir: string, target: string, bytes: Uint8Array): Promise<string> {
  const temp = path.join(tempDir, `${process.pid}-${randomBytes(6).toString('hex')}-${path.basename(target)}`);
  await writeFile(temp, bytes, { flush: true });
  return temp;
}

/**
 * Creates the staging folder and removes what processes that no longer run left in it (a SIGKILL between write
 * and rename). Files of live processes stay: another store of this process, or another worker on the same folder,
 * may be writing them right now.
 */
async function prepareTempDir(tempDir: string): Promise<void> {
  await mkdir(tempDir, { recursive: true });
  for (const name of await readdir(tempDir)) {
    const pid = Number(name.slice(0, name.indexOf('-')));
    if (Number.isSafeInteger(pid) && pid > 0 && isRunning(pid)) continue;
    await rm(path.join(tempDir, name), { force: true });
  }
}

function isRunning(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readMetadata(file: string): Promise<Record<string, string>> {
  try {
    return JSON.parse(await readFile(file + METADATA_SUFFIX, 'utf8')) as Record<string, string>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
}
