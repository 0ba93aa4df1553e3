/**
 * Positions that go backwards (a Capture file whose sequence numbers step back): the event is dead-lettered or
 * the partition fails with a message naming the position, never dropped silently (the partition driver decides
 * which; either passes).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import avro from 'avsc';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { captureKey } from '../../src/ingest/capture/format.js';
import { LocalObjectStore } from '../../src/sink/local-object-store.js';
import { runCli, type CliResult } from '../support/cli.js';
import { embeddedConfig } from '../support/embedded-config.js';
import { readDeadLetters, readTable } from '../support/lake.js';
import { captureFile, captureRecord } from '../support/poison.js';
import { REPO_ROOT, createWorkspace, type Workspace } from '../support/workspace.js';

const T0 = Date.UTC(2026, 0, 1);

describe('positions that go backwards', () => {
  let ws: Workspace;
  let result: CliResult;
  const sequences = [0, 1, 2, 3, 4, 3, 5, 6];

  beforeAll(async () => {
    ws = await createWorkspace('tributary-backwards-');
    const setup = await ws.writeConfig(embeddedConfig(ws));
    const orders = avro.Type.forSchema(JSON.parse(await readFile(path.join(REPO_ROOT, 'examples/schemas/orders.avsc'), 'utf8')) as avro.Schema);
    const body = (i: number) =>
      orders.toBuffer({ orderId: `o${i}`, customerId: 'C1', lines: [], totalAmount: 0, currency: 'EUR', channel: 'web', shippingCountry: 'DE', createdAt: T0 + i * 1000, couponCode: null });
    const file = captureFile({ blocks: [{ records: sequences.map((sequence, i) => captureRecord(sequence, T0 + i * 1000, body(i))) }] });
    await new LocalObjectStore(ws.file('capture')).put(captureKey({ namespace: 'test', hub: 'orders', partition: '0', windowStart: new Date(T0) }), file);
    result = await runCli(['run', '--bounded', '-q', '--config', setup.file]);
  }, 120_000);
  afterAll(() => ws?.cleanup());

  it('the event at a backwards position is dead-lettered or fails the partition, never dropped', async () => {
    if (result.code === 0) {
      const dead = await readDeadLetters(new LocalObjectStore(ws.file('deadletter')));
      const backwards = dead.filter((d) => d.position === 3 && Buffer.from(d.body, 'base64').includes(Buffer.from('o5')));
      expect(backwards).toHaveLength(1);
      const landed = (await readTable(new LocalObjectStore(ws.file('lake')), 'orders_raw')).map((r) => r.orderId).sort();
      expect(landed).toEqual(['o0', 'o1', 'o2', 'o3', 'o4', 'o6', 'o7']);
    } else {
      expect(result.stderr).toMatch(/position|sequence number/i);
      expect(result.stderr).toMatch(/\b3\b/);
    }
  });

  it('the file itself reads (the case is about positions, not bytes)', () => {
    expect(result.stderr).not.toMatch(/corrupt block|unreadable/);
  });
});
