/**
 * Reset positions of a Capture archive: ranges, time lookups and event counts from the archive's own index; the
 * group's position is the checkpoint the source keeps in the state store (the snapshot history decides where it
 * really resumes, and `tributary reset` moves both).
 */
import type { CheckpointStore } from '../../core/checkpoint-store.js';
import type { ObjectStore } from '../../core/object-store.js';
import type { PartitionRange, SourcePositions } from '../../state/source-positions.js';
import { indexArchive, readFileEvents, type ArchiveIndex, type ArchiveLocation, type IndexedFile } from './archive-index.js';

export class CapturePositions implements SourcePositions {
  readonly description: string;
  private index: Promise<ArchiveIndex> | undefined;

  constructor(
    private readonly archive: ArchiveLocation,
    private readonly checkpoints: CheckpointStore,
    private readonly cache: ObjectStore | undefined,
  ) {
    this.description = `capture archive ${archive.store.location}/${archive.namespace}`;
  }

  private files(stream: string, partition: string): Promise<IndexedFile[]> {
    this.index ??= indexArchive(this.archive, this.cache);
    return this.index.then((index) => index.get(stream)?.get(partition) ?? []);
  }

  async partitions(stream: string): Promise<PartitionRange[]> {
    this.index ??= indexArchive(this.archive, this.cache);
    const partitions = (await this.index).get(stream) ?? new Map<string, IndexedFile[]>();
    return [...partitions].map(([partition, files]) => {
      const nonEmpty = files.filter((f) => f.first && f.last);
      const earliest = nonEmpty[0]?.first?.position ?? 0;
      const latest = (nonEmpty.at(-1)?.last?.position ?? -1) + 1;
      return { partition, earliest, latest };
    });
  }

  async current(stream: string, partition: string): Promise<number | undefined> {
    return (await this.checkpoints.list(stream)).find((c) => c.partition === partition)?.nextPosition;
  }

  async positionAtTime(stream: string, partition: string, timeMs: number): Promise<number> {
    const files = (await this.files(stream, partition)).filter((f) => f.first && f.last);
    // Enqueued times grow with positions inside a partition, so the first file whose last event is at or after
    // the time holds the answer.
    const file = files.find((f) => f.last!.enqueuedTimeMs >= timeMs);
    if (!file) return (files.at(-1)?.last?.position ?? -1) + 1;
    const { events } = await readFileEvents(this.archive.store, file.key);
    return events.find((e) => e.enqueuedTimeMs >= timeMs)!.position;
  }

  async countFrom(stream: string, partition: string, from: number): Promise<number> {
    let count = 0;
    for (const file of await this.files(stream, partition)) {
      if (!file.first || !file.last || file.last.position < from) continue;
      if (file.first.position >= from) count += file.count;
      else count += (await readFileEvents(this.archive.store, file.key)).events.filter((e) => e.position >= from).length;
    }
    return count;
  }

  async commit(stream: string, partition: string, position: number, offsetBefore: string): Promise<void> {
    await this.checkpoints.update({ stream, partition, nextPosition: position, offset: offsetBefore });
  }
}
