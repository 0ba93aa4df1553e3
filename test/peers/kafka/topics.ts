import { PartitionLog } from './partition-log.js';

const LEGAL_TOPIC = /^[a-zA-Z0-9._-]+$/;
const MAX_TOPIC_LENGTH = 249;

/** Kafka's Topic.validate: why a name is not a legal topic, or undefined when it is. */
export function invalidTopicReason(name: string): string | undefined {
  if (name.length === 0) return 'Topic name is illegal, it can\'t be empty';
  if (name === '.' || name === '..') return 'Topic name cannot be "." or ".."';
  if (name.length > MAX_TOPIC_LENGTH) return `Topic name is illegal, it can't be longer than ${MAX_TOPIC_LENGTH} characters`;
  if (!LEGAL_TOPIC.test(name)) return `Topic name "${name}" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'`;
  return undefined;
}

/** The topics of the single-broker cluster: each an array of partition logs. */
export class Topics {
  private readonly topics = new Map<string, PartitionLog[]>();

  create(name: string, partitions: number): void {
    const reason = invalidTopicReason(name);
    if (reason) throw new RangeError(reason);
    if (!Number.isInteger(partitions) || partitions < 1) throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
    if (this.topics.has(name)) throw new RangeError(`Topic '${name}' already exists.`);
    this.topics.set(name, Array.from({ length: partitions }, () => new PartitionLog()));
  }

  has(name: string): boolean {
    return this.topics.has(name);
  }

  names(): string[] {
    return [...this.topics.keys()];
  }

  partitions(name: string): readonly PartitionLog[] | undefined {
    return this.topics.get(name);
  }

  partition(name: string, partition: number): PartitionLog | undefined {
    return this.topics.get(name)?.[partition];
  }
}
