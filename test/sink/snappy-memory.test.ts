/**
 * Native Snappy gives back what it allocates (regression: the binding's output buffers were never freed on glibc
 * systems, so RSS grew with every byte compressed: 1.6 GiB peak on a 1.6M-event run, 5 GB after 4 GB of input in
 * isolation). Measured in a process of its own, so nothing else moves its RSS.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { nativeSnappy } from '../../src/sink/snappy.js';
import { REPO_ROOT } from '../support/workspace.js';

const CHILD = `
import { nativeSnappy } from ${JSON.stringify(path.join(REPO_ROOT, 'src/sink/snappy.ts'))};
const compress = nativeSnappy();
const input = Buffer.alloc(256 * 1024);
// barely compressible (xorshift bytes), so the output is about as large as the input
for (let i = 0, x = 2463534242; i < input.length; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; input[i] = x & 0xff; }
const rss = () => process.memoryUsage().rss;
for (let i = 0; i < 200; i++) compress(input); // warm-up: allocator pools, code
const before = rss();
let out = 0;
for (let i = 0; i < 2000; i++) out += compress(input).byteLength;
process.stdout.write(JSON.stringify({ compressedBytes: out, growth: rss() - before }));
`;

describe('native Snappy', () => {
  it.skipIf(nativeSnappy() === null)('frees its output: RSS does not follow the bytes compressed', () => {
    const result = JSON.parse(
      execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], { cwd: REPO_ROOT, encoding: 'utf8' }),
    ) as { compressedBytes: number; growth: number };
    // 2000 x 256 KiB of output: a leak of the output alone would grow RSS by some 500 MiB
    expect(result.compressedBytes).toBeGreaterThan(400 * 1024 ** 2);
    expect(result.growth).toBeLessThan(48 * 1024 ** 2);
  });
});
