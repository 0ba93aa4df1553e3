/**
 * glibc's malloc and the worker's memory. By default glibc raises its mmap threshold to the size of each large
 * buffer freed (archive files, encoded row groups, staged blocks) and serves later ones from a heap it fragments
 * and does not return: peak RSS on 5 M orders ~100 MiB higher than with a fixed 128 KiB threshold. The fixed
 * threshold costs 6-25% more CPU per event (bench/NOTES.md) (every such buffer is a fresh, zeroed mapping), so the image keeps
 * glibc's defaults; an operator short of memory rather than CPU can set it (deploy/README.md). bench:memory
 * measures both.
 */
export const LOW_MEMORY_MALLOC: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '131072' };

/** `env` without any malloc tuning of the shell the bench was started from, so a run gets only what it asks for. */
export function withoutMallocTuning(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith('MALLOC_')));
}
