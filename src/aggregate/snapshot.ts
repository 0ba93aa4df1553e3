/**
 * A partition's state snapshot: everything needed to resume exactly at `position` (an inclusive source position
 * at the start of a raw-file cell). JSON with non-finite numbers kept (min/max partials start at ±Infinity).
 */
import type { GateSnapshot } from './event-time-gate.js';
import type { AggregatorSnapshot } from './window-aggregator.js';
import type { SessionSnapshot } from './session-aggregator.js';

export const SNAPSHOT_VERSION = 1;

export interface PartitionSnapshot {
  version: number;
  stream: string;
  partition: string;
  /** settings that decide file names and verdicts; a snapshot taken under other settings cannot be resumed */
  fingerprint: string;
  position: number;
  /** the service offset of the last event before `position` ('' if none) */
  offsetBefore: string;
  gate: GateSnapshot;
  aggregators: Record<string, AggregatorSnapshot | SessionSnapshot>;
}

const NON_FINITE: Record<string, number> = { '#Infinity': Infinity, '#-Infinity': -Infinity, '#NaN': NaN };

export function encodeSnapshot(snapshot: PartitionSnapshot): Uint8Array {
  return Buffer.from(
    JSON.stringify(snapshot, (_key, value: unknown) => {
      if (typeof value === 'number' && !Number.isFinite(value)) return `#${value}`;
      return value;
    }),
  );
}

export function decodeSnapshot(bytes: Uint8Array): PartitionSnapshot {
  return JSON.parse(Buffer.from(bytes).toString('utf8'), (_key, value: unknown) => {
    if (typeof value === 'string' && value in NON_FINITE) return NON_FINITE[value];
    return value;
  }) as PartitionSnapshot;
}
