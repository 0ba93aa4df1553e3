/**
 * Ownership epochs: every time an owner takes a partition it claims the next epoch, an integer kept in the state
 * store (`owners/<stream>/partition=<p>`) and raised only by a conditional write, so two owners never hold the
 * same one. Every file, dead-letter file, snapshot and checkpoint the owner writes carries its epoch
 * (ObjectStore.putFenced), and a store refuses a write whose epoch is older than the object's: an owner that lost
 * its partition while a batch or a retrying upload was in flight can never replace what the newer owner wrote.
 */
import { TributaryError } from '../core/errors.js';
import type { ObjectStore, StoreCallOptions } from '../core/object-store.js';

export interface OwnerRecord {
  epoch: number;
  owner: string;
  claimedAt: string;
}

export function ownerKey(stream: string, partition: string): string {
  return `owners/${stream}/partition=${partition}.json`;
}

/** Claims the next epoch of a partition for `owner`. A concurrent claim makes this one retry above it. */
export async function claimEpoch(state: ObjectStore, stream: string, partition: string, owner: string, options: StoreCallOptions = {}): Promise<number> {
  const key = ownerKey(stream, partition);
  let tried = 0;
  for (let attempt = 0; attempt < 20; attempt++) {
    const current = await readOwner(state, stream, partition, options);
    // Above what was tried before too: a write cut short by a crash can leave the store's epoch ahead of the record.
    const epoch = Math.max((current?.epoch ?? 0) + 1, tried + 1);
    tried = epoch;
    const record: OwnerRecord = { epoch, owner, claimedAt: new Date().toISOString() };
    try {
      await state.putFenced(key, Buffer.from(JSON.stringify(record)), {}, { epoch, claim: true }, options);
      return epoch;
    } catch (error) {
      if (error instanceof TributaryError && error.code === 'OWNERSHIP_LOST') continue;
      throw error;
    }
  }
  throw new TributaryError('OWNERSHIP_LOST', `could not claim partition ${stream}/${partition}: other owners kept claiming it`);
}

export async function readOwner(state: ObjectStore, stream: string, partition: string, options: StoreCallOptions = {}): Promise<OwnerRecord | undefined> {
  const bytes = await state.get(ownerKey(stream, partition), options);
  if (!bytes) return undefined;
  const parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<OwnerRecord>;
  if (typeof parsed.epoch !== 'number' || !Number.isSafeInteger(parsed.epoch)) {
    throw new TributaryError('STORAGE_PERMANENT', `${state.location}/${ownerKey(stream, partition)} is not an owner record (no integer epoch)`);
  }
  return { epoch: parsed.epoch, owner: String(parsed.owner ?? ''), claimedAt: String(parsed.claimedAt ?? '') };
}
