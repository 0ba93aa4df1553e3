import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { TributaryError, errorMessage } from '../core/errors.js';
import type { ObjectInfo, ObjectStore } from '../core/object-store.js';

const METADATA_SUFFIX = '.meta.json';
const TEMP_PREFIX = '.tmp-';

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
      throw new TributaryError('STORAGE_PERMANENT', `cannot write ${target}: ${errorMessage(error)}`, { cause: error });
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      return await readFile(this.file(key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new TributaryError('INPUT_UNREADABLE', `cannot read ${this.file(key)}: ${errorMessage(error)}`, { cause: error });
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
        throw new TributaryError('INPUT_UNREADABLE', `cannot list ${dir}: ${errorMessage(error)}`, { cause: error });
      }
      for (const entry of entries) {
        const key = keyPrefix ? `${keyPrefix}/${entry.name}` : entry.name;
        if (entry.isDirectory()) {
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
