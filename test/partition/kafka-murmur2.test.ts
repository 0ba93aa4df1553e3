import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { kafkaPartitionForKey, murmur2, toPositive } from '../../src/partition/kafka-murmur2.js';

const require = createRequire(import.meta.url);
const utf8 = new TextEncoder();

interface KafkajsPartitionArgs {
  topic: string;
  partitionMetadata: Array<{ partitionId: number; leader: number }>;
  message: { key?: string | Buffer | null; partition?: number | null; value: string };
}
type KafkajsPartitioner = (args: KafkajsPartitionArgs) => number;

function kafkajsDefaultPartitioner(): KafkajsPartitioner {
  const kafkajs = require('kafkajs') as { Partitioners: { DefaultPartitioner: () => KafkajsPartitioner } };
  return kafkajs.Partitioners.DefaultPartitioner();
}

function randomKeys(count: number, seed: number): string[] {
  let state = seed >>> 0;
  const next = (): number => {
    state = (Math.imul(state, 22695477) + 1) >>> 0;
    return state >>> 8;
  };
  const alphabet = Array.from('abcdefghijklmnopqrstuvwxyz0123456789-_.:äé注文😀');
  return Array.from({ length: count }, () => {
    const length = next() % 48;
    return Array.from({ length }, () => alphabet[next() % alphabet.length]).join('');
  });
}

describe('murmur2', () => {
  // kafkajs src/producer/partitioners/defaultJava/murmur2.spec.js, "generated with Test.java" against the Java
  // client; this implementation became kafkajs's DefaultPartitioner in 2.0.0. (The older vectors in
  // default/murmur2.spec.js before 2.0 belong to what is now the LegacyPartitioner, which is not Java-compatible.)
  const golden: Record<string, number> = {
    '0': 971027396,
    '1': -1993445489,
    '128': -326012175,
    '2187': -1508407203,
    '16384': -325739742,
    '78125': -1654490814,
    '279936': 1462227128,
    '823543': -2014198330,
    '2097152': 607668903,
    '4782969': -1182699775,
    '10000000': -1830336757,
    '19487171': -1603849305,
    '35831808': -857013643,
    '62748517': -1167431028,
    '105413504': -381294639,
    '170859375': -1658323481,
    '100:48069': 1009543857,
  };
  it.each(Object.entries(golden))('hashes %j to %d', (key, expected) => {
    expect(murmur2(utf8.encode(key))).toBe(expected);
  });

  it('differs from the pre-2.0 (legacy, non-Java) kafkajs vectors, so the right variant is under test', () => {
    // Two of the legacy vectors from kafkajs default/murmur2.spec.js before 2.0.0.
    expect(murmur2(utf8.encode('0'))).not.toBe(272173970);
    expect(murmur2(utf8.encode('170859375'))).not.toBe(102939717);
  });

  it('agrees with the murmur2 kafkajs ships on random keys of every tail length', () => {
    const reference = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: string | Buffer) => number;
    for (const key of randomKeys(5000, 3)) {
      expect(murmur2(utf8.encode(key)), key).toBe(reference(key));
    }
  });
});

describe('toPositive', () => {
  it('clears the sign bit rather than negating', () => {
    expect(toPositive(-1)).toBe(0x7fffffff);
    expect(toPositive(-2147483648)).toBe(0);
    expect(toPositive(5)).toBe(5);
  });
});

describe('kafkaPartitionForKey', () => {
  it("picks the partition kafkajs's default partitioner picks, for string and byte keys", () => {
    const partitioner = kafkajsDefaultPartitioner();
    let compared = 0;
    for (const count of [1, 3, 4, 8, 32, 100]) {
      const partitionMetadata = Array.from({ length: count }, (_, partitionId) => ({ partitionId, leader: 0 }));
      for (const key of randomKeys(2000, count)) {
        const expected = partitioner({ topic: 'orders', partitionMetadata, message: { key, value: 'x' } });
        expect(kafkaPartitionForKey(key, count), `${key} / ${count}`).toBe(expected);
        const bytes = Buffer.from(key, 'utf8');
        expect(kafkaPartitionForKey(bytes, count)).toBe(
          partitioner({ topic: 'orders', partitionMetadata, message: { key: bytes, value: 'x' } }),
        );
        compared++;
      }
    }
    expect(compared).toBe(6 * 2000);
  });

  it('rejects a partition count that is not a positive integer', () => {
    expect(() => kafkaPartitionForKey('k', 0)).toThrow(RangeError);
  });
});
