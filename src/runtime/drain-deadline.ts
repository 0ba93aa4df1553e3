/**
 * What the drain deadline says, and its backstop. After SIGTERM the worker finishes in-flight batches, flushes and
 * releases its partitions; at `shutdown.drainDeadline` the run's hard stop (src/cli/run.ts) makes the stores give
 * up, so the run ends without committing what was not written. At that moment this logs what was still in flight
 * (the batches and the partitions not yet released), which is what an operator needs to know. If something does
 * not honour the hard stop, the process still ends, with status 1, a tenth of the deadline later: inside the pod's
 * terminationGracePeriodSeconds when that exceeds 1.1 x the deadline, so SIGKILL never ends it without a word.
 * Exiting writes nothing, so no checkpoint moves past data that was not written.
 */
import type { Logger } from '../core/log.js';

export interface DrainDeadlineOptions {
  deadlineMs: number;
  /** What the worker is still doing, for the message (batches in flight, partitions not yet released). */
  inFlight: () => string;
  log: Logger;
  /** Ends the process; injectable for tests. */
  exit?: (code: number) => void;
  /** Schedules a timer; injectable for tests. The real timers are unref'd: they never keep a finished process up. */
  schedule?: (fire: () => void, ms: number) => () => void;
}

export interface DrainDeadline {
  /** The worker finished draining (or failed on its own): no deadline any more. */
  disarm(): void;
}

export const DRAIN_DEADLINE_EXIT_CODE = 1;

/** The backstop's delay after the deadline. */
export const backstopMs = (deadlineMs: number): number => Math.ceil(deadlineMs / 10);

/** Starts the clock when `signal` aborts (the shutdown request); `disarm` once the worker has stopped. */
export function armDrainDeadline(signal: AbortSignal, options: DrainDeadlineOptions): DrainDeadline {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const schedule = options.schedule ?? realTimer;
  const cancels: Array<() => void> = [];
  let disarmed = false;
  const start = (): void => {
    if (disarmed) return;
    cancels.push(
      schedule(() => {
        if (disarmed) return;
        options.log.error(
          { drainDeadlineMs: options.deadlineMs },
          `drain deadline of ${options.deadlineMs / 1000} s passed after the shutdown request; the stores stop retrying and nothing more is committed. Still in flight: ${options.inFlight()}`,
        );
        cancels.push(
          schedule(() => {
            if (disarmed) return;
            options.log.fatal({ drainDeadlineMs: options.deadlineMs }, `the run did not end ${backstopMs(options.deadlineMs) / 1000} s after the drain deadline; exiting. Still in flight: ${options.inFlight()}`);
            exit(DRAIN_DEADLINE_EXIT_CODE);
          }, backstopMs(options.deadlineMs)),
        );
      }, options.deadlineMs),
    );
  };
  if (signal.aborted) start();
  else signal.addEventListener('abort', start, { once: true });
  return {
    disarm: () => {
      disarmed = true;
      signal.removeEventListener('abort', start);
      for (const cancel of cancels) cancel();
    },
  };
}

function realTimer(fire: () => void, ms: number): () => void {
  const timer = setTimeout(fire, ms);
  timer.unref();
  return () => clearTimeout(timer);
}
