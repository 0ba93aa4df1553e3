/**
 * The PartitionHandler contract (src/core/source.ts), checked the same way against every source: the Capture
 * archive, the Event Hubs peer and a real Kafka broker. A source under test is described by a fixture that
 * produces events into its partitions, builds the source and reads the source's own checkpoint back; the tests
 * drive it with a recording handler that checks the ordering rules as batches arrive.
 *
 * Every fixture numbers a partition's events from 0 (sequence numbers, offsets), so the expected positions are
 * written down here, not computed by the source.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TributaryError } from '../../src/core/errors.js';
import type { PartitionBatch, PartitionFeed, PartitionHandler, ResumePoint, Source, SourceEvent } from '../../src/core/source.js';

export const STREAM = 'orders';

export interface ConformanceFixture {
  /** the partition ids of stream `orders` */
  partitions: string[];
  /** appends `counts[i]` events to partition i (positions continue from what the partition holds) */
  produce(counts: number[]): Promise<void>;
  /** a new source over the stream (each call: a new instance on the same checkpoints) */
  source(): Source;
  /** the source's own checkpoint per partition: the next position to read (partitions never committed left out) */
  committed(): Promise<Map<string, number>>;
  cleanup(): Promise<void>;
}

export interface RecordingHandlerOptions {
  /** the resume point onAssigned returns; default: the position this handler last committed (its "snapshot") */
  resume?: (partition: string, assignment: number) => ResumePoint;
  /** runs at the start of onBatch; may throw (a failed partition) or wait */
  beforeBatch?: (batch: PartitionBatch) => Promise<void> | void;
  /** commit through the feed after every accepted batch; default true */
  commit?: boolean;
}

/** One ownership period of a partition: where it resumed and what it was handed. */
export interface Session {
  partition: string;
  resume: ResumePoint;
  positions: number[];
  revoked?: 'lost' | 'shutdown';
}

/**
 * Records what a source hands over, one Session per assignment, and the contract violations it sees as they
 * happen (a batch for a partition it does not own, overlapping batches, a revocation during a batch). Commits
 * through the feed after every accepted batch, like a sink that lands each batch durably.
 */
export class ConformanceHandler implements PartitionHandler {
  readonly sessions: Session[] = [];
  readonly violations: string[] = [];
  readonly caughtUp: string[] = [];
  private readonly current = new Map<string, Session>();
  private readonly feeds = new Map<string, PartitionFeed>();
  private readonly busy = new Set<string>();
  /** per partition: every position below it was accepted and committed (what a snapshot would record) */
  readonly committedBelow = new Map<string, number>();
  private readonly ownership = new Map<string, AbortController>();

  constructor(private readonly options: RecordingHandlerOptions = {}) {}

  async onAssigned(stream: string, partition: string, feed: PartitionFeed): Promise<ResumePoint> {
    if (stream !== STREAM) this.violations.push(`assigned an unknown stream ${stream}`);
    if (this.current.has(partition)) this.violations.push(`assigned twice without a revocation: ${partition}`);
    const assignment = this.sessions.filter((s) => s.partition === partition).length;
    const below = this.committedBelow.get(partition);
    const resume = this.options.resume ? this.options.resume(partition, assignment) : below === undefined ? undefined : { position: below };
    const session: Session = { partition, resume, positions: [] };
    this.sessions.push(session);
    this.current.set(partition, session);
    this.feeds.set(partition, feed);
    this.ownership.set(partition, new AbortController());
    return resume;
  }

  async onBatch(batch: PartitionBatch): Promise<void> {
    const { partition } = batch;
    const session = this.current.get(partition);
    if (!session) this.violations.push(`batch for a partition not owned: ${partition}`);
    if (this.busy.has(partition)) this.violations.push(`overlapping batches: ${partition}`);
    if (batch.events.length === 0) this.violations.push(`empty batch: ${partition}`);
    this.busy.add(partition);
    try {
      await this.options.beforeBatch?.(batch);
      if (!session) return;
      session.positions.push(...batch.events.map((e: SourceEvent) => e.position));
      const last = batch.events.at(-1)!;
      if (this.options.commit === false) return;
      await this.feeds.get(partition)!.commit(last.position + 1, last.offset, this.ownership.get(partition)!.signal);
      this.committedBelow.set(partition, last.position + 1);
    } finally {
      this.busy.delete(partition);
    }
  }

  async onCaughtUp(stream: string, partition: string): Promise<void> {
    if (!this.current.has(partition)) this.violations.push(`caught up but not owned: ${partition}`);
    this.caughtUp.push(partition);
  }

  async onRevoked(stream: string, partition: string, reason: 'lost' | 'shutdown'): Promise<void> {
    const session = this.current.get(partition);
    if (!session) this.violations.push(`revoked but not owned: ${partition}`);
    if (this.busy.has(partition)) this.violations.push(`revoked during a batch: ${partition}`);
    if (reason === 'lost') this.ownership.get(partition)?.abort(new TributaryError('OWNERSHIP_LOST', `${partition} lost`));
    if (session) session.revoked = reason;
    this.current.delete(partition);
  }

  /** every position handed over for a partition, over all its sessions, in order */
  positions(partition: string): number[] {
    return this.sessions.filter((s) => s.partition === partition).flatMap((s) => s.positions);
  }

  sessionsOf(partition: string): Session[] {
    return this.sessions.filter((s) => s.partition === partition);
  }

  owned(): string[] {
    return [...this.current.keys()].sort();
  }

  delivered(): number {
    return this.sessions.reduce((n, s) => n + s.positions.length, 0);
  }
}

const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);

async function until(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * The contract tests for one source. `factory` makes a fresh fixture (its own partitions and checkpoints) per
 * test; it is called inside the test, so a fixture may use hooks' resources (a shared broker).
 */
export function describeSourceConformance(name: string, factory: () => Promise<ConformanceFixture>): void {
  describe(`source conformance: ${name}`, () => {
    const fixtures: ConformanceFixture[] = [];
    afterEach(async () => {
      for (const fixture of fixtures.splice(0)) await fixture.cleanup();
    });
    const make = async (): Promise<ConformanceFixture> => {
      const fixture = await factory();
      fixtures.push(fixture);
      return fixture;
    };
    const counts = [23, 7, 41];

    it('bounded: delivers every event once, in position order per partition, inside its assignment; commits reach the checkpoint; ends after every partition caught up', async () => {
      const fixture = await make();
      await fixture.produce(counts);
      const handler = new ConformanceHandler();
      await fixture.source().run(handler, { signal: new AbortController().signal, bounded: true });

      expect(handler.violations).toEqual([]);
      fixture.partitions.forEach((partition, i) => {
        expect(handler.positions(partition), `partition ${partition}`).toEqual(range(0, counts[i]!));
      });
      expect([...handler.caughtUp].sort()).toEqual([...fixture.partitions].sort());
      // Every session was closed by the end of the run, as a shutdown.
      expect(handler.owned()).toEqual([]);
      expect(handler.sessions.every((s) => s.revoked === 'shutdown')).toBe(true);
      const committed = await fixture.committed();
      fixture.partitions.forEach((partition, i) => expect(committed.get(partition), `checkpoint of ${partition}`).toBe(counts[i]));
    });

    it('commits only through the feed: a handler that never commits leaves the checkpoint where it was', async () => {
      const fixture = await make();
      await fixture.produce(counts);
      await fixture.source().run(new ConformanceHandler(), { signal: new AbortController().signal, bounded: true });
      await fixture.produce([4, 4, 4]);
      // An explicit resume point: what an undefined one means differs (Event Hubs and Kafka resume after their
      // checkpoint, Capture at the start of the archive), which is not what this test is about.
      const handler = new ConformanceHandler({ commit: false, resume: (partition) => ({ position: counts[fixture.partitions.indexOf(partition)]! }) });
      await fixture.source().run(handler, { signal: new AbortController().signal, bounded: true });

      expect(handler.violations).toEqual([]);
      // The second run read the new events and moved the checkpoint nowhere.
      fixture.partitions.forEach((partition, i) => expect(handler.positions(partition)).toEqual(range(counts[i]!, counts[i]! + 4)));
      const committed = await fixture.committed();
      fixture.partitions.forEach((partition, i) => expect(committed.get(partition), `checkpoint of ${partition}`).toBe(counts[i]));
    });

    it('honours the resume point onAssigned returns: nothing below it is delivered, everything from it is', async () => {
      const fixture = await make();
      await fixture.produce(counts);
      const resumeAt = [5, 0, 40];
      const handler = new ConformanceHandler({
        resume: (partition) => ({ position: resumeAt[fixture.partitions.indexOf(partition)]! }),
      });
      await fixture.source().run(handler, { signal: new AbortController().signal, bounded: true });

      expect(handler.violations).toEqual([]);
      fixture.partitions.forEach((partition, i) => {
        expect(handler.positions(partition), `partition ${partition}`).toEqual(range(resumeAt[i]!, counts[i]!));
      });
    });

    it('a restartable failure (PARTITION_FAILED) revokes the partition, assigns it again and redelivers from the new resume point, losing nothing', async () => {
      const fixture = await make();
      await fixture.produce(counts);
      const failing = fixture.partitions[2]!;
      let failures = 0;
      const handler = new ConformanceHandler({
        beforeBatch: (batch) => {
          // The first batch that reaches position 20 fails, once: everything before it was committed.
          if (batch.partition === failing && failures === 0 && batch.events.at(-1)!.position >= 20) {
            failures++;
            throw new TributaryError('PARTITION_FAILED', 'a store fault outlasted the retries; the partition restarts');
          }
        },
      });
      await fixture.source().run(handler, { signal: new AbortController().signal, bounded: true });

      expect(handler.violations).toEqual([]);
      expect(failures).toBe(1);
      const sessions = handler.sessionsOf(failing);
      expect(sessions.length).toBeGreaterThanOrEqual(2);
      // The failed session was closed before the next began (the handler records a violation otherwise).
      expect(sessions[0]!.revoked).toBeDefined();
      const restarted = sessions[1]!;
      // The second assignment resumed where the first committed, and re-read from exactly there.
      expect(restarted.resume).toEqual({ position: sessions[0]!.positions.length });
      expect(restarted.positions[0]).toBe(restarted.resume!.position);
      expect(handler.positions(failing)).toEqual(range(0, counts[2]!));
      // The other partitions are untouched by the failure.
      fixture.partitions.slice(0, 2).forEach((partition, i) => {
        expect(handler.sessionsOf(partition)).toHaveLength(1);
        expect(handler.positions(partition)).toEqual(range(0, counts[i]!));
      });
      expect((await fixture.committed()).get(failing)).toBe(counts[2]);
    });

    it('a non-restartable failure ends run with that error and releases every partition', async () => {
      const fixture = await make();
      await fixture.produce(counts);
      const handler = new ConformanceHandler({
        beforeBatch: (batch) => {
          if (batch.partition === fixture.partitions[1]) throw new TributaryError('STORAGE_PERMANENT', 'the lake refused the write');
        },
      });
      await expect(fixture.source().run(handler, { signal: new AbortController().signal, bounded: true })).rejects.toMatchObject({
        code: 'STORAGE_PERMANENT',
      });
      expect(handler.violations).toEqual([]);
      expect(handler.owned()).toEqual([]);
      // The failed partition was never restarted: one session, nothing accepted, nothing committed.
      expect(handler.sessionsOf(fixture.partitions[1]!)).toHaveLength(1);
      expect(handler.positions(fixture.partitions[1]!)).toEqual([]);
      expect((await fixture.committed()).has(fixture.partitions[1]!)).toBe(false);
    });

    it('aborting the signal ends an unbounded run with every partition revoked as a shutdown', async () => {
      const fixture = await make();
      await fixture.produce(counts);
      const handler = new ConformanceHandler();
      const controller = new AbortController();
      const run = fixture.source().run(handler, { signal: controller.signal, bounded: false });
      const total = counts.reduce((a, b) => a + b, 0);
      await until(() => handler.delivered() >= total, `${total} events delivered`);
      expect(handler.owned()).toEqual([...fixture.partitions].sort());
      controller.abort();
      await run;

      expect(handler.violations).toEqual([]);
      expect(handler.owned()).toEqual([]);
      for (const partition of fixture.partitions) {
        const sessions = handler.sessionsOf(partition);
        expect(sessions.at(-1)!.revoked, `partition ${partition}`).toBe('shutdown');
      }
      fixture.partitions.forEach((partition, i) => expect(handler.positions(partition)).toEqual(range(0, counts[i]!)));
    });
  });
}
