/**
 * Window assigners: which windows an event time belongs to. Tumbling windows are hopping windows whose hop equals
 * their size, so one assigner serves both: an event belongs to the size/hop windows [start, start + size) whose
 * start is a multiple of the hop and lies in (t - size, t].
 */
export class HoppingWindows {
  constructor(
    readonly sizeMs: number,
    readonly hopMs: number = sizeMs,
  ) {
    if (sizeMs <= 0 || hopMs <= 0 || sizeMs % hopMs !== 0) throw new RangeError(`window size ${sizeMs} must be a positive multiple of the hop ${hopMs}`);
  }

  /** Writes the starts of the windows holding `eventTime` into `out` (oldest first) and returns how many. */
  windowStarts(eventTime: number, out: number[]): number {
    const last = Math.floor(eventTime / this.hopMs) * this.hopMs;
    const count = this.sizeMs / this.hopMs;
    for (let i = 0; i < count; i++) out[i] = last - (count - 1 - i) * this.hopMs;
    return count;
  }

  windowEnd(windowStart: number): number {
    return windowStart + this.sizeMs;
  }
}
