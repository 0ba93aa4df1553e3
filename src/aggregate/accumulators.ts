/**
 * Mergeable partial aggregates with SQL semantics. Each measure keeps a fixed-size numeric state so partial
 * results from different partitions (or a restored snapshot) combine by `merge`:
 *
 *   count without a field: rows; count of a field: its non-null values (COUNT(*) and COUNT(field));
 *   sum, min, max, mean: over the non-null values, NULL when there are none (SUM of only NULLs is NULL, not 0).
 *
 * Missing values are null, undefined and NaN (a NaN never reaches SQL's comparisons here, so it is not a value).
 */
export type MeasureFn = 'count' | 'sum' | 'min' | 'max' | 'mean';

/** state layout: [value, number of values folded in]; count keeps only the number */
export function initialState(fn: MeasureFn): number[] {
  switch (fn) {
    case 'count':
      return [0];
    case 'sum':
    case 'mean':
      return [0, 0];
    case 'min':
      return [Number.POSITIVE_INFINITY, 0];
    case 'max':
      return [Number.NEGATIVE_INFINITY, 0];
  }
}

/** `countsRows`: a count without a field, which counts every row whatever `value` is. */
export function accumulate(fn: MeasureFn, state: number[], value: unknown, countsRows = false): void {
  if (fn === 'count' && countsRows) {
    state[0]! += 1;
    return;
  }
  const x = typeof value === 'number' ? value : typeof value === 'bigint' ? Number(value) : Number.NaN;
  if (Number.isNaN(x)) return;
  switch (fn) {
    case 'count':
      state[0]! += 1;
      return;
    case 'sum':
    case 'mean':
      state[0]! += x;
      state[1]! += 1;
      return;
    case 'min':
      if (x < state[0]!) state[0] = x;
      state[1]! += 1;
      return;
    case 'max':
      if (x > state[0]!) state[0] = x;
      state[1]! += 1;
      return;
  }
}

export function merge(fn: MeasureFn, into: number[], from: readonly number[]): void {
  switch (fn) {
    case 'count':
      into[0]! += from[0]!;
      return;
    case 'sum':
    case 'mean':
      into[0]! += from[0]!;
      into[1]! += from[1]!;
      return;
    case 'min':
      into[0] = Math.min(into[0]!, from[0]!);
      into[1]! += from[1]!;
      return;
    case 'max':
      into[0] = Math.max(into[0]!, from[0]!);
      into[1]! += from[1]!;
      return;
  }
}

/** The value a measure reports: null when it saw no values (every measure but count). */
export function result(fn: MeasureFn, state: readonly number[]): number | null {
  switch (fn) {
    case 'count':
      return state[0]!;
    case 'sum':
    case 'min':
    case 'max':
      return state[1]! > 0 ? state[0]! : null;
    case 'mean':
      return state[1]! > 0 ? state[0]! / state[1]! : null;
  }
}
