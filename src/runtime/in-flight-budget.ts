/**
 * The in-flight byte budget: how many bytes of events the sources may have handed over (accepted by a partition
 * driver) that are not applied yet, summed over every partition of the worker. A driver takes its batch's bytes
 * before accepting it and gives them back once the batch is applied (or dropped); while the budget is spent, its
 * `offer` waits, which is the source's backpressure, so a source reads no further ahead however many partitions
 * it serves or how fast it reads. `inFlightBatches` still bounds each partition; this bounds the sum, in bytes.
 *
 * One batch larger than the whole budget is let through when nothing else is in flight, so a budget smaller than
 * a batch slows the worker down but never stalls it. Waiters are served first come, first served: a partition with
 * small batches cannot starve one with large batches.
 */
import { abortError } from '../core/errors.js';
import type { PartitionBatch, SourceEvent } from '../core/source.js';

/**
 * What an event costs in flight besides its body, as an estimate: its SourceEvent (offset text, partition key,
 * properties) on the main thread and its decoded row in the lane until the batch is applied. The budget bounds
 * memory; it is not an account of it.
 */
export const EVENT_OVERHEAD_BYTES = 256;

/** The bytes a batch of events holds while in flight (see EVENT_OVERHEAD_BYTES). */
export function inFlightBytesOf(events: readonly SourceEvent[]): number {
  let bytes = events.length * EVENT_OVERHEAD_BYTES;
  for (const event of events) bytes += event.body.byteLength;
  return bytes;
}

/** The bytes a batch holds while in flight: a Capture batch waits as its blocks' stored bytes (the lane inflates
 * and reads them when the batch is applied), plus the same per-event estimate for its records. */
export function inFlightBytesOfBatch(batch: PartitionBatch): number {
  if (!batch.capture) return inFlightBytesOf(batch.events);
  let records = 0;
  for (const item of batch.capture.items) records += 'count' in item ? item.count : 1;
  return batch.capture.data.byteLength + records * EVENT_OVERHEAD_BYTES;
}

interface Waiter {
  bytes: number;
  grant: () => void;
}

export class InFlightBudget {
  private spent = 0;
  private readonly waiters: Waiter[] = [];

  constructor(readonly limit: number) {
    if (!(limit > 0)) throw new RangeError(`in-flight byte budget must be positive, got ${limit}`);
  }

  /** bytes handed over and not yet applied */
  get used(): number {
    return this.spent;
  }

  /** Resolves once `bytes` fit (or nothing else is in flight); rejects with ABORTED when `signal` fires first. */
  acquire(bytes: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (this.waiters.length === 0 && this.fits(bytes)) {
      this.spent += bytes;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        bytes,
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(abortError(signal!));
        // the one at the head may have been waiting behind this one
        this.grantWaiters();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  release(bytes: number): void {
    this.spent -= bytes;
    if (this.spent < 0) throw new RangeError(`in-flight byte budget released more than was taken (${this.spent})`);
    this.grantWaiters();
  }

  private fits(bytes: number): boolean {
    return this.spent === 0 || this.spent + bytes <= this.limit;
  }

  private grantWaiters(): void {
    while (this.waiters.length > 0 && this.fits(this.waiters[0]!.bytes)) {
      const waiter = this.waiters.shift()!;
      this.spent += waiter.bytes;
      waiter.grant();
    }
  }
}
