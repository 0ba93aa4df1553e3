/**
 * The Kafka source's pure parts: kafkajs errors -> TributaryError, records -> SourceEvent, config validation,
 * and the kafkajs client config built from it.
 */
import { describe, expect, it } from 'vitest';
import kafkajs, { type KafkaMessage } from 'kafkajs';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { parseConfig } from '../../src/config/load.js';
import { kafkaClientConfig } from '../../src/ingest/kafka/client.js';
import { kafkaSourceSchema } from '../../src/ingest/kafka/config.js';
import { isMembershipLost, translateKafkaError } from '../../src/ingest/kafka/errors.js';
import { toSourceEvent } from '../../src/ingest/kafka/records.js';
import { log } from './kafka-support.js';

const { KafkaJSSASLAuthenticationError, KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError, KafkaJSNonRetriableError } =
  kafkajs as unknown as Record<string, new (...args: unknown[]) => Error>;

function protocolError(type: string, retriable: boolean): Error {
  return new KafkaJSProtocolError!({ type, message: `${type} from broker`, code: 1, retriable });
}

describe('translateKafkaError', () => {
  it('maps SASL failures, authorization errors and certificate errors to AUTHENTICATION_FAILED', () => {
    const sasl = translateKafkaError(new KafkaJSSASLAuthenticationError!('SASL PLAIN authentication failed: Invalid username or password'), 'connecting');
    expect(sasl).toMatchObject({ code: 'AUTHENTICATION_FAILED', retriable: false, fault: 'config' });
    expect(sasl.message).toMatch(/connecting: authentication failed: SASL PLAIN authentication failed/);
    expect(sasl.message).toMatch(/\$ConnectionString/);
    expect(translateKafkaError(protocolError('TOPIC_AUTHORIZATION_FAILED', false), 'fetching').code).toBe('AUTHENTICATION_FAILED');
    const tls = Object.assign(new KafkaJSConnectionError!('Connection error: self-signed certificate'), {
      cause: Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }),
    });
    expect(translateKafkaError(tls, 'connecting').code).toBe('AUTHENTICATION_FAILED');
  });

  it('finds an authentication failure wrapped in retries', () => {
    const wrapped = new KafkaJSNumberOfRetriesExceeded!(new KafkaJSSASLAuthenticationError!('bad password'), { retryCount: 5, retryTime: 100 });
    expect(translateKafkaError(wrapped, 'x').code).toBe('AUTHENTICATION_FAILED');
  });

  it('maps retriable kafkajs errors to BROKER_TRANSIENT, retries exhausted on a transient cause too', () => {
    expect(translateKafkaError(new KafkaJSConnectionError!('Connection error: ECONNREFUSED'), 'x')).toMatchObject({ code: 'BROKER_TRANSIENT', retriable: true });
    expect(translateKafkaError(protocolError('NOT_COORDINATOR_FOR_GROUP', true), 'x').code).toBe('BROKER_TRANSIENT');
    const exhausted = new KafkaJSNumberOfRetriesExceeded!(new KafkaJSConnectionError!('Connection timeout'), { retryCount: 5, retryTime: 100 });
    expect(translateKafkaError(exhausted, 'x').code).toBe('BROKER_TRANSIENT');
  });

  it('maps everything else to BROKER_PERMANENT and passes TributaryErrors through', () => {
    expect(translateKafkaError(new KafkaJSNonRetriableError!('Invalid topic'), 'x')).toMatchObject({ code: 'BROKER_PERMANENT', retriable: false });
    expect(translateKafkaError(protocolError('INVALID_REQUEST', false), 'x').code).toBe('BROKER_PERMANENT');
    const own = translateKafkaError(new KafkaJSNonRetriableError!('x'), 'y');
    expect(translateKafkaError(own, 'z')).toBe(own);
  });

  it('recognises the group errors after which a commit must wait for the rejoin', () => {
    expect(isMembershipLost(protocolError('REBALANCE_IN_PROGRESS', false))).toBe(true);
    expect(isMembershipLost(protocolError('ILLEGAL_GENERATION', false))).toBe(true);
    expect(isMembershipLost(protocolError('UNKNOWN_MEMBER_ID', false))).toBe(true);
    expect(isMembershipLost(protocolError('OFFSET_OUT_OF_RANGE', false))).toBe(false);
  });
});

describe('toSourceEvent', () => {
  const base = { attributes: 0, timestamp: '1767225600123', offset: '42' };

  it('maps offset, timestamp, key and headers (UTF-8, last value of a repeated header)', () => {
    const message: KafkaMessage = {
      ...base,
      key: Buffer.from('customer-7'),
      value: Buffer.from([1, 2, 3]),
      headers: { traceparent: Buffer.from('00-abc-def-01'), tenant: 'eu', hop: [Buffer.from('a'), Buffer.from('b')], missing: undefined },
    };
    expect(toSourceEvent(message)).toEqual({
      body: Buffer.from([1, 2, 3]),
      position: 42,
      offset: '42',
      enqueuedTimeMs: 1767225600123,
      partitionKey: 'customer-7',
      properties: { traceparent: '00-abc-def-01', tenant: 'eu', hop: 'b' },
    });
  });

  it('keeps a keyless record keyless and a tombstone as an empty body', () => {
    const event = toSourceEvent({ ...base, key: null, value: null, headers: {} });
    expect(event.partitionKey).toBeNull();
    expect(event.body).toHaveLength(0);
  });
});

describe('kafka source config', () => {
  const minimal = { kind: 'kafka', brokers: ['localhost:9092'], topics: { orders: 'orders' }, groupId: 'g' };

  it('is a source kind of the config file', () => {
    const config = parseConfig(
      {
        streams: { orders: { schema: 'examples/schemas/orders.avsc', eventId: 'orderId', eventTime: 'createdAt' } },
        source: { ...minimal, topics: { orders: 'orders-topic' }, startFrom: { timestamp: '2026-01-01T00:00:00Z' } },
      },
      'test',
    );
    expect(config.source).toMatchObject({ kind: 'kafka', topics: { orders: 'orders-topic' }, startFrom: { timestamp: '2026-01-01T00:00:00Z' } });
    expect(() => parseConfig({ streams: { orders: { schema: 'x', eventId: 'a', eventTime: 'b' } }, source: { ...minimal, groupId: '' } }, 'test')).toThrow(
      /source\.groupId/,
    );
  });

  it('fills defaults', () => {
    const config = kafkaSourceSchema.parse(minimal);
    expect(config).toMatchObject({ startFrom: 'earliest', tls: false, sessionTimeout: 30_000, heartbeatInterval: 3_000, clientId: 'tributary' });
    expect(config.fetch).toEqual({ minBytes: 1, maxWait: 500, maxBytes: 10 * 1024 ** 2, maxBytesPerPartition: 1024 ** 2 });
  });

  it('requires TLS and SASL for the Event Hubs Kafka endpoint', () => {
    const result = kafkaSourceSchema.safeParse({ ...minimal, brokers: ['ns.servicebus.windows.net:9093'] });
    expect(result.success).toBe(false);
    const paths = result.error!.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['tls', 'sasl']));
    expect(
      kafkaSourceSchema.safeParse({
        ...minimal,
        brokers: ['ns.servicebus.windows.net:9093'],
        tls: true,
        sasl: { mechanism: 'plain', username: '$ConnectionString', passwordEnv: 'EH_CONN' },
      }).success,
    ).toBe(true);
  });

  it('rejects a password given twice, a heartbeat slower than the session, unknown keys and bad brokers', () => {
    const twice = kafkaSourceSchema.safeParse({ ...minimal, sasl: { mechanism: 'plain', username: 'u', password: 'p', passwordEnv: 'P' } });
    expect(twice.error?.issues[0]?.path).toEqual(['sasl', 'password']);
    const slow = kafkaSourceSchema.safeParse({ ...minimal, sessionTimeout: '10s', heartbeatInterval: '10s' });
    expect(slow.error?.issues[0]?.path).toEqual(['heartbeatInterval']);
    expect(kafkaSourceSchema.safeParse({ ...minimal, group: 'typo' }).success).toBe(false);
    expect(kafkaSourceSchema.safeParse({ ...minimal, brokers: ['localhost'] }).success).toBe(false);
  });

  it('builds the kafkajs client config: password from the environment, OAUTHBEARER tokens for the namespace scope', async () => {
    const plain = kafkaClientConfig(
      kafkaSourceSchema.parse({ ...minimal, tls: true, sasl: { mechanism: 'plain', username: '$ConnectionString', passwordEnv: 'EH_CONN' } }),
      { log, env: { EH_CONN: 'Endpoint=sb://x/;SharedAccessKey=k' } },
    );
    expect(plain.ssl).toBe(true);
    expect(plain.sasl).toEqual({ mechanism: 'plain', username: '$ConnectionString', password: 'Endpoint=sb://x/;SharedAccessKey=k' });
    expect(() =>
      kafkaClientConfig(kafkaSourceSchema.parse({ ...minimal, sasl: { mechanism: 'plain', username: 'u', passwordEnv: 'UNSET_VAR' } }), { log, env: {} }),
    ).toThrow(/UNSET_VAR is not set/);

    const scopes: string[] = [];
    const credential: TokenCredential = {
      getToken: async (scope): Promise<AccessToken> => {
        scopes.push(String(scope));
        return { token: 'entra-token', expiresOnTimestamp: Date.now() + 3_600_000 };
      },
    };
    const oauth = kafkaClientConfig(
      kafkaSourceSchema.parse({ ...minimal, brokers: ['ns.servicebus.windows.net:9093'], tls: true, sasl: { mechanism: 'oauthbearer' } }),
      { log, credential },
    );
    const sasl = oauth.sasl;
    if (!sasl || !('authenticationProvider' in sasl)) throw new Error('expected the oauthbearer mechanism');
    expect(sasl.mechanism).toBe('oauthbearer');
    // The first SaslAuthenticate carries the token in RFC 7628's client message (after kafkajs's length prefix).
    const sent: string[] = [];
    await sasl
      .authenticationProvider({
        host: 'ns.servicebus.windows.net',
        port: 9093,
        logger: undefined as never,
        saslAuthenticate: async ({ request }) => {
          sent.push((await request.encode()).subarray(4).toString());
          return undefined;
        },
      })
      .authenticate();
    expect(sent).toEqual(['n,,\u0001auth=Bearer entra-token\u0001\u0001']);
    expect(scopes).toEqual(['https://ns.servicebus.windows.net/.default']);
  });
});
