package tributary.bench.flink;

/**
 * One row of the raw table, every column Tributary lands (the order's fields, then the Capture metadata), as a
 * Flink POJO so rows cross operators with Flink's own PojoSerializer rather than Kryo.
 */
public class OrderRow {
  public String orderId;
  public String customerId;
  /** the order's lines as JSON text, as Tributary writes arrays */
  public String lines;
  public double totalAmount;
  public String currency;
  public String channel;
  public String shippingCountry;
  /** event time, epoch ms */
  public long createdAt;
  public String couponCode;
  public String partition;
  public long position;
  public String offset;
  public long enqueuedTime;
  public String partitionKey;
  public String traceparent;

  public OrderRow() {}
}
