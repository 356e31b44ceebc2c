/**
 * One worker's measurements for one 1-second period, as sent to the coordinator.
 * Histograms cross threads as `encodeIntoCompressedBase64` strings; merging them with `add()` is
 * exact. Period k covers [t0 + k s, t0 + (k+1) s).
 */
export interface PeriodSnapshot {
  workerId: number;
  period: number;
  /** metric name → HdrHistogram compressed base64 (µs values). Only metrics with samples appear. */
  histograms: Record<string, string>;
  /** counter name → increment during this period. */
  counters: Record<string, number>;
  /** gauge name → value at the end of this period. */
  gauges: Record<string, number>;
}
