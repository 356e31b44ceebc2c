/**
 * What clients and the execution engine see of metrics: they emit events through this sink and
 * never touch histograms or files. The per-worker recorder (recorder.ts) implements it.
 */
export interface MetricsSink {
  /**
   * Record one latency sample.
   * @param metric a name from names.ts (Latency.*)
   * @param latencyUs latency from the intended start (equals serviceUs when there was none)
   * @param serviceUs uncorrected service time: the request actually sent → its answer
   */
  latency(metric: string, latencyUs: number, serviceUs?: number): void;
  /** Add `by` (default 1) to a counter. */
  count(counter: string, by?: number): void;
  /** Set a gauge to its current value. */
  gauge(name: string, value: number): void;
}

/** A sink that drops everything (for tools and tests that do not measure). */
export const nullSink: MetricsSink = {
  latency() {},
  count() {},
  gauge() {},
};
