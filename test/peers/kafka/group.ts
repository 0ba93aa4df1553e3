/**
 * The consumer-group coordinator, after Kafka's GroupCoordinator: states Empty -> PreparingRebalance ->
 * CompletingRebalance -> Stable, a generation per completed join phase, session timeouts that evict silent
 * members, and a rebalance whenever a member joins, leaves or times out (every member must rejoin; the leader
 * computes the assignment with the protocol the members proposed and hands it over in SyncGroup).
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode } from './protocol.js';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export interface GroupProtocol {
  name: string;
  metadata: Buffer;
}

export interface JoinRequest {
  groupId: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string;
  protocols: GroupProtocol[];
}

export interface JoinResponse {
  errorCode: ErrorCode;
  generationId: number;
  protocolName: string;
  leaderId: string;
  memberId: string;
  members: Array<{ memberId: string; groupInstanceId: string | null; metadata: Buffer }>;
}

export interface SyncResponse {
  errorCode: ErrorCode;
  assignment: Buffer;
}

export interface CommittedOffset {
  offset: number;
  metadata: string | null;
}

export interface GroupDescription {
  groupId: string;
  state: GroupState;
  /** not on the wire (DescribeGroups has no generation); for tests that check no rebalance happened */
  generationId: number;
  protocolType: string;
  protocol: string;
  members: Array<{ memberId: string; clientId: string; clientHost: string; metadata: Buffer; assignment: Buffer }>;
}

export interface ClientIdentity {
  clientId: string;
  clientHost: string;
}

export interface CoordinatorOptions {
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  /** Kafka's group.initial.rebalance.delay.ms: how long the first join phase of an empty group waits for others. */
  initialRebalanceDelayMs: number;
}

interface Member {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: GroupProtocol[];
  assignment: Buffer;
  awaitingJoin: ((response: JoinResponse) => void) | undefined;
  awaitingSync: ((response: SyncResponse) => void) | undefined;
  sessionTimer: NodeJS.Timeout | undefined;
}

const EMPTY = Buffer.alloc(0);

function failedJoin(errorCode: ErrorCode, memberId: string, generationId = -1): JoinResponse {
  return { errorCode, generationId, protocolName: '', leaderId: '', memberId, members: [] };
}

class Group {
  state: GroupState = 'Empty';
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  readonly members = new Map<string, Member>();
  /** Member ids handed out with MEMBER_ID_REQUIRED that have not joined yet, each with its expiry. */
  readonly pendingMembers = new Map<string, NodeJS.Timeout>();
  readonly offsets = new Map<string, Map<number, CommittedOffset>>();
  private joinTimers: NodeJS.Timeout[] = [];
  private joinNotBefore = 0;

  constructor(
    readonly groupId: string,
    private readonly options: CoordinatorOptions,
  ) {}

  join(request: JoinRequest, client: ClientIdentity): Promise<JoinResponse> {
    const { memberId } = request;
    if (request.sessionTimeoutMs < this.options.minSessionTimeoutMs || request.sessionTimeoutMs > this.options.maxSessionTimeoutMs) {
      return Promise.resolve(failedJoin(ErrorCode.INVALID_SESSION_TIMEOUT, memberId));
    }
    if (!this.acceptsProtocols(request)) return Promise.resolve(failedJoin(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, memberId));

    if (memberId === '') {
      // KIP-394: a new member first learns its id, then joins with it, so a retried join cannot leave a ghost.
      const assigned = `${client.clientId}-${randomUUID()}`;
      const expiry = setTimeout(() => this.pendingMembers.delete(assigned), request.sessionTimeoutMs);
      expiry.unref();
      this.pendingMembers.set(assigned, expiry);
      return Promise.resolve(failedJoin(ErrorCode.MEMBER_ID_REQUIRED, assigned));
    }

    let member = this.members.get(memberId);
    if (!member) {
      const pending = this.pendingMembers.get(memberId);
      if (!pending) return Promise.resolve(failedJoin(ErrorCode.UNKNOWN_MEMBER_ID, memberId));
      clearTimeout(pending);
      this.pendingMembers.delete(memberId);
      member = {
        memberId,
        groupInstanceId: request.groupInstanceId,
        clientId: client.clientId,
        clientHost: client.clientHost,
        sessionTimeoutMs: request.sessionTimeoutMs,
        rebalanceTimeoutMs: request.rebalanceTimeoutMs,
        protocolType: request.protocolType,
        protocols: request.protocols,
        assignment: EMPTY,
        awaitingJoin: undefined,
        awaitingSync: undefined,
        sessionTimer: undefined,
      };
      this.members.set(memberId, member);
      if (this.protocolType === null) this.protocolType = request.protocolType;
    }
    member.sessionTimeoutMs = request.sessionTimeoutMs;
    member.rebalanceTimeoutMs = request.rebalanceTimeoutMs;
    member.protocols = request.protocols;
    member.awaitingJoin?.(failedJoin(ErrorCode.REBALANCE_IN_PROGRESS, memberId));

    const joined = new Promise<JoinResponse>((resolve) => {
      member.awaitingJoin = resolve;
    });
    this.touch(member);
    if (this.state !== 'PreparingRebalance') this.prepareRebalance();
    else this.maybeCompleteJoin();
    return joined;
  }

  sync(generationId: number, memberId: string, assignments: Map<string, Buffer>): Promise<SyncResponse> {
    const member = this.members.get(memberId);
    if (!member) return Promise.resolve({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, assignment: EMPTY });
    if (generationId !== this.generationId) return Promise.resolve({ errorCode: ErrorCode.ILLEGAL_GENERATION, assignment: EMPTY });
    this.touch(member);
    if (this.state === 'PreparingRebalance') return Promise.resolve({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: EMPTY });
    if (this.state === 'Stable') return Promise.resolve({ errorCode: ErrorCode.NONE, assignment: member.assignment });

    const synced = new Promise<SyncResponse>((resolve) => {
      member.awaitingSync = resolve;
    });
    if (memberId === this.leaderId) {
      for (const each of this.members.values()) each.assignment = assignments.get(each.memberId) ?? EMPTY;
      this.state = 'Stable';
      for (const each of this.members.values()) {
        const reply = each.awaitingSync;
        each.awaitingSync = undefined;
        reply?.({ errorCode: ErrorCode.NONE, assignment: each.assignment });
        this.touch(each);
      }
    }
    return synced;
  }

  heartbeat(generationId: number, memberId: string): ErrorCode {
    const member = this.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== this.generationId) return ErrorCode.ILLEGAL_GENERATION;
    this.touch(member);
    return this.state === 'PreparingRebalance' ? ErrorCode.REBALANCE_IN_PROGRESS : ErrorCode.NONE;
  }

  leave(memberId: string): ErrorCode {
    const member = this.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    member.awaitingJoin?.(failedJoin(ErrorCode.UNKNOWN_MEMBER_ID, memberId));
    member.awaitingJoin = undefined;
    this.remove(member);
    return ErrorCode.NONE;
  }

  /** Mirrors GroupCoordinator.handleCommitOffsets: members commit for their generation, even mid-rebalance. */
  checkCommit(generationId: number, memberId: string): ErrorCode {
    if (generationId < 0 && this.state === 'Empty') return ErrorCode.NONE;
    if (this.state === 'CompletingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS;
    const member = this.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== this.generationId) return ErrorCode.ILLEGAL_GENERATION;
    this.touch(member);
    return ErrorCode.NONE;
  }

  commit(topic: string, partition: number, offset: CommittedOffset): void {
    let partitions = this.offsets.get(topic);
    if (!partitions) this.offsets.set(topic, (partitions = new Map()));
    partitions.set(partition, offset);
  }

  describe(): GroupDescription {
    const stable = this.state === 'Stable';
    const protocol = stable ? (this.protocolName ?? '') : '';
    return {
      groupId: this.groupId,
      state: this.state,
      generationId: this.generationId,
      protocolType: this.protocolType ?? '',
      protocol,
      members: [...this.members.values()].map((member) => ({
        memberId: member.memberId,
        clientId: member.clientId,
        clientHost: member.clientHost,
        metadata: stable ? (member.protocols.find((p) => p.name === protocol)?.metadata ?? EMPTY) : EMPTY,
        assignment: stable ? member.assignment : EMPTY,
      })),
    };
  }

  shutdown(): void {
    for (const timer of this.joinTimers) clearTimeout(timer);
    for (const timer of this.pendingMembers.values()) clearTimeout(timer);
    for (const member of this.members.values()) clearTimeout(member.sessionTimer);
    this.joinTimers = [];
  }

  private acceptsProtocols(request: JoinRequest): boolean {
    if (request.protocolType === '' || request.protocols.length === 0) return false;
    if (this.members.size === 0) return true;
    if (request.protocolType !== this.protocolType) return false;
    const others = [...this.members.values()].filter((m) => m.memberId !== request.memberId);
    return request.protocols.some((p) => others.every((m) => m.protocols.some((q) => q.name === p.name)));
  }

  /** Any request from a member proves it alive: restart its session timer. */
  private touch(member: Member): void {
    clearTimeout(member.sessionTimer);
    member.sessionTimer = setTimeout(() => this.expire(member), member.sessionTimeoutMs);
    member.sessionTimer.unref();
  }

  private expire(member: Member): void {
    if (this.members.get(member.memberId) !== member) return;
    // A member parked in a join or sync call is waiting on us, not silent.
    if (member.awaitingJoin || member.awaitingSync) return this.touch(member);
    this.remove(member);
  }

  private remove(member: Member): void {
    clearTimeout(member.sessionTimer);
    this.members.delete(member.memberId);
    if (member.memberId === this.leaderId) this.leaderId = null;
    if (this.state === 'Stable' || this.state === 'CompletingRebalance') this.prepareRebalance();
    else if (this.state === 'PreparingRebalance') this.maybeCompleteJoin();
  }

  private prepareRebalance(): void {
    // Syncs parked for the generation being abandoned fail, as in Kafka's resetAndPropagateAssignmentError.
    for (const member of this.members.values()) {
      const reply = member.awaitingSync;
      member.awaitingSync = undefined;
      member.assignment = EMPTY;
      reply?.({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: EMPTY });
    }
    const wasEmpty = this.state === 'Empty';
    this.state = 'PreparingRebalance';
    const now = Date.now();
    this.joinNotBefore = wasEmpty ? now + this.options.initialRebalanceDelayMs : now;
    const rebalanceTimeoutMs = Math.max(0, ...[...this.members.values()].map((m) => m.rebalanceTimeoutMs));
    this.schedule(rebalanceTimeoutMs, () => this.completeJoin());
    if (this.joinNotBefore > now) this.schedule(this.joinNotBefore - now, () => this.maybeCompleteJoin());
    else this.maybeCompleteJoin();
  }

  private schedule(delayMs: number, action: () => void): void {
    const timer = setTimeout(() => {
      this.joinTimers = this.joinTimers.filter((t) => t !== timer);
      action();
    }, Math.max(0, delayMs));
    timer.unref();
    this.joinTimers.push(timer);
  }

  private maybeCompleteJoin(): void {
    if (this.state !== 'PreparingRebalance' || Date.now() < this.joinNotBefore) return;
    if ([...this.members.values()].every((m) => m.awaitingJoin)) this.completeJoin();
  }

  private completeJoin(): void {
    if (this.state !== 'PreparingRebalance') return;
    for (const timer of this.joinTimers) clearTimeout(timer);
    this.joinTimers = [];
    // Members that did not rejoin within the rebalance timeout are out.
    for (const member of [...this.members.values()]) {
      if (!member.awaitingJoin) {
        clearTimeout(member.sessionTimer);
        this.members.delete(member.memberId);
      }
    }
    this.generationId++;
    if (this.members.size === 0) {
      this.state = 'Empty';
      this.leaderId = null;
      this.protocolName = null;
      return;
    }
    const members = [...this.members.values()];
    this.protocolName = this.selectProtocol(members);
    if (this.leaderId === null || !this.members.has(this.leaderId)) this.leaderId = members[0]!.memberId;
    this.state = 'CompletingRebalance';
    const roster = members.map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      metadata: m.protocols.find((p) => p.name === this.protocolName)?.metadata ?? EMPTY,
    }));
    for (const member of members) {
      const reply = member.awaitingJoin!;
      member.awaitingJoin = undefined;
      this.touch(member);
      reply({
        errorCode: ErrorCode.NONE,
        generationId: this.generationId,
        protocolName: this.protocolName,
        leaderId: this.leaderId,
        memberId: member.memberId,
        members: member.memberId === this.leaderId ? roster : [],
      });
    }
  }

  /** Kafka's vote: each member backs its most preferred protocol that every member supports. */
  private selectProtocol(members: Member[]): string {
    const candidates = members[0]!.protocols.map((p) => p.name).filter((name) => members.every((m) => m.protocols.some((p) => p.name === name)));
    const votes = new Map<string, number>();
    for (const member of members) {
      const choice = member.protocols.find((p) => candidates.includes(p.name))?.name;
      if (choice !== undefined) votes.set(choice, (votes.get(choice) ?? 0) + 1);
    }
    let best = candidates[0] ?? '';
    for (const [name, count] of votes) if (count > (votes.get(best) ?? 0)) best = name;
    return best;
  }
}

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();

  constructor(private readonly options: CoordinatorOptions) {}

  join(request: JoinRequest, client: ClientIdentity): Promise<JoinResponse> {
    if (request.groupId === '') return Promise.resolve(failedJoin(ErrorCode.INVALID_GROUP_ID, request.memberId));
    return this.group(request.groupId).join(request, client);
  }

  sync(groupId: string, generationId: number, memberId: string, assignments: Map<string, Buffer>): Promise<SyncResponse> {
    const group = this.groups.get(groupId);
    if (!group) return Promise.resolve({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, assignment: EMPTY });
    return group.sync(generationId, memberId, assignments);
  }

  heartbeat(groupId: string, generationId: number, memberId: string): ErrorCode {
    return this.groups.get(groupId)?.heartbeat(generationId, memberId) ?? ErrorCode.UNKNOWN_MEMBER_ID;
  }

  leave(groupId: string, memberId: string): ErrorCode {
    return this.groups.get(groupId)?.leave(memberId) ?? ErrorCode.UNKNOWN_MEMBER_ID;
  }

  checkCommit(groupId: string, generationId: number, memberId: string): ErrorCode {
    if (groupId === '') return ErrorCode.INVALID_GROUP_ID;
    return this.group(groupId).checkCommit(generationId, memberId);
  }

  commit(groupId: string, topic: string, partition: number, offset: CommittedOffset): void {
    this.group(groupId).commit(topic, partition, offset);
  }

  committed(groupId: string): ReadonlyMap<string, ReadonlyMap<number, CommittedOffset>> {
    return this.groups.get(groupId)?.offsets ?? new Map();
  }

  describe(groupId: string): GroupDescription {
    return this.groups.get(groupId)?.describe() ?? { groupId, state: 'Dead', generationId: 0, protocolType: '', protocol: '', members: [] };
  }

  shutdown(): void {
    for (const group of this.groups.values()) group.shutdown();
  }

  private group(groupId: string): Group {
    let group = this.groups.get(groupId);
    if (!group) this.groups.set(groupId, (group = new Group(groupId, this.options)));
    return group;
  }
}
