/** processing.dedupMaxIds: a default, whole numbers from 1 to a billion, errors naming the field. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { TributaryError } from '../../src/core/errors.js';

const minimal = {
  streams: { orders: { schema: 'examples/schemas/orders.avsc', eventId: 'orderId', eventTime: 'createdAt' } },
  source: { kind: 'capture', store: { kind: 'local', path: 'data/capture' }, namespace: 'demo', hubs: { orders: 'orders' } },
};

function rejection(raw: unknown): string {
  try {
    parseConfig(raw, 'test.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(TributaryError);
    return (error as TributaryError).message;
  }
  throw new Error('the config was accepted');
}

describe('processing.dedupMaxIds', () => {
  it('defaults to two million ids per partition and takes a whole number', () => {
    expect(parseConfig(minimal, 'test.yaml').processing.dedupMaxIds).toBe(2_000_000);
    expect(parseConfig({ ...minimal, processing: { dedupMaxIds: 10 } }, 'test.yaml').processing.dedupMaxIds).toBe(10);
  });

  it('rejects zero, fractions, text and more than a billion, naming the field', () => {
    for (const bad of [0, -1, 2.5, 'many', 1_000_000_001]) {
      expect(rejection({ ...minimal, processing: { dedupMaxIds: bad } }), String(bad)).toContain('processing.dedupMaxIds');
    }
  });
});
