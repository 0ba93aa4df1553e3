/** The health and shutdown sections: defaults below Kubernetes' 30 s grace period, durations, errors naming the field. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { TributaryError } from '../../src/core/errors.js';
import { backstopMs } from '../../src/runtime/drain-deadline.js';

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

describe('health and shutdown config', () => {
  it('defaults to a 5 minute liveness timeout and a 25 s drain deadline, below the default 30 s grace period', () => {
    const config = parseConfig(minimal, 'test.yaml');
    expect(config.health.livenessTimeout).toBe(300_000);
    expect(config.shutdown.drainDeadline).toBe(25_000);
    // the backstop exit comes a tenth after the deadline: still inside Kubernetes' default grace period
    expect(config.shutdown.drainDeadline + backstopMs(config.shutdown.drainDeadline)).toBeLessThan(30_000);
  });

  it('reads durations', () => {
    const config = parseConfig({ ...minimal, health: { livenessTimeout: '90s' }, shutdown: { drainDeadline: '2m' } }, 'test.yaml');
    expect(config.health.livenessTimeout).toBe(90_000);
    expect(config.shutdown.drainDeadline).toBe(120_000);
  });

  it('rejects zero, bad text and unknown keys, naming the field', () => {
    expect(rejection({ ...minimal, shutdown: { drainDeadline: 0 } })).toContain('shutdown.drainDeadline: drainDeadline must be positive');
    expect(rejection({ ...minimal, health: { livenessTimeout: '0s' } })).toContain('health.livenessTimeout: livenessTimeout must be positive');
    expect(rejection({ ...minimal, health: { livenessTimeout: 'soon' } })).toContain('health.livenessTimeout');
    expect(rejection({ ...minimal, shutdown: { drainDeadLine: '10s' } })).toMatch(/shutdown.*drainDeadLine/);
  });
});
