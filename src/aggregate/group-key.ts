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

/** A row's group values and their key. */
export interface RowGroup {
  group: unknown[];
  key: string;
}

/** Distinct groups remembered before the memo starts again (it is a cache: forgetting costs only time). */
const MEMO_LIMIT = 1 << 16;

/**
 * The group of a row of a batch's columns, with its key remembered per distinct combination of primitive values:
 * a row of a group seen before costs one Map lookup per group column instead of building and serialising the
 * tagged array (the largest per-row cost of an aggregator when groups repeat, as they do). Values that are not
 * primitives (bytes, nested values) and -0 (which keys as 0 but must keep its own sign in the group it starts)
 * are keyed afresh each time. A memoised group's array is shared by every window and session of that group:
 * nothing mutates it.
 */
export class GroupKeys {
  private memo = new Map<unknown, unknown>();
  private size = 0;

  constructor(
    private readonly columns: readonly number[],
    private readonly limit = MEMO_LIMIT,
  ) {}

  of(values: readonly ArrayLike<unknown>[], row: number): RowGroup {
    const columns = this.columns;
    const last = columns.length - 1;
    if (last < 0) return this.fresh(values, row);
    let level = this.memo;
    for (let i = 0; i < last; i++) {
      const value = values[columns[i]!]![row] ?? null;
      if (!memoisable(value)) return this.fresh(values, row);
      let next = level.get(value) as Map<unknown, unknown> | undefined;
      if (next === undefined) {
        next = new Map();
        level.set(value, next);
      }
      level = next;
    }
    const value = values[columns[last]!]![row] ?? null;
    if (!memoisable(value)) return this.fresh(values, row);
    const known = level.get(value) as RowGroup | undefined;
    if (known !== undefined) return known;
    const made = this.fresh(values, row);
    if (++this.size > this.limit) {
      this.memo = new Map();
      this.size = 0;
    } else level.set(value, made);
    return made;
  }

  private fresh(values: readonly ArrayLike<unknown>[], row: number): RowGroup {
    const group = this.columns.map((c) => values[c]![row] ?? null);
    return { group, key: groupKey(group) };
  }
}

function memoisable(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'bigint':
      return true;
    case 'number':
      return !Object.is(value, -0);
    default:
      return value === null;
  }
}
