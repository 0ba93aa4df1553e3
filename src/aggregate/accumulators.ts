/**
 * Mergeable partial aggregates. Each measure keeps a fixed-size numeric state so partial results from different
 * partitions (or a restored snapshot) combine by `merge`; mean is kept as sum + count.
 */
export type MeasureFn = 'count' | 'sum' | 'min' | 'max' | 'mean';

/** state layout per measure: count -> [n]; sum -> [s]; min -> [m]; max -> [m]; mean -> [s, n] */
export function initialState(fn: MeasureFn): number[] {
  switch (fn) {
    case 'count':
    case 'sum':
      return [0];
    case 'min':
      return [Number.POSITIVE_INFINITY];
    case 'max':
      return [Number.NEGATIVE_INFINITY];
    case 'mean':
      return [0, 0];
  }
}

/** Folds one value in; null/undefined/NaN values are skipped (SQL semantics), except that count counts rows. */
export function accumulate(fn: MeasureFn, state: number[], value: unknown): void {
  if (fn === 'count') {
    state[0]! += 1;
    return;
  }
  const x = typeof value === 'number' ? value : typeof value === 'bigint' ? Number(value) : Number.NaN;
  if (Number.isNaN(x)) return;
  switch (fn) {
    case 'sum':
      state[0]! += x;
      return;
    case 'min':
      if (x < state[0]!) state[0] = x;
      return;
    case 'max':
      if (x > state[0]!) state[0] = x;
      return;
    case 'mean':
      state[0]! += x;
      state[1]! += 1;
      return;
  }
}

export function merge(fn: MeasureFn, into: number[], from: readonly number[]): void {
  switch (fn) {
    case 'count':
    case 'sum':
      into[0]! += from[0]!;
      return;
    case 'min':
      into[0] = Math.min(into[0]!, from[0]!);
      return;
    case 'max':
      into[0] = Math.max(into[0]!, from[0]!);
      return;
    case 'mean':
      into[0]! += from[0]!;
      into[1]! += from[1]!;
      return;
  }
}

/** The value a measure reports; null when it saw no values (min/max/mean of nothing). */
export function result(fn: MeasureFn, state: readonly number[]): number | null {
  switch (fn) {
    case 'count':
    case 'sum':
      return state[0]!;
    case 'min':
    case 'max':
      return Number.isFinite(state[0]!) ? state[0]! : null;
    case 'mean':
      return state[1]! > 0 ? state[0]! / state[1]! : null;
  }
}
