/**
 * The container image's malloc setting (deploy/Dockerfile), which bench runs of the worker use so their RSS is the
 * image's: a fixed mmap threshold, so glibc returns freed large buffers (file bytes, encoded row groups) to the
 * system instead of raising its threshold and keeping them in a fragmented heap.
 */
export const IMAGE_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '131072' };

/** `env` without any malloc tuning of the shell the bench was started from. */
export function withoutMallocTuning(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith('MALLOC_')));
}
