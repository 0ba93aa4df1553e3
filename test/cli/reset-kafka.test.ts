/**
 * `tributary reset` on a Kafka consumer group of the real broker: run to the end, then reset (to a time in the
 * middle, to an offset on one partition, by a negative shift, to earliest) and rerun after each. The group's
 * committed offsets are where the reset put them (read back with the admin client), the rerun reads exactly the
 * events the dry run counted per partition, and the lake and the dead letters are byte-identical to the run that was
 * never reset. To latest: nothing is replayed and nothing changes. A group with a live member is not moved: the CLI
 * refuses (exit code 2, as for the other refusals) naming the member's id, client id and host.
 */
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { resetGroup } from '../../src/cli/reset.js';
import type { TributaryConfig } from '../../src/config/schema.js';
import { createLogger } from '../../src/core/log.js';
import type { PipelineObserver } from '../../src/runtime/observer.js';
import { runWorker } from '../../src/runtime/worker.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { describeKafka, type KafkaBroker } from '../brokers/kafka/index.js';
import { runCli } from '../support/cli.js';
import { snapshotLake } from '../support/lake.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';
import { deploymentConfig, produceWithFaults } from '../ingest/kafka-e2e-support.js';

interface Row { stream: string; partition: string; current: number | null; target: number; start: number; state: string; events: number; replayed: number; files: string[] }

const PARTITIONS = 2;
const PER_PARTITION = 330;
const ROWS_PER_FILE = 100;
const log = createLogger('warn');

describeKafka('tributary reset on a Kafka consumer group', (kafka) => {
  let broker: KafkaBroker;
  let ws: Workspace;
  let topic: string;
  let groupId: string;
  let configFile: string;
  let config: TributaryConfig;
  let timestamps: number[][];
  let wantLake: Map<string, string>;
  let wantDeadLetters: Map<string, string>;

  const lake = (): Promise<Map<string, string>> => snapshotLake(new LocalObjectStore(ws.file('lake')));
  const deadLetters = (): Promise<Map<string, string>> => snapshotLake(new LocalObjectStore(ws.file('deadletter')));

  /** A bounded run in this process, counting the events each partition reads (the worker's eventsIn). */
  const rerun = async (): Promise<Map<string, number>> => {
    const read = new Map<string, number>();
    const counter = { eventsIn: (stream: string, partition: string, n: number) => read.set(`${stream}/${partition}`, (read.get(`${stream}/${partition}`) ?? 0) + n) } as Partial<PipelineObserver>;
    const noop = () => undefined;
    const observer = new Proxy(counter, { get: (target, key) => (target as Record<string | symbol, unknown>)[key] ?? noop }) as PipelineObserver;
    await runWorker(config, { bounded: true, signal: new AbortController().signal, log, observers: [observer] });
    return read;
  };

  const reset = async (args: Record<string, string | boolean>): Promise<Row[]> => JSON.parse(await resetGroup(config, { config: configFile, json: true, ...args })) as Row[];

  const resetAndRerun = async (args: Record<string, string | boolean>): Promise<Row[]> => {
    const committedBefore = await broker.committedOffsets(groupId, topic);
    const rows = await reset(args);
    expect(await broker.committedOffsets(groupId, topic), 'a dry run moves nothing').toEqual(committedBefore);
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row.current, `${row.stream}/${row.partition}`).toBe(committedBefore.get(Number(row.partition)) ?? null);
    await reset({ ...args, execute: true });
    // the group's committed offsets, as the admin client reads them, are the replays' starts
    const committed = await broker.committedOffsets(groupId, topic);
    for (const row of rows) expect(committed.get(Number(row.partition)), `committed offset of ${row.partition}`).toBe(row.start);
    const read = await rerun();
    for (const row of rows) expect(read.get(`${row.stream}/${row.partition}`) ?? 0, `events read by ${row.stream}/${row.partition}`).toBe(row.events);
    expect(await lake()).toEqual(wantLake);
    expect(await deadLetters()).toEqual(wantDeadLetters);
    return rows;
  };

  beforeAll(async () => {
    broker = kafka();
    ws = await createWorkspace('tributary-kafka-reset-');
    topic = broker.uniqueName('orders');
    groupId = broker.uniqueName('lake-writers');
    await broker.createTopic(topic, PARTITIONS);
    timestamps = await produceWithFaults(broker, topic, PARTITIONS, PER_PARTITION);
    ({ file: configFile, config } = await ws.writeConfig(deploymentConfig(broker, ws, { topic, groupId, rowsPerFile: ROWS_PER_FILE, batchSize: 40 })));
    await rerun();
    wantLake = await lake();
    wantDeadLetters = await deadLetters();
    expect(wantLake.size).toBeGreaterThan(8);
    expect(wantDeadLetters.size).toBeGreaterThan(0);
  }, 300_000);

  afterAll(async () => {
    await ws?.cleanup();
  });

  it('to a time in the middle', async () => {
    const middle = timestamps[0]![Math.floor(timestamps[0]!.length / 2)]! + 100;
    const rows = await resetAndRerun({ toDatetime: new Date(middle).toISOString() });
    expect(rows.map((r) => r.partition)).toEqual(['0', '1']);
    for (const row of rows) {
      // ListOffsets by time: the first offset whose record timestamp is at or after the time
      expect(row.target, `target of ${row.partition}`).toBe(timestamps[Number(row.partition)]!.findIndex((t) => t >= middle));
      expect(row.start).toBe(Math.floor(row.target / ROWS_PER_FILE) * ROWS_PER_FILE);
      expect(row.state).toBe('snapshot');
      expect(row.replayed).toBeGreaterThan(0);
      expect(row.files.some((f) => f.startsWith('orders_raw/'))).toBe(true);
    }
  });

  it('to an offset on one partition', async () => {
    const rows = await resetAndRerun({ partitions: '1', toOffset: '250' });
    expect(rows.map((r) => [r.partition, r.target, r.start])).toEqual([['1', 250, 200]]);
  });

  it('by a negative shift', async () => {
    const rows = await resetAndRerun({ shiftBy: '-150' });
    expect(rows).toHaveLength(PARTITIONS);
    for (const row of rows) {
      expect(row.target).toBe(Math.max(0, row.current! - 150));
      expect(row.replayed).toBeGreaterThanOrEqual(150);
    }
  });

  it('to earliest', async () => {
    const rows = await resetAndRerun({ toEarliest: true });
    for (const row of rows) expect([row.target, row.start, row.state]).toEqual([0, 0, 'empty']);
  });

  it('to latest: nothing is replayed and nothing changes', async () => {
    const stateBefore = await snapshotLake(new LocalObjectStore(ws.file('state')));
    const rows = await resetAndRerun({ toLatest: true });
    for (const row of rows) {
      expect(row.replayed).toBe(0);
      expect(row.start).toBe(row.current);
    }
    const snapshots = (m: Map<string, string>) => new Map([...m].filter(([k]) => k.startsWith('snapshots/')));
    expect(snapshots(await snapshotLake(new LocalObjectStore(ws.file('state'))))).toEqual(snapshots(stateBefore));
  });

  it('refuses to move a group with a live member, naming it', async () => {
    const committedBefore = await broker.committedOffsets(groupId, topic);
    const stop = new AbortController();
    const live = runWorker(config, { bounded: false, signal: stop.signal, log });
    try {
      await vi.waitFor(async () => {
        const group = await broker.describeGroup(groupId);
        expect([group.state, group.members.length]).toEqual(['Stable', 1]);
      }, { timeout: 60_000, interval: 200 });
      const [member] = (await broker.describeGroup(groupId)).members;
      const refused = await runCli(['reset', '--config', configFile, '--to-earliest', '--execute']);
      expect(refused.code, refused.stderr).toBe(2);
      expect(refused.stderr).toContain(`group ${groupId} is Stable with 1 active member(s)`);
      expect(refused.stderr).toContain(member!.memberId);
      expect(refused.stderr).toContain(`client id ${member!.clientId}`);
      expect(refused.stderr).toContain(`host ${member!.clientHost.replace(/^\//, '')}`);
      expect(await broker.committedOffsets(groupId, topic)).toEqual(committedBefore);
      // the dry run still shows what a reset would do, and says how it counts events
      const dry = await runCli(['reset', '--config', configFile, '--to-earliest']);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stdout).toContain(`Kafka consumer group ${groupId}`);
      expect(dry.stdout).toContain('events are offsets');
      expect(dry.stdout).toContain(`--execute would be refused now: kafka: group ${groupId} is Stable with 1 active member(s): ${member!.memberId}`);
    } finally {
      stop.abort();
      await live;
    }
  });

  // Last: it deletes records of the topic.
  it('after the broker deleted records (retention): never starts at a snapshot whose events are gone', async () => {
    await (await broker.admin()).deleteTopicRecords({ topic, partitions: [{ partition: 1, offset: '150' }] });
    const rows = await resetAndRerun({ partitions: '1', toEarliest: true });
    // snapshots at 100, 200, 300: the one at 100 needs events 100..149, which are gone; 200 is the first usable
    expect(rows.map((r) => [r.partition, r.target, r.start, r.state])).toEqual([['1', 150, 200, 'snapshot']]);
    const fresh = await reset({ partitions: '1', toEarliest: true, freshState: true });
    expect(fresh.map((r) => [r.target, r.start, r.state])).toEqual([[150, 150, 'empty']]);
  });
});
