/**
 * The snapshot history: one object per committed cell boundary, restore at or before a position, retention by
 * count and by age (the newest always kept), and the deletion a reset makes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventTimeGate } from '../../src/aggregate/event-time-gate.js';
import type { PartitionSnapshot } from '../../src/aggregate/snapshot.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { SnapshotStore } from '../../src/state/snapshot-store.js';

const gate = new EventTimeGate({ allowedOutOfOrdernessMs: 0, allowedLatenessMs: 0, dedupRetentionMs: 1, dedupMaxIds: 10 });
const at = (position: number, partition = '0'): PartitionSnapshot => ({
  version: 3, stream: 'orders', partition, fingerprint: 'f', position, offsetBefore: String(position - 1), gate: gate.snapshot(), aggregators: {},
});

describe('SnapshotStore', () => {
  let dir: string;
  let store: LocalObjectStore;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tributary-snapshots-'));
    store = new LocalObjectStore(dir);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('keeps one snapshot per position, zero-padded so lexical order is position order', async () => {
    const snapshots = new SnapshotStore(store, { count: 100, ageMs: 1e12 });
    for (const p of [1000, 0, 20000, 300]) await snapshots.write(at(p));
    await snapshots.write(at(500, '1'));
    expect((await store.list('snapshots/orders/partition=0/')).map((o) => o.key)).toEqual([
      'snapshots/orders/partition=0/pos0000000000000000.snap',
      'snapshots/orders/partition=0/pos0000000000000300.snap',
      'snapshots/orders/partition=0/pos0000000000001000.snap',
      'snapshots/orders/partition=0/pos0000000000020000.snap',
    ]);
  });

  it('restores the newest snapshot at or before a position (brute-force model)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.nat(10_000), { maxLength: 12 }), fc.nat(11_000), async (positions, target) => {
        const folder = await mkdtemp(path.join(dir, 'p-'));
        const snapshots = new SnapshotStore(new LocalObjectStore(folder), { count: 100, ageMs: 1e12 });
        for (const p of positions) await snapshots.write(at(p));
        const want = positions.filter((p) => p <= target).sort((a, b) => b - a)[0];
        expect((await snapshots.latestAtOrBefore('orders', '0', target))?.position).toBe(want);
        expect((await snapshots.latestAtOrBefore('orders', '0'))?.position).toBe(positions.length ? Math.max(...positions) : undefined);
      }),
      { numRuns: 25 },
    );
  });

  it('keeps the newest `count` snapshots', async () => {
    const snapshots = new SnapshotStore(store, { count: 3, ageMs: 1e12 });
    for (let p = 0; p < 10; p++) await snapshots.write(at(p * 100));
    expect((await snapshots.history('orders', '0')).map((r) => r.position)).toEqual([700, 800, 900]);
  });

  it('drops snapshots older than `age` but never the newest', async () => {
    let now = 1_000_000;
    const snapshots = new SnapshotStore(store, { count: 100, ageMs: 5000 }, () => now);
    for (let p = 0; p < 5; p++) {
      await snapshots.write(at(p * 100));
      now += 2000;
    }
    // written at 1.000, 1.002, 1.004, 1.006, 1.008 s (x1000); the last write ran at 1.008: cutoff 1.003
    expect((await snapshots.history('orders', '0')).map((r) => r.position)).toEqual([200, 300, 400]);
    now += 1_000_000;
    await snapshots.prune('orders', '0');
    expect((await snapshots.history('orders', '0')).map((r) => r.position)).toEqual([400]);
  });

  it('deletes the snapshots after a reset target and nothing at or before it', async () => {
    const snapshots = new SnapshotStore(store, { count: 100, ageMs: 1e12 });
    for (const p of [0, 100, 200, 300]) await snapshots.write(at(p));
    const removed = await snapshots.deleteAfter('orders', '0', 150);
    expect(removed.map((r) => r.position)).toEqual([200, 300]);
    expect((await snapshots.latestAtOrBefore('orders', '0'))?.position).toBe(100);
  });

  it('falls back to the one snapshot of format-1 state', async () => {
    const legacy = { ...at(700), version: 1, gate: { maxEventTime: null, seen: [['x', 1]] } };
    await store.put('snapshots/orders/partition=0.json', Buffer.from(JSON.stringify(legacy)));
    const snapshots = new SnapshotStore(store);
    // read with its version, which the processor refuses with the error that says how to forget the old state
    expect(await snapshots.latestAtOrBefore('orders', '0')).toMatchObject({ position: 700, version: 1 });
    expect(await snapshots.latestAtOrBefore('orders', '0', 600)).toBeUndefined();
    await snapshots.write(at(800));
    expect((await snapshots.latestAtOrBefore('orders', '0'))?.position).toBe(800);
  });
});
