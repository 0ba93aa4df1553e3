import { recordTimestamps, splitRecordSet, stampBaseOffset } from './record-batch.js';

interface StoredBatch {
  baseOffset: number;
  /** Offset after the batch's last record. */
  nextOffset: number;
  maxTimestamp: number;
  bytes: Buffer;
}

/**
 * One partition: an ordered log of record batches as producers sent them, with broker-assigned offsets. There is
 * no retention, so the log start offset stays 0 and the high-water mark is the next offset to be written.
 */
export class PartitionLog {
  private readonly batches: StoredBatch[] = [];
  private readonly waiters = new Set<() => void>();
  readonly logStartOffset = 0;
  private next = 0;

  get highWatermark(): number {
    return this.next;
  }

  get batchCount(): number {
    return this.batches.length;
  }

  /** Appends every batch of a produced record set; returns the base offset of the first. */
  append(recordSet: Buffer): number {
    const incoming = splitRecordSet(recordSet);
    const baseOffset = this.next;
    for (const { header, bytes } of incoming) {
      const stored = stampBaseOffset(bytes, this.next);
      const nextOffset = this.next + header.lastOffsetDelta + 1;
      this.batches.push({ baseOffset: this.next, nextOffset, maxTimestamp: header.maxTimestamp, bytes: stored });
      this.next = nextOffset;
    }
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
    return baseOffset;
  }

  /**
   * Whole batches from the one holding `fetchOffset` on, the first always (so an oversized batch still makes
   * progress, as in Kafka), the rest while they fit `maxBytes`.
   */
  read(fetchOffset: number, maxBytes: number): Buffer {
    let index = this.indexOf(fetchOffset);
    if (index < 0) return Buffer.alloc(0);
    const parts: Buffer[] = [];
    let size = 0;
    for (; index < this.batches.length; index++) {
      const batch = this.batches[index]!;
      if (parts.length > 0 && size + batch.bytes.length > maxBytes) break;
      parts.push(batch.bytes);
      size += batch.bytes.length;
    }
    return Buffer.concat(parts, size);
  }

  /** The first offset whose record timestamp is at least `timestamp`, or undefined past the end. */
  async offsetForTimestamp(timestamp: number): Promise<{ offset: number; timestamp: number } | undefined> {
    for (const batch of this.batches) {
      if (batch.maxTimestamp < timestamp) continue;
      for (const record of await recordTimestamps(batch.bytes)) {
        if (record.timestamp >= timestamp) return record;
      }
    }
    return undefined;
  }

  /** Calls `wake` once, at the next append. Returns a function that cancels the wait. */
  onAppend(wake: () => void): () => void {
    this.waiters.add(wake);
    return () => this.waiters.delete(wake);
  }

  private indexOf(offset: number): number {
    let low = 0;
    let high = this.batches.length - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const batch = this.batches[middle]!;
      if (offset < batch.baseOffset) high = middle - 1;
      else if (offset >= batch.nextOffset) low = middle + 1;
      else return middle;
    }
    return -1;
  }
}
