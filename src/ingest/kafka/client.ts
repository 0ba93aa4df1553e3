/**
 * Turns the source config into a kafkajs client config: TLS, SASL (PLAIN, or OAUTHBEARER with a token from
 * @azure/identity, a file or the environment), and kafkajs's log lines routed into our logger. Secrets are resolved here and go nowhere else.
 */
import { readFileSync } from 'node:fs';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { logLevel, type KafkaConfig, type LogEntry, type Mechanism, type RetryOptions, type SASLOptions } from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';
import { TributaryError, errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { KafkaSaslConfig, KafkaSourceConfig } from './config.js';
import { oauthBearerMechanism } from './oauthbearer.js';

export interface KafkaClientDependencies {
  log: Logger;
  /** For OAUTHBEARER; DefaultAzureCredential when not given. */
  credential?: TokenCredential;
  /** Where passwordEnv is looked up (process.env when not given). */
  env?: Readonly<Record<string, string | undefined>>;
  /** kafkajs retry policy for one operation (its own backoff with jitter); kafkajs defaults when not given. */
  retry?: RetryOptions;
}

export function kafkaClientConfig(config: KafkaSourceConfig, deps: KafkaClientDependencies): KafkaConfig {
  const kafkaLog = deps.log.child({ library: 'kafkajs' });
  return {
    brokers: config.brokers,
    clientId: config.clientId,
    connectionTimeout: config.connectionTimeout,
    requestTimeout: config.requestTimeout,
    ssl: tlsOptions(config.tls),
    sasl: config.sasl ? saslOptions(config.sasl, config.brokers, deps) : undefined,
    retry: deps.retry,
    logLevel: kafkaLog.isLevelEnabled('debug') ? logLevel.INFO : logLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      const { message, timestamp: _timestamp, ...extra } = entry.log;
      const fields = { namespace: entry.namespace, ...extra };
      // kafkajs logs every error response at ERROR, a rebalance's REBALANCE_IN_PROGRESS included; the code that
      // sent the request handles it, and the source logs what matters, so these are debug lines here.
      const responseError = entry.namespace === 'Connection' && message.startsWith('Response ');
      if (entry.level === logLevel.ERROR && !responseError) kafkaLog.error(fields, message);
      else if (entry.level === logLevel.WARN) kafkaLog.warn(fields, message);
      else kafkaLog.debug(fields, message);
    },
  };
}

function tlsOptions(tls: KafkaSourceConfig['tls']): boolean | ConnectionOptions {
  if (typeof tls === 'boolean') return tls;
  const options: ConnectionOptions = { rejectUnauthorized: tls.rejectUnauthorized };
  if (tls.servername) options.servername = tls.servername;
  if (tls.caFile) {
    try {
      options.ca = readFileSync(tls.caFile, 'utf8');
    } catch (error) {
      throw new TributaryError('CONFIG_INVALID', `source.tls.caFile: cannot read ${tls.caFile}: ${errorMessage(error)}`, { cause: error });
    }
  }
  return options;
}

function saslOptions(sasl: KafkaSaslConfig, brokers: string[], deps: KafkaClientDependencies): SASLOptions | Mechanism {
  if (sasl.mechanism === 'plain') {
    let password = sasl.password;
    if (sasl.passwordEnv !== undefined) {
      password = (deps.env ?? process.env)[sasl.passwordEnv];
      if (!password) throw new TributaryError('CONFIG_INVALID', `source.sasl.passwordEnv: the environment variable ${sasl.passwordEnv} is not set`);
    }
    return { mechanism: 'plain', username: sasl.username, password: password! };
  }
  if (sasl.tokenFile !== undefined || sasl.tokenEnv !== undefined) return staticTokenOptions(sasl.tokenFile, sasl.tokenEnv, deps);
  const host = brokers[0]!.split(':')[0]!;
  const scope = sasl.scope ?? `https://${host}/.default`;
  const credential =
    deps.credential ?? new DefaultAzureCredential(sasl.managedIdentityClientId ? { managedIdentityClientId: sasl.managedIdentityClientId } : {});
  return oauthBearerMechanism(async () => {
    const token = await credential.getToken(scope);
    if (!token) throw new TributaryError('AUTHENTICATION_FAILED', `no Entra ID token for scope ${scope}`);
    return token.token;
  });
}

/** OAUTHBEARER with a token someone else obtains: a file read at every authentication, or an environment variable. */
function staticTokenOptions(tokenFile: string | undefined, tokenEnv: string | undefined, deps: KafkaClientDependencies): Mechanism {
  const read = (): string => {
    if (tokenEnv !== undefined) {
      const token = (deps.env ?? process.env)[tokenEnv]?.trim();
      if (!token) throw new TributaryError('CONFIG_INVALID', `source.sasl.tokenEnv: the environment variable ${tokenEnv} is not set`);
      return token;
    }
    let token: string;
    try {
      token = readFileSync(tokenFile!, 'utf8').trim();
    } catch (error) {
      throw new TributaryError('CONFIG_INVALID', `source.sasl.tokenFile: cannot read ${tokenFile}: ${errorMessage(error)}`, { cause: error });
    }
    if (!token) throw new TributaryError('CONFIG_INVALID', `source.sasl.tokenFile: ${tokenFile} is empty`);
    return token;
  };
  read(); // a missing token is a config error now, not an authentication failure at the first connection
  return oauthBearerMechanism(async () => read());
}
