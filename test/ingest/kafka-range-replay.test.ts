/**
 * A range replay of a Kafka topic into a second lake (`tributary run --bounded --from --until --lake`): it writes
 * only the range's files, each byte-identical to the main lake's file of that name, reads as a one-off consumer
 * group that is gone afterwards, and leaves the main group's committed offsets and the main state as they were.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TributaryConfig } from '../../src/config/schema.js';
import { createLogger } from '../../src/core/log.js';
import { runWorker } from '../../src/runtime/worker.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { runRange } from '../../src/state/range-replay.js';
import { describeKafka, type KafkaBroker } from '../brokers/kafka/index.js';
import { snapshotLake } from '../support/lake.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';
import { deploymentConfig, produceWithFaults } from './kafka-e2e-support.js';

const CELL = 100;
const log = createLogger('warn');

const cellOf = (key: string): number | undefined => {
  const match = /-pos(\d{16})/.exec(key);
  return match ? Number(match[1]) : undefined;
};

describeKafka('range replay of a Kafka topic into a second lake', (kafka) => {
  let broker: KafkaBroker;
  let ws: Workspace;
  let topic: string;
  let groupId: string;
  let config: TributaryConfig;
  let timestamps: number[][];
  let mainLake: Map<string, string>;
  let mainDeadLetters: Map<string, string>;
  let mainState: Map<string, string>;
  let mainCommitted: Map<number, number>;

  /** the main group's offsets, the main state and the broker's groups are as the main run left them */
  const untouched = async (): Promise<void> => {
    expect(await broker.committedOffsets(groupId, topic)).toEqual(mainCommitted);
    expect(await snapshotLake(new LocalObjectStore(ws.file('state'))), 'the main state is not written').toEqual(mainState);
    const { groups } = await (await broker.admin()).listGroups();
    expect(groups.map((g) => g.groupId).filter((g) => g.startsWith(`${groupId}-range-`)), 'the one-off group is deleted').toEqual([]);
  };

  beforeAll(async () => {
    broker = kafka();
    ws = await createWorkspace('tributary-kafka-range-');
    topic = broker.uniqueName('orders');
    groupId = broker.uniqueName('lake-writers');
    await broker.createTopic(topic, 2);
    timestamps = await produceWithFaults(broker, topic, 2, 330);
    ({ config } = await ws.writeConfig(deploymentConfig(broker, ws, { topic, groupId, rowsPerFile: CELL, batchSize: 40 })));
    await runWorker(config, { bounded: true, signal: new AbortController().signal, log });
    mainLake = await snapshotLake(new LocalObjectStore(ws.file('lake')));
    mainDeadLetters = await snapshotLake(new LocalObjectStore(ws.file('deadletter')));
    mainState = await snapshotLake(new LocalObjectStore(ws.file('state')));
    mainCommitted = await broker.committedOffsets(groupId, topic);
    expect(mainCommitted.size).toBe(2);
  }, 300_000);

  afterAll(async () => {
    await ws?.cleanup();
  });

  it('by offsets: the cells of the range, as in the main lake, and no aggregate file the range leaves open', async () => {
    const summary = await runRange(config, { from: '120', until: '260', lake: ws.file('lake2'), deadLetter: ws.file('dl2'), signal: new AbortController().signal, log });
    const lake2 = await snapshotLake(new LocalObjectStore(ws.file('lake2')));
    expect([...lake2.keys()].sort()).toEqual([...summary.copied].filter((k) => !k.endsWith('.jsonl')).sort());
    for (const [key, bytes] of lake2) expect(mainLake.get(key), key).toBe(bytes);
    // every raw file of the cells [100, 300) of both partitions is there, and no other raw file
    const wantRaw = [...mainLake.keys()].filter((k) => /_raw\//.test(k) && cellOf(k)! >= 100 && cellOf(k)! < 300).sort();
    expect(wantRaw.length).toBe(4);
    expect([...lake2.keys()].filter((k) => /_raw\//.test(k)).sort()).toEqual(wantRaw);
    // The topic's 84 s of events lie in one aggregate file span, whose windows are still open when the range ends:
    // the partial file the replay wrote at its final flush is not copied (the main lake's has every window).
    expect([...lake2.keys()].filter((k) => !/_raw\//.test(k) && !/_late\//.test(k))).toEqual([]);
    const dl2 = await snapshotLake(new LocalObjectStore(ws.file('dl2')));
    const wantDl = [...mainDeadLetters.keys()].filter((k) => cellOf(k)! >= 100 && cellOf(k)! < 300).sort();
    expect(wantDl.length).toBeGreaterThan(0);
    expect([...dl2.keys()].sort()).toEqual(wantDl);
    for (const key of wantDl) expect(dl2.get(key), key).toBe(mainDeadLetters.get(key));
    await untouched();
  });

  it("a bounded run given until (as the range replay gives its ends) reads each partition only up to it, through the worker's own Kafka source", async () => {
    // a group of its own and a lake of its own: the main run's offsets and files stay as they are
    const source = { ...(config.source as Extract<TributaryConfig['source'], { kind: 'kafka' }>), groupId: broker.uniqueName('until') };
    const own: TributaryConfig = {
      ...config,
      source,
      lake: { kind: 'local', path: ws.file('lake-until') },
      deadLetter: { kind: 'local', path: ws.file('dl-until') },
      state: { kind: 'local', path: ws.file('state-until') },
    };
    const ends: Record<string, number> = { '0': 40, '1': 75 };
    const summary = await runWorker(own, { bounded: true, signal: new AbortController().signal, log, until: (_stream, partition) => ends[partition] });
    // every offset below the end is an event (produceWithFaults writes no transactions), none at or past it
    expect(summary.totals.eventsRead).toBe(40 + 75);
    await untouched();
  });

  it('by times, over the whole topic: every raw file, each equal to the main lake file', async () => {
    const first = Math.min(...timestamps.flat());
    const last = Math.max(...timestamps.flat());
    await runRange(config, {
      from: new Date(first).toISOString(),
      until: new Date(last + 1).toISOString(),
      lake: ws.file('lake3'),
      signal: new AbortController().signal,
      log,
    });
    const lake3 = await snapshotLake(new LocalObjectStore(ws.file('lake3')));
    expect([...lake3.keys()].filter((k) => /_raw\//.test(k)).sort()).toEqual([...mainLake.keys()].filter((k) => /_raw\//.test(k)).sort());
    for (const [key, bytes] of lake3) expect(mainLake.get(key), key).toBe(bytes);
    await untouched();
  });
});
