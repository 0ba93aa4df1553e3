/**
 * Group keys that cannot collide: every value is tagged with its type before it is serialised, so null, "null",
 * 1, 1n and "1" are five groups, and a multi-column key is the JSON array of its tagged values (strings are
 * JSON-quoted inside it, so no separator inside a value can fake a column boundary).
 */
export function groupKey(values: readonly unknown[]): string {
  return JSON.stringify(values.map(tagged));
}

function tagged(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'string':
      return `s${value}`;
    case 'number':
      // String() keeps NaN and ±Infinity apart from null; -0 groups with 0 as in SQL.
      return `d${String(value)}`;
    case 'bigint':
      return `i${value}`;
    case 'boolean':
      return `b${value}`;
    default:
      if (value instanceof Uint8Array) return `x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
      return `j${JSON.stringify(value)}`;
  }
}
