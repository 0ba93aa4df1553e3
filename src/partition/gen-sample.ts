/**
 * A sample from the synthetic generator (`tributary gen`), straight into memory: the same records, key
 * distribution and bodies `gen` would write to an archive, without the archive. Generated into one partition so
 * the sample keeps the generator's send order; the benchmark re-partitions it per candidate.
 *
 * On the command line: `--input gen` or `--input gen:events=50000,keys=50000,distribution=zipf,skew=0.8,seed=42`
 * (any generator option with a scalar value; see src/gen/options.ts).
 */
import type { TributaryConfig } from '../config/schema.js';
import { TributaryError } from '../core/errors.js';
import { generateStreams } from '../gen/generate.js';
import { parseGenOptions } from '../gen/options.js';
import type { GeneratedEvent, GenTarget } from '../gen/target.js';
import { sampleFromEvents, type BodyDecoder, type Sample, type SampleLimits } from './sample.js';

export type GenSampleSettings = Record<string, string | number>;

/** `gen:events=1000,distribution=zipf` -> { events: 1000, distribution: 'zipf' } */
export function parseGenInput(text: string): GenSampleSettings {
  if (text === 'gen') return {};
  if (!text.startsWith('gen:')) throw new TributaryError('CONFIG_INVALID', `--input: "${text}" is not "gen" or "gen:<option>=<value>,..."`);
  const settings: GenSampleSettings = {};
  for (const pair of text.slice(4).split(',').filter((p) => p !== '')) {
    const match = /^([A-Za-z]+)=(.+)$/.exec(pair.trim());
    if (!match) throw new TributaryError('CONFIG_INVALID', `--input: "${pair}" is not <option>=<value>`);
    const [, name, value] = match as unknown as [string, string, string];
    settings[name] = /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
  }
  return settings;
}

/** The demo archive's key shape (src/cli/demo.ts): 50,000 keys, Zipf s = 0.8. */
export const GEN_SAMPLE_DEFAULTS: GenSampleSettings = { events: 50_000, keys: 50_000, distribution: 'zipf', skew: 0.8, seed: 42 };

export async function loadSampleFromGenerator(
  config: TributaryConfig,
  stream: string,
  settings: GenSampleSettings,
  decoder: BodyDecoder,
  limits: SampleLimits,
): Promise<Sample> {
  const options = parseGenOptions({ ...GEN_SAMPLE_DEFAULTS, ...settings, streams: [stream], partitions: 1, overwrite: false });
  const collected: GeneratedEvent[] = [];
  const target: GenTarget = {
    write: async (_stream, _partition, events) => {
      for (const event of events) collected.push(event);
    },
    close: async () => undefined,
  };
  await generateStreams(config, options, target);
  await target.close();
  const described = Object.entries({ ...GEN_SAMPLE_DEFAULTS, ...settings })
    .map(([name, value]) => `${name}=${value}`)
    .join(', ');
  return sampleFromEvents(stream, `tributary gen (${described})`, collected, decoder, limits);
}
