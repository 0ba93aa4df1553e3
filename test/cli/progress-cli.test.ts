/**
 * What `tributary run` tells a person off a terminal (one line per stage change), what it keeps quiet about (-q,
 * and inside Kubernetes), and that a second run says it resumed and from where.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateArchive } from '../../src/gen/archive.js';
import { runCli } from '../support/cli.js';
import { embeddedConfig } from '../support/embedded-config.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';

describe('tributary run: progress and resume lines', () => {
  let ws: Workspace;
  let config: string;
  beforeAll(async () => {
    ws = await createWorkspace();
    const setup = await ws.writeConfig(embeddedConfig(ws));
    config = setup.file;
    await generateArchive(setup.config, { events: 4000, partitions: 2, seed: 3 });
  });
  afterAll(() => ws?.cleanup());

  const env = { TRIBUTARY_PROGRESS: '', KUBERNETES_SERVICE_HOST: '', TRIBUTARY_LOG_LEVEL: 'warn' };

  /** partition -> position from "resumed N partitions from checkpoints (orders/0 at 1500, ...)" lines (or
   * undefined from "started N partitions from the source's start position (...)"); partitions may be taken in
   * several bursts (Capture leases), each with its own line */
  const starts = (stderr: string): Map<string, number | undefined> => {
    const found = new Map<string, number | undefined>();
    for (const line of stderr.split('\n')) {
      const resumed = /^resumed \d+ partitions? from checkpoints \((.*)\)$/.exec(line);
      for (const m of resumed?.[1]!.matchAll(/(\w+\/\d+) at (\d+)/g) ?? []) found.set(m[1]!, Number(m[2]));
      const fresh = /^started \d+ partitions? from the source's start position \((.*)\)$/.exec(line);
      for (const p of fresh?.[1]!.split(', ') ?? []) found.set(p, undefined);
    }
    return found;
  };

  it('says when processing starts and where each partition started, then where the second run resumed', async () => {
    const first = await runCli(['run', '--bounded', '--config', config], { env });
    expect(first.code).toBe(0);
    expect(first.stderr).toContain(`processing orders, telemetry from the capture source into ${ws.file('lake')} (bounded: stops once caught up)`);
    const fresh = starts(first.stderr);
    expect([...fresh.keys()].sort()).toEqual(['orders/0', 'orders/1', 'telemetry/0', 'telemetry/1']);
    expect([...fresh.values()]).toEqual([undefined, undefined, undefined, undefined]);
    expect(first.stderr).toMatch(/processing: done, [\d,]+ events in/);

    const second = await runCli(['run', '--bounded', '--config', config], { env });
    expect(second.code).toBe(0);
    const resumed = starts(second.stderr);
    expect([...resumed.keys()].sort()).toEqual(['orders/0', 'orders/1', 'telemetry/0', 'telemetry/1']);
    // rowsPerFile is 1500: each partition's checkpoint is the start of its last, open cell
    for (const position of resumed.values()) {
      expect(position).toBeGreaterThan(0);
      expect(position! % 1500).toBe(0);
    }
  });

  it('prints no progress with -q, nor off a terminal inside Kubernetes; the summary still goes to stdout', async () => {
    for (const extra of [{ args: ['-q'], env }, { args: [], env: { ...env, KUBERNETES_SERVICE_HOST: '10.0.0.1' } }]) {
      const result = await runCli(['run', '--bounded', '--config', config, ...extra.args], { env: extra.env });
      expect(result.code).toBe(0);
      expect(result.stderr).toBe('');
      expect(result.stdout).toContain('Tributary run summary');
    }
  });
});
