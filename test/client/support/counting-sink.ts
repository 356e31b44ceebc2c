import type { MetricsSink } from "../../../src/metrics/sink.js";

/** A MetricsSink that keeps what it was told, for assertions. */
export class CountingSink implements MetricsSink {
  readonly counters: Record<string, number> = {};
  readonly latencies: Array<{ metric: string; latencyUs: number; serviceUs: number | undefined }> = [];
  readonly gauges: Record<string, number> = {};

  latency(metric: string, latencyUs: number, serviceUs?: number): void {
    this.latencies.push({ metric, latencyUs, serviceUs });
  }

  count(counter: string, by = 1): void {
    this.counters[counter] = (this.counters[counter] ?? 0) + by;
  }

  gauge(name: string, value: number): void {
    this.gauges[name] = value;
  }

  get(counter: string): number {
    return this.counters[counter] ?? 0;
  }

  /** Sum of a counter family: `prefix` itself and every `prefix.<suffix>`. */
  family(prefix: string): number {
    return Object.entries(this.counters)
      .filter(([name]) => name === prefix || name.startsWith(`${prefix}.`))
      .reduce((sum, [, v]) => sum + v, 0);
  }
}
