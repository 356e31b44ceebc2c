/**
 * What the whole-tool benchmarks (register-rate.mjs, session-rate.mjs) share: run a scenario
 * through runLoadTest from dist/ (build first) with the embedded server in its own thread, then
 * read figures for a window of the run out of its result files before they are deleted.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import hdr from "hdr-histogram-js";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("../../", import.meta.url);
const dist = (path) => new URL(`dist/${path}`, root).href;

// What `cpm-load run` does first (src/cli/helper-threads.ts): the process's GC/JIT helper threads
// at the lowest priority, so the figures are the CLI's.
const { lowerHelperThreadPriority } = await import(dist("cli/helper-threads.js"));
lowerHelperThreadPriority();
// And, as `run` does (src/cli/v8-tuning.ts), hot code optimized sooner.
(await import(dist("cli/v8-tuning.js"))).optimizeHotCodeSooner();

/**
 * Runs `yaml` (a scenario named `name`) with shared TCP connections, no live line, and `flags` on
 * top; `analyse({ summary, outDir, config })` reads the results before the temporary directory
 * is removed, and its value is returned.
 */
export async function runScenario({ name, yaml, flags = {}, analyse }) {
  const { resolveRunConfig } = await import(dist("config/resolve.js"));
  const { runLoadTest } = await import(dist("runner/index.js"));
  const dir = mkdtempSync(join(tmpdir(), "cpm-load-bench-"));
  try {
    const scenarioFile = join(dir, `${name}.yaml`);
    writeFileSync(scenarioFile, yaml);
    const config = resolveRunConfig({
      scenarioFile,
      flags: { connection: "shared", transport: "tcp", live: false, out: join(dir, "results"), ...flags },
      env: {},
    });
    const { summary, outDir } = await runLoadTest(config);
    return analyse({ summary, outDir, config });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * p50/p99 of one metric over [fromSec, toSec) of the run, merged exactly from latency.hlog's
 * per-second histograms.
 */
export function windowStats(outDir, tag, fromSec, toSec) {
  const text = readFileSync(join(outDir, "latency.hlog"), "utf8");
  const reader = new hdr.HistogramLogReader(text);
  const merged = hdr.build({ numberOfSignificantValueDigits: 3, autoResize: true });
  for (let h = reader.nextIntervalHistogram(); h !== null; h = reader.nextIntervalHistogram()) {
    const startSec = h.startTimeStampMsec / 1000 - reader.startTimeSec;
    if (h.tag === tag && startSec >= fromSec && startSec < toSec) merged.add(h);
  }
  const ms = (us) => Math.round(us) / 1000;
  return { count: merged.totalCount, p50: ms(merged.getValueAtPercentile(50)), p99: ms(merged.getValueAtPercentile(99)) };
}

/** Highest per-second generator event-loop lag p99 (ms, max over workers) in [fromSec, toSec). */
export function windowLagP99Ms(outDir, fromSec, toSec) {
  const [header, ...lines] = readFileSync(join(outDir, "periods.csv"), "utf8").trim().split("\n");
  const col = Object.fromEntries(header.split(",").map((name, i) => [name, i]));
  let max = 0;
  for (const line of lines) {
    const cells = line.split(",");
    const t = Number(cells[col.time_s]);
    if (cells[col.metric] === "worker.lag_p99_us" && t >= fromSec && t < toSec) max = Math.max(max, Number(cells[col.value]));
  }
  return max / 1000;
}

/** Sum of a counter family: `prefix` itself and every `prefix.*` counter. */
export const sumFamily = (counters, prefix) =>
  Object.entries(counters)
    .filter(([k]) => k === prefix || k.startsWith(`${prefix}.`))
    .reduce((a, [, v]) => a + v, 0);

/** The value after `name` on the command line, or `fallback`. */
export function argValue(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}
