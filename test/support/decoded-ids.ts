/**
 * A decoded batch's ids as text, for tests that compare them: the lane never makes these strings for ids the
 * compiled decoder left in the id column (it hashes their bytes, DecodeResult.idColumn).
 */
import type { DecodeResult } from '../../src/ingest/decode/task.js';

/** Ok event `row`'s id: its string, or its bytes in the id column decoded as UTF-8. */
export function decodedId(result: DecodeResult, row: number): string {
  const id = result.ids[row]!;
  const column = result.idColumn;
  if (id !== '' || column === undefined) return id;
  return Buffer.from(column.bytes.buffer, column.bytes.byteOffset, column.bytes.byteLength).toString('utf8', column.offsets[row]!, column.offsets[row + 1]!);
}

export function decodedIds(result: DecodeResult): string[] {
  return result.ids.map((_, row) => decodedId(result, row));
}
