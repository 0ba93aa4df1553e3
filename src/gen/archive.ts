/**
 * `generateArchive`: the synthetic streams of a config written as a local (or any object-store) Event Hubs
 * Capture archive, where the config's capture source will read them. A manifest written after the last file
 * marks the archive complete, so a run that died half-way is recognised (and replaced with `overwrite`)
 * instead of being processed as if it were whole.
 */
import type { TributaryConfig } from '../config/schema.js';
import { TributaryError } from '../core/errors.js';
import type { ObjectStore } from '../core/object-store.js';
import { createObjectStore } from '../sink/store-factory.js';
import { generateStreams, prepareStreams, type GenProgress, type GenSummary } from './generate.js';
import { parseGenOptions, type GenOptions, type GenOptionsInput } from './options.js';
import { CaptureTarget } from './targets/capture.js';

export interface GenerateArchiveOptions extends GenOptionsInput {
  /** where to write instead of `source.store` (tests, `--out`) */
  store?: ObjectStore;
  signal?: AbortSignal;
}

export interface ArchiveSummary extends GenSummary {
  location: string;
  namespace: string;
  hubs: Record<string, string>;
}

export interface ArchiveManifest {
  generator: 'tributary gen';
  stream: string;
  hub: string;
  options: Omit<GenOptions, 'overwrite'>;
  summary: GenSummary['streams'][number];
}

export const MANIFEST_NAME = '_tributary-gen.json';

export function manifestKey(namespace: string, hub: string): string {
  return `${namespace}/${hub}/${MANIFEST_NAME}`;
}

/** The manifest of a complete generated hub, or undefined when the hub is absent or its generation never finished. */
export async function readArchiveManifest(store: ObjectStore, namespace: string, hub: string): Promise<ArchiveManifest | undefined> {
  const bytes = await store.get(manifestKey(namespace, hub));
  if (!bytes) return undefined;
  return JSON.parse(Buffer.from(bytes).toString('utf8')) as ArchiveManifest;
}

export async function generateArchive(
  config: TributaryConfig,
  options: GenerateArchiveOptions = {},
  onProgress?: (progress: GenProgress) => void,
): Promise<ArchiveSummary> {
  const { store: storeOverride, signal, ...rest } = options;
  const parsed = parseGenOptions(rest);
  const source = config.source;
  if (source.kind !== 'capture') throw new TributaryError('CONFIG_INVALID', `source.kind: gen writes Capture archives; got "${String(source.kind)}"`);
  const prepared = await prepareStreams(config, parsed);
  const hubs: Record<string, string> = {};
  for (const { stream } of prepared) {
    const hub = source.hubs[stream];
    if (hub === undefined) throw new TributaryError('CONFIG_INVALID', `source.hubs: no hub for stream "${stream}"`);
    hubs[stream] = hub;
  }
  const store = storeOverride ?? createObjectStore(source.store);
  await clearPreviousArchive(store, source.namespace, Object.values(hubs), parsed.overwrite);

  const target = new CaptureTarget({
    store,
    namespace: source.namespace,
    hubs,
    windowMs: parsed.capture.window,
    maxFileBytes: parsed.capture.maxFileBytes,
    codec: parsed.capture.codec,
    seed: parsed.seed,
  });
  const report = await generateStreams(config, parsed, target, { onProgress, signal }, prepared);
  await target.close();
  const { overwrite: _overwrite, ...recorded } = parsed;
  for (const summary of report.streams) {
    const manifest: ArchiveManifest = { generator: 'tributary gen', stream: summary.stream, hub: hubs[summary.stream]!, options: recorded, summary };
    await store.put(manifestKey(source.namespace, manifest.hub), Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
  }
  return { ...report, output: target.stats(), location: store.location, namespace: source.namespace, hubs };
}

async function clearPreviousArchive(store: ObjectStore, namespace: string, hubs: string[], overwrite: boolean): Promise<void> {
  for (const hub of hubs) {
    const existing = await store.list(`${namespace}/${hub}/`);
    if (existing.length === 0) continue;
    if (!overwrite) {
      throw new TributaryError(
        'CONFIG_INVALID',
        `${store.location}/${namespace}/${hub} already holds ${existing.length} objects; pass --overwrite (overwrite: true) to replace them`,
      );
    }
    // The manifest goes first: if this run dies, what is left is never mistaken for a complete archive.
    await store.delete(manifestKey(namespace, hub));
    for (const object of existing) await store.delete(object.key);
  }
}
