/**
 * The drain deadline: armed by the shutdown request, it ends the process with status 1 and names what was in
 * flight; disarmed when the worker stops in time. The timer is the test's own (no waiting).
 */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { Logger } from '../../src/core/log.js';
import { Writable } from 'node:stream';
import { DRAIN_DEADLINE_EXIT_CODE, armDrainDeadline } from '../../src/runtime/drain-deadline.js';

function harness(): {
  schedule: (fire: () => void, ms: number) => () => void;
  pending: { fire: () => void; ms: number; cancelled: boolean }[];
  exits: number[];
  lines: Record<string, unknown>[];
  log: Logger;
} {
  const pending: { fire: () => void; ms: number; cancelled: boolean }[] = [];
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return {
    pending,
    exits: [],
    lines,
    log: pino({ level: 'info' }, sink) as Logger,
    schedule: (fire, ms) => {
      const entry = { fire, ms, cancelled: false };
      pending.push(entry);
      return () => {
        entry.cancelled = true;
      };
    },
  };
}

describe('armDrainDeadline', () => {
  it('starts only when shutdown is requested, and then exits 1 naming what is still in flight', async () => {
    const h = harness();
    const controller = new AbortController();
    armDrainDeadline(controller.signal, { deadlineMs: 25_000, log: h.log, inFlight: () => '2 batch(es) of orders/0, orders/1', exit: (code) => h.exits.push(code), schedule: h.schedule });
    expect(h.pending).toEqual([]);
    controller.abort(new Error('received SIGTERM'));
    expect(h.pending.map((p) => p.ms)).toEqual([25_000]);
    h.pending[0]!.fire();
    expect(h.exits).toEqual([DRAIN_DEADLINE_EXIT_CODE]);
    expect(DRAIN_DEADLINE_EXIT_CODE).not.toBe(0);
    await new Promise((resolve) => setImmediate(resolve));
    const message = String(h.lines.at(-1)?.msg);
    expect(message).toContain('drain deadline of 25 s passed');
    expect(message).toContain('2 batch(es) of orders/0, orders/1');
    expect(message).toContain('without further writes or checkpoints');
  });

  it('never exits once the worker stopped in time', () => {
    const h = harness();
    const controller = new AbortController();
    const deadline = armDrainDeadline(controller.signal, { deadlineMs: 25_000, log: h.log, inFlight: () => 'nothing', exit: (code) => h.exits.push(code), schedule: h.schedule });
    controller.abort();
    deadline.disarm();
    expect(h.pending[0]!.cancelled).toBe(true);
    h.pending[0]!.fire(); // a timer that fires anyway (a race with clearTimeout) does nothing
    expect(h.exits).toEqual([]);
  });

  it('never starts when the worker stopped on its own before any shutdown request', () => {
    const h = harness();
    const controller = new AbortController();
    armDrainDeadline(controller.signal, { deadlineMs: 25_000, log: h.log, inFlight: () => 'nothing', exit: (code) => h.exits.push(code), schedule: h.schedule }).disarm();
    controller.abort();
    expect(h.pending).toEqual([]);
  });
});
