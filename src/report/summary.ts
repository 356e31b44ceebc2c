/**
 * Builds the RunSummary (summary.json, console summary, exit code) from the merged totals.
 * Pure: every input is passed in, including the end time.
 */
import type { RunConfig } from "../config/run-config.js";
import { ExitCode } from "../errors.js";
import { type MergedTotals, PERIOD_MS } from "../metrics/aggregator.js";
import { latencyStatsMs } from "../metrics/histogram.js";
import { evaluateThresholds, type ThresholdResult } from "../metrics/thresholds.js";
import type {
  FailureBreakdown,
  RunInfo,
  RunStatus,
  RunSummary,
  StatusReason,
  WorkerGeneratorHealth,
} from "./types.js";

export interface BuildSummaryInput {
  config: RunConfig;
  /** null when the run never reached t0 (e.g. the target was unreachable). */
  info: RunInfo | null;
  totals: MergedTotals;
  /** Default: the plan's thresholds evaluated on `totals`. */
  thresholdResults?: ThresholdResult[];
  workersCrashed?: Array<{ workerId: number; message: string }>;
  interrupted?: boolean;
  /** A run-level failure (one sentence); makes the status "failed". */
  error?: string | null;
  endedAtMs: number;
  /** Event-loop lag p99 bound in µs (default config.saturationLagUs). */
  saturationLagUs?: number;
}

/**
 * A worker counts as saturated when its lag p99 exceeded the bound in more than this share of
 * its periods: one GC pause in a long run is noise, a lagging loop for 5 % of the run is not.
 */
export const SATURATED_PERIOD_SHARE = 0.05;

export function buildSummary(input: BuildSummaryInput): RunSummary {
  const { config, info, totals } = input;
  const thresholds = input.thresholdResults ?? evaluateThresholds(config.plan.thresholds, totals);
  const crashed = [...(input.workersCrashed ?? [])].sort((a, b) => a.workerId - b.workerId);
  const startedAtMs = info?.t0Ms ?? input.endedAtMs;
  const durationS = Math.max(0, Math.round(input.endedAtMs - startedAtMs)) / 1000;

  const reasons: StatusReason[] = [];
  if (input.interrupted) reasons.push({ kind: "interrupted", message: "The run was interrupted before its planned end." });
  if (input.error) reasons.push({ kind: "error", message: input.error });
  for (const c of crashed) reasons.push({ kind: "worker-crash", message: `Worker ${c.workerId} crashed: ${c.message}` });
  for (const t of thresholds) {
    if (!t.ok) {
      const detail = t.actual === null ? (t.message ?? "no value").replace(/\.$/, "") : `actual ${round3(t.actual)}`;
      reasons.push({ kind: "threshold", message: `Threshold "${t.metric} ${t.expression}" failed: ${detail}.` });
    }
  }
  const status: RunStatus = input.interrupted ? "interrupted" : reasons.length > 0 ? "failed" : "passed";

  const latencies: RunSummary["latencies"] = {};
  for (const name of Object.keys(totals.histograms).sort()) latencies[name] = latencyStatsMs(totals.histograms[name]!);
  let warmup: RunSummary["warmup"];
  if (totals.warmupPeriods > 0) {
    const whole = totals.wholeRunHistograms ?? {};
    const wholeRunLatencies: RunSummary["latencies"] = {};
    for (const name of Object.keys(whole).sort()) wholeRunLatencies[name] = latencyStatsMs(whole[name]!);
    warmup = { seconds: (totals.warmupPeriods * PERIOD_MS) / 1000, wholeRunLatencies };
  }
  const counters = sortedRecord(totals.counters);
  const rates: Record<string, number> = {};
  if (durationS > 0) for (const [name, v] of Object.entries(counters)) rates[name] = round3(v / durationS);

  const lagBoundUs = input.saturationLagUs ?? config.saturationLagUs;
  const generatorWorkers: WorkerGeneratorHealth[] = totals.lag.map((l) => {
    const periodsOverBound = l.p99Us.filter((v) => v > lagBoundUs).length;
    return {
      workerId: l.workerId,
      maxLagP99Us: l.maxP99Us,
      maxLagUs: l.maxUs,
      periods: l.p99Us.length,
      periodsOverBound,
      saturated: periodsOverBound > 0 && periodsOverBound > SATURATED_PERIOD_SHARE * l.p99Us.length,
    };
  });

  return {
    runId: config.runId,
    scenario: config.plan.name,
    scenarioFile: config.scenarioFile,
    toolVersion: config.toolVersion,
    status,
    reasons,
    startedAt: new Date(startedAtMs).toISOString(),
    endedAt: new Date(input.endedAtMs).toISOString(),
    durationS,
    target: { kind: config.target.kind, host: info?.target.host ?? config.target.host, port: info?.target.port ?? config.target.port },
    transport: config.transport,
    connection: config.connection,
    latencies,
    ...(warmup ? { warmup } : {}),
    counters,
    gauges: sortedRecord(totals.gauges),
    rates,
    failures: failureBreakdown(counters),
    thresholds,
    workers: { count: info?.workers ?? config.workers, crashed },
    saturated: generatorWorkers.some((w) => w.saturated),
    generator: { lagBoundUs, workers: generatorWorkers },
    periods: totals.periods,
  };
}

/** Process exit code for a finished run (the CLI sets it; k6 also uses 99 for thresholds). */
export function exitCodeFor(summary: RunSummary): number {
  if (summary.status === "interrupted") return ExitCode.interrupted;
  if (summary.reasons.some((r) => r.kind === "error" || r.kind === "worker-crash")) return ExitCode.runFailed;
  if (summary.status === "failed") return ExitCode.thresholdsFailed;
  return ExitCode.ok;
}

/** "register.failures.status.503" → register / status.503; a bare "x.failures" → unspecified. */
function failureBreakdown(counters: Record<string, number>): Record<string, FailureBreakdown> {
  const out: Record<string, FailureBreakdown> = {};
  for (const [name, v] of Object.entries(counters)) {
    const m = /^(.+?)\.failures(?:\.(.+))?$/.exec(name);
    if (!m) continue;
    const family = m[1]!;
    const cause = m[2] ?? "unspecified";
    const entry = (out[family] ??= { total: 0, byCause: {} });
    entry.total += v;
    entry.byCause[cause] = (entry.byCause[cause] ?? 0) + v;
  }
  return out;
}

function sortedRecord(r: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

const round3 = (v: number): number => Math.round(v * 1000) / 1000;
