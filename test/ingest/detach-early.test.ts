import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The lane module and the pool module give up V8's "no buffer was ever detached" assumption as they load, before any
 * of their code can be optimized on it (src/ingest/decode/detach-early.ts). Run on the built modules (`npm test`
 * builds first) in a plain node: under tsx's loader thread the import itself detaches buffers, which would hide the
 * difference.
 */
const built = (module: string): string => pathToFileURL(fileURLToPath(new URL(`../../dist/src/ingest/decode/${module}`, import.meta.url))).href;
const INVALIDATED = 'Invalidating protector cell ArrayBufferDetaching';

describe('one detach before anything is compiled', () => {
  for (const module of ['worker.js', 'pool.js']) {
    it(`${module} detaches a buffer while it loads`, () => {
      expect(existsSync(new URL(built(module))), 'the built module (npm test builds first; alone: npm run build)').toBe(true);
      const trace = execFileSync(process.execPath, ['--trace-protector-invalidation', '--input-type=module', '-e', `await import(${JSON.stringify(built(module))}); console.log('loaded');`], { encoding: 'utf8' });
      const loaded = trace.indexOf('loaded');
      expect(loaded).toBeGreaterThan(0);
      const invalidated = trace.indexOf(INVALIDATED);
      expect(invalidated).toBeGreaterThanOrEqual(0);
      expect(invalidated).toBeLessThan(loaded);
    });
  }

  it('a plain node loading nothing of ours detaches nothing (the trace above is ours, not the runtime’s)', () => {
    const trace = execFileSync(process.execPath, ['--trace-protector-invalidation', '--input-type=module', '-e', `await import('piscina'); console.log('loaded');`], { encoding: 'utf8' });
    expect(trace).not.toContain(INVALIDATED);
    expect(trace).toContain('loaded');
  });
});
