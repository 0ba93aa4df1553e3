/**
 * Relative paths written in a config file resolve against the file's folder, not the working directory, so
 * `tributary run --config /etc/tributary/tributary.yaml` reads the same schemas from anywhere. Works on the raw
 * (parsed YAML, not yet validated) object so that only what the file says is resolved: defaults and environment
 * overrides keep meaning "relative to where you run".
 */
import path from 'node:path';

type Raw = Record<string, unknown>;

const isObject = (value: unknown): value is Raw => typeof value === 'object' && value !== null && !Array.isArray(value);

function resolveField(object: unknown, field: string, base: string): void {
  if (!isObject(object)) return;
  const value = object[field];
  if (typeof value === 'string' && value !== '' && !path.isAbsolute(value)) object[field] = path.resolve(base, value);
}

/** `{ kind: local, path }` stores (lake, dead letters, state, a Capture archive, a local checkpoint store). */
function resolveLocalStore(store: unknown, base: string): void {
  if (isObject(store) && store.kind === 'local') resolveField(store, 'path', base);
}

export function resolveConfigPaths(raw: unknown, base: string): unknown {
  if (!isObject(raw)) return raw;
  const config = structuredClone(raw);
  if (isObject(config.streams)) {
    for (const stream of Object.values(config.streams)) {
      resolveField(stream, 'schema', base);
      if (isObject(stream) && isObject(stream.writerSchemas)) {
        for (const id of Object.keys(stream.writerSchemas)) resolveField(stream.writerSchemas, id, base);
      }
    }
  }
  for (const store of ['lake', 'deadLetter', 'state']) resolveLocalStore(config[store], base);
  const source = config.source;
  if (isObject(source)) {
    resolveLocalStore(source.store, base);
    resolveLocalStore(source.checkpointStore, base);
    resolveField(source.tls, 'caFile', base);
  }
  return config;
}
