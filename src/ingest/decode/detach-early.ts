import { detach } from '../../core/release-bytes.js';

/**
 * Transfers move ArrayBuffers between the main thread and the lanes, detaching them in the sender. V8 compiles
 * typed-array code on the assumption that no buffer of the isolate was ever detached (its ArrayBufferDetaching
 * protector) for as long as that holds; the first detach deoptimizes every function compiled on it at once. In a
 * lane that happened at its first row group sent back, after the hot code was optimized: ~100 functions per
 * lane (the batch loop, the body decoder, the Parquet encoders) thrown away and compiled again by TurboFan
 * (bench/NOTES.md "One detach before anything is compiled"). Detaching one empty buffer before anything is
 * optimized gives the assumption up while there is nothing yet to throw away.
 */
export function detachBeforeCompiling(): void {
  detach(new ArrayBuffer(0));
}
