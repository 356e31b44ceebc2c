/**
 * Pass/fail criteria evaluated on the run totals (k6-style: a failed threshold makes the run exit
 * with 99). Latency statistics compare in ms; "count" is a counter total (or a latency's sample
 * count); "rate" is a counter divided by its family's ".attempts" counter.
 */
import type { ThresholdPlan } from "../scenario/plan.js";
import type { MergedTotals } from "./aggregator.js";
import { latencyStats, usToMs, type LatencyStats } from "./histogram.js";
import { Counter, Latency, serviceTimeName } from "./names.js";

export interface ThresholdResult {
  expression: string;
  metric: string;
  stat: string;
  op: ThresholdPlan["op"];
  /** The bound from the scenario (ms for latency statistics). */
  value: number;
  /** The measured figure; null when it could not be computed (see message). */
  actual: number | null;
  ok: boolean;
  /** Why `actual` is null (unknown metric or statistic, no samples). */
  message?: string;
}

/** Latency statistics a threshold may name → field of LatencyStats. "p99.9" is accepted for p999. */
const LATENCY_STATS: Record<string, keyof LatencyStats> = {
  min: "min",
  mean: "mean",
  avg: "mean",
  med: "p50",
  p50: "p50",
  p90: "p90",
  p95: "p95",
  p99: "p99",
  p999: "p999",
  "p99.9": "p999",
  max: "max",
};

const KNOWN_LATENCIES: ReadonlySet<string> = new Set(
  Object.values(Latency).flatMap((name) => [name, serviceTimeName(name)]),
);
const KNOWN_COUNTERS: readonly string[] = Object.values(Counter);

type Totals = Pick<MergedTotals, "histograms" | "counters"> & Partial<Pick<MergedTotals, "warmupPeriods" | "wholeRunHistograms">>;

export function evaluateThresholds(thresholds: readonly ThresholdPlan[], totals: Totals): ThresholdResult[] {
  return thresholds.map((t) => evaluateOne(t, totals));
}

function evaluateOne(t: ThresholdPlan, totals: Totals): ThresholdResult {
  const base = { expression: t.expression, metric: t.metric, stat: t.stat, op: t.op, value: t.value };
  const measured = measure(t.metric, t.stat, totals);
  if (typeof measured === "string") return { ...base, actual: null, ok: false, message: measured };
  return { ...base, actual: measured, ok: compare(measured, t.op, t.value) };
}

/** The figure a threshold compares, or a sentence saying why there is none. */
function measure(metric: string, stat: string, totals: Totals): number | string {
  const isLatency = metric in totals.histograms || metric in (totals.wholeRunHistograms ?? {}) || KNOWN_LATENCIES.has(metric);
  const isCounter = !isLatency && isCounterName(metric, totals.counters);
  if (!isLatency && !isCounter) {
    return `unknown metric "${metric}": it is neither a latency nor a counter of this run (see the README's metric list).`;
  }
  if (stat === "count") return isLatency ? (totals.histograms[metric]?.totalCount ?? 0) : counterSum(metric, totals.counters);
  if (stat === "rate") {
    if (isLatency) return `"rate" applies to counters, not to the latency "${metric}": use a counter such as "${metric}.failures".`;
    const attempts = attemptsCounterFor(metric, totals.counters);
    if (!attempts) return `no ".attempts" counter matches "${metric}", so its rate cannot be computed.`;
    const denominator = totals.counters[attempts] ?? 0;
    // No attempts means nothing of the kind happened: a rate of 0, not a division by zero.
    return denominator === 0 ? 0 : counterSum(metric, totals.counters) / denominator;
  }
  const field = LATENCY_STATS[stat];
  if (!field) {
    return `unknown statistic "${stat}" for "${metric}": use one of ${Object.keys(LATENCY_STATS).join(", ")}, count or rate.`;
  }
  if (!isLatency) return `"${stat}" applies to latencies, not to the counter "${metric}": use count or rate.`;
  const h = totals.histograms[metric];
  if (!h || h.totalCount === 0) {
    const inWarmup = totals.wholeRunHistograms?.[metric]?.totalCount ?? 0;
    if (inWarmup > 0) {
      return `all ${inWarmup} samples of "${metric}" fell in the ${totals.warmupPeriods ?? 0} s warm-up, so its ${stat} after it is undefined: shorten the warm-up or keep "${metric}" going after it.`;
    }
    return `no samples of "${metric}" were recorded, so its ${stat} is undefined.`;
  }
  return usToMs(latencyStats(h)[field]);
}

/** A counter family: the counter itself plus its breakdown ("register.failures.status.503" …). */
function counterSum(metric: string, counters: Record<string, number>): number {
  let sum = 0;
  const prefix = `${metric}.`;
  for (const [name, v] of Object.entries(counters)) if (name === metric || name.startsWith(prefix)) sum += v;
  return sum;
}

function isCounterName(metric: string, counters: Record<string, number>): boolean {
  if (KNOWN_COUNTERS.some((c) => metric === c || metric.startsWith(`${c}.`))) return true;
  const prefix = `${metric}.`;
  return Object.keys(counters).some((name) => name === metric || name.startsWith(prefix));
}

/** "register.failures.timeout" → "register.attempts": the nearest ancestor with attempts. */
function attemptsCounterFor(metric: string, counters: Record<string, number>): string | null {
  const parts = metric.split(".");
  for (let i = parts.length - 1; i >= 1; i--) {
    const candidate = `${parts.slice(0, i).join(".")}.attempts`;
    if (candidate in counters || KNOWN_COUNTERS.includes(candidate)) return candidate;
  }
  return null;
}

function compare(actual: number, op: ThresholdPlan["op"], bound: number): boolean {
  switch (op) {
    case "<":
      return actual < bound;
    case "<=":
      return actual <= bound;
    case ">":
      return actual > bound;
    case ">=":
      return actual >= bound;
    case "==":
      return actual === bound;
  }
}
