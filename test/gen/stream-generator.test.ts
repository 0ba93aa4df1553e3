import { readFileSync } from 'node:fs';
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { EventTimeGate } from '../../src/aggregate/event-time-gate.js';
import { createBodyCodec } from '../../src/gen/body.js';
import { createKeySampler } from '../../src/gen/key-distribution.js';
import { FAULT_KINDS, generateStreamEvents, type Delivery, type FaultRates, type StreamGeneratorOptions } from '../../src/gen/stream-generator.js';
import { compileRecordGenerator } from '../../src/gen/values.js';
import { mapPartitionKeyToId } from '../../src/partition/eventhubs-hash.js';

const SCHEMA = JSON.parse(readFileSync('examples/schemas/telemetry.avsc', 'utf8')) as avro.Schema;
const decoder = avro.Type.forSchema(SCHEMA); // what the decode workers build
const OOO = 30_000;
const LATENESS = 5_000;
const MAX_DISTANCE = 16;

function options(overrides: Partial<StreamGeneratorOptions> & { faults: FaultRates }): StreamGeneratorOptions {
  const records = compileRecordGenerator(SCHEMA, {
    origin: 'telemetry',
    salt: 1,
    overrides: [
      { kind: 'eventId', path: 'eventId', configPath: 'a' },
      { kind: 'eventTime', path: 'timestamp', configPath: 'b' },
      { kind: 'partitionKey', path: 'deviceId', configPath: 'c' },
    ],
  });
  return {
    stream: 'telemetry',
    records,
    codec: createBodyCodec('avro', records.type),
    keyed: true,
    keys: createKeySampler(500, { kind: 'zipf', skew: 0.9 }),
    route: (key) => mapPartitionKeyToId(key, 4),
    partitions: 4,
    events: 40_000,
    startMs: Date.UTC(2024, 0, 1),
    spanMs: 3_600_000,
    allowedOutOfOrdernessMs: OOO,
    allowedLatenessMs: LATENESS,
    maxDuplicateDistance: MAX_DISTANCE,
    seed: 7,
    ...overrides,
  };
}

interface Decoded {
  eventId: string;
  deviceId: string;
  timestamp: number;
}

function tryDecode(body: Uint8Array): Decoded | undefined {
  try {
    return decoder.fromBuffer(Buffer.from(body)) as Decoded;
  } catch (error) {
    expect(error).toBeInstanceOf(Error);
    return undefined;
  }
}

/**
 * Classifies every delivery from the bytes alone, the way the worker sees them, and checks each fault is what it
 * claims. Returns the counts found by inspection and every violation (checked in bulk: per-event `expect` calls
 * would dominate the run time).
 */
function inspect(deliveries: Delivery[], partitions: number) {
  const found = { duplicate: 0, outOfOrder: 0, late: 0, corrupt: 0 };
  const problems: string[] = [];
  const check = (ok: boolean, what: string, delivery: Delivery): void => {
    if (!ok && problems.length < 20) problems.push(`${what} (partition ${delivery.partition}, ordinal ${delivery.ordinal}, fault ${delivery.fault})`);
  };
  const byPartition = Array.from({ length: partitions }, () => [] as Array<{ delivery: Delivery; position: number }>);
  for (const delivery of deliveries) byPartition[delivery.partition]!.push({ delivery, position: byPartition[delivery.partition]!.length });
  const deliveriesPerOrdinal = new Map<number, number>();
  for (const { ordinal } of deliveries) deliveriesPerOrdinal.set(ordinal, (deliveriesPerOrdinal.get(ordinal) ?? 0) + 1);

  byPartition.forEach((list, partition) => {
    const gate = new EventTimeGate({ allowedOutOfOrdernessMs: OOO, allowedLatenessMs: LATENESS, dedupRetentionMs: 3_600_000, dedupMaxIds: 1_000_000 });
    const firstSeen = new Map<string, { position: number; body: Buffer; properties: Record<string, string> }>();
    let maxEventTime = Number.NEGATIVE_INFINITY;
    let lastEnqueued = Number.NEGATIVE_INFINITY;
    for (const { delivery, position } of list) {
      const { event, fault } = delivery;
      check(event.enqueuedTimeMs >= lastEnqueued, 'enqueued time went backwards', delivery);
      lastEnqueued = event.enqueuedTimeMs;
      check(mapPartitionKeyToId(event.partitionKey, partitions) === partition, 'not routed by the key hash', delivery);
      check(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/.test(event.properties.traceparent ?? ''), 'no traceparent', delivery);
      const record = tryDecode(event.body);
      if (!record) {
        // Corrupt bodies fail strict decoding and even lenient decoding (trailing bytes ignored).
        check(fault === 'corrupt', 'undecodable body not labelled corrupt', delivery);
        check(!decodesLeniently(event.body), 'corrupt body decodes leniently', delivery);
        check(deliveriesPerOrdinal.get(delivery.ordinal) === 1, 'corrupt event delivered more than once', delivery);
        found.corrupt++;
        continue;
      }
      check(record.deviceId === event.partitionKey, 'key field differs from the partition key', delivery);
      const verdict = gate.admit(record.eventId, record.timestamp);
      const twin = firstSeen.get(record.eventId);
      if (twin) {
        // A duplicate: the same bytes and properties as an earlier delivery of the same partition, a bounded
        // distance later, and the worker's gate recognises it as a duplicate (not as late).
        check(fault === 'duplicate', 'repeated id not labelled duplicate', delivery);
        check(Buffer.compare(twin.body, Buffer.from(event.body)) === 0, 'duplicate body differs', delivery);
        check(JSON.stringify(event.properties) === JSON.stringify(twin.properties), 'duplicate properties differ', delivery);
        check(position - twin.position >= 1 && position - twin.position <= MAX_DISTANCE, `duplicate ${position - twin.position} positions later`, delivery);
        check(verdict === 'duplicate', `gate says ${verdict} for a duplicate`, delivery);
        // Ahead of the watermark, so it is a duplicate whatever the dedup retention, never a late event.
        check(record.timestamp > maxEventTime - OOO, 'duplicate behind the watermark', delivery);
        found.duplicate++;
        continue;
      }
      firstSeen.set(record.eventId, { position, body: Buffer.from(event.body), properties: event.properties });
      const watermark = maxEventTime - OOO;
      if (record.timestamp + LATENESS < watermark) {
        check(fault === 'late', 'late event not labelled late', delivery);
        check(verdict === 'late', `gate says ${verdict} for a late event`, delivery);
        found.late++;
      } else if (record.timestamp < maxEventTime) {
        check(fault === 'outOfOrder', 'out-of-order event not labelled out-of-order', delivery);
        check(verdict === 'accept', `gate says ${verdict} for an out-of-order event`, delivery);
        found.outOfOrder++;
      } else {
        // A normal event: its event time is its enqueued time and it moves the watermark.
        check(fault === undefined, `in-order event labelled ${fault}`, delivery);
        check(verdict === 'accept', `gate says ${verdict} for a normal event`, delivery);
        check(record.timestamp === event.enqueuedTimeMs, 'event time differs from enqueued time', delivery);
      }
      maxEventTime = Math.max(maxEventTime, record.timestamp);
    }
  });
  return { found, problems };
}

function decodesLeniently(body: Uint8Array): boolean {
  try {
    return decoder.decode(Buffer.from(body), 0).offset >= 0;
  } catch (error) {
    if (error instanceof Error) return false;
    throw error;
  }
}

describe('stream generator', () => {
  it('injects every fault kind at its rate, and each fault is what it claims under the watermark rule', () => {
    const rates: FaultRates = { duplicate: 0.03, outOfOrder: 0.04, late: 0.02, corrupt: 0.01 };
    const opts = options({ faults: rates });
    const deliveries = [...generateStreamEvents(opts)];
    const labelled = { duplicate: 0, outOfOrder: 0, late: 0, corrupt: 0 };
    for (const d of deliveries) if (d.fault) labelled[d.fault]++;

    const { found, problems } = inspect(deliveries, opts.partitions);
    expect(problems).toEqual([]);
    expect(found).toEqual(labelled);
    expect(deliveries.length).toBe(opts.events + labelled.duplicate);
    for (const kind of FAULT_KINDS) {
      // Within 5 binomial standard deviations of the requested rate.
      const expected = rates[kind] * opts.events;
      const sigma = Math.sqrt(opts.events * rates[kind] * (1 - rates[kind]));
      expect(Math.abs(labelled[kind] - expected), kind).toBeLessThan(5 * sigma);
    }
  });

  it('keeps duplicates ahead of the watermark even when a partition sees an event only every few minutes', () => {
    const opts = options({ faults: { duplicate: 0.3, outOfOrder: 0, late: 0, corrupt: 0 }, events: 2000, spanMs: 86_400_000 * 3 });
    const deliveries = [...generateStreamEvents(opts)];
    const { found, problems } = inspect(deliveries, opts.partitions);
    expect(problems).toEqual([]);
    expect(found.duplicate).toBeGreaterThan(400);
  });

  it('without faults, delivers every event once, in time order, routed by the Event Hubs key hash', () => {
    const opts = options({ faults: { duplicate: 0, outOfOrder: 0, late: 0, corrupt: 0 }, events: 5000 });
    const deliveries = [...generateStreamEvents(opts)];
    expect(deliveries.length).toBe(5000);
    expect(inspect(deliveries, opts.partitions)).toEqual({ found: { duplicate: 0, outOfOrder: 0, late: 0, corrupt: 0 }, problems: [] });
    const ids = new Set(deliveries.map((d) => (decoder.fromBuffer(Buffer.from(d.event.body)) as Decoded).eventId));
    expect(ids.size).toBe(5000);
    const times = deliveries.map((d) => d.event.enqueuedTimeMs);
    expect(times[0]).toBeGreaterThanOrEqual(opts.startMs);
    expect(times.at(-1)).toBeLessThan(opts.startMs + opts.spanMs);
  });

  it('spreads events round-robin when the stream has no partition key', () => {
    const opts = options({ faults: { duplicate: 0, outOfOrder: 0, late: 0, corrupt: 0 }, events: 400, keyed: false });
    const deliveries = [...generateStreamEvents(opts)];
    expect(deliveries.map((d) => d.partition)).toEqual(deliveries.map((_, i) => i % 4));
    expect(deliveries.every((d) => d.event.partitionKey === '')).toBe(true);
  });

  it('is reproducible: same seed, same deliveries; another seed, other deliveries', () => {
    const fingerprint = (seed: number) =>
      [...generateStreamEvents(options({ faults: { duplicate: 0.05, outOfOrder: 0.05, late: 0.05, corrupt: 0.05 }, events: 3000, seed }))]
        .map((d) => `${d.partition}:${d.fault ?? ''}:${d.event.enqueuedTimeMs}:${Buffer.from(d.event.body).toString('base64')}:${d.event.properties.traceparent}`)
        .join('\n');
    const first = fingerprint(3);
    expect(fingerprint(3)).toBe(first);
    expect(fingerprint(4)).not.toBe(first);
  });
});
