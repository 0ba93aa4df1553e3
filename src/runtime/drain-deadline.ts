/**
 * The worker's own limit on shutdown. After SIGTERM it finishes in-flight batches, flushes and releases its
 * partitions; a store that hangs could make that last until Kubernetes sends SIGKILL, which says nothing. With a
 * deadline below the pod's grace period the worker ends itself first, with status 1 and a message that names
 * what was still in flight. It exits there and then: nothing after the deadline writes, so no checkpoint moves
 * past data that was not written (the next owner resumes from the last committed checkpoint).
 */
import type { Logger } from '../core/log.js';

export interface DrainDeadlineOptions {
  deadlineMs: number;
  /** What the worker is still doing, for the message (batches in flight, partitions not yet released). */
  inFlight: () => string;
  log: Logger;
  /** Ends the process; injectable for tests. */
  exit?: (code: number) => void;
  /** Schedules the deadline; injectable for tests. The real timer is unref'd: it never keeps a finished process up. */
  schedule?: (fire: () => void, ms: number) => () => void;
}

export interface DrainDeadline {
  /** The worker finished draining (or failed on its own): no deadline any more. */
  disarm(): void;
}

export const DRAIN_DEADLINE_EXIT_CODE = 1;

/** Starts the clock when `signal` aborts (the shutdown request); `disarm` once the worker has stopped. */
export function armDrainDeadline(signal: AbortSignal, options: DrainDeadlineOptions): DrainDeadline {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const schedule = options.schedule ?? realTimer;
  let cancel: (() => void) | undefined;
  let disarmed = false;
  const start = (): void => {
    if (disarmed) return;
    cancel = schedule(() => {
      if (disarmed) return;
      const message = `drain deadline of ${options.deadlineMs / 1000} s passed after the shutdown request; exiting without further writes or checkpoints. Still in flight: ${options.inFlight()}`;
      options.log.fatal({ drainDeadlineMs: options.deadlineMs }, message);
      exit(DRAIN_DEADLINE_EXIT_CODE);
    }, options.deadlineMs);
  };
  if (signal.aborted) start();
  else signal.addEventListener('abort', start, { once: true });
  return {
    disarm: () => {
      disarmed = true;
      signal.removeEventListener('abort', start);
      cancel?.();
    },
  };
}

function realTimer(fire: () => void, ms: number): () => void {
  const timer = setTimeout(fire, ms);
  timer.unref();
  return () => clearTimeout(timer);
}
