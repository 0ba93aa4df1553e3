/** The window assigner for tumbling windows: each event time belongs to exactly one window [start, start + size). */
export class TumblingWindows {
  constructor(readonly sizeMs: number) {}

  windowStart(eventTime: number): number {
    return Math.floor(eventTime / this.sizeMs) * this.sizeMs;
  }

  windowEnd(windowStart: number): number {
    return windowStart + this.sizeMs;
  }
}
