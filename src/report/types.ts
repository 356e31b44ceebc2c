/**
 * What outputs receive: RunInfo at t0, one MergedPeriod per second, the RunSummary at the end.
 * RunSummary is also summary.json verbatim, so its field names are a public contract (README).
 */
import type { MergedPeriod } from "../metrics/aggregator.js";
import type { LatencyStats } from "../metrics/histogram.js";
import type { ThresholdResult } from "../metrics/thresholds.js";

export type { MergedPeriod } from "../metrics/aggregator.js";
export type { ThresholdResult } from "../metrics/thresholds.js";

/** One destination of results. `period` is synchronous; file writes are queued and awaited by stop. */
export interface Output {
  start(info: RunInfo): void;
  period(p: MergedPeriod): void;
  /** Writes the final results; resolves when they are on disk. Works without start or periods. */
  stop(summary: RunSummary): Promise<void>;
}

/** Facts known once the start barrier is passed. */
export interface RunInfo {
  /** Wall time of t0 (period 0 starts here), ms since the epoch. */
  t0Ms: number;
  /** Client workers started. */
  workers: number;
  /** The SIP target actually used (e.g. the embedded server's ephemeral port). */
  target: { host: string; port: number };
}

/** Latency statistics in ms (µs resolution), count in samples. */
export type LatencySummary = LatencyStats;

export type RunStatus = "passed" | "failed" | "interrupted";

export interface StatusReason {
  kind: "interrupted" | "error" | "worker-crash" | "threshold";
  message: string;
}

export interface FailureBreakdown {
  total: number;
  /** Cause ("status.503", "timeout", "transport", "unspecified") → count. */
  byCause: Record<string, number>;
}

export interface WorkerGeneratorHealth {
  workerId: number;
  /** Highest per-period event-loop lag p99 (µs). */
  maxLagP99Us: number;
  /** Highest single event-loop lag (µs). */
  maxLagUs: number;
  periods: number;
  /** Periods whose lag p99 exceeded the bound. */
  periodsOverBound: number;
  saturated: boolean;
}

export interface RunSummary {
  runId: string;
  scenario: string;
  scenarioFile: string;
  toolVersion: string;
  status: RunStatus;
  /** Why the run failed or was interrupted (empty when passed). */
  reasons: StatusReason[];
  /** ISO 8601; t0 (or the end time when the run never started). */
  startedAt: string;
  endedAt: string;
  /** t0 → end, seconds (0 when the run never started). */
  durationS: number;
  target: { kind: "embedded" | "external"; host: string; port: number };
  transport: string;
  connection: string;
  /**
   * Latency metric (incl. "<name>.service") → statistics in ms, over the measured part of the run
   * (after the warm-up, when there is one).
   */
  latencies: Record<string, LatencySummary>;
  /** Only with a warm-up: its length and the whole-run latencies, warm-up included. */
  warmup?: { seconds: number; wholeRunLatencies: Record<string, LatencySummary> };
  /** Counter → run total. */
  counters: Record<string, number>;
  /** Gauge → peak of the per-second merged value. */
  gauges: Record<string, number>;
  /** Counter → total per second over durationS (e.g. "register.successes" = registrations/s). */
  rates: Record<string, number>;
  /** Family ("register") → failures by cause, from the "<family>.failures.<cause>" counters. */
  failures: Record<string, FailureBreakdown>;
  thresholds: ThresholdResult[];
  workers: { count: number; crashed: Array<{ workerId: number; message: string }> };
  /** True when a worker's event loop lagged beyond the bound: the figures measure the generator. */
  saturated: boolean;
  generator: { lagBoundUs: number; workers: WorkerGeneratorHealth[] };
  /** Seconds (periods) merged. */
  periods: number;
}
