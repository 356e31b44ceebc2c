/**
 * Event-loop lag of the current thread, sampled once per period into the lag gauges. A worker
 * whose loop lags measures itself instead of the target; the summary flags such runs.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import { Gauge } from "./names.js";
import type { PeriodProbe } from "./recorder.js";

export interface EventLoopLagMonitorOptions {
  /**
   * Sampling timer interval in ms (default 10: ~100 samples per period, enough for a p99 while
   * costing nothing measurable).
   */
  resolutionMs?: number;
}

const NS_PER_US = 1000;

export class EventLoopLagMonitor implements PeriodProbe {
  private readonly resolutionMs: number;
  private histogram: IntervalHistogram | null = null;

  constructor(opts: EventLoopLagMonitorOptions = {}) {
    this.resolutionMs = Math.max(1, Math.round(opts.resolutionMs ?? 10));
  }

  start(): void {
    if (this.histogram) return;
    this.histogram = monitorEventLoopDelay({ resolution: this.resolutionMs });
    this.histogram.enable();
  }

  /** Safe to call twice. */
  stop(): void {
    this.histogram?.disable();
    this.histogram = null;
  }

  /**
   * Lag p99 and max (µs) since the previous sample, then starts a new interval. Node records the
   * whole timer interval, so the resolution itself is subtracted: an idle loop reads ~0, not 10 ms.
   */
  sample(): Record<string, number> {
    const h = this.histogram;
    if (!h || h.count === 0) return { [Gauge.eventLoopLagP99]: 0, [Gauge.eventLoopLagMax]: 0 };
    const resolutionNs = this.resolutionMs * 1_000_000;
    const lagUs = (ns: number) => Math.max(0, Math.round((ns - resolutionNs) / NS_PER_US));
    const values = { [Gauge.eventLoopLagP99]: lagUs(h.percentile(99)), [Gauge.eventLoopLagMax]: lagUs(h.max) };
    h.reset();
    return values;
  }
}
