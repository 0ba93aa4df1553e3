/**
 * Events per second over the last `windowMs`, not since the start: a running average keeps falling through a
 * stall and hides a recovery, a recent window shows both.
 */
export class RecentRate {
  private readonly samples: Array<{ at: number; count: number }> = [];

  constructor(private readonly windowMs = 10_000) {}

  /** Records the running count at time `at` (ms; non-decreasing). */
  add(at: number, count: number): void {
    this.samples.push({ at, count });
    // keep one sample at or before the window's start, so the rate always spans the whole window
    while (this.samples.length > 2 && this.samples[1]!.at <= at - this.windowMs) this.samples.shift();
  }

  /** Events per second between the oldest sample in the window and the newest; 0 until two samples exist. */
  perSecond(): number {
    if (this.samples.length < 2) return 0;
    const first = this.samples[0]!;
    const last = this.samples[this.samples.length - 1]!;
    const seconds = (last.at - first.at) / 1000;
    return seconds <= 0 ? 0 : (last.count - first.count) / seconds;
  }
}
