import { afterEach, expect } from 'vitest';
import { KafkaPeer, type KafkaPeerOptions } from './broker.js';

/**
 * One Kafka peer per test: `start` brings it up; after each test the registered cleanups run (newest first), the
 * peer closes, and the test fails if the peer hit an internal error.
 */
export function kafkaPeerPerTest(): { cleanups: Array<() => Promise<void>>; start(options?: KafkaPeerOptions): Promise<KafkaPeer>; current(): KafkaPeer } {
  const cleanups: Array<() => Promise<void>> = [];
  let peer: KafkaPeer | undefined;
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    if (peer) {
      await peer.close();
      expect(peer.internalErrors).toEqual([]);
      peer = undefined;
    }
  });
  return {
    cleanups,
    start: async (options = {}) => (peer = await KafkaPeer.start(options)),
    current: () => {
      if (!peer) throw new Error('no Kafka peer started in this test');
      return peer;
    },
  };
}
