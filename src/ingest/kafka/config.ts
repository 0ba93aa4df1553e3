/**
 * Config of the Kafka source: any Kafka cluster, including the Event Hubs Kafka endpoint
 * (`<namespace>.servicebus.windows.net:9093`, TLS, SASL PLAIN with user `$ConnectionString` and the connection
 * string as password, or OAUTHBEARER with an Entra ID token, or with a token from a file or the environment for
 * other OAuth brokers).
 */
import { z } from 'zod';
import { byteSize, duration } from '../../config/units.js';

const EVENT_HUBS_HOST = /\.servicebus\.(windows\.net|chinacloudapi\.cn|usgovcloudapi\.net)$/i;

const plainSaslSchema = z
  .strictObject({
    mechanism: z.literal('plain'),
    username: z.string().min(1).describe('Event Hubs: the literal "$ConnectionString"'),
    password: z.string().min(1).optional().describe('the password; Event Hubs: the namespace or hub connection string (prefer passwordEnv)'),
    passwordEnv: z.string().min(1).optional().describe('name of the environment variable holding the password, so the secret stays out of the file'),
  })
  .refine((s) => (s.password === undefined) !== (s.passwordEnv === undefined), {
    message: 'set exactly one of password or passwordEnv',
    path: ['password'],
  });

const oauthBearerSaslSchema = z
  .strictObject({
    mechanism: z.literal('oauthbearer'),
    scope: z.string().min(1).optional().describe('token scope; defaults to https://<first broker host>/.default (the Event Hubs namespace)'),
    managedIdentityClientId: z.string().min(1).optional().describe('client id of a user-assigned managed identity for DefaultAzureCredential'),
    tokenFile: z
      .string()
      .min(1)
      .optional()
      .describe('instead of Entra ID: a file holding the bearer token, read again at each authentication (a rotated token is picked up)'),
    tokenEnv: z.string().min(1).optional().describe('instead of Entra ID: the environment variable holding the bearer token'),
  })
  .refine((s) => s.tokenFile === undefined || s.tokenEnv === undefined, { message: 'set at most one of tokenFile or tokenEnv', path: ['tokenFile'] })
  .refine((s) => (s.tokenFile === undefined && s.tokenEnv === undefined) || (s.scope === undefined && s.managedIdentityClientId === undefined), {
    message: 'scope and managedIdentityClientId are for Entra ID tokens; a tokenFile or tokenEnv token is sent as it is',
    path: ['scope'],
  });

const tlsSchema = z.union([
  z.boolean(),
  z.strictObject({
    caFile: z.string().min(1).optional().describe('PEM file of the CA that signed the brokers\' certificates (default: the system store)'),
    servername: z.string().min(1).optional().describe('TLS server name (SNI) when it differs from the broker host'),
    rejectUnauthorized: z.boolean().default(true).describe('verify the brokers\' certificates'),
  }),
]);

const startFromSchema = z.union([
  z.enum(['earliest', 'latest']),
  z.strictObject({
    timestamp: z.union([z.iso.datetime({ offset: true }), z.number().int().nonnegative()]).describe('ISO time or epoch milliseconds'),
  }),
]);

export const kafkaSourceSchema = z
  .strictObject({
    kind: z.literal('kafka'),
    brokers: z
      .array(z.string().regex(/^[^\s:/]+:\d{1,5}$/, 'expected host:port'))
      .min(1)
      .describe('bootstrap brokers; Event Hubs: <namespace>.servicebus.windows.net:9093'),
    topics: z
      .record(z.string(), z.string().min(1))
      .refine((t) => Object.keys(t).length > 0, 'map at least one stream to a topic')
      .describe('stream name -> topic (Event Hubs: the event hub name)'),
    groupId: z.string().min(1).describe('consumer group, one per deployment; offsets are committed here after the lake is durable'),
    clientId: z.string().min(1).default('tributary').describe('client id reported to the brokers'),
    startFrom: startFromSchema.default('earliest').describe('where a partition starts when neither a snapshot nor a committed offset exists'),
    tls: tlsSchema.default(false).describe('TLS to the brokers (true, or options); required by Event Hubs'),
    sasl: z.discriminatedUnion('mechanism', [plainSaslSchema, oauthBearerSaslSchema]).optional().describe('SASL authentication'),
    sessionTimeout: duration.default(30_000).describe('the group evicts a member silent for this long'),
    heartbeatInterval: duration.default(3_000).describe('how often the member heartbeats; about a third of sessionTimeout'),
    rebalanceTimeout: duration.default(60_000).describe('how long a rebalance waits for members to rejoin'),
    connectionTimeout: duration.default(10_000).describe('TCP/TLS connect timeout per broker'),
    requestTimeout: duration.default(30_000).describe('timeout of one request to a broker'),
    fetch: z
      .strictObject({
        minBytes: z.number().int().min(1).default(1).describe('the broker answers a fetch once it has this many bytes'),
        maxWait: duration.default(500).describe('or once this long has passed'),
        maxBytes: byteSize.default(10 * 1024 ** 2).describe('bytes per fetch response'),
        maxBytesPerPartition: byteSize.default(1024 ** 2).describe('bytes per partition per fetch'),
      })
      .default({ minBytes: 1, maxWait: 500, maxBytes: 10 * 1024 ** 2, maxBytesPerPartition: 1024 ** 2 }),
    maxQueuedEventsPerPartition: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('fetched events waiting for processing per partition before it is paused (default: 4 x processing.batchSize)'),
  })
  .superRefine((source, ctx) => {
    if (source.heartbeatInterval >= source.sessionTimeout) {
      ctx.addIssue({ code: 'custom', path: ['heartbeatInterval'], message: 'must be lower than sessionTimeout (about a third of it)' });
    }
    const eventHubs = source.brokers.some((broker) => EVENT_HUBS_HOST.test(broker.split(':')[0]!));
    if (eventHubs && source.tls === false) {
      ctx.addIssue({ code: 'custom', path: ['tls'], message: 'the Event Hubs Kafka endpoint requires TLS: set tls: true' });
    }
    if (eventHubs && !source.sasl) {
      ctx.addIssue({
        code: 'custom',
        path: ['sasl'],
        message: 'the Event Hubs Kafka endpoint requires SASL: mechanism plain with username "$ConnectionString", or oauthbearer',
      });
    }
  });

export type KafkaSourceConfig = z.infer<typeof kafkaSourceSchema>;
export type KafkaSaslConfig = NonNullable<KafkaSourceConfig['sasl']>;
export type KafkaStartFrom = KafkaSourceConfig['startFrom'];
