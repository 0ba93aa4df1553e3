package tributary.bench.flink;

import java.util.HashMap;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.hadoop.api.WriteSupport;
import org.apache.parquet.io.api.Binary;
import org.apache.parquet.io.api.RecordConsumer;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;

/** The tumbling aggregate as Parquet, with the column names of Tributary's aggregate table (over all partitions). */
final class WindowParquet extends ParquetBulkWriter<WindowRow> {
  private static final long serialVersionUID = 1L;

  static final MessageType SCHEMA = MessageTypeParser.parseMessageType("""
      message orders_by_channel_1m {
        required int64 window_start (TIMESTAMP(MILLIS,true));
        required int64 window_end (TIMESTAMP(MILLIS,true));
        required binary channel (STRING);
        required binary currency (STRING);
        required int64 count;
        required double sum_totalAmount;
        required double mean_totalAmount;
      }""");

  @Override
  protected List<String> uniqueColumns() {
    return List.of();
  }

  @Override
  protected WriteSupport<WindowRow> writeSupport() {
    return new WriteSupport<>() {
      private RecordConsumer out;

      @Override
      public WriteContext init(Configuration configuration) {
        return new WriteContext(SCHEMA, new HashMap<>());
      }

      @Override
      public void prepareForWrite(RecordConsumer recordConsumer) {
        out = recordConsumer;
      }

      @Override
      public void write(WindowRow row) {
        out.startMessage();
        int64(0, "window_start", row.windowStart);
        int64(1, "window_end", row.windowEnd);
        out.startField("channel", 2);
        out.addBinary(Binary.fromString(row.channel));
        out.endField("channel", 2);
        out.startField("currency", 3);
        out.addBinary(Binary.fromString(row.currency));
        out.endField("currency", 3);
        int64(4, "count", row.count);
        out.startField("sum_totalAmount", 5);
        out.addDouble(row.sum);
        out.endField("sum_totalAmount", 5);
        out.startField("mean_totalAmount", 6);
        out.addDouble(row.mean);
        out.endField("mean_totalAmount", 6);
        out.endMessage();
      }

      private void int64(int index, String name, long value) {
        out.startField(name, index);
        out.addLong(value);
        out.endField(name, index);
      }
    };
  }
}
