/**
 * Kafka's default partitioner for keyed records, as the Java client (`Utils.murmur2`, `BuiltInPartitioner`) and
 * kafkajs (`Partitioners.DefaultPartitioner`) compute it: `toPositive(murmur2(keyBytes)) % numPartitions`.
 * Records without a key are spread round-robin / sticky by the clients, which this module does not model.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;

/** MurmurHash2 (32-bit) with Kafka's seed, returning a signed 32-bit int like Java's `Utils.murmur2`. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const whole = length & ~3;

  for (let i = 0; i < whole; i += 4) {
    let k = (data[i] ?? 0) | ((data[i + 1] ?? 0) << 8) | ((data[i + 2] ?? 0) << 16) | ((data[i + 3] ?? 0) << 24);
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }

  switch (length & 3) {
    case 3:
      h ^= (data[whole + 2] ?? 0) << 16;
    // falls through
    case 2:
      h ^= (data[whole + 1] ?? 0) << 8;
    // falls through
    case 1:
      h ^= data[whole] ?? 0;
      h = Math.imul(h, M);
  }

  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Java's `Utils.toPositive`: clears the sign bit (not `Math.abs`, so Integer.MIN_VALUE maps to 0). */
export function toPositive(value: number): number {
  return value & 0x7fffffff;
}

const utf8 = new TextEncoder();

/** Key bytes as the clients produce them: a string key is UTF-8 encoded (Java StringSerializer, kafkajs). */
export function kafkaKeyBytes(key: string | Uint8Array): Uint8Array {
  return typeof key === 'string' ? utf8.encode(key) : key;
}

/** The partition Kafka's default partitioner picks for a keyed record. */
export function kafkaPartitionForKey(key: string | Uint8Array, numPartitions: number): number {
  if (!Number.isInteger(numPartitions) || numPartitions < 1) {
    throw new RangeError(`numPartitions must be a positive integer, got ${numPartitions}`);
  }
  return toPositive(murmur2(kafkaKeyBytes(key))) % numPartitions;
}
