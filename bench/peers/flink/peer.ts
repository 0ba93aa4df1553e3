/**
 * The Apache Flink 1.20 peer seen from Node: build the Maven project beside this file, run its job on a Capture
 * archive in a JVM of its own, and check with DuckDB that it wrote the same raw rows and the same tumbling
 * aggregate as Tributary, so the bench compares the same work.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

/** What FlinkPeer prints (one JSON line): counts from its accumulators, CPU of the whole JVM, wall times, VmHWM. */
export interface FlinkRun {
  events: number;
  rows: number;
  decode: number;
  schema: number;
  duplicate: number;
  late: number;
  partitions: number;
  parallelism: number;
  /** user + system CPU of every thread of the JVM, from its start to the job's end (MiniCluster stopped) */
  cpuUs: number;
  /** ... of which before main() ran (JVM start-up) */
  cpuAtMainUs: number;
  /** ... of which before the job was submitted (JVM start-up and building the job graph) */
  cpuBeforeJobUs: number;
  /** wall time of env.execute: MiniCluster start, the job, MiniCluster stop */
  jobSeconds: number;
  /** wall time since the JVM started */
  seconds: number;
  peakRssMiB: number;
}

export type FlinkBuild = { ok: true; classpath: string } | { ok: false; reason: string };

/** The event-time settings of the stream (the config's processing section) that decide which rows land. */
export interface FlinkJobOptions {
  eventId: string;
  eventTime: string;
  allowedOutOfOrdernessMs: number;
  allowedLatenessMs: number;
  dedupRetentionMs: number;
  eventTimeRange: { minMs: number; maxMs: number };
  windowMs: number;
  parallelism: number;
  /** the JVM's -Xmx */
  heap: string;
}

const MAIN_CLASS = 'tributary.bench.flink.FlinkPeer';

function lastLines(text: string, n = 15): string {
  return text.trim().split('\n').slice(-n).join('\n');
}

/** `java` and `mvn` on the PATH, or why not. */
function missingTools(): string | undefined {
  const missing = ['java', 'mvn'].filter((tool) => spawnSync(tool, [tool === 'java' ? '-version' : '-v'], { stdio: 'ignore' }).status !== 0);
  return missing.length > 0 ? `${missing.join(' and ')} not found on the PATH (the Flink peer needs a JDK 17 and Maven)` : undefined;
}

/**
 * Compiles the peer (`mvn -q -o package`, from the local Maven cache; online when the cache lacks something,
 * as on a machine's first run) and returns its class path, or why it cannot run.
 */
export function buildFlinkPeer(project: string): FlinkBuild {
  const missing = missingTools();
  if (missing) return { ok: false, reason: missing };
  const attempts = [['-q', '-o', '-B', 'package'], ['-q', '-B', 'package']];
  let output = '';
  for (const args of attempts) {
    const result = spawnSync('mvn', args, { cwd: project, encoding: 'utf8', maxBuffer: 1 << 26 });
    if (result.status === 0) {
      const classpath = readFileSync(path.join(project, 'target', 'classpath.txt'), 'utf8').trim();
      return { ok: true, classpath: `${path.join(project, 'target', 'classes')}${path.delimiter}${classpath}` };
    }
    output = `${result.stdout}${result.stderr}`;
  }
  return { ok: false, reason: `mvn package failed in ${project}:\n${lastLines(output)}` };
}

/** Runs the job on `captureDir` (the hub's folder: <partition>/<yyyy>/...) and writes `outDir`/{orders,orders_by_channel_1m}. */
export function runFlinkPeer(classpath: string, captureDir: string, outDir: string, schemaFile: string, options: FlinkJobOptions): FlinkRun {
  if (!existsSync(captureDir)) throw new Error(`Flink peer: no Capture archive at ${captureDir}`);
  const args = [
    `-Xmx${options.heap}`,
    '-cp',
    classpath,
    MAIN_CLASS,
    captureDir,
    outDir,
    schemaFile,
    `--parallelism=${options.parallelism}`,
    `--event-id=${options.eventId}`,
    `--event-time=${options.eventTime}`,
    `--allowed-out-of-orderness-ms=${options.allowedOutOfOrdernessMs}`,
    `--allowed-lateness-ms=${options.allowedLatenessMs}`,
    `--dedup-retention-ms=${options.dedupRetentionMs}`,
    `--min-event-time-ms=${options.eventTimeRange.minMs}`,
    `--max-event-time-ms=${options.eventTimeRange.maxMs}`,
    `--window-ms=${options.windowMs}`,
  ];
  const result = spawnSync('java', args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (result.status !== 0) throw new Error(`Flink peer failed (exit ${result.status ?? result.signal}):\n${lastLines(result.stderr || result.stdout)}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as FlinkRun;
}

export interface LakeComparison {
  tributaryRows: number;
  flinkRows: number;
  /** raw rows of either side with no equal row (all 15 columns) on the other, counted with multiplicity */
  rowsOnlyInOne: number;
  /** (window, channel, currency) rows: Tributary's per-partition rows summed over partitions */
  tributaryWindows: number;
  flinkWindows: number;
  /** windows and groups missing on one side, or whose count differs or whose sum differs by more than rounding */
  windowsDiffering: number;
  same: boolean;
}

const RAW_COLUMNS = [
  'orderId', 'customerId', 'lines::varchar', 'totalAmount', 'currency', 'channel', 'shippingCountry', 'createdAt', 'couponCode',
  '_partition', '_position', '_offset', '_enqueued_time', '_partition_key', '_traceparent',
].join(', ');

const quote = (file: string) => `'${file.replaceAll("'", "''")}'`;

/**
 * Reads Tributary's lake (`<lake>/orders_raw`, `<lake>/orders_by_channel_1m`) and the Flink peer's output with
 * DuckDB and compares them: every raw row, and the aggregate per window and group (sums compared to a relative
 * 1e-9, since the two add the same doubles in different orders).
 */
export async function compareWithTributary(tributaryLake: string, flinkOut: string): Promise<LakeComparison> {
  const tributaryRaw = `read_parquet(${quote(path.join(tributaryLake, 'orders_raw', '**', '*.parquet'))})`;
  const flinkRaw = `read_parquet(${quote(path.join(flinkOut, 'orders', '*.parquet'))})`;
  const tributaryAgg = `read_parquet(${quote(path.join(tributaryLake, 'orders_by_channel_1m', '**', '*.parquet'))})`;
  const flinkAgg = `read_parquet(${quote(path.join(flinkOut, 'orders_by_channel_1m', '*.parquet'))})`;
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  try {
    const connection = await instance.connect();
    try {
      const one = async (sql: string): Promise<number> => Number((await connection.runAndReadAll(sql)).getRows()[0]![0]);
      const tributaryRows = await one(`select count(*) from ${tributaryRaw}`);
      const flinkRows = await one(`select count(*) from ${flinkRaw}`);
      const rowsOnlyInOne =
        (await one(`select count(*) from (select ${RAW_COLUMNS} from ${tributaryRaw} except all select ${RAW_COLUMNS} from ${flinkRaw})`)) +
        (await one(`select count(*) from (select ${RAW_COLUMNS} from ${flinkRaw} except all select ${RAW_COLUMNS} from ${tributaryRaw})`));
      const tributaryWindows = `(select window_start, window_end, channel, currency, sum(count) as count, sum(sum_totalAmount) as total from ${tributaryAgg} group by all)`;
      const flinkWindows = `(select window_start, window_end, channel, currency, count, sum_totalAmount as total from ${flinkAgg})`;
      const windowsDiffering = await one(
        `select count(*) from ${tributaryWindows} t full outer join ${flinkWindows} f using (window_start, window_end, channel, currency)
         where t.count is distinct from f.count or f.total is null or t.total is null or abs(t.total - f.total) > 1e-9 * greatest(1, abs(t.total))`,
      );
      const result = {
        tributaryRows,
        flinkRows,
        rowsOnlyInOne,
        tributaryWindows: await one(`select count(*) from ${tributaryWindows}`),
        flinkWindows: await one(`select count(*) from ${flinkWindows}`),
        windowsDiffering,
      };
      return { ...result, same: tributaryRows === flinkRows && rowsOnlyInOne === 0 && windowsDiffering === 0 && result.tributaryWindows === result.flinkWindows };
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

/** The peer's Maven project folder, given the repository root. */
export const flinkProject = (root: string): string => path.join(root, 'bench', 'peers', 'flink');

export interface FlinkPeerMeasurement {
  /** the row of the bench's peer table */
  rows: string[];
  /** sentences under the table: what was compared, and the start-up */
  notes: string[];
}

const us = (n: number) => n.toFixed(2);
const ROW_LABEL = 'Apache Flink 1.20 (local MiniCluster, parallelism 2, BATCH mode): Capture -> body decode -> the same event-time gate -> raw Parquet (snappy) + the same tumbling aggregate';

/**
 * Builds and runs the peer twice, on the bench's archive and on a 10k-event archive (to subtract the JVM's and the
 * MiniCluster's start-up, as the issue does for Tributary), and compares its output with Tributary's lake.
 * Without Java or Maven, or when the build fails, the row says why the peer did not run.
 */
export async function measureFlinkPeer(input: {
  root: string;
  /** the hub folders (<partition>/...) of the bench archive and of the 10k-event archive */
  captureDir: string;
  smallCaptureDir: string;
  outDir: string;
  schemaFile: string;
  /** a lake Tributary wrote from `captureDir` with the same config */
  tributaryLake: string;
  options: FlinkJobOptions;
}): Promise<FlinkPeerMeasurement> {
  const build = buildFlinkPeer(flinkProject(input.root));
  if (!build.ok) return { rows: [`| ${ROW_LABEL} | not run: ${build.reason.split('\n')[0]} | — | — |`], notes: [] };
  const small = runFlinkPeer(build.classpath, input.smallCaptureDir, path.join(input.outDir, 'flink-10k'), input.schemaFile, input.options);
  const full = runFlinkPeer(build.classpath, input.captureDir, path.join(input.outDir, 'flink'), input.schemaFile, input.options);
  const marginal = (full.cpuUs - small.cpuUs) / (full.events - small.events);
  const startupCpuS = (small.cpuUs - marginal * small.events) / 1e6;
  const same = await compareWithTributary(input.tributaryLake, path.join(input.outDir, 'flink'));
  const heap = `-Xmx${input.options.heap}`;
  return {
    rows: [
      `| ${ROW_LABEL}, ${heap}; start-up subtracted (a ${small.events.toLocaleString('en-US')}-event run) | ${us(marginal)} | ${full.seconds.toFixed(1)} | ${full.peakRssMiB.toFixed(0)} |`,
      `| (the same Flink run, whole JVM process including start-up) | ${us(full.cpuUs / full.events)} | — | — |`,
    ],
    notes: [
      `Flink: ${full.events.toLocaleString('en-US')} events read, ${full.rows.toLocaleString('en-US')} rows kept (decode ${full.decode}, schema ${full.schema}, duplicate ${full.duplicate}, late ${full.late}); ` +
        `JVM + MiniCluster start-up ~${startupCpuS.toFixed(1)} s of CPU, job ${full.jobSeconds.toFixed(1)} s wall. ` +
        (same.same
          ? `Same output as Tributary (read back with DuckDB): ${same.flinkRows.toLocaleString('en-US')} raw rows equal in all 15 columns, ${same.flinkWindows.toLocaleString('en-US')} (window, channel, currency) aggregate rows equal (Tributary's per-partition rows summed).`
          : `**Output differs from Tributary's**: raw rows ${same.tributaryRows} vs ${same.flinkRows} (${same.rowsOnlyInOne} without an equal row on the other side), aggregate rows ${same.tributaryWindows} vs ${same.flinkWindows} (${same.windowsDiffering} differ).`),
    ],
  };
}
