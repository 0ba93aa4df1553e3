export { KafkaPeer, type KafkaPeerOptions } from './broker.js';
export type { PeerCredentials } from './handlers.js';
export type { CommittedOffset, GroupDescription, GroupState } from './group.js';
