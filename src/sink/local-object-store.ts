import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { TributaryError, errorMessage } from '../core/errors.js';
import { EPOCH_METADATA, type Fence, type ObjectInfo, type ObjectStore } from '../core/object-store.js';

const METADATA_SUFFIX = '.meta.json';
const TEMP_PREFIX = '.tmp-';
/** where fenced writes take their locks: outside every table folder, skipped by listings */
const LOCK_FOLDER = '_tributary/locks';
/** a lock older than this was left by a process that died while holding it */
const STALE_LOCK_MS = 30_000;

/**
 * A folder as an object store. Writes go to a temporary file in the target folder, are fsynced, then renamed
 * over the final name: rename is atomic on POSIX, so a reader never sees half a file and a crash leaves at most
 * a `.tmp-*` file that no reader lists.
 */
export class LocalObjectStore implements ObjectStore {
  readonly location: string;

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
      await mkdir(path.dirname(target), { recursive: true });
      if (metadata && Object.keys(metadata).length > 0) {
        await atomicWrite(target + METADATA_SUFFIX, Buffer.from(JSON.stringify(metadata)));
      }
      await atomicWrite(target, bytes);
    } catch (error) {
      throw new TributaryError(fsFaultCode(error), `cannot write ${target}: ${errorMessage(error)}`, { cause: error });
    }
  }

  /** Check and write under a lock file (O_EXCL), so two processes on one folder cannot interleave them. */
  async putFenced(key: string, bytes: Uint8Array, metadata: Record<string, string>, fence: Fence): Promise<void> {
    const target = this.file(key);
    const release = await this.lock(key);
    try {
      const stored = (await readMetadata(target).catch(() => ({}) as Record<string, string>))[EPOCH_METADATA];
      const existing = stored === undefined ? Number.NEGATIVE_INFINITY : Number(stored);
      if (existing > fence.epoch || (fence.claim === true && existing >= fence.epoch)) {
        throw new TributaryError('OWNERSHIP_LOST', `${target} was written by a newer owner (epoch ${existing}; ours is ${fence.epoch}): this owner no longer owns its partition`);
      }
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
        const age = await stat(file).then((info) => Date.now() - info.mtimeMs, () => 0);
        if (age > STALE_LOCK_MS) await rm(file, { force: true });
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
      for (const entry of entries) {
        const key = keyPrefix ? `${keyPrefix}/${entry.name}` : entry.name;
        if (entry.isDirectory()) {
          if (key === '_tributary') continue;
          if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) await walk(path.join(dir, entry.name), key);
        } else if (entry.isFile() && key.startsWith(prefix) && !entry.name.startsWith(TEMP_PREFIX) && !entry.name.endsWith(METADATA_SUFFIX)) {
          const full = path.join(dir, entry.name);
          const info = await stat(full);
          results.push({ key, size: info.size, metadata: await readMetadata(full) });
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

/** File-system faults that pass (too many open files, a busy or interrupted call, a network mount's timeout). */
const TRANSIENT_FS_CODES = new Set(['EAGAIN', 'EBUSY', 'EMFILE', 'ENFILE', 'EINTR', 'ETIMEDOUT', 'ESTALE']);

function fsFaultCode(error: unknown, permanent: 'STORAGE_PERMANENT' | 'INPUT_UNREADABLE' = 'STORAGE_PERMANENT'): 'STORAGE_TRANSIENT' | 'STORAGE_PERMANENT' | 'INPUT_UNREADABLE' {
  return TRANSIENT_FS_CODES.has((error as NodeJS.ErrnoException).code ?? '') ? 'STORAGE_TRANSIENT' : permanent;
}

async function atomicWrite(target: string, bytes: Uint8Array): Promise<void> {
  const temp = path.join(path.dirname(target), `${TEMP_PREFIX}${randomBytes(6).toString('hex')}-${path.basename(target)}`);
  await writeFile(temp, bytes, { flush: true });
  await rename(temp, target);
}

async function readMetadata(file: string): Promise<Record<string, string>> {
  try {
    return JSON.parse(await readFile(file + METADATA_SUFFIX, 'utf8')) as Record<string, string>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
}
