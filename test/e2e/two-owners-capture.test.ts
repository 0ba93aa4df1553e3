/**
 * Two instances on one Capture archive and the same stores. Partition leases (src/ingest/capture/ownership.ts)
 * let them share the archive: a partition is read by one of them at a time, the other waits for it, and takes it
 * over when it is released or its owner died. Whatever the interleaving, the lake and the dead letters end
 * byte-identical to a single run's: no instance ever replaces a file with an older, shorter version of it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateArchive } from '../../src/gen/archive.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { startCli } from '../support/cli.js';
import { embeddedConfig } from '../support/embedded-config.js';
import { snapshotLake } from '../support/lake.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';

const GEN = { events: 16_000, partitions: 4, keys: 400, span: '1h', faults: { duplicate: 0.02, outOfOrder: 0.03, late: 0.01, corrupt: 0.005 }, seed: 5 };

describe('two instances on one Capture archive', () => {
  let reference: Workspace;
  let shared: Workspace;
  let referenceLake: Map<string, string>;
  let referenceDeadLetters: Map<string, string>;

  const setUp = async (ws: Workspace): Promise<string> => {
    const { file, config } = await ws.writeConfig(embeddedConfig(ws));
    await generateArchive(config, GEN);
    return file;
  };

  beforeAll(async () => {
    reference = await createWorkspace('tributary-one-owner-');
    const file = await setUp(reference);
    const run = await startCli(['run', '--bounded', '-q', '--config', file]).done;
    if (run.code !== 0) throw new Error(`the reference run failed: ${run.stderr}`);
    referenceLake = await snapshotLake(new LocalObjectStore(reference.file('lake')));
    referenceDeadLetters = await snapshotLake(new LocalObjectStore(reference.file('deadletter')));
  }, 300_000);

  afterAll(async () => {
    await reference?.cleanup();
    await shared?.cleanup();
  });

  it('started together, both finish and the lake is the single run\'s, byte for byte', async () => {
    shared = await createWorkspace('tributary-two-owners-');
    const file = await setUp(shared);
    const a = startCli(['run', '--bounded', '-q', '--config', file]);
    const b = startCli(['run', '--bounded', '-q', '--config', file]);
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect(ra.code, ra.stderr).toBe(0);
    expect(rb.code, rb.stderr).toBe(0);
    expect(await snapshotLake(new LocalObjectStore(shared.file('lake')))).toEqual(referenceLake);
    expect(await snapshotLake(new LocalObjectStore(shared.file('deadletter')))).toEqual(referenceDeadLetters);
  }, 300_000);

  it('when one is stopped mid-run (SIGTERM, then SIGKILL of a second one), the other takes its partitions over: same lake', async () => {
    const ws = await createWorkspace('tributary-takeover-');
    try {
      const file = await setUp(ws);
      const a = startCli(['run', '--bounded', '-q', '--config', file]);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const b = startCli(['run', '--bounded', '-q', '--config', file]);
      await new Promise((resolve) => setTimeout(resolve, 500));
      a.child.kill('SIGTERM'); // A writes its open files and releases its leases; B waits for them and goes on
      const c = startCli(['run', '--bounded', '-q', '--config', file]);
      await new Promise((resolve) => setTimeout(resolve, 800));
      c.child.kill('SIGKILL'); // C's leases stay behind; a dead process's lease on this host is free at once
      // A may have been stopped before it installed its handlers (then the signal ended it, as a SIGKILL would)
      const [, rb] = await Promise.all([a.done, b.done, c.done]);
      expect(rb.code, rb.stderr).toBe(0);
      // B may have finished before C took anything; one more run settles whatever C left open
      const final = await startCli(['run', '--bounded', '-q', '--config', file]).done;
      expect(final.code, final.stderr).toBe(0);
      expect(await snapshotLake(new LocalObjectStore(ws.file('lake')))).toEqual(referenceLake);
      expect(await snapshotLake(new LocalObjectStore(ws.file('deadletter')))).toEqual(referenceDeadLetters);
    } finally {
      await ws.cleanup();
    }
  }, 300_000);
});
