/**
 * Writer schemas for Confluent-framed bodies: looked up by the ids a batch uses, from the stream's static
 * `writerSchemas` files or its schema registry, before the batch goes to a decode thread. An id the registry does
 * not know is left out, so the worker dead-letters those events (reason decode, "unknown schema id"); any other
 * lookup failure fails the batch, which the source redelivers.
 */
import { readFile } from 'node:fs/promises';
import type { StreamConfig } from '../../config/schema.js';
import { TributaryError, errorMessage } from '../../core/errors.js';
import type { SourceEvent } from '../../core/source.js';
import { SchemaRegistryClient, parseConfluentFrame } from './confluent.js';

export interface WriterSchemaSource {
  /** schema id -> writer schema JSON for every resolvable id used by `events` */
  forBatch(events: readonly SourceEvent[], signal?: AbortSignal): Promise<Record<number, string>>;
}

export async function createWriterSchemaSource(stream: string, config: StreamConfig): Promise<WriterSchemaSource | undefined> {
  if (config.bodyFormat !== 'confluent-avro') return undefined;
  const fixed = new Map<number, string>();
  for (const [id, file] of Object.entries(config.writerSchemas ?? {})) {
    try {
      fixed.set(Number(id), await readFile(file, 'utf8'));
    } catch (error) {
      throw new TributaryError('CONFIG_INVALID', `streams.${stream}.writerSchemas.${id}: cannot read ${file}: ${errorMessage(error)}`, { cause: error });
    }
  }
  const registry = config.schemaRegistry
    ? new SchemaRegistryClient(config.schemaRegistry.url, {
        ...(config.schemaRegistry.username !== undefined ? { username: config.schemaRegistry.username, password: config.schemaRegistry.password ?? '' } : {}),
      })
    : undefined;
  return {
    async forBatch(events, signal) {
      const ids = new Set<number>();
      for (const event of events) {
        const frame = parseConfluentFrame(event.body);
        if (frame) ids.add(frame.schemaId);
      }
      const schemas: Record<number, string> = {};
      for (const id of ids) {
        const known = fixed.get(id);
        if (known !== undefined) {
          schemas[id] = known;
          continue;
        }
        if (!registry) continue;
        try {
          schemas[id] = await registry.getSchema(id, signal);
        } catch (error) {
          // The registry does not know the id (or it is not Avro): the event is bad, not the registry.
          if (error instanceof TributaryError && error.code === 'DECODE_FAILED') continue;
          throw error;
        }
      }
      return schemas;
    },
  };
}
