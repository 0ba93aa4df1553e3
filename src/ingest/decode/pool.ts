import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { SourceEvent } from '../source.js';
import type { TableData } from '../../sink/table.js';
import type { EncodedRowGroup } from '../../sink/parquet.js';
import type { DecodeResult, DecodeTask, StreamDecodeSpec } from './task.js';

/**
 * The piscina pool that decodes batches and encodes Parquet files off the main thread. Each call packs the batch's bodies into one
 * buffer the task owns (transferring a Buffer would detach whatever larger ArrayBuffer it is a view of) and
 * moves it to the worker.
 */
export class DecodePool {
  private readonly pool: Piscina;

  constructor(threads: number) {
    const here = import.meta.url;
    // Under the TypeScript sources (tests) the worker is a .ts file and needs tsx's loader; built code is plain JS.
    const isTypeScript = here.endsWith('.ts');
    const workerUrl = new URL(isTypeScript ? './worker.ts' : './worker.js', here);
    this.pool = new Piscina({
      filename: fileURLToPath(workerUrl),
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 30_000,
      // Decoding allocates many short-lived objects; a larger young generation cuts scavenges several-fold.
      resourceLimits: { maxYoungGenerationSizeMb: 64 },
      ...(isTypeScript ? { execArgv: [...process.execArgv, '--import', 'tsx'] } : {}),
    });
  }

  get threads(): number {
    return this.pool.threads.length;
  }

  async decode(spec: StreamDecodeSpec, events: readonly SourceEvent[], writerSchemas?: Record<number, string>, signal?: AbortSignal): Promise<DecodeResult> {
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
    const task: DecodeTask = { spec, bodies, offsets, ...(writerSchemas ? { writerSchemas } : {}) };
    return (await this.pool.run(task, { transferList: [bodies, offsets.buffer as ArrayBuffer], ...(signal ? { signal } : {}) })) as DecodeResult;
  }

  /** Encodes a table as Parquet on a pool thread (the columns are cloned over, the file moves back). */
  async encode(table: TableData): Promise<Uint8Array> {
    return (await this.pool.run(table, { name: 'encodeTable' })) as Uint8Array;
  }

  /** Encodes one row group on a pool thread, for a file assembled later from its groups. */
  async encodeRowGroup(table: TableData): Promise<EncodedRowGroup> {
    return (await this.pool.run(table, { name: 'encodeGroup' })) as EncodedRowGroup;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
