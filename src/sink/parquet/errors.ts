/** Rows reach the sink already validated against the table schema, so a value that breaks it is a bug upstream. */
import { TributaryError } from '../../core/errors.js';
import type { ColumnSpec } from '../../core/table.js';

export function contractError(table: string, detail: string, cause?: unknown): TributaryError {
  return new TributaryError('INTERNAL', `parquet: table "${table}" ${detail}`, { cause });
}

export function valueError(table: string, spec: ColumnSpec, row: number, value: unknown, expected: string): TributaryError {
  const got = value === null ? 'null' : value instanceof Uint8Array ? 'Uint8Array' : typeof value;
  return contractError(table, `column "${spec.name}" (${spec.type}${spec.nullable ? ', nullable' : ''}) row ${row}: expected ${expected}, got ${got}`);
}
