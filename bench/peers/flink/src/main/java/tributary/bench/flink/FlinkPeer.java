package tributary.bench.flink;

import com.sun.management.OperatingSystemMXBean;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.AggregateFunction;
import org.apache.flink.configuration.BatchExecutionOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.JobManagerOptions;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.connector.file.sink.FileSink;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.filesystem.OutputFileConfig;
import org.apache.flink.streaming.api.functions.sink.filesystem.bucketassigners.BasePathBucketAssigner;
import org.apache.flink.streaming.api.functions.windowing.ProcessWindowFunction;
import org.apache.flink.streaming.api.windowing.assigners.TumblingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;
import org.apache.flink.util.Collector;

/**
 * Tributary's bench job on Apache Flink 1.20, in a local MiniCluster: read the Event Hubs Capture archive, decode
 * the order bodies with the reader schema, keep the rows Tributary keeps (same event-time gate), write them to
 * Parquet (Snappy) with FileSink, and write the 1-minute tumbling aggregate by channel and currency.
 *
 *   java -cp ... tributary.bench.flink.FlinkPeer <capture dir> <out dir> <schema.avsc> [--name=value ...]
 *   options: parallelism (2), event-id (orderId), event-time (createdAt), allowed-out-of-orderness-ms (30000),
 *            allowed-lateness-ms (0), dedup-retention-ms (3600000), window-ms (60000)
 * Prints one JSON line: counts, the process's CPU time (all threads, JVM included), wall times and peak RSS.
 *
 * The archive is bounded, so the job runs in BATCH mode: FileSink commits its part files at the end of input
 * without checkpoints, and the window operator sees every row the gate kept (in STREAMING mode Flink's own
 * watermark, one per parallel instance over interleaved partitions, would drop a different set of late rows).
 */
public final class FlinkPeer {
  private FlinkPeer() {}

  public static void main(String[] args) throws Exception {
    // Before anything logs: Flink's INFO lines would cost CPU and bury the one JSON line on stdout.
    System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", System.getProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn"));
    OperatingSystemMXBean os = (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    long cpuAtMainNs = os.getProcessCpuTime();
    long jvmStartMs = ManagementFactory.getRuntimeMXBean().getStartTime();
    if (args.length < 3) {
      System.err.println("usage: FlinkPeer <capture dir> <out dir> <schema.avsc> [--name=value ...]");
      System.exit(2);
    }
    Path captureDir = Path.of(args[0]);
    Path outDir = Path.of(args[1]);
    String readerSchema = Files.readString(Path.of(args[2]));
    int parallelism = 2;
    String idField = "orderId";
    String timeField = "createdAt";
    JobOptions options = new JobOptions();
    for (int i = 3; i < args.length; i++) {
      String[] option = args[i].replaceFirst("^--", "").split("=", 2);
      if (option.length != 2) throw new IllegalArgumentException("option " + args[i] + " is not --name=value");
      String value = option[1];
      switch (option[0]) {
        case "parallelism" -> parallelism = Integer.parseInt(value);
        case "event-id" -> idField = value;
        case "event-time" -> timeField = value;
        case "allowed-out-of-orderness-ms" -> options.outOfOrdernessMs = Long.parseLong(value);
        case "allowed-lateness-ms" -> options.latenessMs = Long.parseLong(value);
        case "dedup-retention-ms" -> options.dedupRetentionMs = Long.parseLong(value);
        case "min-event-time-ms" -> options.minEventTimeMs = Long.parseLong(value);
        case "max-event-time-ms" -> options.maxEventTimeMs = Long.parseLong(value);
        case "window-ms" -> options.windowMs = Long.parseLong(value);
        default -> throw new IllegalArgumentException("unknown option --" + option[0]);
      }
    }
    List<String> partitions = partitions(captureDir);
    deleteTree(outDir);

    Configuration configuration = new Configuration();
    // BATCH mode's adaptive scheduler would pick each operator's parallelism from the data volume; the bench
    // compares at a fixed number of threads (the machine's 2 cores).
    configuration.set(BatchExecutionOptions.ADAPTIVE_AUTO_PARALLELISM_ENABLED, false);
    // The MiniCluster's servers (BLOB, REST) listen on loopback only: nothing outside this process talks to them.
    configuration.set(JobManagerOptions.BIND_HOST, "127.0.0.1");
    configuration.set(TaskManagerOptions.BIND_HOST, "127.0.0.1");
    configuration.set(RestOptions.BIND_ADDRESS, "127.0.0.1");
    StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(parallelism, configuration);
    env.setRuntimeMode(RuntimeExecutionMode.BATCH);
    env.getConfig().enableObjectReuse();
    DataStream<OrderRow> rows = env.fromData(partitions)
        .rebalance()
        .flatMap(new CapturePartitionReader(captureDir.toString(), readerSchema, idField, timeField, options))
        .name("Capture partitions -> decode -> event-time gate");
    OutputFileConfig parquetFiles = OutputFileConfig.builder().withPartSuffix(".parquet").build();
    rows.sinkTo(FileSink.forBulkFormat(new org.apache.flink.core.fs.Path(outDir.resolve("orders").toUri()), new OrderParquet())
            .withBucketAssigner(new BasePathBucketAssigner<>())
            .withOutputFileConfig(parquetFiles)
            .build())
        .name("raw rows -> Parquet");
    rows.map(Sale::of)
        .name("project channel, currency, createdAt, totalAmount")
        .assignTimestampsAndWatermarks(WatermarkStrategy.<Sale>forBoundedOutOfOrderness(Duration.ofMillis(options.outOfOrdernessMs))
            .withTimestampAssigner((sale, previous) -> sale.createdAt))
        .keyBy(sale -> sale.channel + '\u0000' + sale.currency)
        .window(TumblingEventTimeWindows.of(Duration.ofMillis(options.windowMs)))
        .aggregate(new CountAndSum(), new WindowRows())
        .sinkTo(FileSink.forBulkFormat(new org.apache.flink.core.fs.Path(outDir.resolve("orders_by_channel_1m").toUri()), new WindowParquet())
            .withBucketAssigner(new BasePathBucketAssigner<>())
            .withOutputFileConfig(parquetFiles)
            .build())
        .name("tumbling aggregate -> Parquet");

    long jobStartNs = System.nanoTime();
    long cpuBeforeJobNs = os.getProcessCpuTime();
    JobExecutionResult result = env.execute("tributary bench: Flink peer");
    double jobSeconds = (System.nanoTime() - jobStartNs) / 1e9;
    long cpuNs = os.getProcessCpuTime();
    long events = result.<Long>getAccumulatorResult("events");
    long decode = result.<Long>getAccumulatorResult("decode");
    long schema = result.<Long>getAccumulatorResult("schema");
    long duplicate = result.<Long>getAccumulatorResult("duplicate");
    long late = result.<Long>getAccumulatorResult("late");
    System.out.println(String.format(Locale.ROOT,
        "{\"events\":%d,\"rows\":%d,\"decode\":%d,\"schema\":%d,\"duplicate\":%d,\"late\":%d,\"partitions\":%d,\"parallelism\":%d,"
            + "\"cpuUs\":%d,\"cpuAtMainUs\":%d,\"cpuBeforeJobUs\":%d,\"jobSeconds\":%.3f,\"seconds\":%.3f,\"peakRssMiB\":%.1f}",
        events, events - decode - schema - duplicate - late, decode, schema, duplicate, late, partitions.size(), parallelism,
        cpuNs / 1000, cpuAtMainNs / 1000, cpuBeforeJobNs / 1000, jobSeconds, (System.currentTimeMillis() - jvmStartMs) / 1000.0, peakRssMiB()));
  }

  /** The partition folders of the archive, in numeric order. */
  private static List<String> partitions(Path captureDir) throws IOException {
    List<String> partitions = new ArrayList<>();
    try (Stream<Path> children = Files.list(captureDir)) {
      children.filter(Files::isDirectory).map(p -> p.getFileName().toString()).forEach(partitions::add);
    }
    if (partitions.isEmpty()) throw new IOException(captureDir + " holds no partition folders (expected <capture dir>/<partition>/...)");
    partitions.sort(Comparator.comparing((String p) -> p.length()).thenComparing(p -> p));
    return partitions;
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) return;
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) Files.delete(p);
    }
  }

  /** VmHWM: the most resident memory the process has had. */
  private static double peakRssMiB() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
    }
    return -1;
  }

  /** count and sum of totalAmount per window and group; the mean is their quotient */
  public static final class Totals {
    public String channel;
    public String currency;
    public long count;
    public double sum;

    public Totals() {}
  }

  static final class CountAndSum implements AggregateFunction<Sale, Totals, Totals> {
    @Override
    public Totals createAccumulator() {
      return new Totals();
    }

    @Override
    public Totals add(Sale sale, Totals totals) {
      totals.channel = sale.channel;
      totals.currency = sale.currency;
      totals.count++;
      totals.sum += sale.totalAmount;
      return totals;
    }

    @Override
    public Totals getResult(Totals totals) {
      return totals;
    }

    @Override
    public Totals merge(Totals a, Totals b) {
      a.count += b.count;
      a.sum += b.sum;
      return a;
    }
  }

  static final class WindowRows extends ProcessWindowFunction<Totals, WindowRow, String, TimeWindow> {
    @Override
    public void process(String key, Context context, Iterable<Totals> totals, Collector<WindowRow> out) {
      for (Totals t : totals) {
        WindowRow row = new WindowRow();
        row.windowStart = context.window().getStart();
        row.windowEnd = context.window().getEnd();
        row.channel = t.channel;
        row.currency = t.currency;
        row.count = t.count;
        row.sum = t.sum;
        row.mean = t.sum / t.count;
        out.collect(row);
      }
    }
  }
}
