/**
 * Incremental snapshots (a manifest per cell boundary naming a chain of dedup segments) against a brute-force
 * model: any sequence of admits, snapshots, restarts, crashes at any store operation of a snapshot write
 * (between the segment and the manifest included), a previous owner writing after a new one took over, resets to
 * any retained boundary and compactions gives the
 * verdicts of a plain Map of id -> time and acceptance number, and every retained snapshot reads back as it was
 * taken. Half the runs write snapshots as a lane sends them (only the entries added since that process's previous
 * snapshot, `gateSnapshotSince`), so chains are also built, and compacted, from what the store holds. Then: the
 * bytes a snapshot writes follow the entries added, not the size of the set.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventTimeGate, type GateOptions } from '../../src/aggregate/event-time-gate.js';
import { SNAPSHOT_VERSION, gateSnapshotSince, type PartitionSnapshot } from '../../src/aggregate/snapshot.js';
import { TributaryError, isRestartable } from '../../src/core/errors.js';
import type { Fence, ObjectStore, StoreCallOptions } from '../../src/core/object-store.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import type { DedupEntries } from '../../src/state/dedup-set.js';
import { SnapshotStore, type ChainLimits, type SnapshotRetention } from '../../src/state/snapshot-store.js';
import { FaultyStore, OperationCounter } from '../support/faulty-store.js';
import { gateIds, ModelGate } from '../support/gate-model.js';

const options: GateOptions = { allowedOutOfOrdernessMs: 30, allowedLatenessMs: 10, dedupRetentionMs: 120, dedupMaxIds: 25 };

type Op =
  | { kind: 'admit'; id: string; time: number }
  | { kind: 'snapshot' }
  | { kind: 'crash'; at: number }
  | { kind: 'restart' }
  | { kind: 'zombie'; cells: number }
  | { kind: 'reset'; pick: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ kind: fc.constant('admit' as const), id: gateIds, time: fc.integer({ min: 0, max: 2000 }) }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'snapshot' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('crash' as const), at: fc.nat(5) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('zombie' as const), cells: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reset' as const), pick: fc.nat(10) }) },
);

interface Taken {
  maxEventTime: number | null;
  seen: DedupEntries;
  model: ModelGate;
}

const snapshotAt = (gate: EventTimeGate, position: number): PartitionSnapshot => ({
  version: SNAPSHOT_VERSION, stream: 'orders', partition: '0', fingerprint: 'f', position, offsetBefore: String(position - 1), gate: gate.snapshot(), aggregators: {},
});

/**
 * A lane's first snapshot of a partition (every entry: `firstIds` acceptances) written at position 1, then
 * `moreIds` more acceptances: the snapshot at position 2, not written (a lane would send only its added entries).
 */
async function afterFirstLaneSnapshot(snapshots: SnapshotStore, firstIds: number, moreIds: number): Promise<{ first: PartitionSnapshot; second: PartitionSnapshot }> {
  const gate = new EventTimeGate({ ...options, dedupRetentionMs: 1e12, dedupMaxIds: 1000 });
  for (let i = 0; i < firstIds; i++) gate.admit(`a${i}`, i);
  const first = snapshotAt(gate, 1);
  await snapshots.write({ ...first, gate: gateSnapshotSince(first.gate, undefined) }, { epoch: 1 });
  for (let i = 0; i < moreIds; i++) gate.admit(`b${i}`, firstIds + i);
  return { first, second: snapshotAt(gate, 2) };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tributary-incremental-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('incremental snapshots', () => {
  it('give the verdicts of a Map through snapshots, restarts, crashes between writes, resets and compactions', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { minLength: 20, maxLength: 160 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 8 }),
        fc.boolean(),
        async (ops, keep, maxSegments, slack, asLane) => {
          const counter = new OperationCounter();
          let failAt = -1;
          const store = new FaultyStore(new LocalObjectStore(await mkdtemp(path.join(dir, 'run-'))), 'state', counter, {
            faultAt: (n) => (n === failAt ? 'permanent' : undefined),
          });
          const retention: SnapshotRetention = { count: keep, ageMs: 1e12 };
          const limits: ChainLimits = { maxSegments, slack };
          let snapshots = new SnapshotStore(store, retention, Date.now, limits);
          const taken = new Map<number, Taken>();
          let gate = new EventTimeGate(options);
          let model = new ModelGate(options);
          let position = 0;
          let epoch = 1;
          /** as a lane: the end of the dedup entries this process's last snapshot carried */
          let sentEnd: number | undefined;
          /** what a process sends: the whole snapshot, or (asLane) only the entries added since its last one */
          const sent = (snapshot: PartitionSnapshot, since: number | undefined): PartitionSnapshot =>
            asLane ? { ...snapshot, gate: gateSnapshotSince(snapshot.gate, since) } : snapshot;
          const endOf = (snapshot: PartitionSnapshot): number => snapshot.gate.seen.first + snapshot.gate.seen.times.length;

          /** A new process: restores the newest snapshot, as the processor does. */
          const restart = async (): Promise<void> => {
            snapshots = new SnapshotStore(store, retention, Date.now, limits);
            sentEnd = undefined;
            const restored = await snapshots.latestAtOrBefore('orders', '0');
            if (!restored) {
              [gate, model, position] = [new EventTimeGate(options), new ModelGate(options), 0];
              return;
            }
            const want = taken.get(restored.position)!;
            expect(restored.gate.seen).toEqual(want.seen);
            gate = EventTimeGate.restore(options, restored.gate);
            model = want.model.clone();
            position = restored.position;
          };

          /** Every retained snapshot reads back as it was taken, whatever was pruned or compacted since. */
          const expectHistoryReadable = async (): Promise<void> => {
            for (const ref of await snapshots.history('orders', '0')) {
              const back = await snapshots.read(ref);
              const want = taken.get(ref.position)!;
              expect(back?.gate.seen, `snapshot at ${ref.position}`).toEqual(want.seen);
              expect(back?.gate.maxEventTime).toBe(want.maxEventTime);
            }
          };

          /**
           * A commit as the processor makes it: a lane's snapshot whose chain is no longer there as this process
           * wrote it (its own retention may prune it when a previous owner wrote further ahead) fails the
           * partition, which restarts from its newest snapshot; a whole snapshot never fails that way.
           */
          const commit = async (): Promise<void> => {
            await take().catch(async (error: unknown) => {
              if (!asLane || !isRestartable(error)) throw error;
              await restart();
            });
          };

          /** Commits a cell; its snapshot counts as taken once its manifest is written (a crash may come after). */
          const take = async (): Promise<void> => {
            position++;
            const snapshot = snapshotAt(gate, position);
            const record = { maxEventTime: snapshot.gate.maxEventTime, seen: structuredClone(snapshot.gate.seen), model: model.clone() };
            const start = counter.count;
            try {
              await snapshots.write(sent(snapshot, sentEnd), { epoch });
              sentEnd = endOf(snapshot);
              taken.set(position, record);
            } catch (error) {
              const done = counter.log.slice(start, counter.count - 1);
              if (done.some((o) => o.startsWith('state put ') && o.endsWith('.snap'))) taken.set(position, record);
              throw error;
            }
          };

          for (const [i, step] of ops.entries()) {
            switch (step.kind) {
              case 'admit':
                expect(gate.admit(step.id, step.time), `op ${i}: ${step.id} @ ${step.time}`).toBe(model.admit(step.id, step.time));
                break;
              case 'snapshot':
                await commit();
                await expectHistoryReadable();
                break;
              case 'crash': {
                // The write dies at its `at`-th store operation: before the segment, between the segment and the
                // manifest, or in the retention after them (or not at all when it has fewer operations).
                failAt = counter.count + step.at;
                await take().catch(() => undefined);
                failAt = -1;
                await restart();
                await expectHistoryReadable();
                break;
              }
              case 'restart':
                await restart();
                break;
              case 'zombie': {
                // A new owner takes the partition (a higher epoch) while the previous one, not yet fenced off,
                // still commits its next cells; its writes succeed until they meet a key the new owner wrote.
                const old = { snapshots, gate, model, epoch, sentEnd };
                epoch++;
                await restart();
                for (let cell = 1; cell <= step.cells; cell++) {
                  for (const id of [`z${i}-${cell}`, `z${i}-${cell}b`]) expect(old.gate.admit(id, 1000)).toBe(old.model.admit(id, 1000));
                  const late = snapshotAt(old.gate, position + cell);
                  const record = { maxEventTime: late.gate.maxEventTime, seen: structuredClone(late.gate.seen), model: old.model.clone() };
                  const failed = await old.snapshots.write(sent(late, old.sentEnd), { epoch: old.epoch }).then(() => undefined, (error: unknown) => error);
                  // as a lane, the previous owner's chain may have been pruned under it by an owner before it
                  // that wrote further ahead: its partition fails (and would restart); it writes no more
                  if (failed !== undefined && asLane && isRestartable(failed)) break;
                  if (failed !== undefined) throw failed;
                  old.sentEnd = endOf(late);
                  taken.set(late.position, record);
                }
                // the new owner commits its first cell, replacing the previous owner's snapshot there
                await commit();
                await expectHistoryReadable();
                break;
              }
              case 'reset': {
                // `tributary reset` to a retained boundary (or to the start, with empty state), then a new process.
                const history = await snapshots.history('orders', '0');
                const target = step.pick < history.length ? history[step.pick]!.position : Number.NEGATIVE_INFINITY;
                await snapshots.deleteAfter('orders', '0', target);
                await restart();
                expect(position).toBe(Number.isFinite(target) ? target : 0);
                await expectHistoryReadable();
                break;
              }
            }
          }
          // The end state restores to the same verdicts for every id the run used.
          await commit();
          // and the store holds the segments its retained snapshots name, no others
          const objects = await store.list('snapshots/orders/partition=0/');
          const named = new Set(objects.flatMap((o) => (o.key.endsWith('.snap') && o.metadata.segments !== 'none' ? o.metadata.segments!.split(',') : [])));
          const segments = objects.filter((o) => o.key.endsWith('.dseg')).map((o) => /seg(\d+)-(\d+)/.exec(o.key)!).map((m) => `${Number(m[1])}-${m[2]}`);
          expect(new Set(segments)).toEqual(named);
          await restart();
          for (const step of ops) if (step.kind === 'admit') expect(gate.admit(step.id, 2000)).toBe(model.admit(step.id, 2000));
        },
      ),
      { numRuns: 60 },
    );
  }, 300_000);

  it('writes a snapshot that does not continue the last one whole, and both read back', async () => {
    const snapshots = new SnapshotStore(new LocalObjectStore(await mkdtemp(path.join(dir, 'unrelated-'))), { count: 10, ageMs: 1e12 });
    const one = new EventTimeGate(options);
    const other = new EventTimeGate(options);
    for (let i = 0; i < 20; i++) one.admit(`a${i}`, i);
    await snapshots.write(snapshotAt(one, 1));
    for (let i = 0; i < 30; i++) other.admit(`b${i}`, i); // same seq range and more, other ids
    await snapshots.write(snapshotAt(other, 2));
    for (let i = 20; i < 24; i++) one.admit(`a${i}`, i);
    await snapshots.write(snapshotAt(one, 3)); // earlier than `other` in seq, later in position
    const read = async (position: number): Promise<DedupEntries | undefined> =>
      (await snapshots.read({ key: `snapshots/orders/partition=0/pos${String(position).padStart(16, '0')}.snap` }))?.gate.seen;
    expect(await read(2)).toEqual(structuredClone(other.snapshot().seen));
    expect(await read(3)).toEqual(structuredClone(one.snapshot().seen));
  });

  it("a lane's snapshot carries only the entries added; one that continues a chain the store no longer holds as written fails the partition", async () => {
    const store = new LocalObjectStore(await mkdtemp(path.join(dir, 'lane-')));
    const snapshots = new SnapshotStore(store);
    const { second } = await afterFirstLaneSnapshot(snapshots, 40, 3);
    const sent = gateSnapshotSince(second.gate, 40);
    expect({ first: sent.seen.first, entries: sent.seen.times.length, liveFirst: sent.liveFirst }).toEqual({ first: 40, entries: 3, liveFirst: 0 });
    // a reset removes the chain under this process: the entries before 40 are nowhere to build on
    await snapshots.deleteAfter('orders', '0', Number.NEGATIVE_INFINITY);
    const failed = await snapshots.write({ ...second, gate: sent }, { epoch: 1 }).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(TributaryError);
    expect(failed).toMatchObject({ code: 'PARTITION_FAILED', message: expect.stringContaining('orders/0 at 2') });
    // the partition restarts: its lane's first snapshot carries every entry, and reads back whole
    const restarted = new SnapshotStore(store);
    await restarted.write({ ...second, gate: gateSnapshotSince(second.gate, undefined) }, { epoch: 2 });
    expect((await restarted.latestAtOrBefore('orders', '0'))?.gate.seen).toEqual(structuredClone(second.gate.seen));
  });

  it("a lane's snapshot whose compaction cannot read back a segment of its chain fails the partition, writing nothing", async () => {
    const inner: ObjectStore = new LocalObjectStore(await mkdtemp(path.join(dir, 'readback-')));
    // the segment is listed (the chain is intact) but gone when read: another process deleted it in between
    let vanish = false;
    const store: ObjectStore = {
      location: inner.location,
      put: (key, bytes, metadata, opts) => inner.put(key, bytes, metadata, opts),
      putFenced: (key: string, bytes: Uint8Array, metadata: Record<string, string>, fence: Fence, opts?: StoreCallOptions) => inner.putFenced(key, bytes, metadata, fence, opts),
      get: async (key, opts) => (vanish && key.endsWith('.dseg') ? undefined : inner.get(key, opts)),
      list: (prefix, opts) => inner.list(prefix, opts),
      delete: (key, opts) => inner.delete(key, opts),
      openUpload: (key, fence) => inner.openUpload(key, fence),
    };
    // one segment per chain at most: the second snapshot compacts, which reads the first segment back
    const snapshots = new SnapshotStore(store, undefined, Date.now, { maxSegments: 1, slack: 0 });
    const { first, second } = await afterFirstLaneSnapshot(snapshots, 10, 3);
    vanish = true;
    const before = (await inner.list('snapshots/')).map((o) => o.key);
    const failed = await snapshots.write({ ...second, gate: gateSnapshotSince(second.gate, 10) }, { epoch: 1 }).catch((error: unknown) => error);
    expect(failed).toMatchObject({ code: 'PARTITION_FAILED', message: expect.stringMatching(/which is missing; the partition restarts from its last snapshot$/) });
    expect((await inner.list('snapshots/')).map((o) => o.key)).toEqual(before);
    // once the segment reads again, the first snapshot is intact and restores
    vanish = false;
    expect((await new SnapshotStore(store).latestAtOrBefore('orders', '0'))?.gate.seen).toEqual(structuredClone(first.gate.seen));
  });

  it('writes bytes that follow the entries added, not the size of the set', async () => {
    const written: number[] = [];
    const inner: ObjectStore = new LocalObjectStore(await mkdtemp(path.join(dir, 'bytes-')));
    const counting: ObjectStore = {
      location: inner.location,
      put: (key, bytes, metadata, opts) => (written.push(bytes.byteLength), inner.put(key, bytes, metadata, opts)),
      putFenced: (key: string, bytes: Uint8Array, metadata: Record<string, string>, fence: Fence, opts?: StoreCallOptions) => (written.push(bytes.byteLength), inner.putFenced(key, bytes, metadata, fence, opts)),
      get: (key, opts) => inner.get(key, opts),
      list: (prefix, opts) => inner.list(prefix, opts),
      delete: (key, opts) => inner.delete(key, opts),
      openUpload: (key, fence) => inner.openUpload(key, fence),
    };
    const big: GateOptions = { allowedOutOfOrdernessMs: 0, allowedLatenessMs: 0, dedupRetentionMs: 1e12, dedupMaxIds: 1_000_000 };
    const snapshots = new SnapshotStore(counting, { count: 4, ageMs: 1e12 });
    const gate = new EventTimeGate(big);
    let n = 0;
    const cell = async (ids: number, position: number): Promise<number> => {
      for (let i = 0; i < ids; i++, n++) gate.admit(`order-${n}`, n);
      written.length = 0;
      await snapshots.write(snapshotAt(gate, position), { epoch: 1 });
      return written.reduce((a, b) => a + b, 0);
    };
    const first = await cell(200_000, 1);
    expect(first).toBeGreaterThanOrEqual(200_000 * 16);
    // 20 more cells of 1000 ids each on a set of 200,000 and more: each writes its 1000 entries and a small rest.
    for (let p = 2; p <= 21; p++) {
      const bytes = await cell(1000, p);
      expect(bytes, `snapshot ${p} of a set of ${gate.dedupSize} ids`).toBeGreaterThanOrEqual(1000 * 16);
      expect(bytes, `snapshot ${p} of a set of ${gate.dedupSize} ids`).toBeLessThanOrEqual(1000 * 16 + 2048); // the rest: the manifest, which lists the chain
    }
    // A cell that adds nothing writes the manifest only (its size varies a little: v8 writes a number as an
    // integer or a double depending on how it is held).
    expect(await cell(0, 22)).toBeLessThan(2048);
    // And the whole chain restores.
    const restored = await new SnapshotStore(inner).latestAtOrBefore('orders', '0');
    expect(restored?.gate.seen).toEqual(structuredClone(gate.snapshot().seen));
  }, 120_000);
  it('restores the newest intact snapshot when a segment the newest names was deleted under it', async () => {
    const store = new LocalObjectStore(await mkdtemp(path.join(dir, 'lost-segment-')));
    const snapshots = new SnapshotStore(store, { count: 10, ageMs: 1e12 });
    const gate = new EventTimeGate({ ...options, dedupRetentionMs: 1e9, dedupMaxIds: 1000 });
    const taken: DedupEntries[] = [];
    for (let position = 1; position <= 3; position++) {
      for (let i = 0; i < 5; i++) gate.admit(`id-${position}-${i}`, position * 10 + i);
      await snapshots.write(snapshotAt(gate, position), { epoch: 1 });
      taken.push(structuredClone(gate.snapshot().seen));
    }
    // what a previous owner's retention could do between a listing and the manifest put: the newest segment goes
    const newestSegment = (await store.list('snapshots/')).map((o) => o.key).filter((k) => k.endsWith('.dseg')).sort().at(-1)!;
    expect(newestSegment).toContain('seg0000000000000003-1');
    await store.delete(newestSegment);
    const restored = await new SnapshotStore(store).latestAtOrBefore('orders', '0');
    expect(restored?.position).toBe(2);
    expect(restored?.gate.seen).toEqual(taken[1]);
    // with every manifest broken there is nothing right to resume from: the error is the newest one's
    for (const object of await store.list('snapshots/')) if (object.key.endsWith('.dseg')) await store.delete(object.key);
    await expect(new SnapshotStore(store).latestAtOrBefore('orders', '0')).rejects.toThrow(/pos0000000000000003\.snap: names dedup segment .*\.dseg, which is missing/);
  });
});
