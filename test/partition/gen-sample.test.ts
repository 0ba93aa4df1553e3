import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { BodyDecoder } from '../../src/partition/sample.js';
import { loadSampleFromGenerator, parseGenInput } from '../../src/partition/gen-sample.js';
import { readFile } from 'node:fs/promises';
import { REPO_ROOT } from '../support/workspace.js';
import path from 'node:path';

describe('generator samples', () => {
  it('parses gen:<option>=<value> lists', () => {
    expect(parseGenInput('gen')).toEqual({});
    expect(parseGenInput('gen:events=500,distribution=zipf,skew=1.5')).toEqual({ events: 500, distribution: 'zipf', skew: 1.5 });
    expect(() => parseGenInput('gen:events')).toThrow(/<option>=<value>/);
  });

  it("draws the example orders with the generator's Zipf keys, in send order, bodies decodable", async () => {
    const previous = process.cwd();
    process.chdir(REPO_ROOT);
    try {
      const config = await loadConfig(path.join(REPO_ROOT, 'examples/tributary.yaml'));
      const decoder = new BodyDecoder(await readFile(config.streams.orders!.schema, 'utf8'), 'avro');
      const sample = await loadSampleFromGenerator(config, 'orders', { events: 3000, keys: 1000, skew: 1.2 }, decoder, { maxEvents: 2500 });
      expect(sample.events).toHaveLength(2500);
      expect(sample.undecodable).toBe(0);
      expect(sample.source).toContain('events=3000');
      const times = sample.events.map((e) => e.enqueuedTimeMs);
      expect(times).toEqual([...times].sort((a, b) => a - b));
      const counts = new Map<string, number>();
      for (const event of sample.events) {
        const key = String(event.fields.customerId);
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      expect(counts.size).toBeLessThanOrEqual(1000);
      // Zipf s=1.2 over 1000 keys: the hottest key carries ~15% of events, far above uniform's 0.1%.
      expect(Math.max(...counts.values()) / sample.events.length).toBeGreaterThan(0.05);
    } finally {
      process.chdir(previous);
    }
  });
});
