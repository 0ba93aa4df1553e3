/**
 * What the Kubernetes probes ask, answered from what the pipeline reports (a PipelineObserver like the metrics).
 *
 * Liveness (/healthz) fails only when the worker is wedged: work is pending (a batch in flight, or an owned
 * partition the source says has events past the last one processed) and for `livenessTimeout` no batch finished,
 * no transient fault was retried and the source gave no sign of life. An idle worker on a quiet hub is alive; a
 * slow one that still finishes batches is alive, and so is one retrying a degraded store; one stuck in a call
 * that never returns, or a source that stopped delivering while lag is waiting, is not, and a restart is what
 * helps it.
 *
 * Readiness (/readyz) means "this replica has taken over work": at least one partition owned and its state
 * restored, no restore in progress, and not draining. A replica the source balanced to zero partitions (more
 * replicas than partitions) is ready too once the source says so (`ownershipSettled(0)`), or a rolling update at
 * the maximum replica count would wait for ever for a surge pod that can own nothing.
 */
import { isRetriable } from '../core/errors.js';
import type { PipelineObserver } from '../runtime/observer.js';

export interface HealthOptions {
  /** How long pending work may wait with no batch finished and no heartbeat before liveness fails. */
  livenessTimeoutMs: number;
  /** Clock (ms since the epoch); injectable for tests. */
  now?: () => number;
}

/** A probe's answer: the server sends 200 or 503 with this as JSON, so an operator sees why. */
export interface ProbeResult {
  ok: boolean;
  reason: string;
  [detail: string]: unknown;
}

interface PartitionHealth {
  /** events past the last one processed, as the source last reported them; undefined until it reports */
  lag: number | undefined;
  inFlight: number;
}

const key = (stream: string, partition: string): string => `${stream}/${partition}`;

export class HealthState implements PipelineObserver {
  private readonly now: () => number;
  private readonly livenessTimeoutMs: number;
  private readonly owned = new Map<string, PartitionHealth>();
  /** batches of partitions not (or no longer) owned: a batch can outlive its partition's revocation */
  private readonly strayInFlight = new Map<string, number>();
  private lastSignOfLife: number;
  private lastSignOfLifeKind = 'start';
  private settledWithNothing = false;
  private draining = false;

  constructor(options: HealthOptions) {
    this.now = options.now ?? Date.now;
    this.livenessTimeoutMs = options.livenessTimeoutMs;
    this.lastSignOfLife = this.now();
  }

  // ----------------------------------------------------------------------------------- what the pipeline reports

  partitionAssigned(stream: string, partition: string): void {
    if (!this.owned.has(key(stream, partition))) this.owned.set(key(stream, partition), { lag: undefined, inFlight: 0 });
    this.settledWithNothing = false;
    this.alive('partition assigned');
  }

  partitionReleased(stream: string, partition: string): void {
    const health = this.owned.get(key(stream, partition));
    this.owned.delete(key(stream, partition));
    if (health && health.inFlight > 0) this.strayInFlight.set(key(stream, partition), (this.strayInFlight.get(key(stream, partition)) ?? 0) + health.inFlight);
  }

  ownershipSettled(owned: number): void {
    this.settledWithNothing = owned === 0;
    this.alive('ownership settled');
  }

  batchStarted(stream: string, partition: string): void {
    const health = this.owned.get(key(stream, partition));
    if (health) health.inFlight++;
    else this.strayInFlight.set(key(stream, partition), (this.strayInFlight.get(key(stream, partition)) ?? 0) + 1);
  }

  batchSettled(stream: string, partition: string): void {
    const health = this.owned.get(key(stream, partition));
    if (health && health.inFlight > 0) {
      health.inFlight--;
    } else {
      const stray = (this.strayInFlight.get(key(stream, partition)) ?? 0) - 1;
      if (stray > 0) this.strayInFlight.set(key(stream, partition), stray);
      else this.strayInFlight.delete(key(stream, partition));
    }
    // not a sign of life by itself: a batch that fails again and again is no progress (batchProcessed is)
  }

  batchProcessed(): void {
    this.alive('batch processed');
  }

  heartbeat(): void {
    this.alive('source heartbeat');
  }

  lag(stream: string, partition: string, events: number): void {
    const health = this.owned.get(key(stream, partition));
    if (health) health.lag = events;
  }

  /**
   * A transient fault that will be retried is a sign of life: the worker is working through a degraded store or
   * broker, not stuck, and a restart would not help (the error alerts cover it). Other failures are not.
   */
  error(_stage: string, error: unknown): void {
    if (isRetriable(error)) this.alive('retrying a transient fault');
  }

  /** Shutdown began: no longer ready (the replica is handing its partitions back). */
  startDraining(): void {
    this.draining = true;
  }

  eventsIn(): void {}
  duplicates(): void {}
  rowsLanded(): void {}
  fileWritten(): void {}
  deadLettered(): void {}
  watermark(): void {}
  checkpointed(): void {}

  // ---------------------------------------------------------------------------------------------- the probes

  liveness(): ProbeResult {
    const pending = this.pendingWork();
    const silentMs = this.now() - this.lastSignOfLife;
    const details = {
      lastSignOfLife: new Date(this.lastSignOfLife).toISOString(),
      lastSignOfLifeKind: this.lastSignOfLifeKind,
      silentSeconds: Math.floor(silentMs / 1000),
      livenessTimeoutSeconds: this.livenessTimeoutMs / 1000,
      ...pending,
    };
    const hasPending = pending.batchesInFlight > 0 || pending.laggingPartitions.length > 0;
    if (hasPending && silentMs > this.livenessTimeoutMs) {
      return {
        ok: false,
        reason: `wedged: no batch processed, no retry and no source heartbeat for ${details.silentSeconds} s (limit ${details.livenessTimeoutSeconds} s) while ${describePending(pending)}`,
        ...details,
      };
    }
    return { ok: true, reason: hasPending ? 'processing' : 'idle: no work pending', ...details };
  }

  readiness(): ProbeResult {
    const owned = [...this.owned.keys()].sort();
    const details = { ownedPartitions: owned };
    if (this.draining) return { ok: false, reason: 'draining: shutting down and releasing partitions', ...details };
    if (owned.length > 0) return { ok: true, reason: `owns ${owned.length} partition(s)`, ...details };
    if (this.settledWithNothing) return { ok: true, reason: 'the source balanced no partition to this worker (more replicas than partitions)', ...details };
    return { ok: false, reason: 'no partition owned and restored yet', ...details };
  }

  /** What is still in flight, for the drain deadline's message. */
  inFlight(): { batchesInFlight: number; partitions: string[] } {
    const partitions: string[] = [];
    let batches = 0;
    for (const [name, health] of this.owned) {
      if (health.inFlight > 0) partitions.push(name);
      batches += health.inFlight;
    }
    for (const [name, count] of this.strayInFlight) {
      partitions.push(name);
      batches += count;
    }
    return { batchesInFlight: batches, partitions: partitions.sort() };
  }

  ownedPartitions(): string[] {
    return [...this.owned.keys()].sort();
  }

  private alive(kind: string): void {
    this.lastSignOfLife = this.now();
    this.lastSignOfLifeKind = kind;
  }

  private pendingWork(): { batchesInFlight: number; laggingPartitions: { partition: string; lag: number }[] } {
    const laggingPartitions: { partition: string; lag: number }[] = [];
    for (const [name, health] of this.owned) {
      if (health.lag !== undefined && health.lag > 0) laggingPartitions.push({ partition: name, lag: health.lag });
    }
    return { batchesInFlight: this.inFlight().batchesInFlight, laggingPartitions };
  }
}

function describePending(pending: { batchesInFlight: number; laggingPartitions: { partition: string; lag: number }[] }): string {
  const parts: string[] = [];
  if (pending.batchesInFlight > 0) parts.push(`${pending.batchesInFlight} batch(es) in flight`);
  if (pending.laggingPartitions.length > 0) {
    parts.push(`events wait in ${pending.laggingPartitions.map((p) => `${p.partition} (${p.lag})`).join(', ')}`);
  }
  return parts.join(' and ');
}
