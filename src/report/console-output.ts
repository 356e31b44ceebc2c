/**
 * Human output: a live line per second while the run goes, and the summary at the end. It only
 * produces text and hands it to `write` (the CLI owns stdout).
 */
import type { RunConfig } from "../config/run-config.js";
import type { MergedPeriod } from "../metrics/aggregator.js";
import { latencyStats, usToMs } from "../metrics/histogram.js";
import { Counter, Gauge, Latency } from "../metrics/names.js";
import { formatInt, formatMs, formatRate, formatSeconds, table } from "./format.js";
import type { Output, RunInfo, RunSummary } from "./types.js";

/** Latency metrics shown on the live line, in this order, when they have samples. */
const LIVE_LATENCIES: readonly string[] = Object.values(Latency);
const LIVE_LATENCY_LIMIT = 3;

export interface ConsoleOutputOptions {
  config: RunConfig;
  write: (text: string) => void;
  /** Print the live line each second (default config.live). */
  live?: boolean;
}

export class ConsoleOutput implements Output {
  private readonly config: RunConfig;
  private readonly write: (text: string) => void;
  private readonly live: boolean;
  /** Cumulative counters for the live line. */
  private readonly cumulative = new Map<string, number>();

  constructor(opts: ConsoleOutputOptions) {
    this.config = opts.config;
    this.write = opts.write;
    this.live = opts.live ?? opts.config.live;
  }

  start(info: RunInfo): void {
    if (!this.live) return;
    const c = this.config;
    this.write(
      `cpm-load ${c.toolVersion}  run ${c.runId}  scenario ${c.plan.name}  ${c.transport}/${c.connection}  ` +
        `target ${info.target.host}:${info.target.port}  workers ${info.workers}  duration ${formatSeconds(c.plan.durationMs / 1000)}\n`,
    );
  }

  period(p: MergedPeriod): void {
    for (const [name, v] of Object.entries(p.counters)) this.cumulative.set(name, (this.cumulative.get(name) ?? 0) + v);
    if (this.live) this.write(`${this.liveLine(p)}\n`);
  }

  async stop(summary: RunSummary): Promise<void> {
    this.write(`${formatSummary(summary, this.config.outDir)}\n`);
  }

  /** e.g. `  12s  reg 4,980/s  ok 59,760  fail 0  active 10,000  register p50 1.20ms p99 4.80ms  lag 3ms` */
  liveLine(p: MergedPeriod): string {
    const parts: string[] = [`${String(p.period + 1).padStart(5)}s`];
    const total = (name: string) => this.cumulative.get(name) ?? 0;
    const familyTotal = (prefix: string) => sumFamily(this.cumulative, prefix);

    if (this.config.plan.population.clients > 0 || Counter.registerAttempts in p.counters) {
      parts.push(
        `reg ${formatRate(p.counters[Counter.registerSuccesses] ?? 0).padStart(6)}/s`,
        `ok ${formatInt(total(Counter.registerSuccesses)).padStart(9)}`,
        `fail ${formatInt(familyTotal(Counter.registerFailures)).padStart(7)}`,
      );
    }
    if (this.config.plan.phases.some((ph) => ph.startRate > 0 || ph.endRate > 0) || Counter.iterationsStarted in p.counters) {
      parts.push(
        `iter ${formatRate(p.counters[Counter.iterationsCompleted] ?? 0).padStart(6)}/s`,
        `fail ${formatInt(total(Counter.iterationsFailed)).padStart(7)}`,
        `drop ${formatInt(total(Counter.iterationsDropped)).padStart(7)}`,
      );
    }
    const active = p.gauges[Gauge.activeClients] ?? p.gauges[Gauge.registeredClients];
    if (active !== undefined) parts.push(`active ${formatInt(active).padStart(7)}`);

    let shown = 0;
    for (const name of LIVE_LATENCIES) {
      const h = p.histograms[name];
      if (!h || h.totalCount === 0 || shown >= LIVE_LATENCY_LIMIT) continue;
      const s = latencyStats(h);
      parts.push(`${name} p50 ${formatMs(usToMs(s.p50)).padStart(5)}ms p99 ${formatMs(usToMs(s.p99)).padStart(5)}ms`);
      shown++;
    }
    const lag = p.gauges[Gauge.eventLoopLagP99];
    if (lag !== undefined) parts.push(`lag ${formatMs(usToMs(lag))}ms`);
    return `${parts.join("  ")}`;
  }
}

function sumFamily(counters: Map<string, number>, prefix: string): number {
  let sum = 0;
  for (const [name, v] of counters) if (name === prefix || name.startsWith(`${prefix}.`)) sum += v;
  return sum;
}

/** The end-of-run summary as text (also useful for `cpm-load report` on a summary.json). */
export function formatSummary(s: RunSummary, outDir?: string): string {
  const lines: string[] = [];
  lines.push("");
  lines.push(
    `${s.status.toUpperCase()}  run ${s.runId}  scenario ${s.scenario}  ${formatSeconds(s.durationS)}  ` +
      `workers ${s.workers.count}  target ${s.target.host}:${s.target.port} (${s.transport}/${s.connection})`,
  );
  for (const r of s.reasons) lines.push(`  ${r.message}`);

  const latencyNames = Object.keys(s.latencies);
  const wholeRun = s.warmup ? Object.entries(s.warmup.wholeRunLatencies).filter(([name]) => !name.endsWith(".service")) : [];
  if (latencyNames.length > 0 || wholeRun.length > 0) {
    lines.push("", s.warmup ? `latency (ms), after the ${formatSeconds(s.warmup.seconds)} warm-up` : "latency (ms)");
    if (latencyNames.length > 0) {
      const rows = [["metric", "count", "min", "mean", "p50", "p90", "p99", "p99.9", "max"]];
      for (const name of latencyNames) {
        const l = s.latencies[name]!;
        rows.push([name, formatInt(l.count), ...[l.min, l.mean, l.p50, l.p90, l.p99, l.p999, l.max].map(formatMs)]);
      }
      lines.push(...table(rows));
    } else {
      lines.push("  none: every sample fell in the warm-up");
    }
    // The whole run beside, so what the warm-up left out is one glance away (also when that was everything).
    const whole = wholeRun.map(([name, l]) => `${name} p50 ${formatMs(l.p50)} p99 ${formatMs(l.p99)} max ${formatMs(l.max)}`);
    if (whole.length > 0) lines.push(`  whole run, warm-up included: ${whole.join("; ")}`);
  }

  const counterNames = Object.keys(s.counters);
  if (counterNames.length > 0) {
    lines.push("", "counters");
    const rows = [["counter", "total", "per s"]];
    for (const name of counterNames) rows.push([name, formatInt(s.counters[name]!), formatRate(s.rates[name] ?? 0)]);
    lines.push(...table(rows));
  }

  const gaugeNames = Object.keys(s.gauges);
  if (gaugeNames.length > 0) {
    lines.push("", "gauges (peak)");
    lines.push(...table(gaugeNames.map((name) => [name, formatInt(s.gauges[name]!)])));
  }

  const families = Object.keys(s.failures);
  if (families.length > 0) {
    lines.push("", "failures");
    for (const family of families) {
      const f = s.failures[family]!;
      const causes = Object.entries(f.byCause)
        .sort(([, a], [, b]) => b - a)
        .map(([cause, n]) => `${cause} ${formatInt(n)}`)
        .join(", ");
      lines.push(`  ${family}  ${formatInt(f.total)}  (${causes})`);
    }
  }

  if (s.thresholds.length > 0) {
    lines.push("", "thresholds");
    const rows = s.thresholds.map((t) => [
      t.ok ? "ok" : "FAIL",
      `${t.metric} ${t.expression}`,
      t.actual === null ? (t.message ?? "") : `actual ${formatThresholdValue(t.stat, t.actual)}`,
    ]);
    lines.push(...table(rows, { align: "lll" }));
  }

  if (s.workers.crashed.length > 0) {
    lines.push("", `workers crashed: ${s.workers.crashed.map((c) => `${c.workerId} (${c.message})`).join("; ")}`);
  }

  if (s.saturated) {
    const worst = s.generator.workers.filter((w) => w.saturated);
    const detail = worst
      .map((w) => `worker ${w.workerId} lag p99 up to ${formatMs(usToMs(w.maxLagP99Us))}ms in ${w.periodsOverBound}/${w.periods} s`)
      .join(", ");
    lines.push(
      "",
      `GENERATOR SATURATED: ${detail} (bound ${formatMs(usToMs(s.generator.lagBoundUs))}ms): the figures measure the load ` +
        "generator, not the target; use more workers or a lower rate.",
    );
  }
  if (outDir) lines.push("", `results: ${outDir}`);
  return lines.join("\n");
}

function formatThresholdValue(stat: string, v: number): string {
  if (stat === "count") return formatInt(v);
  if (stat === "rate") return `${(v * 100).toFixed(2)}%`;
  return `${formatMs(v)}ms`;
}
