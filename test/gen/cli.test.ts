import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { genOptionsFromCli, parseKeyField, registerGenCommand, type GenCommandOptions } from '../../src/cli/gen.js';
import type { ArchiveSummary } from '../../src/gen/archive.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';

function program(): Command {
  const root = new Command().exitOverride();
  registerGenCommand(root);
  return root;
}

/** Runs `tributary gen ...` in-process and returns what it printed. */
async function gen(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0);
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => err.push(String(chunk)) > 0);
  try {
    await program().parseAsync(['node', 'tributary', 'gen', ...args]);
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
  return { stdout: out.join(''), stderr: err.join('') };
}

describe('tributary gen (command line)', () => {
  let workspace: Workspace;
  beforeAll(async () => {
    workspace = await createWorkspace('tributary-gen-cli-');
  });
  afterAll(() => workspace.cleanup());

  it('generates the archive, prints progress to stderr and the summary to stdout', async () => {
    const out = workspace.file('archive');
    const { stdout, stderr } = await gen([
      '--config', 'examples/tributary.yaml', '--events', '3000', '--partitions', '2', '--distribution', 'zipf', '--skew', '0.9',
      '--keys', '100', '--span', '10m', '--start', '2024-05-01T00:00:00Z', '--duplicates', '0.02', '--out-of-order', '0.02',
      '--late', '0.01', '--corrupt', '0.01', '--seed', '7', '--out', out,
    ]);
    expect(stderr).toMatch(/generating: started \(6,000 events\)/);
    expect(stderr).toMatch(/generating: done, 6,000 events in/);
    expect(stdout).toMatch(/^Capture archive: .*archive\/demo \(seed 7\)/);
    expect(stdout).toMatch(/orders\s+orders\s+customerId\s+3,000/);
    expect(stdout).toMatch(/telemetry\s+telemetry\s+deviceId\s+3,000/);
    const keys = (await new LocalObjectStore(out).list('demo/')).map((o) => o.key);
    expect(keys).toContain('demo/orders/1/2024/05/01/00/05/00.avro');
    expect(keys).toContain('demo/telemetry/_tributary-gen.json');
  });

  it('prints a JSON summary with --json, honouring --streams and a per-stream --key-field', async () => {
    const { stdout } = await gen([
      '--events', '500', '--partitions', '3', '--streams', 'telemetry', '--key-field', 'telemetry=siteId', '--keys', '24',
      '--out', workspace.file('json'), '--json', '--quiet',
    ]);
    const summary = JSON.parse(stdout) as ArchiveSummary;
    expect(summary.streams.map((s) => s.stream)).toEqual(['telemetry']);
    expect(summary.streams[0]!.keyField).toBe('siteId');
    expect(summary.totals.logicalEvents).toBe(500);
    expect(summary.output!.files).toBeGreaterThan(0);
  });

  it('names the bad flag', async () => {
    await expect(gen(['--events', 'many', '--out', workspace.file('bad')])).rejects.toThrow(/--events: "many" is not a number/);
    await expect(gen(['--distribution', 'pareto', '--out', workspace.file('bad')])).rejects.toThrow(/distribution: Invalid option/);
    await expect(gen(['--key-field', 'orders=', '--out', workspace.file('bad')])).rejects.toThrow(/--key-field: "orders=" is not <stream>=<field>/);
  });

  it('maps flags onto generator options', () => {
    const options = genOptionsFromCli({
      config: 'x', events: '10', partitions: '4', distribution: 'zipf', skew: '1.5', keys: '9', hash: 'kafka', span: '2h', start: '0',
      duplicates: '0.1', outOfOrder: '0.2', late: '0.3', corrupt: '0.05', seed: '3', window: '60000', maxFileSize: '1MiB',
      codec: 'null', overwrite: true, json: false, quiet: false, streams: 'a, b', keyField: 'k',
    } satisfies GenCommandOptions);
    expect(options).toMatchObject({
      events: 10, partitions: 4, distribution: 'zipf', skew: 1.5, keys: 9, hash: 'kafka', span: '2h', start: 0, seed: 3, streams: ['a', 'b'], keyField: 'k',
      faults: { duplicate: 0.1, outOfOrder: 0.2, late: 0.3, corrupt: 0.05 }, capture: { window: 60000, maxFileBytes: '1MiB', codec: 'null' }, overwrite: true,
    });
    expect(parseKeyField('orders=customerId,telemetry=siteId')).toEqual({ orders: 'customerId', telemetry: 'siteId' });
  });
});
