/**
 * periods.csv: one row per period per metric, appended as periods complete (a crashed run keeps
 * what it had). Columns are the public contract documented in the README.
 */
import { stringify } from "csv-stringify/sync";
import { join } from "node:path";
import type { RunConfig } from "../config/run-config.js";
import { PERIOD_MS, type MergedPeriod } from "../metrics/aggregator.js";
import { latencyStats, usToMs } from "../metrics/histogram.js";
import { FileWriter } from "./file-writer.js";
import type { Output, RunInfo, RunSummary } from "./types.js";

export const PERIODS_FILE = "periods.csv";

export const CSV_COLUMNS = [
  "period",
  "time_s",
  "metric",
  "kind",
  "count",
  "rate_per_s",
  "min_ms",
  "mean_ms",
  "p50_ms",
  "p90_ms",
  "p95_ms",
  "p99_ms",
  "p999_ms",
  "max_ms",
  "value",
] as const;

type Row = Partial<Record<(typeof CSV_COLUMNS)[number], string | number>>;

/**
 * Row meaning by kind — latency: count = samples in the period; counter: count = increment in the
 * period, value = running total; gauge: value = merged value at the end of the period.
 * time_s is the period start in seconds since t0.
 */
export function periodRows(p: MergedPeriod, runningTotals?: Map<string, number>): Row[] {
  const rows: Row[] = [];
  const base = { period: p.period, time_s: (p.period * PERIOD_MS) / 1000 };
  const perS = 1000 / PERIOD_MS;
  for (const name of Object.keys(p.histograms).sort()) {
    const s = latencyStats(p.histograms[name]!);
    if (s.count === 0) continue;
    rows.push({
      ...base,
      metric: name,
      kind: "latency",
      count: s.count,
      rate_per_s: s.count * perS,
      min_ms: usToMs(s.min),
      mean_ms: usToMs(s.mean),
      p50_ms: usToMs(s.p50),
      p90_ms: usToMs(s.p90),
      p95_ms: usToMs(s.p95),
      p99_ms: usToMs(s.p99),
      p999_ms: usToMs(s.p999),
      max_ms: usToMs(s.max),
    });
  }
  for (const name of Object.keys(p.counters).sort()) {
    const v = p.counters[name]!;
    const total = (runningTotals?.get(name) ?? 0) + v;
    runningTotals?.set(name, total);
    rows.push({ ...base, metric: name, kind: "counter", count: v, rate_per_s: v * perS, value: total });
  }
  for (const name of Object.keys(p.gauges).sort()) {
    rows.push({ ...base, metric: name, kind: "gauge", value: p.gauges[name]! });
  }
  return rows;
}

export class CsvOutput implements Output {
  private readonly file: FileWriter;
  private headerWritten = false;
  private readonly runningTotals = new Map<string, number>();

  constructor(config: RunConfig) {
    this.file = new FileWriter(join(config.outDir, PERIODS_FILE));
  }

  start(_info: RunInfo): void {
    this.writeHeader();
  }

  period(p: MergedPeriod): void {
    this.writeHeader();
    const rows = periodRows(p, this.runningTotals);
    if (rows.length > 0) this.file.write(stringify(rows, { columns: [...CSV_COLUMNS] }));
  }

  async stop(_summary: RunSummary): Promise<void> {
    this.writeHeader();
    await this.file.close();
  }

  private writeHeader(): void {
    if (this.headerWritten) return;
    this.headerWritten = true;
    this.file.write(stringify([], { header: true, columns: [...CSV_COLUMNS] }));
  }
}
