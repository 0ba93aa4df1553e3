package tributary.bench.flink;

import java.io.Serializable;

/** The processing settings of the bench's config that decide which rows land (Tributary's defaults unless given). */
final class JobOptions implements Serializable {
  private static final long serialVersionUID = 1L;

  long outOfOrdernessMs = 30_000;
  long latenessMs = 0;
  long dedupRetentionMs = 3_600_000;
  long minEventTimeMs = 0;
  long maxEventTimeMs = 7_258_118_400_000L; // 2200-01-01
  long windowMs = 60_000;
}
