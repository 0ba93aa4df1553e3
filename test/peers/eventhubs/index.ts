export { EventHubsPeer, startEventHubsPeer } from './server.js';
export type { ConsumerInfo, EventHubsPeerOptions, HubOptions, PeerEvent, PublishInput } from './server.js';
export type { PartitionProperties, StoredEvent } from './partition-log.js';
