import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { SourceEvent } from '../../core/source.js';
import type { LaneInput, LaneOutcome, LaneStep } from '../../runtime/lane-partition.js';
import type { PartitionOpenTask } from './worker.js';
import { detachBeforeCompiling } from './detach-early.js';

// the main thread detaches every batch it hands to a lane: give the assumption up before its code is optimized
detachBeforeCompiling();

/**
 * The worker threads: one piscina pool of one thread per lane, and every partition pinned to a lane. A partition
 * lives in its lane: its data side (runtime/lane-partition.ts) is created there when the partition is assigned,
 * gets each batch as packed bytes in a transfer list (Capture blocks unparsed), and sends back only counts, the
 * files to write and the snapshot. Calls for one partition are made one after the other by its processor, so
 * their order does not depend on piscina's queue. (Measured: with one shared pool, cloning decoded columns back
 * and forth kept the main thread busy enough that a second thread added nothing; see bench/RESULTS.md.)
 */
export class DecodePool {
  private readonly lanes: Piscina[];

  constructor(threads: number) {
    const here = import.meta.url;
    // Under the TypeScript sources (tests) the worker is a .ts file and needs tsx's loader; built code is plain JS.
    const isTypeScript = here.endsWith('.ts');
    const workerUrl = new URL(isTypeScript ? './worker.ts' : './worker.js', here);
    this.lanes = Array.from(
      { length: threads },
      () =>
        new Piscina({
          filename: fileURLToPath(workerUrl),
          minThreads: 1,
          maxThreads: 1,
          // 16 MiB: since partitions live in the lanes and decode into columns, a larger young generation only
          // raised peak RSS (bench, 400k orders: 1 lane 515-548 -> 487-497 MiB, 2 lanes 572-616 -> 429-462 MiB)
          // with no CPU difference beyond the machine's noise (bench/NOTES.md "Lane heap").
          resourceLimits: { maxYoungGenerationSizeMb: 16 },
          ...(isTypeScript ? { execArgv: [...process.execArgv, '--import', 'tsx'] } : {}),
        }),
    );
  }

  get threads(): number {
    return this.lanes.length;
  }

  /** The lane a partition always uses. */
  laneFor(stream: string, partition: string): number {
    let hash = 2166136261;
    for (const char of `${stream}\u0000${partition}`) hash = Math.imul(hash ^ char.charCodeAt(0), 16777619);
    return (hash >>> 0) % this.lanes.length;
  }

  /** Creates a partition's lane-resident data side (see runtime/lane-partition.ts), restored from `snapshot`. */
  async openPartition(lane: number, task: PartitionOpenTask): Promise<void> {
    await this.lanes[lane]!.run(task, { name: 'partitionOpen' });
  }

  /** Hands a batch to the partition's lane: its buffers move (the caller must not use them again). */
  async partitionBatch(lane: number, id: string, input: LaneInput): Promise<LaneOutcome> {
    const transferList: ArrayBuffer[] =
      input.kind === 'capture'
        ? [input.blocks.data]
        : [input.bodies, input.offsets.buffer as ArrayBuffer, input.positions.buffer as ArrayBuffer, input.enqueuedTimes.buffer as ArrayBuffer];
    return (await this.lanes[lane]!.run({ id, input }, { name: 'partitionBatch', transferList })) as LaneOutcome;
  }

  async flushPartition(lane: number, id: string): Promise<LaneStep[]> {
    return (await this.lanes[lane]!.run(id, { name: 'partitionFlush' })) as LaneStep[];
  }

  async closePartition(lane: number, id: string): Promise<void> {
    await this.lanes[lane]!.run(id, { name: 'partitionClose' });
  }

  async close(): Promise<void> {
    await Promise.all(this.lanes.map((lane) => lane.destroy()));
  }
}

/** Copies the bodies into one buffer this task owns: transferring a Buffer would detach its whole pool slab. */
export function packBodies(events: ReadonlyArray<Pick<SourceEvent, 'body'>>): { bodies: ArrayBuffer; offsets: Uint32Array } {
  const offsets = new Uint32Array(events.length + 1);
  let total = 0;
  for (let i = 0; i < events.length; i++) {
    offsets[i] = total;
    total += events[i]!.body.byteLength;
  }
  offsets[events.length] = total;
  const bodies = new ArrayBuffer(total);
  const view = new Uint8Array(bodies);
  for (let i = 0; i < events.length; i++) view.set(events[i]!.body, offsets[i]!);
  return { bodies, offsets };
}
