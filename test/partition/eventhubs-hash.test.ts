import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { hashlittle2, hashPartitionKey, mapPartitionKeyToId } from '../../src/partition/eventhubs-hash.js';

/** Deterministic key generator: ASCII, Latin-1, CJK and astral characters, lengths 0..80 (every lookup3 tail). */
function randomKeys(count: number, seed: number): string[] {
  let state = seed >>> 0;
  const next = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state;
  };
  const pools = [
    'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_:/',
    'äöüßéèñçøå€',
    '注文顧客渠道東京',
    '😀🚀🌊',
  ];
  const keys: string[] = [];
  for (let i = 0; i < count; i++) {
    const length = next() % 81;
    let key = '';
    for (let j = 0; j < length; j++) {
      const pool = Array.from(pools[next() % 10 < 7 ? 0 : (next() % 3) + 1] ?? '');
      key += pool[next() % pool.length] ?? '';
    }
    keys.push(key);
  }
  return keys;
}

describe('hashlittle2 (Jenkins lookup3)', () => {
  // driver5() of Bob Jenkins' lookup3.c: (c, b) for each (data, pc, pb).
  const vectors: Array<[string, number, number, number, number]> = [
    ['', 0, 0, 0xdeadbeef, 0xdeadbeef],
    ['', 0, 0xdeadbeef, 0xbd5b7dde, 0xdeadbeef],
    ['', 0xdeadbeef, 0xdeadbeef, 0x9c093ccd, 0xbd5b7dde],
    ['Four score and seven years ago', 0, 0, 0x17770551, 0xce7226e6],
    ['Four score and seven years ago', 0, 1, 0xe3607cae, 0xbd371de4],
    ['Four score and seven years ago', 1, 0, 0xcd628161, 0x6cbea4b3],
  ];
  it.each(vectors)('matches lookup3.c driver5 for %j (pc=%d, pb=%d)', (text, pc, pb, c, b) => {
    expect(hashlittle2(new TextEncoder().encode(text), pc, pb)).toEqual({ c, b });
  });
});

describe('hashPartitionKey', () => {
  // PartitionResolverTests in the Azure SDKs for .NET and Java (values produced by the service's implementation).
  const vectors: Array<[string, number]> = [
    ['7', -15263],
    ['131', 30562],
    ['7149583486996073602', 12977],
    ['FWfAT', -22341],
    ['sOdeEAsyQoEuEFPGerWO', -6503],
    ['FAyAIctPeCgmiwLKbJcyswoHglHVjQdvtBowLACDNORsYvOcLddNJYDmhAVkbyLOrHTKLneMNcbgWVlasVywOByANjs', 5226],
    ['1XYM6!(7(lF5wq4k4m*e$Nc!1ezLJv*1YK1Y-C^*&B$O)lq^iUkG(TNzXG;Zi#z2Og*Qq0#^*k):vXh$3,C7We7%W0meJ;b3,rQCg^J;^twXgs5E$$hWKxqp', 23950],
    ['E(x;RRIaQcJs*P;D&jTPau-4K04oqr:lF6Z):ERpo&;9040qyV@G1_c9mgOs-8_8/10Fwa-7b7-yP!T-!IH&968)FWuI;(^g$2fN;)HJ^^yTn:', -29304],
    ['!c*_!I@1^c', 15372],
    ['p4*!jioeO/z-!-;w:dh', -3104],
    ['$0cb', 26269],
    ['-4189260826195535198', 453],
  ];
  it.each(vectors)('hashes %j to %d like the service', (key, expected) => {
    expect(hashPartitionKey(key)).toBe(expected);
  });
});

describe('mapPartitionKeyToId', () => {
  // mapPartitionKeyToId.spec.ts in azure-sdk-for-js (outputs of the C# lookup3 the service uses).
  it.each([
    ['alphabet', 3, 0],
    ['alphabet', 11, 4],
    ['TheBestParitionEver', 4, 2],
    ['TheWorstParitionEver', 15, 1],
  ] as const)('maps %j over %d partitions to %d', (key, count, expected) => {
    expect(mapPartitionKeyToId(key, count)).toBe(expected);
  });

  it('never returns -0 or an index outside [0, count)', () => {
    for (const key of randomKeys(2000, 7)) {
      for (const count of [1, 2, 3, 4, 7, 8, 32, 1024]) {
        const id = mapPartitionKeyToId(key, count);
        expect(Object.is(id, -0)).toBe(false);
        expect(id >= 0 && id < count).toBe(true);
      }
    }
  });

  it('rejects a partition count that is not a positive integer', () => {
    expect(() => mapPartitionKeyToId('k', 0)).toThrow(RangeError);
    expect(() => mapPartitionKeyToId('k', 2.5)).toThrow(RangeError);
  });

  it("agrees with @azure/event-hubs' own buffered-producer mapper on random keys", async () => {
    // The SDK does not export its mapper, so load the module file it ships and the buffered producer uses.
    const require = createRequire(import.meta.url);
    const packageRoot = dirname(require.resolve('@azure/event-hubs/package.json'));
    const sdk = (await import(pathToFileURL(join(packageRoot, 'dist/esm/impl/partitionKeyToIdMapper.js')).href)) as {
      mapPartitionKeyToId: (key: string, count: number) => number;
      hashPartitionKey: (key: string) => number;
    };
    const keys = randomKeys(5000, 42);
    let compared = 0;
    for (const key of keys) {
      expect(hashPartitionKey(key), key).toBe(sdk.hashPartitionKey(key));
      for (const count of [1, 2, 4, 5, 8, 13, 32, 100]) {
        expect(mapPartitionKeyToId(key, count), `${key} / ${count}`).toBe(sdk.mapPartitionKeyToId(key, count));
        compared++;
      }
    }
    expect(compared).toBe(5000 * 8);
  });
});
