/**
 * Gives a buffer's memory back now, instead of when V8's next major GC finds it dead.
 *
 * V8 frees an ArrayBuffer's backing store only once a GC finds the buffer dead, and a buffer that lived across an
 * await (a file read, a lane's Parquet bytes waiting for their write) has been promoted out of the young
 * generation, so only a mark-compact frees it; every such buffer counts towards the external memory that starts
 * the next one. Giving back the main thread's took its mark-compacts from 178 to 119 per 5 M events
 * (bench/NOTES.md "Buffers given back"). Transferring a buffer detaches it: its memory goes with the
 * message, and a message posted on a closed port is serialised (the transfer happens, as the HTML spec requires
 * of a disentangled port) and dropped, so the memory is freed at once.
 *
 * Only for bytes the caller owns whole: every other view of the buffer reads as empty afterwards.
 */
const closedPort = (() => {
  const { port1, port2 } = new MessageChannel();
  port2.close();
  port1.close();
  return port1;
})();

/** Detaches `buffer` (every view of it reads as empty) and frees its memory at once. */
export function detach(buffer: ArrayBuffer): void {
  closedPort.postMessage(null, [buffer]);
}

/**
 * Detaches the buffer under `bytes` when `bytes` spans all of it (a small Buffer cut from Node's shared pool slab,
 * a view of part of a buffer, or shared memory is left alone); says whether it did. Small buffers are released
 * too: it costs one message, and every test that writes or reads a few bytes then checks that nothing uses them
 * after they were given back.
 */
export function releaseBytes(bytes: Uint8Array): boolean {
  const buffer = bytes.buffer;
  if (!(buffer instanceof ArrayBuffer) || bytes.byteOffset !== 0 || bytes.byteLength !== buffer.byteLength || buffer.byteLength === 0) return false;
  detach(buffer);
  return true;
}
