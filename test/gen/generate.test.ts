import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import avro from 'avsc';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { TributaryConfig } from '../../src/config/schema.js';
import { generateStreams } from '../../src/gen/generate.js';
import { parseGenOptions } from '../../src/gen/options.js';
import type { GeneratedEvent, GenTarget } from '../../src/gen/target.js';
import { kafkaPartitionForKey } from '../../src/partition/kafka-murmur2.js';

/** A slow target that records how writes overlap. */
class RecordingTarget implements GenTarget {
  readonly events = new Map<string, GeneratedEvent[]>();
  inFlight = 0;
  maxInFlight = 0;
  readonly busy = new Set<string>();
  overlapsWithinPartition = 0;

  async write(stream: string, partition: string, events: GeneratedEvent[]): Promise<void> {
    const id = `${stream}/${partition}`;
    if (this.busy.has(id)) this.overlapsWithinPartition++;
    this.busy.add(id);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await delay(1);
    const list = this.events.get(id) ?? [];
    list.push(...events);
    this.events.set(id, list);
    this.inFlight--;
    this.busy.delete(id);
  }

  async close(): Promise<void> {}
}

describe('generator driver', () => {
  let config: TributaryConfig;
  beforeAll(async () => {
    config = await loadConfig('examples/tributary.yaml');
  });

  it('writes each partition in order with at most one write in flight per partition', async () => {
    const target = new RecordingTarget();
    const options = parseGenOptions({ events: 20_000, partitions: 4, batchSize: 100, faults: { duplicate: 0.02, outOfOrder: 0.02 } });
    const summary = await generateStreams(config, options, target);
    expect(target.overlapsWithinPartition).toBe(0);
    expect(target.maxInFlight).toBeGreaterThan(1); // partitions do overlap
    expect(target.maxInFlight).toBeLessThanOrEqual(4);
    for (const stream of summary.streams) {
      let total = 0;
      for (const [partition, count] of Object.entries(stream.partitions)) {
        const events = target.events.get(`${stream.stream}/${partition}`) ?? [];
        expect(events.length).toBe(count);
        total += count;
        const times = events.map((e) => e.enqueuedTimeMs);
        expect(times).toEqual([...times].sort((a, b) => a - b));
      }
      expect(total).toBe(stream.deliveredEvents);
      expect(stream.deliveredEvents).toBe(20_000 + stream.faults.duplicate);
    }
  });

  it("routes keys with Kafka's default partitioner when asked", async () => {
    const target = new RecordingTarget();
    await generateStreams(config, parseGenOptions({ events: 2000, partitions: 5, hash: 'kafka', streams: ['orders'] }), target);
    let checked = 0;
    for (const [id, events] of target.events) {
      const partition = Number(id.split('/')[1]);
      for (const event of events) {
        if (kafkaPartitionForKey(event.partitionKey, 5) !== partition) throw new Error(`${event.partitionKey} is not in partition ${partition}`);
        checked++;
      }
    }
    expect(checked).toBe(2000);
  });

  it('stops with ABORTED when the signal fires, and reports a failing target instead of hanging', async () => {
    const controller = new AbortController();
    const options = parseGenOptions({ events: 200_000, partitions: 2, batchSize: 50 });
    const aborting: GenTarget = {
      write: async () => {
        controller.abort(new Error('stop'));
      },
      close: async () => undefined,
    };
    await expect(generateStreams(config, options, aborting, { signal: controller.signal })).rejects.toMatchObject({ code: 'ABORTED' });

    let writes = 0;
    const failing: GenTarget = {
      write: async () => {
        writes++;
        if (writes === 3) throw new Error('disk full');
      },
      close: async () => undefined,
    };
    await expect(generateStreams(config, options, failing)).rejects.toThrow('disk full');
    expect(writes).toBeLessThan(20);
  });

  it('writes JSON bodies for streams configured with bodyFormat json, corrupt ones included', async () => {
    const jsonConfig = { ...config, streams: { orders: { ...config.streams.orders!, bodyFormat: 'json' as const } } };
    const type = avro.Type.forSchema(JSON.parse(readFileSync('examples/schemas/orders.avsc', 'utf8')) as avro.Schema);
    const target = new RecordingTarget();
    const summary = await generateStreams(jsonConfig, parseGenOptions({ events: 3000, partitions: 2, faults: { corrupt: 0.05 } }), target);
    let valid = 0;
    let invalid = 0;
    for (const events of target.events.values()) {
      for (const event of events) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(Buffer.from(event.body).toString('utf8'));
        } catch (error) {
          if (!(error instanceof SyntaxError)) throw error;
        }
        if (parsed !== undefined && type.isValid(parsed)) valid++;
        else invalid++;
      }
    }
    expect(invalid).toBe(summary.streams[0]!.faults.corrupt);
    expect(invalid).toBeGreaterThan(50);
    expect(valid).toBe(summary.streams[0]!.deliveredEvents - invalid);
  });

  it('frames Confluent bodies with the schema id the config lists for the stream schema', async () => {
    const orders = config.streams.orders!;
    const confluent = { ...config, streams: { orders: { ...orders, bodyFormat: 'confluent-avro' as const, writerSchemas: { '3': 'x.avsc', '17': orders.schema } } } };
    const type = avro.Type.forSchema(JSON.parse(readFileSync(orders.schema, 'utf8')) as avro.Schema);
    const target = new RecordingTarget();
    const summary = await generateStreams(confluent, parseGenOptions({ events: 2000, partitions: 1, faults: { corrupt: 0.05 } }), target);
    let framed = 0;
    for (const event of target.events.get('orders/0')!) {
      const body = Buffer.from(event.body);
      if (body.length >= 5 && body[0] === 0 && body.readUInt32BE(1) === 17) {
        try {
          type.fromBuffer(body.subarray(5));
          framed++;
        } catch (error) {
          if (!(error instanceof Error)) throw error;
        }
      }
    }
    expect(framed).toBe(summary.streams[0]!.deliveredEvents - summary.streams[0]!.faults.corrupt);
    const unknown = { ...config, streams: { orders: { ...orders, bodyFormat: 'confluent-avro' as const, writerSchemas: { '3': 'a.avsc', '4': 'b.avsc' } } } };
    await expect(generateStreams(unknown, parseGenOptions({ events: 10 }), new RecordingTarget())).rejects.toThrow(/streams\.orders\.writerSchemas: .*needs the schema id/);
  });

  it('times streams by enqueued time when the config says so, and refuses faults that cannot exist there', async () => {
    const byEnqueued = { ...config, streams: { telemetry: { ...config.streams.telemetry!, eventTime: '_enqueued_time' } } };
    const target = new RecordingTarget();
    await generateStreams(byEnqueued, parseGenOptions({ events: 100, partitions: 1, faults: { duplicate: 0.1 } }), target);
    expect(target.events.get('telemetry/0')!.length).toBeGreaterThanOrEqual(100);
    await expect(generateStreams(byEnqueued, parseGenOptions({ events: 100, faults: { late: 0.1 } }), target)).rejects.toThrow(
      /streams\.telemetry\.eventTime is _enqueued_time: its events cannot be out of order or late/,
    );
  });

  it('rejects out-of-order events when the config allows no out-of-orderness', async () => {
    const strict = { ...config, processing: { ...config.processing, allowedOutOfOrderness: 0 } };
    const options = parseGenOptions({ events: 10, faults: { outOfOrder: 0.1 } });
    await expect(generateStreams(strict, options, new RecordingTarget())).rejects.toThrow(/faults\.outOfOrder: needs processing\.allowedOutOfOrderness/);
  });
});
