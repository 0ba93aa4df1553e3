/**
 * Confluent wire format framing and the schema registry client, against the registry test peer.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import avro from 'avsc';
import { afterEach, describe, expect, it } from 'vitest';
import { SchemaRegistryClient, parseConfluentFrame } from '../../src/ingest/decode/confluent.js';
import { SchemaRegistryPeer, type SchemaRegistryPeerOptions } from '../peers/schema-registry.js';

const FAST_RETRY = { maxAttempts: 4, initialDelayMs: 5, maxDelayMs: 20, factor: 2 };
const ORDER_V1 = { type: 'record', name: 'Order', fields: [{ name: 'id', type: 'string' }] };

function frame(schemaId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeInt32BE(schemaId, 1);
  return Buffer.concat([header, payload]);
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function registry(options: SchemaRegistryPeerOptions = {}): Promise<SchemaRegistryPeer> {
  const peer = await SchemaRegistryPeer.start(options);
  cleanups.push(() => peer.close());
  return peer;
}

describe('parseConfluentFrame', () => {
  it('reads the schema id and where the Avro body starts, also inside a larger buffer', () => {
    const body = avro.Type.forSchema(ORDER_V1 as avro.Schema).toBuffer({ id: 'o-1' });
    const framed = frame(258, body);
    expect(parseConfluentFrame(framed)).toEqual({ schemaId: 258, payloadOffset: 5 });
    const inside = Buffer.concat([Buffer.from([9, 9, 9]), framed]).subarray(3);
    const parsed = parseConfluentFrame(inside)!;
    expect(parsed.schemaId).toBe(258);
    expect(avro.Type.forSchema(ORDER_V1 as avro.Schema).fromBuffer(inside.subarray(parsed.payloadOffset))).toEqual({ id: 'o-1' });
  });

  it('says undefined for bytes that are not Confluent framed', () => {
    expect(parseConfluentFrame(Buffer.from([1, 0, 0, 0, 7, 2]))).toBeUndefined(); // wrong magic byte
    expect(parseConfluentFrame(Buffer.from([0, 0, 0, 7]))).toBeUndefined(); // too short for the header
    expect(parseConfluentFrame(Buffer.from([0, 0xff, 0xff, 0xff, 0xff]))).toBeUndefined(); // negative id
    expect(parseConfluentFrame(new Uint8Array(0))).toBeUndefined();
  });
});

describe('SchemaRegistryClient', () => {
  it('fetches a schema by id once and serves it from the cache afterwards, concurrent lookups included', async () => {
    const peer = await registry();
    const id = peer.register('orders-value', ORDER_V1);
    const client = new SchemaRegistryClient(`${peer.url}/`, { retry: FAST_RETRY });
    const [a, b] = await Promise.all([client.getSchema(id), client.getSchema(id)]);
    expect(JSON.parse(a)).toEqual(ORDER_V1);
    expect(b).toBe(a);
    expect(await client.getSchema(id)).toBe(a);
    expect(peer.lookups.get(id)).toBe(1);
  });

  it('reports an unknown id as DECODE_FAILED (the event goes to the dead letters)', async () => {
    const peer = await registry();
    const client = new SchemaRegistryClient(peer.url, { retry: FAST_RETRY });
    await expect(client.getSchema(99)).rejects.toMatchObject({
      code: 'DECODE_FAILED',
      retriable: false,
      message: expect.stringContaining('unknown schema id 99'),
    });
    expect(peer.lookups.get(99)).toBe(1); // not retried
  });

  it('retries 5xx and 429 with backoff, and forgets a lookup that failed for good', async () => {
    const peer = await registry();
    const id = peer.register('orders-value', ORDER_V1);
    const client = new SchemaRegistryClient(peer.url, { retry: FAST_RETRY });
    peer.failNext(503, 2);
    peer.failNext(429);
    expect(JSON.parse(await client.getSchema(id))).toEqual(ORDER_V1);

    const other = peer.register('telemetry-value', { type: 'record', name: 'T', fields: [] });
    peer.failNext(500, FAST_RETRY.maxAttempts);
    await expect(client.getSchema(other)).rejects.toMatchObject({ code: 'BROKER_TRANSIENT', retriable: true, message: expect.stringContaining('500') });
    expect(JSON.parse(await client.getSchema(other))).toEqual({ type: 'record', name: 'T', fields: [] });
  });

  it('sends Basic credentials and reports refused ones as AUTHENTICATION_FAILED without echoing them', async () => {
    const peer = await registry({ username: 'api-key', password: 'api-secret' });
    const id = peer.register('orders-value', ORDER_V1);
    expect(JSON.parse(await new SchemaRegistryClient(peer.url, { username: 'api-key', password: 'api-secret' }).getSchema(id))).toEqual(ORDER_V1);
    const refused = new SchemaRegistryClient(peer.url, { username: 'api-key', password: 'not-the-secret', retry: FAST_RETRY }).getSchema(id);
    await expect(refused).rejects.toMatchObject({ code: 'AUTHENTICATION_FAILED' });
    await expect(refused).rejects.not.toThrow(/not-the-secret/);
  });

  it('refuses schemas that are not Avro', async () => {
    const peer = await registry();
    const id = peer.register('proto-value', 'syntax = "proto3"; message M {}', 'PROTOBUF');
    await expect(new SchemaRegistryClient(peer.url).getSchema(id)).rejects.toMatchObject({ code: 'DECODE_FAILED', message: expect.stringContaining('PROTOBUF') });
  });

  it('times out a registry that does not answer, and honours the caller\'s abort', async () => {
    const silent = http.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    });
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const client = new SchemaRegistryClient(url, { timeoutMs: 100, retry: { ...FAST_RETRY, maxAttempts: 1 } });
    await expect(client.getSchema(1)).rejects.toMatchObject({ code: 'BROKER_TRANSIENT', message: expect.stringContaining('timed out') });

    const controller = new AbortController();
    const pending = new SchemaRegistryClient(url, { timeoutMs: 60_000 }).getSchema(1, controller.signal);
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it('rejects a base URL that is not http(s) and half-given credentials', () => {
    expect(() => new SchemaRegistryClient('registry:8081')).toThrow(/must be http or https/);
    expect(() => new SchemaRegistryClient('not a url')).toThrow(/not a URL/);
    expect(() => new SchemaRegistryClient('http://localhost:8081', { username: 'key' })).toThrow(/both username and password/);
  });
});
