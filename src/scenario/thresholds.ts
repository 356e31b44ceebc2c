/**
 * Threshold expressions of the scenario language: `<stat> <op> <value>` per metric, e.g.
 * `register: ["p99 < 200ms"]`, `register.failures: ["rate == 0", "count < 5"]`.
 * Latency stats (p50, p90, p95, p99, p999 or p99.9, min, max, mean or avg, med) apply to latency
 * metrics and take a duration (a bare number is milliseconds); `count` takes a whole number (a
 * counter's total, or a latency's number of samples); `rate` (a fraction 0–1 or a percentage,
 * "1%") is a counter divided by the `.attempts` counter of its family (register.failures /
 * register.attempts). The compiled ThresholdPlan holds latencies in ms.
 */
import { Counter, Latency, serviceTimeName } from "../metrics/names.js";
import { didYouMean } from "./did-you-mean.js";
import type { ThresholdPlan } from "./plan.js";

// The statistics metrics/thresholds.ts evaluates ("count" of a latency is its number of samples).
const LATENCY_STATS = ["p50", "p90", "p95", "p99", "p999", "p99.9", "min", "max", "mean", "avg", "med", "count"] as const;
const COUNTER_STATS = ["count", "rate"] as const;
const OPERATORS = ["<=", ">=", "==", "<", ">"] as const;
const LATENCY_UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000 };

/** The causes failure counters carry (SIP or MSRP status, or a named reason). */
const FAILURE_CAUSE =
  /^(status\.[1-6]\d\d|msrp_status\.\d{3}|timeout|transport|no_peer|no_session|msrp|msrp_connect_timeout|msrp_connect_failed|connection_lost|session_closed|not_bound|source_error)$/;

const latencyNames = (): string[] => Object.values(Latency).flatMap((name) => [name, serviceTimeName(name)]);
const counterNames = (): string[] => Object.values(Counter);

export type MetricKind = "latency" | "counter";

/** Which kind of metric a threshold names, or null when no such metric exists. */
export function metricKind(metric: string): MetricKind | null {
  if (latencyNames().includes(metric)) return "latency";
  if (counterNames().includes(metric)) return "counter";
  // Failure counters carry a cause: register.failures.status.408, session.failures.timeout,
  // msrp_send.failures.status.413, session.failures.msrp_status.481, … (metrics/names.ts lists them).
  for (const base of counterNames().filter((name) => name.endsWith(".failures"))) {
    const rest = metric.startsWith(`${base}.`) ? metric.slice(base.length + 1) : null;
    if (rest !== null && FAILURE_CAUSE.test(rest)) return "counter";
  }
  return null;
}

/** A sentence fragment saying why the metric name is unknown, with a suggestion. */
export function unknownMetricMessage(metric: string): string {
  return `threshold metric '${metric}' does not exist${didYouMean(metric, [...latencyNames(), ...counterNames()])} (latency metrics: ${Object.values(Latency).join(", ")}; counters such as ${Counter.registerFailures})`;
}

export type ThresholdParse = { ok: true; threshold: ThresholdPlan } | { ok: false; message: string };

export function parseThreshold(metric: string, expression: string, kind: MetricKind): ThresholdParse {
  const match = /^\s*([a-z][a-z0-9.]*)\s*(<=|>=|==|<|>)\s*(\S+)\s*$/i.exec(expression);
  const example = kind === "latency" ? `"p99 < 200ms"` : `"rate < 0.01" or "count == 0"`;
  if (!match) {
    return {
      ok: false,
      message: `threshold '${expression}' for ${metric} is not an expression: write <stat> <op> <value> with op one of ${OPERATORS.join(" ")}, e.g. ${example}`,
    };
  }
  const stat = match[1]!.toLowerCase();
  const op = match[2] as ThresholdPlan["op"];
  const rawValue = match[3]!;
  const stats: readonly string[] = kind === "latency" ? LATENCY_STATS : COUNTER_STATS;
  if (!stats.includes(stat)) {
    const other: readonly string[] = kind === "latency" ? COUNTER_STATS : LATENCY_STATS;
    const why = other.includes(stat) ? `'${stat}' does not apply to a ${kind} metric` : `'${stat}' is not a statistic${didYouMean(stat, stats)}`;
    return { ok: false, message: `threshold '${expression}' for ${metric}: ${why} (${kind} statistics: ${stats.join(", ")}; e.g. ${example})` };
  }
  if (stat === "rate" && attemptsCounterFor(metric) === null) {
    return { ok: false, message: `threshold '${expression}' for ${metric}: 'rate' needs an '.attempts' counter in the same family, and ${metric} has none; use 'count' instead` };
  }
  const value = parseValue(stat, rawValue);
  if (value === null) {
    const expected =
      stat === "count"
        ? "a whole number, e.g. \"count == 0\""
        : stat === "rate"
          ? "a fraction from 0 to 1 or a percentage, e.g. \"rate < 0.01\" or \"rate < 1%\""
          : "a duration in us, ms or s (a bare number is ms), e.g. \"p99 < 200ms\"";
    return { ok: false, message: `threshold '${expression}' for ${metric} has the value '${rawValue}', which is not ${expected}` };
  }
  return { ok: true, threshold: { metric, stat, op, value, expression: expression.trim() } };
}

/** "register.failures.timeout" → "register.attempts" (what metrics/thresholds.ts divides by). */
function attemptsCounterFor(metric: string): string | null {
  const parts = metric.split(".");
  for (let i = parts.length - 1; i >= 1; i--) {
    const candidate = `${parts.slice(0, i).join(".")}.attempts`;
    if (counterNames().includes(candidate)) return candidate;
  }
  return null;
}

function parseValue(stat: string, raw: string): number | null {
  if (stat === "count") return /^\d+$/.test(raw) ? Number(raw) : null;
  if (stat === "rate") {
    const percent = /^(\d+(?:\.\d+)?)%$/.exec(raw);
    const value = percent ? Number(percent[1]) / 100 : /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : Number.NaN;
    return value >= 0 && value <= 1 ? value : null;
  }
  const latency = /^(\d+(?:\.\d+)?)(us|ms|s)?$/.exec(raw);
  return latency ? Number(latency[1]) * LATENCY_UNIT_MS[latency[2] ?? "ms"]! : null;
}
