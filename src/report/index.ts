/**
 * Results of a run: every output behind one interface (k6-style), created from the RunConfig.
 * The runner calls start(info) at t0, period(p) for each merged second, stop(summary) at the end.
 */
import type { RunConfig } from "../config/run-config.js";
import { ConsoleOutput } from "./console-output.js";
import { CsvOutput } from "./csv-output.js";
import { HlogOutput } from "./hlog-output.js";
import { JsonOutput } from "./json-output.js";
import type { Output, RunInfo, RunSummary } from "./types.js";
import type { MergedPeriod } from "../metrics/aggregator.js";

export type * from "./types.js";
export { buildSummary, exitCodeFor, SATURATED_PERIOD_SHARE, type BuildSummaryInput } from "./summary.js";
export { ConsoleOutput, formatSummary } from "./console-output.js";
export { CsvOutput, CSV_COLUMNS, PERIODS_FILE, periodRows } from "./csv-output.js";
export { HlogOutput, HLOG_FILE } from "./hlog-output.js";
export { JsonOutput, CONFIG_FILE, SUMMARY_FILE } from "./json-output.js";

export interface CreateOutputsOptions {
  config: RunConfig;
  /** Where console text goes (the CLI passes stdout); no console output without it. */
  write?: (text: string) => void;
}

/** Console (when `write` is given), then config.json + summary.json, periods.csv, latency.hlog. */
export function createOutputs(opts: CreateOutputsOptions): Output[] {
  const outputs: Output[] = [];
  if (opts.write) outputs.push(new ConsoleOutput({ config: opts.config, write: opts.write }));
  outputs.push(new JsonOutput(opts.config), new CsvOutput(opts.config), new HlogOutput(opts.config));
  return outputs;
}

/**
 * Fans each call out to several outputs. One failing output does not starve the others: errors
 * from start/period are kept, every stop() runs, then stop rejects with the first error.
 */
export function combineOutputs(outputs: readonly Output[]): Output {
  let firstError: unknown = null;
  const each = (fn: (o: Output) => void) => {
    for (const o of outputs) {
      try {
        fn(o);
      } catch (err) {
        firstError ??= err;
      }
    }
  };
  return {
    start: (info: RunInfo) => each((o) => o.start(info)),
    period: (p: MergedPeriod) => each((o) => o.period(p)),
    async stop(summary: RunSummary) {
      const results = await Promise.allSettled(outputs.map((o) => o.stop(summary)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) firstError ??= failed.reason;
      if (firstError) throw firstError;
    },
  };
}
