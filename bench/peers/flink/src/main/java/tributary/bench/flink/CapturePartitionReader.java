package tributary.bench.flink;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.avro.AvroRuntimeException;
import org.apache.avro.Schema;
import org.apache.avro.file.DataFileStream;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.flink.api.common.accumulators.LongCounter;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichFlatMapFunction;
import org.apache.flink.util.Collector;

/**
 * Reads one Capture partition (all its container files, in name order, which is time order) and emits the raw
 * rows Tributary would land: EventData envelope -> order body decoded with the reader schema -> event-time gate.
 *
 * Why a partition per call and not FileSource: the gate's verdicts (late, duplicate) depend on the order of the
 * partition's events, as in Tributary and any Event Hubs consumer; FileSource hands a partition's files to
 * different readers, which would interleave them. Partitions are spread over the parallel instances instead.
 */
final class CapturePartitionReader extends RichFlatMapFunction<String, OrderRow> {
  private static final long serialVersionUID = 1L;

  private final String captureDir;
  private final String readerSchema;
  private final String idField;
  private final String timeField;
  private final JobOptions options;

  private transient Schema schema;
  private transient GenericDatumReader<GenericRecord> bodyReader;
  private transient BinaryDecoder decoder;
  private transient GenericRecord reuse;
  /** the event id (config's eventId) of the row decode() returned last */
  private transient String lastId;
  private transient LongCounter events;
  private transient LongCounter decodeFailures;
  private transient LongCounter outOfRange;
  private transient LongCounter duplicates;
  private transient LongCounter late;

  CapturePartitionReader(String captureDir, String readerSchema, String idField, String timeField, JobOptions options) {
    this.captureDir = captureDir;
    this.readerSchema = readerSchema;
    this.idField = idField;
    this.timeField = timeField;
    this.options = options;
  }

  @Override
  public void open(OpenContext context) {
    schema = new Schema.Parser().parse(readerSchema);
    for (String field : List.of(idField, timeField)) {
      if (schema.getField(field) == null) throw new IllegalArgumentException("the reader schema has no field " + field);
    }
    bodyReader = new GenericDatumReader<>(schema);
    events = counter("events");
    decodeFailures = counter("decode");
    outOfRange = counter("schema");
    duplicates = counter("duplicate");
    late = counter("late");
  }

  private LongCounter counter(String name) {
    LongCounter counter = new LongCounter();
    getRuntimeContext().addAccumulator(name, counter);
    return counter;
  }

  @Override
  public void flatMap(String partition, Collector<OrderRow> out) throws IOException {
    EventTimeGate gate = new EventTimeGate(options.outOfOrdernessMs, options.latenessMs, options.dedupRetentionMs);
    List<Path> files;
    try (Stream<Path> walk = Files.walk(Path.of(captureDir, partition))) {
      files = walk.filter(p -> p.toString().endsWith(".avro") && Files.isRegularFile(p)).sorted().toList();
    }
    for (Path file : files) {
      if (Files.size(file) == 0) continue;
      try (InputStream in = Files.newInputStream(file);
           DataFileStream<GenericRecord> container = new DataFileStream<>(in, new GenericDatumReader<>())) {
        GenericRecord envelope = null;
        while (container.hasNext()) {
          envelope = container.next(envelope);
          events.add(1);
          OrderRow row = decode(envelope, partition, file);
          if (row == null) continue;
          if (row.createdAt < options.minEventTimeMs || row.createdAt > options.maxEventTimeMs) {
            outOfRange.add(1);
            continue;
          }
          switch (gate.admit(lastId, row.createdAt)) {
            case ACCEPT -> out.collect(row);
            case DUPLICATE -> duplicates.add(1);
            case LATE -> late.add(1);
          }
        }
      } catch (IOException | AvroRuntimeException e) {
        throw new IOException(file + ": unreadable Capture file: " + e.getMessage(), e);
      }
    }
  }

  /** The raw row of one EventData record, or null when its body does not decode (a dead letter in Tributary). */
  private OrderRow decode(GenericRecord envelope, String partition, Path file) {
    ByteBuffer body = (ByteBuffer) envelope.get("Body");
    GenericRecord order;
    try {
      if (body == null) throw new IOException("no body");
      decoder = DecoderFactory.get().binaryDecoder(body.array(), body.arrayOffset() + body.position(), body.remaining(), decoder);
      order = bodyReader.read(reuse, decoder);
      // Trailing bytes mean the body is not one order: Tributary's decoders refuse it too.
      if (!decoder.isEnd()) throw new IOException("trailing bytes");
    } catch (IOException | RuntimeException e) {
      decodeFailures.add(1);
      return null;
    }
    reuse = order;
    OrderRow row = new OrderRow();
    row.orderId = text(order.get("orderId"));
    row.customerId = text(order.get("customerId"));
    StringBuilder json = new StringBuilder(160);
    JsonText.append(json, order.get("lines"));
    row.lines = json.toString();
    row.totalAmount = (Double) order.get("totalAmount");
    row.currency = text(order.get("currency"));
    row.channel = text(order.get("channel"));
    row.shippingCountry = text(order.get("shippingCountry"));
    row.createdAt = (Long) order.get(timeField);
    row.couponCode = text(order.get("couponCode"));
    lastId = text(order.get(idField));
    row.partition = partition;
    row.position = (Long) envelope.get("SequenceNumber");
    row.offset = text(envelope.get("Offset"));
    row.enqueuedTime = enqueuedTime(text(envelope.get("EnqueuedTimeUtc")), file);
    row.partitionKey = property((Map<?, ?>) envelope.get("SystemProperties"), "x-opt-partition-key");
    row.traceparent = property((Map<?, ?>) envelope.get("Properties"), "traceparent");
    return row;
  }

  private static String text(Object value) {
    return value == null ? null : value.toString();
  }

  /** Capture property maps are keyed by Utf8 and hold long | double | string | bytes. */
  private static String property(Map<?, ?> properties, String name) {
    if (properties == null) return null;
    for (Map.Entry<?, ?> entry : properties.entrySet()) {
      if (!entry.getKey().toString().equals(name)) continue;
      Object value = entry.getValue();
      if (value instanceof ByteBuffer bytes) return new String(bytes.array(), bytes.arrayOffset() + bytes.position(), bytes.remaining(), java.nio.charset.StandardCharsets.UTF_8);
      return text(value);
    }
    return null;
  }

  /** Tributary's generator writes ISO 8601 (newer Capture files do too). */
  private static long enqueuedTime(String text, Path file) {
    try {
      return Instant.parse(text).toEpochMilli();
    } catch (DateTimeParseException | NullPointerException e) {
      throw new UncheckedIOException(new IOException(file + ": EnqueuedTimeUtc " + text + " is not an ISO 8601 time"));
    }
  }
}
