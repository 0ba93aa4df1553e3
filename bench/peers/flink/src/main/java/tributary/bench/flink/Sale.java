package tributary.bench.flink;

/**
 * What the aggregate needs of a row: projected before the shuffle so that the window operator's sort moves four
 * fields instead of fifteen (Flink SQL's planner would prune the same columns).
 */
public class Sale {
  public String channel;
  public String currency;
  public long createdAt;
  public double totalAmount;

  public Sale() {}

  static Sale of(OrderRow row) {
    Sale sale = new Sale();
    sale.channel = row.channel;
    sale.currency = row.currency;
    sale.createdAt = row.createdAt;
    sale.totalAmount = row.totalAmount;
    return sale;
  }
}
