/**
 * Builds SDK clients from config: a namespace connection string, or a fully qualified namespace with
 * DefaultAzureCredential. The SDK's own messages for a bad connection string quote the string (with its key),
 * so construction errors are replaced by ones that name the config field instead.
 */
import {
  EventHubConsumerClient,
  EventHubProducerClient,
  RetryMode,
  type CheckpointStore,
  type EventHubClientOptions,
  type EventHubConsumerClientOptions,
  type RetryOptions,
} from '@azure/event-hubs';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { TributaryError } from '../../core/errors.js';
import type { EventHubsSourceConfig } from './config.js';

export interface NamespaceConnection {
  connectionString?: string | undefined;
  fullyQualifiedNamespace?: string | undefined;
}

/** The SDK's per-operation retries from config: exponential backoff instead of its fixed 30 s default. */
export function sdkRetryOptions(retry: EventHubsSourceConfig['clientRetry']): RetryOptions {
  return {
    mode: RetryMode.Exponential,
    maxRetries: retry.maxRetries,
    retryDelayInMs: retry.delay,
    maxRetryDelayInMs: retry.maxDelay,
    timeoutInMs: retry.timeout,
  };
}

export function entityPathOf(connectionString: string): string | undefined {
  for (const part of connectionString.split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim().toLowerCase() === 'entitypath') return part.slice(at + 1).trim() || undefined;
  }
  return undefined;
}

function checkEntityPath(connection: NamespaceConnection, hub: string, field: string): void {
  const entityPath = connection.connectionString ? entityPathOf(connection.connectionString) : undefined;
  if (entityPath !== undefined && entityPath !== hub) {
    throw new TributaryError(
      'CONFIG_INVALID',
      `${field}.connectionString is scoped to the event hub "${entityPath}" (EntityPath) but hub "${hub}" is configured; use a namespace-level connection string`,
    );
  }
}

function construct<T>(field: string, build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (error instanceof TypeError) {
      throw new TributaryError('CONFIG_INVALID', `${field}: the connection settings are not valid for Event Hubs (check connectionString / fullyQualifiedNamespace)`);
    }
    throw error;
  }
}

export function createConsumerClient(
  connection: NamespaceConnection,
  consumerGroup: string,
  hub: string,
  /** undefined: a reader outside any checkpoint store (the SDK's in-memory one): every partition, no owner level */
  store: CheckpointStore | undefined,
  options: EventHubConsumerClientOptions,
  credential?: TokenCredential,
  field = 'source',
): EventHubConsumerClient {
  checkEntityPath(connection, hub, field);
  // The SDK tells a store from the options by its shape, so an absent store must be left out, not passed.
  return construct(field, () => {
    if (connection.connectionString) {
      return store
        ? new EventHubConsumerClient(consumerGroup, connection.connectionString, hub, store, options)
        : new EventHubConsumerClient(consumerGroup, connection.connectionString, hub, options);
    }
    const auth = credential ?? new DefaultAzureCredential();
    return store
      ? new EventHubConsumerClient(consumerGroup, connection.fullyQualifiedNamespace!, hub, auth, store, options)
      : new EventHubConsumerClient(consumerGroup, connection.fullyQualifiedNamespace!, hub, auth, options);
  });
}

export function createProducerClient(
  connection: NamespaceConnection,
  hub: string,
  options: EventHubClientOptions = {},
  credential?: TokenCredential,
  field = 'target',
): EventHubProducerClient {
  checkEntityPath(connection, hub, field);
  return construct(field, () =>
    connection.connectionString
      ? new EventHubProducerClient(connection.connectionString, hub, options)
      : new EventHubProducerClient(connection.fullyQualifiedNamespace!, hub, credential ?? new DefaultAzureCredential(), options),
  );
}
