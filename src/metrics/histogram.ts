/**
 * HDR histogram settings, codec and statistics: the one place that knows how latency histograms
 * are built, encoded for the thread hop, decoded and read. Values are microseconds.
 */
import {
  build,
  decodeFromCompressedBase64,
  encodeIntoCompressedBase64,
  initWebAssemblySync,
  type Histogram,
} from "hdr-histogram-js";

export type { Histogram } from "hdr-histogram-js";

/** 1 µs … 1 h before auto-resize kicks in; 3 significant digits (0.1 % value error). */
export const HISTOGRAM_LOWEST_US = 1;
export const HISTOGRAM_HIGHEST_US = 3_600_000_000;
export const HISTOGRAM_DIGITS = 3;

let wasmState: "untried" | "ready" | "failed" = "untried";

/**
 * Loads the WebAssembly histogram backend once per thread (recording is ~5x faster than the JS
 * backend). Synchronous compile is allowed in Node for modules of any size. Returns false when
 * WebAssembly is unavailable, in which case callers fall back to JS histograms.
 */
export function ensureWasmHistograms(): boolean {
  if (wasmState === "untried") {
    try {
      initWebAssemblySync();
      wasmState = "ready";
    } catch {
      wasmState = "failed";
    }
  }
  return wasmState === "ready";
}

/**
 * A new empty histogram. WASM histograms live outside the JS heap and must be `destroy()`ed;
 * JS ones (the default) are garbage collected, which is why everything that hands histograms to
 * other modules (aggregator, outputs) uses JS.
 */
export function createHistogram(opts: { wasm?: boolean } = {}): Histogram {
  const useWebAssembly = opts.wasm === true && ensureWasmHistograms();
  return build({
    lowestDiscernibleValue: HISTOGRAM_LOWEST_US,
    highestTrackableValue: HISTOGRAM_HIGHEST_US,
    numberOfSignificantValueDigits: HISTOGRAM_DIGITS,
    autoResize: true,
    bitBucketSize: 32,
    useWebAssembly,
  });
}

export function encodeHistogram(h: Histogram): string {
  return encodeIntoCompressedBase64(h);
}

/** Decodes into a JS histogram. Throws on malformed input (callers own the error policy). */
export function decodeHistogram(base64: string): Histogram {
  return decodeFromCompressedBase64(base64, 32, false);
}

/** The statistics every output shows, in the histogram's unit (µs). */
export interface LatencyStats {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

/**
 * Percentiles follow HdrHistogram semantics: the highest value equivalent to the sample at that
 * rank (so max is the top of the max sample's bucket), min the lowest equivalent value.
 */
export function latencyStats(h: Histogram): LatencyStats {
  if (h.totalCount === 0) return { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, p999: 0, max: 0 };
  return {
    count: h.totalCount,
    min: h.getValueAtPercentile(0),
    mean: h.mean,
    p50: h.getValueAtPercentile(50),
    p90: h.getValueAtPercentile(90),
    p95: h.getValueAtPercentile(95),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
    max: h.getValueAtPercentile(100),
  };
}

/** µs → ms, rounded to the µs (the recording resolution) so reports do not show float noise. */
export const usToMs = (us: number): number => Math.round(us) / 1000;

export function latencyStatsMs(h: Histogram): LatencyStats {
  const s = latencyStats(h);
  return {
    count: s.count,
    min: usToMs(s.min),
    mean: usToMs(s.mean),
    p50: usToMs(s.p50),
    p90: usToMs(s.p90),
    p95: usToMs(s.p95),
    p99: usToMs(s.p99),
    p999: usToMs(s.p999),
    max: usToMs(s.max),
  };
}
