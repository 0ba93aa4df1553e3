/**
 * Partition leases for the Capture source, so several instances can share one archive (each partition read by one
 * of them) and a second instance on the same archive and stores never writes a partition the first one owns.
 * The model is Event Hubs' own ownership records: one small object per partition in the state store, naming the
 * owner and when its claim expires, renewed while it reads; an expired or released lease can be taken. Leases are
 * changed only by fenced writes (ObjectStore.putFenced): each acquisition raises the lease's epoch, so of two
 * instances taking an expired lease at once exactly one succeeds, and a renewal by an owner whose lease was taken
 * meanwhile is refused.
 */
import os from 'node:os';
import { TributaryError, errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { ObjectStore } from '../../core/object-store.js';

export interface LeaseRecord {
  owner: string;
  epoch: number;
  /** epoch ms; 0 = released */
  expiresAt: number;
}

export interface LeaseOptions {
  store: ObjectStore;
  owner: string;
  /** a lease not renewed for this long can be taken by another instance */
  ttlMs: number;
  log: Logger;
}

export class PartitionLease {
  private timer: NodeJS.Timeout | undefined;
  private readonly lost = new AbortController();

  constructor(
    private readonly options: LeaseOptions,
    private readonly key: string,
    private record: LeaseRecord,
  ) {
    // Renew at a third of the lifetime, so two missed renewals still leave the lease ours.
    this.timer = setInterval(() => void this.renew(), Math.max(100, Math.floor(options.ttlMs / 3)));
    this.timer.unref();
  }

  /** aborted when the lease could not be renewed or another instance took it */
  get signal(): AbortSignal {
    return this.lost.signal;
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.lost.signal.aborted) return;
    await this.write({ ...this.record, expiresAt: 0 });
  }

  private async renew(): Promise<void> {
    if (this.timer === undefined || this.lost.signal.aborted) return;
    try {
      await this.write({ ...this.record, expiresAt: Date.now() + this.options.ttlMs });
    } catch (error) {
      if (this.record.expiresAt > Date.now() && !(error instanceof TributaryError && error.code === 'OWNERSHIP_LOST')) {
        this.options.log.warn({ lease: this.key, err: errorMessage(error) }, 'could not renew a partition lease; retrying before it expires');
        return;
      }
      clearInterval(this.timer);
      this.options.log.warn({ lease: this.key, err: errorMessage(error) }, 'partition lease lost');
      this.lost.abort(new TributaryError('OWNERSHIP_LOST', `the lease ${this.key} was lost: ${errorMessage(error)}`, { cause: error }));
    }
  }

  private async write(record: LeaseRecord): Promise<void> {
    await this.options.store.putFenced(this.key, encode(record), {}, { epoch: record.epoch });
    this.record = record;
  }
}

export function leaseKey(stream: string, partition: string): string {
  return `leases/capture/${stream}/partition=${partition}.json`;
}

/** Takes the partition's lease when it is free, expired or already ours; undefined when a live owner holds it. */
export async function acquireLease(options: LeaseOptions, stream: string, partition: string): Promise<PartitionLease | undefined> {
  const key = leaseKey(stream, partition);
  const bytes = await options.store.get(key);
  const current = bytes ? decode(bytes, `${options.store.location}/${key}`) : undefined;
  if (current && current.owner !== options.owner && current.expiresAt > Date.now() && !deadOnThisHost(current.owner)) {
    options.log.info({ stream, partition, owner: current.owner, expiresAt: new Date(current.expiresAt).toISOString() }, 'partition owned by another instance; not reading it');
    return undefined;
  }
  const record: LeaseRecord = { owner: options.owner, epoch: (current?.epoch ?? 0) + 1, expiresAt: Date.now() + options.ttlMs };
  try {
    await options.store.putFenced(key, encode(record), {}, { epoch: record.epoch, claim: true });
  } catch (error) {
    if (error instanceof TributaryError && error.code === 'OWNERSHIP_LOST') return undefined; // another instance took it first
    throw error;
  }
  return new PartitionLease(options, key, record);
}

/** The owner name of this process: host and pid, so a lease left by a dead process on this host is free at once. */
export function localOwnerName(): string {
  return `${os.hostname()}/${process.pid}`;
}

function deadOnThisHost(owner: string): boolean {
  const [host, pid] = owner.split('/');
  if (host !== os.hostname() || pid === undefined || !/^\d+$/.test(pid)) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function encode(record: LeaseRecord): Uint8Array {
  return Buffer.from(JSON.stringify(record));
}

function decode(bytes: Uint8Array, where: string): LeaseRecord {
  const parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<LeaseRecord>;
  if (typeof parsed.owner !== 'string' || typeof parsed.epoch !== 'number' || typeof parsed.expiresAt !== 'number') {
    throw new TributaryError('STORAGE_PERMANENT', `${where} is not a partition lease (owner, epoch, expiresAt)`);
  }
  return { owner: parsed.owner, epoch: parsed.epoch, expiresAt: parsed.expiresAt };
}
