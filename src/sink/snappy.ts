/**
 * Snappy for Parquet pages: the native binding (npm `snappy`, prebuilt for the common platforms) when it loads
 * and pays, else the JavaScript implementation (./snappy-js.ts: hyparquet-writer's algorithm and bytes, without
 * its per-byte writes). Both write raw Snappy that every reader decodes; their bytes differ, so one process
 * always uses one of them (files are deterministic per implementation).
 */
import { createRequire } from 'node:module';
import { snappyCompressJs } from './snappy-js.js';

export type SnappyImplementation = 'native' | 'js';
export type Compress = (bytes: Uint8Array) => Uint8Array;

interface NativeSnappy {
  compressSync(input: Buffer, options?: { copyOutputData?: boolean }): Buffer;
}

let native: Compress | null | undefined;

/** The native compressor, or null when the binding cannot load on this platform. */
export function nativeSnappy(): Compress | null {
  if (native === undefined) {
    try {
      const binding = createRequire(import.meta.url)('snappy') as NativeSnappy;
      // copyOutputData: the binding's default output (an external buffer) is never freed on glibc systems
      // (Brooooooklyn/snappy#323): RSS grew by more than the compressed bytes, 1.6 GiB over a 1.6M-event run.
      // Copied into a buffer V8 owns, it is freed like any other; the bytes are the same.
      native = (bytes) => binding.compressSync(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { copyOutputData: true });
    } catch {
      // No prebuilt binary for this platform (or it failed to load): the JavaScript compressor does the same job.
      native = null;
    }
  }
  return native;
}

export const jsSnappy: Compress = snappyCompressJs;

export function snappyCompressor(implementation: SnappyImplementation): Compress {
  return implementation === 'native' ? (nativeSnappy() ?? jsSnappy) : jsSnappy;
}
