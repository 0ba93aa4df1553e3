/**
 * Progress for people, logs for machines: which kind of progress where, a recent-window rate that does not fall
 * through a stall like a running average, one line per stage change, resumes and stalls said in words, and logs
 * with string levels and ISO times.
 */
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Progress, describeProgress, progressMode } from '../../src/cli/progress.js';
import { RecentRate } from '../../src/cli/rate.js';
import { RunProgress, describeResumes, describeStall } from '../../src/cli/run-progress.js';
import { createLogger } from '../../src/core/log.js';
import type { PartitionFeed, PartitionHandler } from '../../src/core/source.js';

describe('progress mode', () => {
  it('is a bar on a terminal, lines elsewhere, and nothing with -q or in Kubernetes off a terminal', () => {
    const k8s = { KUBERNETES_SERVICE_HOST: '10.0.0.1' };
    expect(progressMode({ isTTY: true, env: {} })).toBe('bar');
    expect(progressMode({ isTTY: false, env: {} })).toBe('lines');
    expect(progressMode({ isTTY: false, env: k8s })).toBe('off');
    expect(progressMode({ isTTY: true, env: k8s })).toBe('bar');
    expect(progressMode({ quiet: true, isTTY: true, env: {} })).toBe('off');
    expect(progressMode({ quiet: true, isTTY: false, env: {} })).toBe('off');
    expect(progressMode({ isTTY: false, env: { ...k8s, TRIBUTARY_PROGRESS: 'lines' } })).toBe('lines');
    expect(progressMode({ quiet: true, isTTY: false, env: { TRIBUTARY_PROGRESS: 'lines' } })).toBe('off');
  });
});

describe('recent rate', () => {
  it('equals the count gained since the last sample at or before the window start, per second (brute force)', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ dt: fc.integer({ min: 1, max: 4000 }), gained: fc.nat(5000) }), { minLength: 1, maxLength: 60 }), (steps) => {
        const windowMs = 10_000;
        const rate = new RecentRate(windowMs);
        const samples: Array<{ at: number; count: number }> = [{ at: 0, count: 0 }];
        rate.add(0, 0);
        for (const { dt, gained } of steps) {
          const last = samples[samples.length - 1]!;
          samples.push({ at: last.at + dt, count: last.count + gained });
          rate.add(last.at + dt, last.count + gained);
        }
        const last = samples[samples.length - 1]!;
        // the model: the latest sample at or before (last - window), else the first; never the last itself
        const candidates = samples.slice(0, -1).filter((s) => s.at <= last.at - windowMs);
        const from = candidates.length > 0 ? candidates[candidates.length - 1]! : samples[0]!;
        const expected = (last.count - from.count) / ((last.at - from.at) / 1000);
        expect(rate.perSecond()).toBeCloseTo(expected, 6);
      }),
    );
  });

  it('drops to zero in a stall that outlasts the window, where the average since the start would not', () => {
    const rate = new RecentRate(10_000);
    for (let s = 0; s <= 20; s++) rate.add(s * 1000, s * 1000); // 1,000 events/s for 20 s
    expect(rate.perSecond()).toBeCloseTo(1000, 6);
    for (let s = 21; s <= 40; s++) rate.add(s * 1000, 20_000); // then nothing for 20 s
    expect(rate.perSecond()).toBe(0);
    expect(20_000 / 40).toBeGreaterThan(0); // (the running average would still say 500 events/s)
  });
});

describe('progress lines', () => {
  const lines = () => {
    const out: string[] = [];
    let now = 0;
    const progress = new Progress({ mode: 'lines', write: (t) => out.push(...t.split('\n').filter((l) => l !== '')), now: () => now });
    return { out, progress, advance: (ms: number) => (now += ms) };
  };

  it('writes a line per stage and per quarter of the work, with percentage, rate and ETA', () => {
    const { out, progress, advance } = lines();
    progress.stage('processing orders');
    progress.start('processing', 'events', { done: 0, total: 1000 });
    for (let done = 100; done <= 1000; done += 100) {
      advance(1000);
      progress.update({ done, total: 1000 });
    }
    progress.end();
    expect(out).toEqual([
      'processing orders',
      'processing: started (1,000 events)',
      'processing: 300 / 1,000 events (30%), 100 events/s, ETA 7 s',
      'processing: 500 / 1,000 events (50%), 100 events/s, ETA 5 s',
      'processing: 800 / 1,000 events (80%), 100 events/s, ETA 2 s',
      'processing: done, 1,000 events in 10 s',
    ]);
  });

  it('says a stall once per kind of wait, not once a second', () => {
    const { out, progress } = lines();
    progress.start('processing', 'events');
    progress.note('no events for 5 s: waiting on A', 'a');
    progress.note('no events for 6 s: waiting on A', 'a');
    progress.note('no events for 7 s: waiting on A and B', 'a,b');
    progress.note('');
    progress.note('no events for 5 s: waiting on A', 'a');
    expect(out).toEqual([
      'processing: no events for 5 s: waiting on A',
      'processing: no events for 7 s: waiting on A and B',
      'processing: no events for 5 s: waiting on A',
    ]);
  });

  it('writes nothing at all when off', () => {
    const out: string[] = [];
    const progress = new Progress({ mode: 'off', write: (t) => out.push(t) });
    progress.stage('x');
    progress.start('processing', 'events', { done: 0, total: 10 });
    progress.update({ done: 10, total: 10 });
    progress.note('stalled');
    progress.end();
    expect(out).toEqual([]);
  });

  it('describes progress without a total as a count and a rate', () => {
    expect(describeProgress('processing', 'events', { done: 1500 }, 250)).toBe('processing: 1,500 events, 250 events/s');
    expect(describeProgress('processing', 'events', { done: 10, total: 100 }, 0)).toBe('processing: 10 / 100 events (10%), 0 events/s, ETA ?');
  });
});

describe('run progress', () => {
  it('summarises where partitions resumed, and which started from the source start', () => {
    const resumes = new Map([
      ['orders/1', { position: 150000 }],
      ['orders/0', { position: 150000 }],
      ['telemetry/0', undefined],
    ]);
    expect(describeResumes(resumes)).toEqual([
      'resumed 2 partitions from checkpoints (orders/0 at 150000, orders/1 at 150000)',
      "started 1 partition from the source's start position (telemetry/0)",
    ]);
  });

  it('says what a stall waits on', () => {
    const busy = new Map([
      ['orders/10', 'writing open files after catching up' as const],
      ['orders/2', 'writing open files after catching up' as const],
      ['telemetry/0', 'processing a full window of batches' as const],
    ]);
    expect(describeStall(7400, busy, 3)).toBe(
      'no events for 7 s: waiting on 2 partitions writing open files after catching up (orders/2, orders/10); 1 partition processing a full window of batches (telemetry/0); 3 files written meanwhile',
    );
    expect(describeStall(5000, new Map(), 0)).toBe('no events for 5 s: waiting on the source to deliver events');
  });

  it('watches a handler: resumes as one line per burst, percentage from consumer lag, stalls with the busy partitions', async () => {
    const out: string[] = [];
    let now = 0;
    const progress = new Progress({ mode: 'lines', write: (t) => out.push(...t.split('\n').filter((l) => l !== '')), now: () => now });
    const watch = new RunProgress(progress, 'processing', () => now);
    let release: () => void = () => undefined;
    const inner: PartitionHandler = {
      onAssigned: async (_stream, partition) => (partition === '0' ? { position: 150000 } : undefined),
      onBatch: async () => undefined,
      onRevoked: async () => undefined,
      onCaughtUp: () => new Promise((resolve) => (release = () => resolve())),
    };
    const handler = watch.wrap(inner);
    watch.start(3_600_000); // ticks by hand below
    const feed: PartitionFeed = { commit: async () => undefined };
    await handler.onAssigned('orders', '0', feed);
    await handler.onAssigned('orders', '1', feed);
    await new Promise((resolve) => setTimeout(resolve, 700)); // the burst settles
    expect(out).toContain('resumed 1 partition from checkpoints (orders/0 at 150000)');
    expect(out).toContain("started 1 partition from the source's start position (orders/1)");

    await handler.onBatch({ stream: 'orders', partition: '0', events: [] });
    watch.eventsIn('orders', '0', 300);
    watch.lag('orders', '0', 0);
    watch.eventsIn('orders', '1', 300);
    watch.lag('orders', '1', 400);
    expect(watch.total()).toBe(1000);
    now += 1000;
    watch.tick();
    expect(out).toContain('processing: 600 / 1,000 events (60%), 600 events/s, ETA 1 s');

    const flushing = handler.onCaughtUp!('orders', '1');
    now += 6000;
    watch.tick();
    expect(out).toContain('orders/1 caught up with the source: writing open files as partitions catch up');
    expect(out).toContain('processing: no events for 7 s: waiting on 1 partition writing open files after catching up (orders/1)');
    release();
    await flushing;
    watch.stop();
    expect(out[out.length - 1]).toBe('processing: done, 600 events in 7 s');
  });
});

describe('logs', () => {
  it('are JSON lines with a string level, an ISO time, and the partition from a child logger', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString().split('\n').filter((l) => l !== ''));
        done();
      },
    });
    const log = createLogger('info', sink);
    log.child({ stream: 'orders', partition: '3' }).warn({ position: 7 }, 'something');
    log.debug('not at info');
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(entry).toMatchObject({ level: 'warn', stream: 'orders', partition: '3', position: 7, msg: 'something' });
    expect(entry.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });
});

describe('npm start', () => {
  it('says it is compiling before tsc runs', async () => {
    const { readFileSync } = await import('node:fs');
    const { REPO_ROOT } = await import('../support/workspace.js');
    const start = (JSON.parse(readFileSync(`${REPO_ROOT}/package.json`, 'utf8')) as { scripts: Record<string, string> }).scripts.start!;
    const say = start.indexOf('compiling');
    expect(say).toBeGreaterThanOrEqual(0);
    expect(say).toBeLessThan(start.indexOf('npm run build'));
  });
});
