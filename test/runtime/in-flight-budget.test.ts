/**
 * The in-flight byte budget: against a first-come-first-served model of it, and through a whole worker on a
 * generated Capture archive, where the bytes the source has handed over and the partitions have not yet applied
 * stay within the budget (and exceed it without one), with the same lake either way.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TributaryConfig } from '../../src/config/schema.js';
import { createLogger } from '../../src/core/log.js';
import type { PartitionBatch, PartitionHandler } from '../../src/core/source.js';
import { generateArchive } from '../../src/gen/archive.js';
import { EVENT_OVERHEAD_BYTES, InFlightBudget } from '../../src/runtime/in-flight-budget.js';
import { RunTotals } from '../../src/runtime/observer.js';
import { runWorker } from '../../src/runtime/worker.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { embeddedConfig } from '../support/embedded-config.js';
import { snapshotLake } from '../support/lake.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('InFlightBudget', () => {
  it('grants in arrival order exactly what a model grants, and never holds more than the limit (or one batch alone)', async () => {
    type Op = { kind: 'acquire'; bytes: number } | { kind: 'release'; pick: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('acquire' as const), bytes: fc.integer({ min: 1, max: 150 }) }),
      fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }),
    );
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 120 }), fc.array(op, { maxLength: 40 }), async (limit, ops) => {
        const budget = new InFlightBudget(limit);
        const granted = new Set<number>();
        const held: Array<{ id: number; bytes: number }> = [];
        // the model: a queue served from its head while the head fits (anything fits when nothing is held)
        const modelQueue: Array<{ id: number; bytes: number }> = [];
        let modelUsed = 0;
        const modelGranted = new Set<number>();
        const serve = (): void => {
          while (modelQueue.length > 0 && (modelUsed === 0 || modelUsed + modelQueue[0]!.bytes <= limit)) {
            const next = modelQueue.shift()!;
            modelUsed += next.bytes;
            modelGranted.add(next.id);
          }
        };
        const sizes: number[] = [];
        for (const [id, step] of ops.entries()) {
          if (step.kind === 'acquire') {
            sizes[id] = step.bytes;
            void budget.acquire(step.bytes).then(() => {
              granted.add(id);
              held.push({ id, bytes: step.bytes });
            });
            modelQueue.push({ id, bytes: step.bytes });
            serve();
          } else if (held.length > 0) {
            const [released] = held.splice(step.pick % held.length, 1);
            budget.release(released!.bytes);
            modelUsed -= released!.bytes;
            serve();
          }
          await settle();
          expect(granted).toEqual(modelGranted);
          expect(budget.used).toBe(modelUsed);
          const largestHeld = Math.max(0, ...held.map((h) => h.bytes));
          expect(budget.used).toBeLessThanOrEqual(Math.max(limit, largestHeld));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('rejects a waiter whose signal fires with ABORTED, and serves the one behind it', async () => {
    const budget = new InFlightBudget(100);
    await budget.acquire(80);
    const controller = new AbortController();
    const big = budget.acquire(50, controller.signal);
    let smallGranted = false;
    void budget.acquire(20).then(() => (smallGranted = true));
    await settle();
    expect(smallGranted).toBe(false); // first come, first served: it waits behind the big one
    controller.abort(new Error('partition lost'));
    await expect(big).rejects.toMatchObject({ code: 'ABORTED' });
    await settle();
    expect(smallGranted).toBe(true);
    expect(budget.used).toBe(100);
  });

  it('refuses a release of bytes it never gave', () => {
    expect(() => new InFlightBudget(10).release(1)).toThrow(RangeError);
    expect(() => new InFlightBudget(0)).toThrow(RangeError);
  });
});

describe('a worker under an in-flight byte budget', () => {
  let ws: Workspace;
  const BUDGET = 60_000;

  beforeAll(async () => {
    ws = await createWorkspace('tributary-budget-');
    const { config } = await ws.writeConfig(embeddedConfig(ws));
    await generateArchive(config, { events: 2500, partitions: 4, keys: 200, span: '30m', seed: 11 });
  }, 120_000);
  afterAll(() => ws?.cleanup());

  /** Runs the worker into `lake`; returns the most bytes ever handed over and not yet applied, and the largest batch. */
  async function run(lake: string, inFlightBytes: number | undefined): Promise<{ peak: number; largestBatch: number; capturedBatches: number }> {
    const base = embeddedConfig(ws);
    const { config } = await ws.writeConfig(
      {
        ...base,
        processing: { ...base.processing, batchSize: 100, inFlightBatches: 8, ...(inFlightBytes ? { inFlightBytes } : {}) },
        lake: { kind: 'local', path: ws.file(lake) },
        state: { kind: 'local', path: ws.file(`${lake}-state`) },
        deadLetter: { kind: 'local', path: ws.file(`${lake}-deadletter`) },
      },
      `${lake}.yaml`,
    );
    // per partition, the sizes of the batches handed over, in order; the observer says when each starts and settles
    const offered = new Map<string, number[]>();
    const started = new Map<string, number>();
    const settled = new Map<string, number>();
    let inFlight = 0;
    let peak = 0;
    let largestBatch = 0;
    let capturedBatches = 0;
    const observer = Object.assign(new RunTotals(), {
      batchStarted: (stream: string, partition: string) => {
        const id = `${stream}/${partition}`;
        const n = started.get(id) ?? 0;
        started.set(id, n + 1);
        inFlight += offered.get(id)![n]!;
        peak = Math.max(peak, inFlight);
      },
      batchSettled: (stream: string, partition: string) => {
        const id = `${stream}/${partition}`;
        const n = settled.get(id) ?? 0;
        settled.set(id, n + 1);
        inFlight -= offered.get(id)![n]!;
      },
    });
    const wrapHandler = (handler: PartitionHandler): PartitionHandler => ({
      // the worker reads Capture blocks in the lanes: batches carry their stored bytes instead of events
      ...(handler.takesCaptureBlocks ? { takesCaptureBlocks: true } : {}),
      onAssigned: (stream, partition, feed) => handler.onAssigned(stream, partition, feed),
      onBatch: (batch: PartitionBatch) => {
        // counted here, from the bodies or stored blocks, not by the budget's own function
        let bytes = batch.events.reduce((sum, event) => sum + event.body.byteLength + EVENT_OVERHEAD_BYTES, 0);
        if (batch.capture) {
          capturedBatches++;
          bytes += batch.capture.data.byteLength;
          for (const item of batch.capture.items) if ('count' in item) bytes += item.count * EVENT_OVERHEAD_BYTES;
        }
        largestBatch = Math.max(largestBatch, bytes);
        const id = `${batch.stream}/${batch.partition}`;
        offered.set(id, [...(offered.get(id) ?? []), bytes]);
        return handler.onBatch(batch);
      },
      onCaughtUp: (stream, partition) => handler.onCaughtUp?.(stream, partition) ?? Promise.resolve(),
      onRevoked: (stream, partition, reason) => handler.onRevoked(stream, partition, reason),
    });
    await runWorker(config as TributaryConfig, {
      bounded: true,
      signal: new AbortController().signal,
      log: createLogger('silent'),
      observers: [observer],
      wrapHandler,
    });
    expect(inFlight).toBe(0);
    return { peak, largestBatch, capturedBatches };
  }

  it('keeps what the source read ahead within the budget, and lands the same lake as without it', async () => {
    const unbounded = await run('lake-free', undefined);
    const bounded = await run('lake-bounded', BUDGET);
    // without the budget the source runs further ahead than the budget allows, so the bound below is not vacuous
    expect(unbounded.peak).toBeGreaterThan(BUDGET);
    expect(bounded.capturedBatches).toBeGreaterThan(0);
    expect(bounded.largestBatch).toBeLessThan(BUDGET);
    expect(bounded.peak).toBeLessThanOrEqual(BUDGET);
    const free = await snapshotLake(new LocalObjectStore(ws.file('lake-free')));
    expect(free.size).toBeGreaterThan(10);
    expect(await snapshotLake(new LocalObjectStore(ws.file('lake-bounded')))).toEqual(free);
  }, 180_000);
});
