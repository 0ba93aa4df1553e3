/**
 * The API keys and versions the peer serves, and the error codes it answers with. Each key is served at exactly
 * one version, the one kafkajs 2.2.4 picks against a real broker or the Event Hubs Kafka endpoint, and ApiVersions
 * advertises only these, so a client takes the same code paths as in production.
 */

export const ApiKey = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  LeaveGroup: 13,
  SyncGroup: 14,
  DescribeGroups: 15,
  SaslHandshake: 17,
  ApiVersions: 18,
  CreateTopics: 19,
  SaslAuthenticate: 36,
} as const;
export type ApiKey = (typeof ApiKey)[keyof typeof ApiKey];

export const SERVED_VERSIONS: ReadonlyMap<number, number> = new Map<number, number>([
  [ApiKey.Produce, 7],
  [ApiKey.Fetch, 11],
  [ApiKey.ListOffsets, 3],
  [ApiKey.Metadata, 6],
  [ApiKey.OffsetCommit, 5],
  [ApiKey.OffsetFetch, 4],
  [ApiKey.FindCoordinator, 2],
  [ApiKey.JoinGroup, 5],
  [ApiKey.Heartbeat, 3],
  [ApiKey.LeaveGroup, 3],
  [ApiKey.SyncGroup, 3],
  [ApiKey.DescribeGroups, 2],
  [ApiKey.SaslHandshake, 1],
  [ApiKey.ApiVersions, 2],
  [ApiKey.CreateTopics, 3],
  [ApiKey.SaslAuthenticate, 1],
]);

/** Requests a client may send before it has authenticated on a SASL listener. */
export const PRE_AUTH_KEYS: ReadonlySet<number> = new Set([ApiKey.ApiVersions, ApiKey.SaslHandshake, ApiKey.SaslAuthenticate]);

export const ErrorCode = {
  NONE: 0,
  OFFSET_OUT_OF_RANGE: 1,
  CORRUPT_MESSAGE: 2,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  COORDINATOR_NOT_AVAILABLE: 15,
  INVALID_TOPIC_EXCEPTION: 17,
  INVALID_REQUIRED_ACKS: 21,
  ILLEGAL_GENERATION: 22,
  INCONSISTENT_GROUP_PROTOCOL: 23,
  INVALID_GROUP_ID: 24,
  UNKNOWN_MEMBER_ID: 25,
  INVALID_SESSION_TIMEOUT: 26,
  REBALANCE_IN_PROGRESS: 27,
  UNSUPPORTED_SASL_MECHANISM: 33,
  ILLEGAL_SASL_STATE: 34,
  UNSUPPORTED_VERSION: 35,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_PARTITIONS: 37,
  INVALID_REPLICATION_FACTOR: 38,
  INVALID_REQUEST: 42,
  SASL_AUTHENTICATION_FAILED: 58,
  MEMBER_ID_REQUIRED: 79,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** ListOffsets sentinels. */
export const LATEST_TIMESTAMP = -1;
export const EARLIEST_TIMESTAMP = -2;

export const NODE_ID = 0;
export const CLUSTER_ID = 'tributary-kafka-peer';
