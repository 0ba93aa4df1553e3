/**
 * The real promtool (Debian's prometheus package) on what we ship: the worker's whole /metrics exposition passes
 * `promtool check metrics`, the alert rules pass `promtool check rules`, and `promtool test rules` runs the rules
 * test file, which makes every alert fire and not fire. Skipped, saying so, when promtool is absent; a failure
 * under CI=true.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { TributaryError } from '../../src/core/errors.js';
import { DROPPED_DEFAULT_METRICS, TributaryMetrics } from '../../src/metrics/metrics.js';
import { findTool } from '../support/external-tool.js';

const run = promisify(execFile);
const PROMETHEUS = path.resolve(import.meta.dirname, '../../deploy/prometheus');
const promtool = findTool('promtool', 'apt-get install prometheus');

/** promtool with stdin; resolves with its exit code and output instead of throwing on a non-zero exit. */
async function promtoolRun(args: string[], stdin?: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(promtool.path!, args, { cwd: PROMETHEUS }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') reject(error);
      else resolve({ code: error ? Number(error.code) : 0, output: `${stdout}${stderr}` });
    });
    child.stdin!.end(stdin ?? '');
  });
}

/** Every metric the worker serves, each with a sample, and Node.js's defaults as a running worker has them. */
async function fullExposition(): Promise<string> {
  const registry = new Registry();
  const metrics = new TributaryMetrics(registry, { processMetrics: true });
  metrics.eventsIn('orders', '0', 10);
  metrics.duplicates('orders', '0', 1);
  metrics.rowsLanded('orders_raw', 9);
  metrics.fileWritten('orders_raw', 'orders_raw/x.parquet', 4096);
  metrics.deadLettered('orders', 'decode', 1);
  metrics.deadLettersWritten('orders', 'orders/0/0.jsonl', { decode: 1 });
  metrics.batchProcessed('orders', 0.02);
  metrics.watermark('orders', '0', 1_700_000_000_000);
  metrics.checkpointed('orders', '0', 200_000);
  metrics.lag('orders', '0', 12);
  metrics.error('sink', new TributaryError('STORAGE_TRANSIENT', 'HTTP 503'));
  return registry.metrics();
}

describe.skipIf(!promtool.path)('promtool', () => {
  it('passes `promtool check metrics` on the whole exposition, defaults included', async () => {
    const exposition = await fullExposition();
    expect(exposition).toContain('nodejs_heap_size_used_bytes');
    for (const dropped of DROPPED_DEFAULT_METRICS) expect(exposition).not.toContain(`${dropped} `);
    const result = await promtoolRun(['check', 'metrics'], exposition);
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  });

  it('would fail `promtool check metrics` on prom-client\'s defaults as they come (why some are dropped)', async () => {
    const registry = new Registry();
    const { collectDefaultMetrics } = await import('prom-client');
    collectDefaultMetrics({ register: registry });
    const result = await promtoolRun(['check', 'metrics'], await registry.metrics());
    expect(result.code).not.toBe(0);
    for (const dropped of DROPPED_DEFAULT_METRICS) expect(result.output).toContain(dropped);
  });

  it('passes `promtool check rules` on the alert rules', async () => {
    const { stdout } = await run(promtool.path!, ['check', 'rules', 'tributary-alerts.yaml'], { cwd: PROMETHEUS });
    expect(stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('passes `promtool test rules`, whose cases make every alert fire and stay quiet', async () => {
    const tests = parse(readFileSync(path.join(PROMETHEUS, 'tributary-alerts.test.yaml'), 'utf8')) as {
      tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    const alerts = (parse(readFileSync(path.join(PROMETHEUS, 'tributary-alerts.yaml'), 'utf8')) as { groups: { rules: { alert: string }[] }[] })
      .groups.flatMap((g) => g.rules.map((r) => r.alert));
    const cases = tests.tests.flatMap((t) => t.alert_rule_test);
    for (const alert of alerts) {
      const mine = cases.filter((c) => c.alertname === alert);
      expect({ alert, fires: mine.some((c) => c.exp_alerts.length > 0), quiet: mine.some((c) => c.exp_alerts.length === 0) }).toEqual({ alert, fires: true, quiet: true });
    }
    const result = await promtoolRun(['test', 'rules', 'tributary-alerts.test.yaml']);
    expect(result.output).toContain('SUCCESS');
    expect(result.code).toBe(0);
  });
});
