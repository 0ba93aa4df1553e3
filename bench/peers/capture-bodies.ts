/** The order bodies of a bench Capture archive, read with avsc's container decoder, as a user would. */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import avro from 'avsc';

export interface CaptureBody {
  body: Buffer;
  partition: string;
  sequenceNumber: number;
  offset: string;
  enqueuedTimeMs: number;
  /** the `traceparent` application property, landed as a raw-table column */
  traceparent: string | null;
}

async function* avroFiles(dir: string): AsyncGenerator<string> {
  for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory() || entry.isSymbolicLink()) yield* avroFiles(full);
    else if (entry.name.endsWith('.avro')) yield full;
  }
}

/** Calls `each` for every event of every Capture file under `dir` (partition from the Capture path). */
export async function forEachCaptureEvent(dir: string, each: (event: CaptureBody) => void): Promise<void> {
  for await (const file of avroFiles(dir)) {
    const partition = path.relative(dir, file).split(path.sep)[0]!;
    const decoder = avro.createFileDecoder(file);
    await new Promise<void>((resolve, reject) => {
      decoder.on('data', (record: { Body: Buffer; SequenceNumber: number; Offset: string; EnqueuedTimeUtc: string; Properties: Record<string, unknown> }) => {
        const traceparent = record.Properties?.traceparent;
        each({
          body: record.Body,
          partition,
          sequenceNumber: record.SequenceNumber,
          offset: record.Offset,
          enqueuedTimeMs: Date.parse(record.EnqueuedTimeUtc),
          traceparent: traceparent === undefined || traceparent === null ? null : String(traceparent),
        });
      });
      decoder.on('end', resolve);
      decoder.on('error', reject);
    });
  }
}
