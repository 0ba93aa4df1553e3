package tributary.bench.flink;

/** One row of the 1-minute tumbling aggregate by channel and currency. */
public class WindowRow {
  public long windowStart;
  public long windowEnd;
  public String channel;
  public String currency;
  public long count;
  public double sum;
  public double mean;

  public WindowRow() {}
}
