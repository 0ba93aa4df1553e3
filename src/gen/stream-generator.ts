/**
 * The event sequence of one stream: which key, partition, event time, body and fault every event gets, in
 * delivery order. Pure and synchronous (a generator function), so it is reproducible from the seed and cheap to
 * test; the async driver (generate.ts) batches its output into a target.
 *
 * Time: event ordinals are spread evenly over the span with jitter, so arrival times rise monotonically and the
 * enqueued time of each partition never goes backwards. A normal event's event time equals its arrival time.
 *
 * Faults (disjoint: an event gets at most one) are defined against the worker's rule
 *   watermark = max event time seen in the partition - allowedOutOfOrderness
 *   late      = eventTime + allowedLateness < watermark
 * and the generator tracks the same max per partition (over the events a decoder can read), so each fault is
 * what it claims to be:
 * - out-of-order: event time below the partition max yet above the watermark (never late);
 * - late: event time more than allowedOutOfOrderness + allowedLateness behind the max (always late);
 * - duplicate: the same bytes and properties again later in the same partition, at most
 *   `maxDuplicateDistance` positions after the original and before the watermark passes its event time (so the
 *   copy is recognised as a duplicate, not mistaken for a late event);
 * - corrupt: a body that fails to decode (see body.ts); it does not move the max, since no decoder sees its time.
 * An out-of-order or late event needs an earlier event in its partition to fall behind; when there is none yet
 * the event is delivered normally, so counted faults are exact and rates are met in expectation.
 */
import type { BodyCodec } from './body.js';
import { corruptBody } from './body.js';
import { hex32, uuidFor } from './ids.js';
import type { KeySampler } from './key-distribution.js';
import { Prng } from './prng.js';
import type { GeneratedEvent } from './target.js';
import type { RecordGenerator, ValueContext } from './values.js';

export type FaultKind = 'duplicate' | 'outOfOrder' | 'late' | 'corrupt';
export const FAULT_KINDS: readonly FaultKind[] = ['duplicate', 'outOfOrder', 'late', 'corrupt'];
export type FaultCounts = Record<FaultKind, number>;
export type FaultRates = Record<FaultKind, number>;

export interface StreamGeneratorOptions {
  stream: string;
  records: RecordGenerator;
  codec: BodyCodec;
  /** whether the schema has a partition-key field; without one events are spread round-robin */
  keyed: boolean;
  keys: KeySampler;
  /** partition index for a partition key */
  route: (key: string) => number;
  partitions: number;
  /** logical events (duplicates come on top) */
  events: number;
  startMs: number;
  spanMs: number;
  faults: FaultRates;
  allowedOutOfOrdernessMs: number;
  allowedLatenessMs: number;
  maxDuplicateDistance: number;
  seed: number;
}

export interface Delivery {
  partition: number;
  event: GeneratedEvent;
  /** the fault this delivery carries; a duplicate is the second copy, its original is undefined */
  fault: FaultKind | undefined;
  /** the logical event this delivery belongs to (a duplicate repeats its original's ordinal) */
  ordinal: number;
}

interface PendingDuplicate {
  event: GeneratedEvent;
  eventTimeMs: number;
  ordinal: number;
}

class PartitionState {
  position = 0;
  maxEventTime = Number.NEGATIVE_INFINITY;
  lastEnqueuedMs = Number.NEGATIVE_INFINITY;
  /** reserved target position -> the copy to deliver there */
  readonly duplicates = new Map<number, PendingDuplicate>();
}

export function* generateStreamEvents(options: StreamGeneratorOptions): Generator<Delivery, void, undefined> {
  const { stream, seed, events, partitions, spanMs, startMs, faults, maxDuplicateDistance } = options;
  const ooo = options.allowedOutOfOrdernessMs;
  const lateGap = ooo + options.allowedLatenessMs;
  const lateSpread = Math.max(lateGap, 60_000);
  const timeRng = new Prng(seed, `${stream}/time`);
  const keyRng = new Prng(seed, `${stream}/keys`);
  const faultRng = new Prng(seed, `${stream}/faults`);
  const valueRng = new Prng(seed, `${stream}/values`);
  const traceRng = new Prng(seed, `${stream}/trace`);
  const idSalt = new Prng(seed, `${stream}/ids`).uint32();
  const states = Array.from({ length: partitions }, () => new PartitionState());
  const keyCache = new Map<number, { key: string; partition: number }>();
  const thresholds = cumulative(faults);
  const ctx: ValueContext = { rng: valueRng, eventTimeMs: 0, ordinal: 0, eventId: '', keyIndex: -1, key: '' };

  const deliver = (state: PartitionState, partition: number, event: GeneratedEvent, fault: FaultKind | undefined, ordinal: number): Delivery => {
    state.position++;
    state.lastEnqueuedMs = event.enqueuedTimeMs;
    return { partition, event, fault, ordinal };
  };

  /** Copies due at this position, or about to fall behind the watermark once the max reaches `nextMax`. */
  function* dueDuplicates(state: PartitionState, partition: number, nextMax: number): Generator<Delivery, void, undefined> {
    for (;;) {
      let target = state.position;
      let copy = state.duplicates.get(target);
      if (!copy) {
        for (const [reserved, pending] of state.duplicates) {
          if (pending.eventTimeMs <= nextMax - ooo && (!copy || reserved < target)) {
            copy = pending;
            target = reserved;
          }
        }
      }
      if (!copy) return;
      state.duplicates.delete(target);
      yield deliver(state, partition, { ...copy.event, enqueuedTimeMs: state.lastEnqueuedMs }, 'duplicate', copy.ordinal);
    }
  }

  for (let ordinal = 0; ordinal < events; ordinal++) {
    const arrival = startMs + Math.floor(((ordinal + timeRng.float()) * spanMs) / events);
    let keyIndex = -1;
    let key = '';
    let partition = ordinal % partitions;
    if (options.keyed) {
      keyIndex = options.keys.sample(keyRng);
      let cached = keyCache.get(keyIndex);
      if (!cached) {
        const text = options.records.keyString(keyIndex);
        cached = { key: text, partition: options.route(text) };
        keyCache.set(keyIndex, cached);
      }
      key = cached.key;
      partition = cached.partition;
    }
    const state = states[partition]!;

    let fault = pickFault(thresholds, faultRng.float());
    let eventTimeMs = arrival;
    if (fault === 'outOfOrder') {
      // Behind the partition's max (out of order) but ahead of its watermark (not late).
      const lo = arrival - ooo + 1;
      const hi = state.maxEventTime - 1;
      if (lo <= hi) eventTimeMs = faultRng.int(lo, hi);
      else fault = undefined;
    } else if (fault === 'late') {
      if (Number.isFinite(state.maxEventTime)) eventTimeMs = state.maxEventTime - lateGap - 1 - faultRng.int(0, lateSpread);
      else fault = undefined;
    }
    const movesMax = fault === undefined || fault === 'duplicate';
    yield* dueDuplicates(state, partition, movesMax ? Math.max(state.maxEventTime, eventTimeMs) : state.maxEventTime);
    let duplicateDistance = -1;
    if (fault === 'duplicate') {
      duplicateDistance = reserveSlot(state, faultRng.int(1, maxDuplicateDistance), maxDuplicateDistance);
      if (duplicateDistance < 0) fault = undefined;
    }

    ctx.eventTimeMs = eventTimeMs;
    ctx.ordinal = ordinal;
    ctx.eventId = uuidFor(ordinal, idSalt);
    ctx.keyIndex = keyIndex;
    ctx.key = key;
    const value = options.records.generate(ctx);
    let body = options.codec.encode(value);
    if (fault === 'corrupt') body = corruptBody(body, value, options.codec, faultRng);
    const event: GeneratedEvent = {
      body,
      partitionKey: key,
      enqueuedTimeMs: Math.max(arrival, state.lastEnqueuedMs),
      properties: { traceparent: traceparent(traceRng) },
    };
    // The slot is relative to the original's own position, which is the current one.
    if (duplicateDistance > 0) state.duplicates.set(state.position + duplicateDistance, { event, eventTimeMs, ordinal });
    yield deliver(state, partition, event, fault === 'duplicate' ? undefined : fault, ordinal);
    if (movesMax && eventTimeMs > state.maxEventTime) state.maxEventTime = eventTimeMs;
  }

  for (let partition = 0; partition < partitions; partition++) {
    const state = states[partition]!;
    const remaining = [...state.duplicates.entries()].sort((a, b) => a[0] - b[0]);
    state.duplicates.clear();
    for (const [, copy] of remaining) {
      yield deliver(state, partition, { ...copy.event, enqueuedTimeMs: state.lastEnqueuedMs }, 'duplicate', copy.ordinal);
    }
  }
}

/**
 * Reserves a position `distance` after the next one for a duplicate, probing for a free slot so that no two
 * copies compete for a position (each copy is then delivered at its slot or earlier). Returns the distance
 * taken, or -1 when every slot within the bound is reserved.
 */
function reserveSlot(state: PartitionState, preferred: number, maxDistance: number): number {
  for (let i = 0; i < maxDistance; i++) {
    const distance = ((preferred - 1 + i) % maxDistance) + 1;
    if (!state.duplicates.has(state.position + distance)) return distance;
  }
  return -1;
}

function cumulative(rates: FaultRates): Array<[number, FaultKind]> {
  let total = 0;
  return FAULT_KINDS.map((kind) => {
    total += rates[kind];
    return [total, kind];
  });
}

function pickFault(thresholds: Array<[number, FaultKind]>, u: number): FaultKind | undefined {
  for (const [threshold, kind] of thresholds) if (u < threshold) return kind;
  return undefined;
}

/** A W3C trace context header: version 00, random trace and parent ids, sampled. */
function traceparent(rng: Prng): string {
  return `00-${hex32(rng.uint32())}${hex32(rng.uint32())}${hex32(rng.uint32())}${hex32(rng.uint32())}-${hex32(rng.uint32())}${hex32(rng.uint32())}-01`;
}

export function emptyFaultCounts(): FaultCounts {
  return { duplicate: 0, outOfOrder: 0, late: 0, corrupt: 0 };
}
