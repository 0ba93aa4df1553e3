/**
 * The crash test of the embedded pipeline, with every store on blob: the worker runs as a child process (the
 * `tributary run` CLI), is killed with SIGKILL five times at random moments (each while one of its lake uploads is
 * in flight, which then either reaches Azurite or is cut), restarted each time, and finally left to finish. The
 * lake must equal the run that was never killed, and no checkpoint may ever pass what the lake holds.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/core/log.js';
import { runWorker } from '../../src/runtime/worker.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { createObjectStore } from '../../src/sink/store-factory.js';
import { devConnectionString, startAzurite, type Azurite } from '../support/azurite.js';
import { startCli, type CliResult } from '../support/cli.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { seeded } from '../support/random.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';
import { CheckpointGuard, blob, freshBlobRun, demoConfig, rawPositions, readDeadLetters, readLake, writeDemoArchive, type Rows } from './blob-support.js';

const SPEC = { partitions: 3, eventsPerPartition: 1200, seed: 11 };
const KILLS = 5;

let azurite: Azurite;
let ws: Workspace;
let archiveContainer: string;
const reference = {} as { lake: Map<string, Rows>; deadLetters: Awaited<ReturnType<typeof readDeadLetters>> };

beforeAll(async () => {
  azurite = await startAzurite({ persistent: true });
  ws = await createWorkspace('tributary-blob-crash-');
  archiveContainer = `capture-${randomBytes(3).toString('hex')}`;
  await writeDemoArchive([new LocalObjectStore(ws.file('capture')), createObjectStore(blob(archiveContainer, azurite.connectionString))], SPEC);
  const local = {
    archive: { kind: 'local', path: ws.file('capture') },
    lake: { kind: 'local', path: ws.file('lake') },
    deadLetter: { kind: 'local', path: ws.file('deadletter') },
    state: { kind: 'local', path: ws.file('state') },
  } as const;
  const config = parseConfig(await demoConfig(local), 'reference run');
  await runWorker(config, { bounded: true, signal: new AbortController().signal, log: createLogger('silent') });
  reference.lake = await readLake(createObjectStore(local.lake));
  reference.deadLetters = await readDeadLetters(createObjectStore(local.deadLetter));
});

afterAll(async () => {
  await azurite?.stop();
  await ws?.cleanup();
});

describe('crash safety with blob stores', () => {
  it(`survives ${KILLS} SIGKILLs at random moments: same lake as the run never killed, checkpoint never ahead`, async () => {
    const seed = Date.now() % 1_000_000;
    const random = seeded(seed);
    const { containers, direct } = freshBlobRun(azurite.connectionString);
    const guard = new CheckpointGuard(reference);

    let running: ReturnType<typeof startCli> | undefined;
    let killAt = Infinity;
    let uploads = 0;
    let kills = 0;
    const proxy = await startFaultProxy(azurite.port, async (request) => {
      if (request.method !== 'PUT') return { kind: 'forward' };
      if (request.url.includes(`/${containers.lake}/`) && running && ++uploads === killAt) {
        kills += 1;
        running.child.kill('SIGKILL');
        await running.done;
        // The upload in flight at the moment of death either reached the service or did not.
        return random() < 0.5 ? { kind: 'forward' } : { kind: 'reset' };
      }
      if (request.url.includes(`/${containers.state}/checkpoints/`)) {
        await guard.check(JSON.parse(request.body.toString('utf8')) as { stream: string; partition: string; nextPosition: number }, direct.lake, direct.deadLetters);
      }
      return { kind: 'forward' };
    });

    const through = devConnectionString(`http://127.0.0.1:${proxy.port}/devstoreaccount1`);
    const { file } = await ws.writeConfig(
      await demoConfig({
        archive: blob(archiveContainer, through),
        lake: blob(containers.lake, through),
        deadLetter: blob(containers.deadLetters, through, '$Default'),
        state: blob(containers.state, through),
      }),
      `crash-${containers.lake}.yaml`,
    );

    const runs: CliResult[] = [];
    try {
      for (;;) {
        uploads = 0;
        killAt = kills < KILLS ? 1 + Math.floor(random() * 4) : Infinity;
        running = startCli(['run', '-c', file, '--bounded', '-q']);
        const exit = await running.done;
        running = undefined;
        runs.push(exit);
        if (exit.signal === 'SIGKILL') continue;
        expect(exit, `seed ${seed}: the last run must finish cleanly; stderr:\n${exit.stderr}`).toMatchObject({ code: 0, signal: null });
        break;
      }
    } finally {
      running?.child.kill('SIGKILL');
      await proxy.close();
    }

    expect(kills, `seed ${seed}`).toBe(KILLS);
    expect(runs.length).toBe(KILLS + 1);
    expect(guard.violations, `seed ${seed}`).toEqual([]);
    expect(guard.checks).toBeGreaterThan(0);

    const lake = await readLake(direct.lake);
    expect([...lake.keys()].sort(), `seed ${seed}`).toEqual([...reference.lake.keys()].sort());
    for (const [key, rows] of reference.lake) expect(lake.get(key), `seed ${seed}: ${key}`).toEqual(rows);
    expect(rawPositions(lake)).toEqual(rawPositions(reference.lake));
    expect(await readDeadLetters(direct.deadLetters)).toEqual(reference.deadLetters);
  });
});
