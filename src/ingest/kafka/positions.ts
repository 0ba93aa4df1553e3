/**
 * Reset positions of a Kafka consumer group, through the kafkajs admin client: ranges from the partitions' low and
 * high watermarks (fetchTopicOffsets), times from ListOffsets by timestamp (fetchTopicOffsetsByTimestamp: the first
 * offset whose record timestamp is at or after the time), the group's position from its committed offsets
 * (fetchOffsets), and the move with setOffsets. Like `kafka-consumer-groups.sh --reset-offsets`, a group with
 * active members is not moved: they would overwrite the new offsets with their next commit, and the broker refuses
 * commits from outside a live generation anyway.
 *
 * Event counts are offsets: `high watermark - start`, the offsets the rerun reads through. On a topic written
 * without transactions and never compacted every offset is one record, and the count is exact. A transaction's
 * commit or abort marker takes an offset without being a record, aborted records are skipped by a read_committed
 * consumer (kafkajs's default), and compaction leaves gaps: on such topics the count is an upper bound (counting
 * exactly would mean reading the whole replay once more for the dry run). `counting` says so in the dry run.
 */
import { Kafka, type Admin } from 'kafkajs';
import { TributaryError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { PartitionRange, SourcePositions } from '../../state/source-positions.js';
import { kafkaClientConfig, type KafkaClientDependencies } from './client.js';
import type { KafkaSourceConfig } from './config.js';
import { translateKafkaError } from './errors.js';

/** What kafkajs's admin.resetOffsets({ earliest: true }) commits: "the partition's earliest offset". */
const EARLIEST_SENTINEL = -2;
/** Group states in which no member holds partitions (the broker takes offsets from outside a generation). */
const IDLE_STATES = new Set(['Empty', 'Dead']);

export interface KafkaGroupMember {
  memberId: string;
  clientId: string;
  clientHost: string;
}

export class KafkaPositions implements SourcePositions {
  readonly description: string;
  readonly counting =
    'events are offsets (high watermark - start): exact on a topic without transactions or compaction; transaction markers, aborted records and compacted-away records make it an upper bound';
  private admin: Promise<Admin> | undefined;
  private readonly ranges = new Map<string, Promise<PartitionRange[]>>();
  private readonly committed = new Map<string, Promise<Map<string, number>>>();

  constructor(
    private readonly config: KafkaSourceConfig,
    private readonly deps: KafkaClientDependencies & { log: Logger },
    /** the group whose offsets are read and moved (default: the config's) */
    private readonly groupId: string = config.groupId,
  ) {
    this.description = `Kafka consumer group ${groupId} on ${config.brokers.join(',')}`;
  }

  private topic(stream: string): string {
    const topic = this.config.topics[stream];
    if (topic === undefined) throw new TributaryError('CONFIG_INVALID', `--stream ${stream}: not under source.topics`);
    return topic;
  }

  private async step<T>(what: string, operation: (admin: Admin) => Promise<T>): Promise<T> {
    try {
      this.admin ??= (async () => {
        const admin = new Kafka(kafkaClientConfig(this.config, this.deps)).admin();
        await admin.connect();
        return admin;
      })();
      return await operation(await this.admin);
    } catch (error) {
      throw translateKafkaError(error, what);
    }
  }

  partitions(stream: string): Promise<PartitionRange[]> {
    const topic = this.topic(stream);
    let ranges = this.ranges.get(topic);
    if (!ranges) {
      ranges = this.step(`reading the offsets of ${topic}`, async (admin) => {
        const topics = await admin.listTopics();
        if (!topics.includes(topic)) throw new TributaryError('INPUT_MISSING', `kafka topic "${topic}" (stream ${stream}) does not exist on ${this.config.brokers.join(',')}`);
        const offsets = await admin.fetchTopicOffsets(topic);
        return offsets.map((o) => ({ partition: String(o.partition), earliest: Number(o.low), latest: Number(o.high) }));
      });
      this.ranges.set(topic, ranges);
    }
    return ranges;
  }

  private async range(stream: string, partition: string): Promise<PartitionRange> {
    const range = (await this.partitions(stream)).find((r) => r.partition === partition);
    if (!range) throw new TributaryError('CONFIG_INVALID', `--partitions: topic ${this.topic(stream)} has no partition ${partition}`);
    return range;
  }

  async current(stream: string, partition: string): Promise<number | undefined> {
    const topic = this.topic(stream);
    let committed = this.committed.get(topic);
    if (!committed) {
      committed = this.step(`reading the offsets group ${this.groupId} committed for ${topic}`, async (admin) => {
        const [result] = await admin.fetchOffsets({ groupId: this.groupId, topics: [topic] });
        return new Map((result?.partitions ?? []).map((p) => [String(p.partition), Number(p.offset)]));
      });
      this.committed.set(topic, committed);
    }
    const offset = (await committed).get(partition);
    if (offset === undefined || (offset < 0 && offset !== EARLIEST_SENTINEL)) return undefined;
    return offset === EARLIEST_SENTINEL ? (await this.range(stream, partition)).earliest : offset;
  }

  async positionAtTime(stream: string, partition: string, timeMs: number): Promise<number> {
    const topic = this.topic(stream);
    const offsets = await this.step(`looking up the offsets of ${topic} at ${new Date(timeMs).toISOString()}`, (admin) => admin.fetchTopicOffsetsByTimestamp(topic, timeMs));
    const found = offsets.find((o) => String(o.partition) === partition);
    // kafkajs answers the high watermark for a partition with no record at or after the time: nothing to replay.
    return found ? Number(found.offset) : (await this.range(stream, partition)).latest;
  }

  async countFrom(stream: string, partition: string, from: number): Promise<number> {
    const range = await this.range(stream, partition);
    return Math.max(0, range.latest - Math.max(from, range.earliest));
  }

  /** The group's members, when it has any (a group whose members all left is Empty and has none). */
  async activeMembers(): Promise<{ state: string; members: KafkaGroupMember[] }> {
    return this.step(`describing group ${this.groupId}`, async (admin) => {
      const { groups } = await admin.describeGroups([this.groupId]);
      const group = groups.find((g) => g.groupId === this.groupId);
      if (!group) return { state: 'Dead', members: [] };
      return { state: group.state, members: group.members.map(({ memberId, clientId, clientHost }) => ({ memberId, clientId, clientHost })) };
    });
  }

  async refuseIfActive(): Promise<void> {
    const { state, members } = await this.activeMembers();
    if (IDLE_STATES.has(state) && members.length === 0) return;
    const named = members.map((m) => `${m.memberId} (client id ${m.clientId}, host ${m.clientHost.replace(/^\//, '')})`);
    throw new TributaryError(
      'CONFIG_INVALID',
      `kafka: group ${this.groupId} is ${state} with ${members.length} active member(s)${named.length > 0 ? `: ${named.join('; ')}` : ''}; ` +
        'stop every instance of the group (their sessions must end) and run the reset again: a live group would overwrite the new offsets',
    );
  }

  async commit(stream: string, partition: string, position: number): Promise<void> {
    const topic = this.topic(stream);
    await this.step(`setting the offset of group ${this.groupId} on ${topic}/${partition} to ${position}`, (admin) =>
      admin.setOffsets({ groupId: this.groupId, topic, partitions: [{ partition: Number(partition), offset: String(position) }] }),
    );
    this.committed.delete(topic);
  }

  /** Deletes the group (its committed offsets): for one-off groups such as a range replay's. */
  async deleteGroup(): Promise<void> {
    await this.step(`deleting group ${this.groupId}`, async (admin) => {
      await admin.deleteGroups([this.groupId]);
    });
  }

  async close(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    if (admin) await (await admin.catch(() => undefined))?.disconnect();
  }
}
