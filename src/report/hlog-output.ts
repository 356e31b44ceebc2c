/**
 * latency.hlog: the standard HdrHistogram interval log (readable by HdrHistogram's
 * HistogramLogProcessor, HdrHistogramVisualizer and hdr-histogram-js's HistogramLogReader).
 * One line per period per latency metric, tagged with the metric name; timestamps are seconds
 * since BaseTime (= t0), values in µs, Interval_Max in ms.
 */
import { HistogramLogWriter } from "hdr-histogram-js";
import { join } from "node:path";
import type { RunConfig } from "../config/run-config.js";
import { PERIOD_MS, type MergedPeriod } from "../metrics/aggregator.js";
import { FileWriter } from "./file-writer.js";
import type { Output, RunInfo, RunSummary } from "./types.js";

export const HLOG_FILE = "latency.hlog";

/** Interval_Max is reported in ms (values are µs). */
const MAX_VALUE_UNIT_RATIO = 1000;

export class HlogOutput implements Output {
  private readonly file: FileWriter;
  private buffer = "";
  private readonly writer = new HistogramLogWriter((text) => {
    this.buffer += text;
  });
  private baseMs: number | null = null;

  constructor(private readonly config: RunConfig) {
    this.file = new FileWriter(join(config.outDir, HLOG_FILE));
  }

  start(info: RunInfo): void {
    this.writeHeader(info.t0Ms);
  }

  period(p: MergedPeriod): void {
    this.writeHeader(p.startMs - p.period * PERIOD_MS);
    const startS = (p.startMs - this.baseMs!) / 1000;
    for (const name of Object.keys(p.histograms).sort()) {
      const h = p.histograms[name]!;
      if (h.totalCount === 0) continue;
      const previousTag = h.tag;
      h.tag = name;
      this.writer.outputIntervalHistogram(h, startS, startS + PERIOD_MS / 1000, MAX_VALUE_UNIT_RATIO);
      h.tag = previousTag;
    }
    this.flush();
  }

  async stop(summary: RunSummary): Promise<void> {
    this.writeHeader(Date.parse(summary.startedAt));
    this.flush();
    await this.file.close();
  }

  private writeHeader(baseMs: number): void {
    if (this.baseMs !== null) return;
    this.baseMs = baseMs;
    const seconds = (baseMs / 1000).toFixed(3);
    this.writer.outputComment(`[Logged with cpm-load ${this.config.toolVersion}, run ${this.config.runId}]`);
    this.writer.outputLogFormatVersion();
    // Written by hand: the library's outputStartTime adds a stray blank line; no BaseTime helper.
    this.writer.outputComment(`[StartTime: ${seconds} (seconds since epoch), ${new Date(baseMs).toISOString()}]`);
    this.writer.outputComment(`[BaseTime: ${seconds} (seconds since epoch)]`);
    this.writer.outputComment("[Values in microseconds; Interval_Max in milliseconds; Tag = metric name]");
    this.writer.outputLegend();
    this.flush();
  }

  private flush(): void {
    this.file.write(this.buffer);
    this.buffer = "";
  }
}
