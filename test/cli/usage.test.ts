/**
 * Command-line conventions: --version, usage errors exit 2 with the command's usage line, and every option value
 * is checked, naming the value and what is accepted.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { REPO_ROOT, createWorkspace, type Workspace } from '../support/workspace.js';
import { embeddedConfig } from '../support/embedded-config.js';

describe('tributary command-line conventions', () => {
  let ws: Workspace;
  let config: string;
  beforeAll(async () => {
    ws = await createWorkspace();
    config = (await ws.writeConfig(embeddedConfig(ws))).file;
  });
  afterAll(() => ws?.cleanup());

  it('prints the version of package.json with --version and -V', async () => {
    const { version } = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const result = await runCli([flag]);
      expect(result.code).toBe(0);
      expect(result.stdout.trim()).toBe(version);
    }
  });

  it.each([
    [['run', '--config', 'x.yaml', '--nope'], "unknown option '--nope'", 'Usage: tributary run [options]'],
    [['nosuch'], "unknown command 'nosuch'", 'Usage: tributary [options] [command]'],
    [['deadletters', '--config'], "option '-c, --config <file>' argument missing", 'Usage: tributary deadletters [options]'],
    [['checkpoints'], "required option '-c, --config <file>' not specified", 'Usage: tributary checkpoints [options]'],
    [['bench', 'keys', '--keys'], "argument missing", 'Usage: tributary bench keys [options]'],
  ])('exits 2 with the usage line on a usage error: %j', async (args, message, usage) => {
    const result = await runCli(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain(usage);
  });

  it('exits 2 and shows the commands when no command is given', async () => {
    const result = await runCli([]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Usage: tributary [options] [command]');
    expect(result.stderr).toContain('deadletters');
  });

  it('rejects numbers that are not numbers, or out of range, naming the option and the value', async () => {
    const cases: Array<[string[], string]> = [
      [['deadletters', '--config', config, '--show', 'abc'], `option '--show <n>' argument 'abc' is invalid. expected an integer >= 0`],
      [['deadletters', '--config', config, '--show', '3x'], `argument '3x' is invalid`],
      [['deadletters', '--config', config, '--show', '-1'], `argument '-1' is invalid`],
      [['run', '--config', config, '--metrics-port', '70000'], `option '--metrics-port <port>' argument '70000' is invalid. expected an integer from 0 to 65535`],
      [['demo', '--events', '0'], `option '--events <n>' argument '0' is invalid. expected an integer >= 1`],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toContain(message);
      expect(result.stderr).toContain('Usage: tributary');
    }
  });

  it('rejects a stream that is not configured, naming it and the configured ones', async () => {
    for (const args of [
      ['deadletters', '--config', config, '--stream', 'nosuch'],
      ['reset', '--config', config, '--stream', 'nosuch', '--to-earliest'],
      ['replay-deadletters', '--config', config, '--stream', 'nosuch', '--out', ws.file('replay')],
    ]) {
      const result = await runCli(args);
      expect(result.code, args[0]).toBe(2);
      expect(result.stderr, args[0]).toContain('--stream: "nosuch" is not a configured stream; expected one of: orders, telemetry');
    }
    const gen = await runCli(['gen', '--config', config, '--streams', 'orders,nosuch', '--out', ws.file('gen')]);
    expect(gen.code).toBe(2);
    expect(gen.stderr).toContain('--streams: "nosuch" is not a configured stream; expected one of: orders, telemetry');
  });

  it('rejects a dead-letter reason that does not exist, naming it and the known ones', async () => {
    for (const args of [
      ['deadletters', '--config', config, '--reason', 'late,tardy'],
      ['replay-deadletters', '--config', config, '--reason', 'late,tardy', '--out', ws.file('replay')],
    ]) {
      const result = await runCli(args);
      expect(result.code, args[0]).toBe(2);
      expect(result.stderr, args[0]).toContain('"tardy" is not a dead-letter reason; expected one of decode, schema, late, sink, oversize');
    }
  });

  it('accepts the values it checks when they are right', async () => {
    const result = await runCli(['deadletters', '--config', config, '--stream', 'orders', '--reason', 'late', '--show', '0']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('dead letters in');
  });
});
