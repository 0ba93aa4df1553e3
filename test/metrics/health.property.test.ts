/**
 * HealthState against a brute-force model: for random histories of what the pipeline reports (assignments,
 * releases, batches started and settled, processed, heartbeats, lag, transient and permanent errors, balancing
 * rounds, the clock moving), both probes agree with an answer recomputed from the whole history each time.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TributaryError } from '../../src/core/errors.js';
import { HealthState } from '../../src/metrics/health.js';

const TIMEOUT = 1000;
const PARTITIONS = ['orders/0', 'telemetry/0'];

type Step =
  | { kind: 'assign' | 'release' | 'start' | 'settle' | 'processed'; partition: number }
  | { kind: 'lag'; partition: number; events: number }
  | { kind: 'heartbeat' | 'transient' | 'permanent' | 'drain' }
  | { kind: 'settled'; owned: number }
  | { kind: 'tick'; ms: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constantFrom('assign' as const, 'release' as const, 'start' as const, 'settle' as const, 'processed' as const), partition: fc.nat(PARTITIONS.length - 1) }), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant('lag' as const), partition: fc.nat(PARTITIONS.length - 1), events: fc.oneof(fc.constant(0), fc.nat(5000)) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constantFrom('heartbeat' as const, 'transient' as const, 'permanent' as const, 'drain' as const) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('settled' as const), owned: fc.nat(2) }), weight: 1 },
  // mostly either well inside or just past the timeout, where the answers change
  { arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.oneof(fc.constantFrom(1, TIMEOUT, TIMEOUT + 1), fc.nat(3 * TIMEOUT)) }), weight: 3 },
);

/** The probes' answers from the whole history, recomputed from scratch. */
function model(history: { step: Step; at: number }[], now: number): { alive: boolean; ready: boolean } {
  const owned = new Set<number>();
  const lag = new Map<number, number>();
  let inFlight = 0;
  let lastLife = 0;
  let nothingToOwn = false;
  let draining = false;
  for (const { step: s, at } of history) {
    switch (s.kind) {
      case 'assign':
        if (!owned.has(s.partition)) lag.delete(s.partition);
        owned.add(s.partition);
        nothingToOwn = false;
        lastLife = at;
        break;
      case 'release':
        owned.delete(s.partition);
        break;
      case 'start':
        inFlight++;
        break;
      case 'settle':
        inFlight--;
        break;
      case 'processed':
      case 'heartbeat':
      case 'transient':
        lastLife = at;
        break;
      case 'lag':
        if (owned.has(s.partition)) lag.set(s.partition, s.events);
        break;
      case 'settled':
        nothingToOwn = s.owned === 0;
        lastLife = at;
        break;
      case 'drain':
        draining = true;
        break;
      default:
        break;
    }
  }
  const lagging = [...owned].some((p) => (lag.get(p) ?? 0) > 0);
  const pending = inFlight > 0 || lagging;
  return { alive: !(pending && now - lastLife > TIMEOUT), ready: !draining && (owned.size > 0 || nothingToOwn) };
}

describe('HealthState against a model', () => {
  it('answers both probes as the history implies, after every step', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 80 }), (steps) => {
        let now = 0;
        const health = new HealthState({ livenessTimeoutMs: TIMEOUT, now: () => now });
        const history: { step: Step; at: number }[] = [];
        const started = new Map<number, number>();
        for (const s of steps) {
          // only histories a pipeline can produce: a batch settles once after it started
          if (s.kind === 'settle' && (started.get(s.partition) ?? 0) === 0) continue;
          const [stream, partition] = 'partition' in s ? PARTITIONS[s.partition]!.split('/') as [string, string] : ['', ''];
          switch (s.kind) {
            case 'assign': health.partitionAssigned(stream, partition); break;
            case 'release': health.partitionReleased(stream, partition); break;
            case 'start': health.batchStarted(stream, partition); started.set(s.partition, (started.get(s.partition) ?? 0) + 1); break;
            case 'settle': health.batchSettled(stream, partition); started.set(s.partition, started.get(s.partition)! - 1); break;
            case 'processed': health.batchProcessed(); break;
            case 'lag': health.lag(stream, partition, s.events); break;
            case 'heartbeat': health.heartbeat(); break;
            case 'transient': health.error('sink', new TributaryError('STORAGE_TRANSIENT', 'HTTP 503')); break;
            case 'permanent': health.error('sink', new TributaryError('STORAGE_PERMANENT', 'HTTP 403')); break;
            case 'drain': health.startDraining(); break;
            case 'settled': health.ownershipSettled(s.owned); break;
            case 'tick': now += s.ms; break;
          }
          history.push({ step: s, at: now });
          const expected = model(history, now);
          expect({ alive: health.liveness().ok, ready: health.readiness().ok }).toEqual(expected);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
