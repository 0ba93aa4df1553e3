import { readFile, writeFile } from 'node:fs/promises';
import avro from 'avsc';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { DEFAULT_OUT_DIR, EXAMPLE_DIR, outputDir, registerBenchKeysCommand } from '../../src/cli/bench-keys.js';
import { runCli } from '../support/cli.js';
import { REPO_ROOT } from '../support/workspace.js';
import { createWorkspace, type Workspace } from '../support/workspace.js';
import { zipfOrders } from './zipf-sample.js';

const SCHEMA = {
  type: 'record',
  name: 'Order',
  fields: [
    { name: 'orderId', type: 'string' },
    { name: 'customerId', type: 'string' },
    { name: 'channel', type: 'string' },
    { name: 'amount', type: 'double' },
    { name: 'ts', type: 'long' },
  ],
};

function program(): Command {
  const root = new Command().exitOverride();
  registerBenchKeysCommand(root);
  return root;
}

describe('tributary bench keys (command line)', () => {
  let workspace: Workspace;
  let configFile: string;

  beforeAll(async () => {
    workspace = await createWorkspace('tributary-bench-keys-cli-');
    await writeFile(workspace.file('order.avsc'), JSON.stringify(SCHEMA));
    const type = avro.Type.forSchema(SCHEMA as avro.Schema);
    const encoder = new avro.streams.BlockEncoder(type);
    const chunks: Buffer[] = [];
    const done = new Promise((resolve) => encoder.on('data', (c: Buffer) => chunks.push(c)).on('end', resolve));
    for (const record of zipfOrders(3000, 3)) encoder.write(record.fields);
    encoder.end();
    await done;
    await writeFile(workspace.file('orders.avro'), Buffer.concat(chunks));
    configFile = (
      await workspace.writeConfig({
        streams: { orders: { schema: workspace.file('order.avsc'), eventId: 'orderId', eventTime: 'ts' } },
        source: { kind: 'capture', store: { kind: 'local', path: workspace.file('capture') }, namespace: 'ns', hubs: { orders: 'orders' } },
      })
    ).file;
  });

  afterAll(async () => {
    await workspace?.cleanup();
  });

  it('parses the flags, prints the table and writes the report files', async () => {
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      await program().parseAsync(
        ['bench', 'keys', '--config', configFile, '--input', workspace.file('orders.avro'), '--keys', 'channel,customerId', '--partitions', '2,16', '--hash', 'kafka', '--measure-partitions', '0', '--out', workspace.file('out'), '--quiet'],
        { from: 'user' },
      );
      const printed = stdout.mock.calls.map((c) => String(c[0])).join('');
      expect(printed).toMatch(/^key\s+partitions/);
      expect(printed).toContain('Use customerId at 16 partitions');
    } finally {
      stdout.mockRestore();
    }
    const report = JSON.parse(await readFile(workspace.file('out', 'report.json'), 'utf8')) as {
      command: string;
      measured: unknown[];
      skew: { hash: string; analyses: Array<{ partitionCount: number }> };
    };
    expect(report.skew.hash).toBe('kafka');
    expect(report.skew.analyses.map((a) => a.partitionCount)).toEqual([2, 16, 2, 16]);
    expect(report.measured).toEqual([]);
    expect(report.command).toContain('--keys channel,customerId --partitions 2,16');
  });

  it('names the bad flag', async () => {
    await expect(
      program().parseAsync(['bench', 'keys', '--config', configFile, '--input', 'x.avro', '--keys', 'channel', '--hash', 'crc32'], { from: 'user' }),
    ).rejects.toThrow(/--hash: "crc32"/);
    await expect(
      program().parseAsync(['bench', 'keys', '--config', configFile, '--input', workspace.file('orders.avro'), '--keys', 'channel', '--partitions', '4,x', '--measure-partitions', '0'], { from: 'user' }),
    ).rejects.toThrow(/--partitions: "x"/);
    await expect(
      program().parseAsync(['bench', 'keys', '--config', configFile, '--input', workspace.file('orders.avro'), '--keys', 'channel', '--measure-partitions', 'abc'], { from: 'user' }),
    ).rejects.toThrow('--measure-partitions: "abc" is not an integer >= 0');
    await expect(
      program().parseAsync(['bench', 'keys', '--config', configFile, '--input', workspace.file('missing.avro'), '--keys', 'channel', '--measure-partitions', '0'], { from: 'user' }),
    ).rejects.toMatchObject({ code: 'INPUT_MISSING' });
  });

  it('rejects a key field the schema does not have, naming it and the fields that exist', async () => {
    await expect(
      program().parseAsync(['bench', 'keys', '--config', configFile, '--input', workspace.file('orders.avro'), '--keys', 'nosuchfield,customerId', '--measure-partitions', '0', '--out', workspace.file('nf')], { from: 'user' }),
    ).rejects.toThrow('--keys: candidate "nosuchfield" names the field "nosuchfield", which the schema of stream orders does not have; fields: orderId, customerId, channel, amount, ts');
    await expect(
      program().parseAsync(['bench', 'keys', '--config', configFile, '--input', workspace.file('orders.avro'), '--keys', 'customerId+chanel', '--measure-partitions', '0', '--out', workspace.file('nf')], { from: 'user' }),
    ).rejects.toThrow('names the field "chanel"');
  });

  it('writes to the ignored bench/out/keys unless asked to update the committed example', () => {
    expect(outputDir({})).toBe(DEFAULT_OUT_DIR);
    expect(outputDir({ updateExample: true })).toBe(path.join(REPO_ROOT, EXAMPLE_DIR));
    expect(outputDir({ out: 'elsewhere' })).toBe('elsewhere');
    // git ignores the default folder and tracks the example
    expect(execFileSync('git', ['check-ignore', `${DEFAULT_OUT_DIR}/report.md`], { cwd: REPO_ROOT, encoding: 'utf8' }).trim()).toBe(`${DEFAULT_OUT_DIR}/report.md`);
    expect(execFileSync('git', ['ls-files', EXAMPLE_DIR], { cwd: REPO_ROOT, encoding: 'utf8' })).toContain(`${EXAMPLE_DIR}/load-per-partition.svg`);
  });

  it('refuses --update-example with --out (exit 2, usage line)', async () => {
    const result = await runCli(['bench', 'keys', '--config', configFile, '--input', 'gen', '--keys', 'channel', '--out', workspace.file('x'), '--update-example']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("option '--update-example' cannot be used with option '-o, --out <dir>'");
    expect(result.stderr).toContain('Usage: tributary bench keys [options]');
  });

  it('prints no info logs with -q (and does without it)', async () => {
    const args = ['bench', 'keys', '--config', configFile, '--input', workspace.file('orders.avro'), '--keys', 'channel,customerId', '--partitions', '4', '--out', workspace.file('q')];
    const env = { TRIBUTARY_LOG_LEVEL: '' };
    const loud = await runCli(args, { env });
    expect(loud.code).toBe(0);
    expect(loud.stderr).toContain('"level":"info"');
    const quiet = await runCli([...args, '-q'], { env });
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(quiet.stdout).toMatch(/^key\s+partitions/);
  });
});
