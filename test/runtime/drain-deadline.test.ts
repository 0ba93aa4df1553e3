/**
 * The drain deadline's message and backstop: armed by the shutdown request, at the deadline it says what was in
 * flight; if the run has not ended a tenth of the deadline later the process exits 1. Disarmed when the worker
 * stops in time. The timers are the test's own (no waiting).
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../src/core/log.js';
import { DRAIN_DEADLINE_EXIT_CODE, armDrainDeadline } from '../../src/runtime/drain-deadline.js';

interface Timer {
  fire: () => void;
  ms: number;
  cancelled: boolean;
}

function harness(): { schedule: (fire: () => void, ms: number) => () => void; timers: Timer[]; exits: number[]; lines: Record<string, unknown>[]; log: Logger } {
  const timers: Timer[] = [];
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return {
    timers,
    exits: [],
    lines,
    log: pino({ level: 'info' }, sink) as Logger,
    schedule: (fire, ms) => {
      const timer = { fire, ms, cancelled: false };
      timers.push(timer);
      return () => {
        timer.cancelled = true;
      };
    },
  };
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('armDrainDeadline', () => {
  it('starts on the shutdown request, says what is in flight at the deadline, and exits 1 if the run has not ended after a tenth more', async () => {
    const h = harness();
    const controller = new AbortController();
    armDrainDeadline(controller.signal, { deadlineMs: 25_000, log: h.log, inFlight: () => '2 batch(es) of orders/0, orders/1', exit: (code) => h.exits.push(code), schedule: h.schedule });
    expect(h.timers).toEqual([]);
    controller.abort(new Error('received SIGTERM'));
    expect(h.timers.map((t) => t.ms)).toEqual([25_000]);
    h.timers[0]!.fire();
    await settle();
    const said = String(h.lines.at(-1)?.msg);
    expect(said).toContain('drain deadline of 25 s passed');
    expect(said).toContain('nothing more is committed');
    expect(said).toContain('Still in flight: 2 batch(es) of orders/0, orders/1');
    expect(h.exits).toEqual([]);
    expect(h.timers.map((t) => t.ms)).toEqual([25_000, 2_500]);
    h.timers[1]!.fire();
    expect(h.exits).toEqual([DRAIN_DEADLINE_EXIT_CODE]);
    expect(DRAIN_DEADLINE_EXIT_CODE).not.toBe(0);
  });

  it('never exits once the worker stopped in time, even between the deadline and the backstop', () => {
    const h = harness();
    const controller = new AbortController();
    const deadline = armDrainDeadline(controller.signal, { deadlineMs: 25_000, log: h.log, inFlight: () => 'nothing', exit: (code) => h.exits.push(code), schedule: h.schedule });
    controller.abort();
    h.timers[0]!.fire();
    deadline.disarm(); // the hard stop ended the run
    expect(h.timers.every((t) => t.cancelled)).toBe(true);
    h.timers[1]!.fire(); // a timer that fires anyway (a race with clearTimeout) does nothing
    expect(h.exits).toEqual([]);
  });

  it('never starts when the worker stopped on its own before any shutdown request', () => {
    const h = harness();
    const controller = new AbortController();
    armDrainDeadline(controller.signal, { deadlineMs: 25_000, log: h.log, inFlight: () => 'nothing', exit: (code) => h.exits.push(code), schedule: h.schedule }).disarm();
    controller.abort();
    expect(h.timers).toEqual([]);
  });
});
