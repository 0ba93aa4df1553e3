/**
 * Config rules an operator meets through `tributary validate` (and `run`, which loads the same way): every message
 * names the field; what the config needs from the environment is checked before any work; relative paths resolve
 * against the config file; `${VAR}` interpolates.
 */
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { runCli } from '../support/cli.js';
import { FIXTURES, REPO_ROOT, createWorkspace, type Workspace } from '../support/workspace.js';

type Config = Record<string, unknown> & { processing: Record<string, unknown>; source: Record<string, unknown> };

describe('config rules, checked by tributary validate', () => {
  let ws: Workspace;
  beforeEach(async () => {
    ws = await createWorkspace();
  });
  afterEach(() => ws.cleanup());

  const base = (): Config => ({
    streams: { orders: { schema: path.join(REPO_ROOT, 'examples/schemas/orders.avsc'), eventId: 'orderId', eventTime: 'createdAt' } },
    source: { kind: 'capture', store: { kind: 'local', path: ws.file('archive') }, namespace: 'demo', hubs: { orders: 'orders' } },
    processing: {},
    lake: { kind: 'local', path: ws.file('lake') },
    deadLetter: { kind: 'local', path: ws.file('deadletter') },
    state: { kind: 'local', path: ws.file('state') },
    metrics: { enabled: false },
  });

  const write = async (config: unknown, name = 'config.yaml'): Promise<string> => {
    const file = ws.file(name);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, typeof config === 'string' ? config : stringify(config));
    return file;
  };
  const validate = async (config: unknown, env: NodeJS.ProcessEnv = {}, extra: string[] = []) =>
    runCli(['validate', '--config', await write(config), ...extra], { env, cwd: ws.dir });
  /** loads in-process and returns the error text, or '' when the config loads */
  const loadError = async (config: unknown, env: Record<string, string> = {}): Promise<string> => {
    try {
      await loadConfig(await write(config), { env });
      return '';
    } catch (error) {
      return (error as Error).message;
    }
  };

  it('exits 0 for a good config and 2 for a bad one, naming the field', async () => {
    expect((await validate(base())).code).toBe(0);
    const config = base();
    config.processing = { aggregateFileSpan: 0 };
    const result = await validate(config);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('processing.aggregateFileSpan: must be > 0');
  });

  it('rejects sizes of zero however they are written, naming the field', async () => {
    for (const size of [0, '0', '0B', '0KiB', '0.0001B']) {
      const config = base();
      config.processing = { maxFileBytes: size, maxEventBytes: size };
      const message = await loadError(config);
      expect(message, String(size)).toContain('processing.maxFileBytes: a size must be > 0 bytes');
      expect(message, String(size)).toContain('processing.maxEventBytes: a size must be > 0 bytes');
    }
    const ok = base();
    ok.processing = { maxFileBytes: '1B', maxEventBytes: '1KiB' };
    expect(await loadError(ok)).toBe('');
  });

  it('rejects aggregateFileSpan 0 at validation, naming the field', async () => {
    for (const span of [0, '0s', '0h']) {
      const config = base();
      config.processing = { aggregateFileSpan: span };
      expect(await loadError(config), String(span)).toContain('processing.aggregateFileSpan: must be > 0');
    }
  });

  it('names source.hubs when no stream is mapped, and a hub for a stream that is not configured', async () => {
    const empty = base();
    empty.source = { ...empty.source, hubs: {} };
    expect(await loadError(empty)).toContain('source.hubs: map at least one stream to a hub folder');
    const unknown = base();
    unknown.source = { ...unknown.source, hubs: { orders: 'orders', ordres: 'x' } };
    expect(await loadError(unknown)).toContain('source.hubs.ordres: unknown stream "ordres"; expected one of: orders');
  });

  it('fails validate when a passwordEnv variable is unset, naming the field and the variable; passes once set', async () => {
    const config = base();
    config.source = {
      kind: 'kafka',
      brokers: ['127.0.0.1:9'],
      groupId: 'lake',
      topics: { orders: 'orders' },
      sasl: { mechanism: 'plain', username: '$ConnectionString', passwordEnv: 'TRIBUTARY_TEST_UNSET_PASSWORD' },
    };
    const unset = await validate(config);
    expect(unset.code).toBe(2);
    expect(unset.stderr).toContain('source.sasl.passwordEnv: the environment variable TRIBUTARY_TEST_UNSET_PASSWORD is not set');
    const set = await validate(config, { TRIBUTARY_TEST_UNSET_PASSWORD: 'secret' });
    expect(set.stderr).toBe('');
    expect(set.code).toBe(0);
    expect(set.stdout).toContain('config is valid');
  });

  it('fails validate when a schema file is absent, naming the field and the file', async () => {
    const config = base();
    config.streams = { orders: { schema: 'schemas/missing.avsc', eventId: 'orderId', eventTime: 'createdAt' } };
    const result = await validate(config);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`streams.orders.schema: the file ${ws.file('schemas/missing.avsc')} does not exist`);
  });

  it('resolves relative paths against the config file, not the working directory', async () => {
    await mkdir(ws.file('etc', 'schemas'), { recursive: true });
    await copyFile(path.join(REPO_ROOT, 'examples/schemas/orders.avsc'), ws.file('etc', 'schemas', 'orders.avsc'));
    const file = await write(
      {
        streams: { orders: { schema: 'schemas/orders.avsc', eventId: 'orderId', eventTime: 'createdAt' } },
        source: { kind: 'capture', store: { kind: 'local', path: '../archive' }, namespace: 'demo', hubs: { orders: 'orders' } },
        lake: { kind: 'local', path: 'lake' },
      },
      'etc/tributary.yaml',
    );
    const config = await loadConfig(file, { env: {} });
    expect(config.streams.orders!.schema).toBe(ws.file('etc', 'schemas', 'orders.avsc'));
    expect(config.source.kind === 'capture' && config.source.store).toEqual({ kind: 'local', path: ws.file('archive') });
    expect(config.lake).toEqual({ kind: 'local', path: ws.file('etc', 'lake') });
    // what the file does not say keeps its default, relative to where the worker runs
    expect(config.state).toEqual({ kind: 'local', path: 'data/state' });
    // and the CLI finds the schema from another working directory
    const result = await runCli(['validate', '--config', file], { cwd: REPO_ROOT });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('interpolates ${VAR} in string values, names the field when VAR is unset, and keeps $${ literal', async () => {
    const config = base();
    config.source = { ...config.source, namespace: '${TRIBUTARY_TEST_NS}', hubs: { orders: 'orders-${TRIBUTARY_TEST_SUFFIX:-blue}' } };
    config.lake = { kind: 'local', path: `${ws.file('lake')}/$\${literal}` };
    const loaded = await loadConfig(await write(config), { env: { TRIBUTARY_TEST_NS: 'prod' } });
    expect(loaded.source.kind === 'capture' && loaded.source.namespace).toBe('prod');
    expect(loaded.source.kind === 'capture' && loaded.source.hubs).toEqual({ orders: 'orders-blue' });
    expect(loaded.lake).toEqual({ kind: 'local', path: `${ws.file('lake')}/\${literal}` });

    const result = await validate(config);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('source.namespace: environment variable TRIBUTARY_TEST_NS is not set');
  });

  it('validate --connect tries each store and the source and reports each by name', async () => {
    const missing = await validate(base(), {}, ['--connect']);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain('connect source orders: FAILED');
    expect(missing.stdout).toContain(`${ws.file('archive')} does not exist`);
    expect(missing.stdout).toContain('connect lake: ok');
    expect(missing.stderr).toContain('cannot reach source orders');

    await mkdir(ws.file('archive', 'demo', 'orders', '0', '2016', '11', '16', '16', '44'), { recursive: true });
    await copyFile(path.join(FIXTURES, 'capture', 'real-capture-2016-single-event.avro'), ws.file('archive', 'demo', 'orders', '0', '2016', '11', '16', '16', '44', '11.avro'));
    const present = await validate(base(), {}, ['--connect']);
    expect(present.stderr).toBe('');
    expect(present.code).toBe(0);
    expect(present.stdout).toContain(`connect source orders: ok: ${ws.file('archive')}/demo/orders (1 Capture files)`);
    for (const store of ['lake', 'deadLetter', 'state']) expect(present.stdout).toContain(`connect ${store}: ok`);

    const blob = base();
    blob.lake = { kind: 'blob', container: 'lake', connectionString: 'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;' };
    const unreachable = await validate(blob, {}, ['--connect']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stdout).toContain('connect lake: FAILED');
    expect(unreachable.stderr).toContain('cannot reach lake');
  });
});
