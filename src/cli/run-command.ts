/**
 * `cpm-load run <scenario>`: resolve the config (every problem at once), print warnings, run, and
 * map the result to the exit code. Ctrl-C stops the run cleanly (results are still written).
 */
import { resolveRunConfig, runConfigWarnings } from "../config/resolve.js";
import { RUN_OPTIONS, type RunFlags, type RunOptionName } from "../config/run-options.js";
import { planWarnings } from "../scenario/index.js";
import { lowerHelperThreadPriority } from "./helper-threads.js";
import { optimizeHotCodeSooner } from "./v8-tuning.js";
import { exitSoon, onStopSignals } from "./signals.js";

export interface RunArgs extends Record<string, unknown> {
  scenario: string;
}

export async function runCommand(args: RunArgs): Promise<void> {
  // Before any worker thread exists: only the process's own helper threads are changed.
  if (process.env.CPM_LOAD_KEEP_HELPER_PRIORITY !== "1") lowerHelperThreadPriority();
  optimizeHotCodeSooner();
  const flags: RunFlags = {};
  for (const option of RUN_OPTIONS) {
    const value = args[option.flag];
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") flags[option.flag as RunOptionName] = value;
  }
  const config = resolveRunConfig({ scenarioFile: args.scenario, flags, env: process.env });
  for (const warning of [...planWarnings(config.plan), ...runConfigWarnings(config)]) {
    process.stderr.write(`cpm-load: warning: ${warning}\n`);
  }

  // Loaded on demand: `validate` and `serve` need none of the runner.
  const { runLoadTest } = await import("../runner/index.js");
  const stop = onStopSignals(() => {
    process.stderr.write("\ncpm-load: stopping — writing the results (press Ctrl-C again to quit at once)\n");
  });
  try {
    let tail = "";
    const write = (text: string) => {
      process.stdout.write(text);
      tail = (tail + text).slice(-4096);
    };
    const result = await runLoadTest(config, { write, signal: stop.signal });
    process.exitCode = result.exitCode;
    // The summary normally names the results folder; say it here only when it did not.
    if (!tail.includes(result.outDir)) process.stdout.write(`Results written to ${result.outDir}\n`);
  } finally {
    stop.dispose();
    exitSoon(2000, process.env.CPM_LOAD_DEBUG === "1");
  }
}
