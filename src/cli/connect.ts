/**
 * `tributary validate --connect`: try every store and the source once, and report each by name, so a deployment
 * learns about a wrong account, a missing container, an unset role or an unreachable broker before it runs.
 * Every probe is read-only and bounded by a timeout.
 */
import { access, constants, stat } from 'node:fs/promises';
import path from 'node:path';
import { Kafka } from 'kafkajs';
import type { StoreConfig, TributaryConfig } from '../config/schema.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { openCheckpointStore } from '../ingest/eventhubs/checkpoint-stores.js';
import { createProducerClient } from '../ingest/eventhubs/client.js';
import { hubPlans } from '../ingest/eventhubs/config.js';
import { kafkaClientConfig } from '../ingest/kafka/client.js';
import { createObjectStore } from '../sink/store-factory.js';

export interface ProbeResult {
  /** what was tried: "lake", "source orders", ... */
  target: string;
  ok: boolean;
  /** where, and what was found or what failed */
  detail: string;
}

interface Probe {
  target: string;
  run: (signal: AbortSignal) => Promise<string>;
}

const PROBE_RETRY = { maxAttempts: 2, initialDelayMs: 200, maxDelayMs: 1000, factor: 2 };

/** A local folder is fine when it exists as a folder, or can be created under its nearest existing parent. */
async function probeLocalFolder(folder: string, mustExist: boolean): Promise<string> {
  const absolute = path.resolve(folder);
  let existing = absolute;
  for (;;) {
    try {
      const info = await stat(existing);
      if (!info.isDirectory()) throw new Error(`${existing} is not a folder`);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      if (mustExist) throw new Error(`${absolute} does not exist`);
      const parent = path.dirname(existing);
      if (parent === existing) throw new Error(`no existing parent folder of ${absolute}`);
      existing = parent;
    }
  }
  await access(existing, constants.W_OK).catch(() => {
    throw new Error(`${existing} is not writable`);
  });
  return existing === absolute ? `${absolute} (writable)` : `${absolute} (will be created under ${existing})`;
}

function storeProbe(target: string, config: StoreConfig, log: Logger): Probe {
  return {
    target,
    run: async (signal) => {
      if (config.kind === 'local') return probeLocalFolder(config.path, false);
      const store = createObjectStore(config, { signal, logger: log, retry: PROBE_RETRY });
      const found = await store.list('');
      return `${store.location} (reachable, ${found.length} objects)`;
    },
  };
}

function sourceProbes(config: TributaryConfig, log: Logger): Probe[] {
  const source = config.source;
  switch (source.kind) {
    case 'capture':
      return Object.entries(source.hubs).map(([stream, hub]) => ({
        target: `source ${stream}`,
        run: async (signal) => {
          if (source.store.kind === 'local') await probeLocalFolder(source.store.path, true);
          const store = createObjectStore(source.store, { signal, logger: log, retry: PROBE_RETRY });
          const files = (await store.list(`${source.namespace}/${hub}/`)).filter((o) => o.key.endsWith('.avro'));
          if (files.length === 0) throw new Error(`no Capture files under ${store.location}/${source.namespace}/${hub}`);
          return `${store.location}/${source.namespace}/${hub} (${files.length} Capture files)`;
        },
      }));
    case 'eventhubs':
      return [
        ...hubPlans(source).map(({ stream, hub }) => ({
          target: `source ${stream}`,
          run: async (signal: AbortSignal) => {
            const client = createProducerClient(source, hub, { retryOptions: { maxRetries: 1, timeoutInMs: 10_000 } }, undefined, 'source');
            try {
              const properties = await client.getEventHubProperties({ abortSignal: signal });
              return `event hub ${hub} on ${client.fullyQualifiedNamespace} (${properties.partitionIds.length} partitions)`;
            } finally {
              await client.close();
            }
          },
        })),
        {
          target: 'source checkpoint store',
          run: async () => (await openCheckpointStore(source.checkpointStore)).location,
        },
      ];
    case 'kafka':
      return [
        {
          target: `source topics ${Object.values(source.topics).join(', ')}`,
          run: async () => {
            const kafka = new Kafka(kafkaClientConfig(source, { log, retry: { retries: 1 } }));
            const admin = kafka.admin();
            await admin.connect();
            try {
              const { topics } = await admin.fetchTopicMetadata({ topics: Object.values(source.topics) });
              return `${source.brokers.join(',')}: ${topics.map((t) => `${t.name} (${t.partitions.length} partitions)`).join(', ')}`;
            } finally {
              await admin.disconnect();
            }
          },
        },
      ];
  }
}

/** Tries each store and the source in turn; a failure is reported, never thrown, so every target gets tried. */
export async function probeConnections(config: TributaryConfig, log: Logger, timeoutMs = 30_000): Promise<ProbeResult[]> {
  const probes: Probe[] = [
    ...sourceProbes(config, log),
    storeProbe('lake', config.lake, log),
    storeProbe('deadLetter', config.deadLetter, log),
    storeProbe('state', config.state, log),
  ];
  const results: ProbeResult[] = [];
  for (const probe of probes) {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const detail = await Promise.race([
        probe.run(signal),
        new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), { once: true })),
      ]);
      results.push({ target: probe.target, ok: true, detail });
    } catch (error) {
      results.push({ target: probe.target, ok: false, detail: errorMessage(error) });
    }
  }
  return results;
}
