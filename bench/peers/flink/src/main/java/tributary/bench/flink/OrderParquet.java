package tributary.bench.flink;

import java.util.HashMap;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.hadoop.api.WriteSupport;
import org.apache.parquet.io.api.Binary;
import org.apache.parquet.io.api.RecordConsumer;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;

/** The raw table as Parquet, with Tributary's column names and types (timestamps INT64 millis UTC, arrays JSON). */
final class OrderParquet extends ParquetBulkWriter<OrderRow> {
  private static final long serialVersionUID = 1L;

  static final MessageType SCHEMA = MessageTypeParser.parseMessageType("""
      message orders {
        required binary orderId (STRING);
        required binary customerId (STRING);
        required binary lines (JSON);
        required double totalAmount;
        required binary currency (STRING);
        required binary channel (STRING);
        required binary shippingCountry (STRING);
        required int64 createdAt (TIMESTAMP(MILLIS,true));
        optional binary couponCode (STRING);
        required binary _partition (STRING);
        required int64 _position;
        required binary _offset (STRING);
        required int64 _enqueued_time (TIMESTAMP(MILLIS,true));
        optional binary _partition_key (STRING);
        optional binary _traceparent (STRING);
      }""");

  @Override
  protected List<String> uniqueColumns() {
    return List.of("orderId", "lines", "createdAt", "_position", "_offset", "_enqueued_time", "_traceparent");
  }

  @Override
  protected WriteSupport<OrderRow> writeSupport() {
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
      public void write(OrderRow row) {
        out.startMessage();
        string(0, "orderId", row.orderId);
        string(1, "customerId", row.customerId);
        string(2, "lines", row.lines);
        out.startField("totalAmount", 3);
        out.addDouble(row.totalAmount);
        out.endField("totalAmount", 3);
        string(4, "currency", row.currency);
        string(5, "channel", row.channel);
        string(6, "shippingCountry", row.shippingCountry);
        int64(7, "createdAt", row.createdAt);
        string(8, "couponCode", row.couponCode);
        string(9, "_partition", row.partition);
        int64(10, "_position", row.position);
        string(11, "_offset", row.offset);
        int64(12, "_enqueued_time", row.enqueuedTime);
        string(13, "_partition_key", row.partitionKey);
        string(14, "_traceparent", row.traceparent);
        out.endMessage();
      }

      private void string(int index, String name, String value) {
        if (value == null) return; // an optional column's null is an absent field
        out.startField(name, index);
        out.addBinary(Binary.fromString(value));
        out.endField(name, index);
      }

      private void int64(int index, String name, long value) {
        out.startField(name, index);
        out.addLong(value);
        out.endField(name, index);
      }
    };
  }
}
