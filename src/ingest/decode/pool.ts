import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { SourceEvent } from '../../core/source.js';
import type { TableData } from '../../sink/table.js';
import type { AppendRowsTask, DecodeResult, EventMetadata, StreamDecodeSpec } from './task.js';
import type { LaneInput, LaneOutcome, LaneStep } from '../../runtime/lane-partition.js';
import type { PartitionOpenTask } from './worker.js';

/**
 * The worker threads: one piscina pool of one thread per lane, and every partition pinned to a lane. Pinning
 * lets a lane keep a batch's decoded rows and an open file's row groups, so row data crosses the thread
 * boundary once, as packed bodies in a transfer list; only ids, event times and aggregation inputs come back.
 * (Measured: with one shared pool, cloning decoded columns back and forth kept the main thread busy enough that
 * a second thread added nothing; see bench/RESULTS.md.)
 */
export class DecodePool {
  private readonly lanes: Piscina[];
  private nextBatchId = 1;
  private roundRobin = 0;

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
          // Decoding allocates many short-lived objects; a larger young generation cuts scavenges several-fold.
          resourceLimits: { maxYoungGenerationSizeMb: 64 },
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

  /**
   * Decodes a batch on its partition's lane, which keeps the rows under the returned batch id until
   * `appendRows` / `releaseBatch`.
   */
  async decodeInLane(
    lane: number,
    spec: StreamDecodeSpec,
    events: readonly SourceEvent[],
    metadata: Omit<EventMetadata, 'positions' | 'enqueuedTimes' | 'offsets' | 'partitionKeys' | 'properties'> & { propertyColumns: string[] },
    returnColumns: number[],
    writerSchemas?: Record<number, string>,
  ): Promise<{ batchId: number; result: DecodeResult }> {
    const batchId = this.nextBatchId++;
    const positions = new Float64Array(events.length);
    const enqueuedTimes = new Float64Array(events.length);
    const offsets: string[] = new Array(events.length);
    const partitionKeys: Array<string | null> = new Array(events.length);
    const properties = metadata.propertyColumns.map(() => new Array<string | null>(events.length));
    events.forEach((event, i) => {
      positions[i] = event.position;
      enqueuedTimes[i] = event.enqueuedTimeMs;
      offsets[i] = event.offset;
      partitionKeys[i] = event.partitionKey;
      metadata.propertyColumns.forEach((name, p) => {
        const value = event.properties[name];
        properties[p]![i] = value === undefined || value === null ? null : String(value);
      });
    });
    const packed = packBodies(events);
    const task = {
      spec,
      ...packed,
      ...(writerSchemas ? { writerSchemas } : {}),
      batchId,
      returnColumns,
      metadata: { partition: metadata.partition, positions, enqueuedTimes, offsets, partitionKeys, properties },
    };
    const transferList = [packed.bodies, packed.offsets.buffer as ArrayBuffer, positions.buffer, enqueuedTimes.buffer];
    const result = (await this.lanes[lane]!.run(task, { name: 'laneDecode', transferList })) as DecodeResult;
    return { batchId, result };
  }

  /** Lands rows of decoded batches in open files of the lane (sealing and encoding full row groups there). */
  async appendRows(lane: number, tasks: AppendRowsTask[]): Promise<void> {
    if (tasks.length === 0) return;
    await this.lanes[lane]!.run(tasks, { name: 'appendRows', transferList: tasks.map((t) => t.rows.buffer as ArrayBuffer) });
  }

  async releaseBatch(lane: number, batchId: number): Promise<void> {
    await this.lanes[lane]!.run(batchId, { name: 'releaseBatch' });
  }

  /** An open file's bytes as it stands (row groups plus the unsealed tail); undefined if it has no rows. */
  async fileBytes(lane: number, fileId: string): Promise<Uint8Array | undefined> {
    return ((await this.lanes[lane]!.run(fileId, { name: 'fileBytes' })) as Uint8Array | null) ?? undefined;
  }

  async dropFile(lane: number, fileId: string): Promise<void> {
    await this.lanes[lane]!.run(fileId, { name: 'dropFile' });
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

  /** Encodes a whole table (aggregate files) on any lane; the file moves back. */
  async encode(table: TableData): Promise<Uint8Array> {
    return (await this.anyLane().run(table, { name: 'encodeTable' })) as Uint8Array;
  }

  async close(): Promise<void> {
    await Promise.all(this.lanes.map((lane) => lane.destroy()));
  }

  private anyLane(): Piscina {
    this.roundRobin = (this.roundRobin + 1) % this.lanes.length;
    return this.lanes[this.roundRobin]!;
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
