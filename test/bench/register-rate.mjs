#!/usr/bin/env node
/**
 * REGISTER throughput through the embedded server on this machine, and the measurement accuracy
 * check with an injected 20 ms response delay. Runs the real thing from dist/ (build first):
 * runLoadTest with the embedded server in its own thread and the default worker count.
 *
 * Throughput: for each target rate, a population registers in ~1 s, then re-register iterations
 * (REGISTER refreshes) run at that rate for `seconds`, shared TCP connections. A rate counts as
 * sustained when every iteration ran (none dropped, none failed), no REGISTER failed and the
 * generator's event loop stayed within the saturation bound (lag p99 per steady second).
 *
 * Accuracy: 20 ms injected by the server at a moderate rate (500/s by default); p50/p99 of
 * `register` (timed from each REGISTER's intended start) and `register.service` (sent → 2xx), for
 * the whole run and for the steady part (see runOnce). Other processes on the machine move the
 * tail: each run reports the 1-minute load average it started at, and --repeat N runs it N times
 * and reports the range.
 *
 * Usage: node test/bench/register-rate.mjs [--seconds 10] [--rates 2000,4000,6000,8000]
 *          [--delay-only] [--delay-rate 500] [--repeat 1]
 * Library use: import { runRegisterRateBench, runDelayAccuracyBench } from "./register-rate.mjs".
 */
import { loadavg } from "node:os";
import { pathToFileURL } from "node:url";
import { argValue, runScenario, sumFamily, windowLagP99Ms, windowStats } from "./load-test-run.mjs";

function scenarioYaml({ name, clients, arrivalRate, rampSeconds, steadySeconds, rate }) {
  return `name: ${name}
seed: 1
population:
  clients: ${clients}
  rate: ${arrivalRate}
  users:
    template: "bench{index:06}"
    password: "{user}-pw"
    domain: bench.test
  register:
    expires: 3600
    refresh: 0.5
    unregisterAtEnd: true
phases:
  - name: ramp-up
    duration: ${rampSeconds}s
    rate: 0
  - name: steady
    duration: ${steadySeconds}s
    rate: ${rate}
scenarios:
  - name: refresh
    weight: 1
    steps:
      - register: {}
`;
}

/**
 * The steady part of the run is from one second into the steady phase to its end: the first
 * steady second is skipped so JIT warm-up and connection set-up do not stand in for the
 * steady-state figure (the summary's whole-run figures are kept beside). p50/p99 there are merged
 * exactly from latency.hlog's per-second histograms.
 */
async function runOnce({ name, clients, arrivalRate, rampSeconds, steadySeconds, rate, flags = {} }) {
  const from = rampSeconds + 1;
  const to = rampSeconds + steadySeconds;
  return runScenario({
    name,
    yaml: scenarioYaml({ name, clients, arrivalRate, rampSeconds, steadySeconds, rate }),
    flags,
    analyse: ({ summary, outDir, config }) => ({
      summary,
      workers: config.workers,
      lagBoundMs: config.saturationLagUs / 1000,
      steadyLagP99Ms: windowLagP99Ms(outDir, from, to),
      steady: { register: windowStats(outDir, "register", from, to), service: windowStats(outDir, "register.service", from, to) },
    }),
  });
}

export async function runRegisterRateBench(opts = {}) {
  const rates = opts.rates ?? [2000, 4000, 6000, 8000];
  const seconds = opts.seconds ?? 10;
  const rows = [];
  for (const rate of rates) {
    // Enough idle clients for the target rate even at ~250 ms latency; they come up in 1 s.
    const clients = Math.max(1000, Math.ceil(rate / 4));
    const { summary, workers, steady, steadyLagP99Ms: steadyLag, lagBoundMs } = await runOnce({
      name: `register-rate-${rate}`,
      clients,
      arrivalRate: clients,
      rampSeconds: 2,
      steadySeconds: seconds,
      rate,
    });
    const c = summary.counters;
    const completed = c["iterations.completed"] ?? 0;
    const scheduled = (c["iterations.started"] ?? 0) + (c["iterations.dropped"] ?? 0);
    const failures = sumFamily(c, "register.failures") + (c["iterations.failed"] ?? 0);
    const dropped = c["iterations.dropped"] ?? 0;
    const reg = summary.latencies.register ?? {};
    rows.push({
      targetRate: rate,
      clients,
      workers,
      achievedRate: Math.round(completed / seconds),
      scheduled,
      completed,
      dropped,
      failures,
      registerP50Ms: reg.p50,
      registerP99Ms: reg.p99,
      serviceP99Ms: summary.latencies["register.service"]?.p99,
      steadyP50Ms: steady.register.p50,
      steadyP99Ms: steady.register.p99,
      // Steady periods only: the first second (population coming up, JIT warm-up) lags on its own.
      generatorLagP99Ms: steadyLag,
      saturatedWholeRun: summary.saturated,
      sustained: failures === 0 && dropped === 0 && completed === scheduled && steadyLag <= lagBoundMs,
    });
  }
  const sustained = rows.filter((r) => r.sustained);
  const best = sustained.length > 0 ? sustained.reduce((a, b) => (b.achievedRate > a.achievedRate ? b : a)) : null;
  return {
    bench: "register-rate",
    seconds,
    rows,
    sustainedRate: best?.achievedRate ?? 0,
    sustainedP99Ms: best?.registerP99Ms ?? null,
    sustainedSteadyP99Ms: best?.steadyP99Ms ?? null,
  };
}

async function delayAccuracyOnce(rate, seconds) {
  const loadAverage = Math.round(loadavg()[0] * 100) / 100;
  const rampSeconds = 2;
  // The run's own --warmup leaves the ramp and the first steady second out of its summary: the
  // steady figures are the summary's, as a user reads them; the whole run comes from summary.warmup.
  const { summary, steadyLagP99Ms: lag } = await runOnce({
    name: "delay-accuracy",
    clients: Math.max(200, rate / 2),
    arrivalRate: Math.max(200, rate / 2),
    rampSeconds,
    steadySeconds: seconds,
    rate,
    // (A steady phase of 1 s or less has nothing after that: then the summary is the whole run.)
    flags: { delay: "20ms", ...(seconds > 1 ? { warmup: `${rampSeconds + 1}s` } : {}) },
  });
  const whole = summary.warmup?.wholeRunLatencies ?? summary.latencies;
  const reg = whole.register ?? {};
  const svc = whole["register.service"] ?? {};
  const steady = { register: summary.latencies.register ?? {}, service: summary.latencies["register.service"] ?? {} };
  return {
    loadAverage,
    samples: reg.count,
    registerP50Ms: reg.p50,
    registerP99Ms: reg.p99,
    registerMinMs: reg.min,
    serviceP50Ms: svc.p50,
    serviceP99Ms: svc.p99,
    serviceMinMs: svc.min,
    failures: sumFamily(summary.counters, "register.failures"),
    steadySamples: steady.register.count,
    steadyP50Ms: steady.register.p50,
    steadyP99Ms: steady.register.p99,
    steadyServiceP50Ms: steady.service.p50,
    steadyServiceP99Ms: steady.service.p99,
    generatorLagP99Ms: lag,
  };
}

/**
 * Moderate load with 20 ms injected by the server: how far above 20 ms do p50 and p99 read?
 * With `repeat` > 1 the top-level figures are those of the run with the median steady p99, and
 * `range` gives min–max of each figure over all runs (every run is in `runs`).
 */
export async function runDelayAccuracyBench(opts = {}) {
  const rate = opts.rate ?? 500;
  const seconds = opts.seconds ?? 10;
  const repeat = Math.max(1, opts.repeat ?? 1);
  const runs = [];
  for (let i = 0; i < repeat; i++) runs.push(await delayAccuracyOnce(rate, seconds));
  const median = [...runs].sort((a, b) => a.steadyP99Ms - b.steadyP99Ms)[Math.floor((runs.length - 1) / 2)];
  const range = {};
  for (const key of Object.keys(median)) {
    const values = runs.map((r) => r[key]).filter((v) => typeof v === "number");
    if (values.length > 0) range[key] = [Math.min(...values), Math.max(...values)];
  }
  return { bench: "delay-accuracy", injectedMs: 20, rate, seconds, ...median, range, runs };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const seconds = Number(argValue("--seconds", "10"));
  const rates = argValue("--rates", "2000,4000,6000,8000").split(",").map(Number);
  const delayOnly = process.argv.includes("--delay-only");
  const r = delayOnly ? { rows: [] } : await runRegisterRateBench({ seconds, rates });
  if (!delayOnly) console.log(`REGISTER rate through the embedded server (shared TCP, ${seconds} s per rate):`);
  for (const row of r.rows) {
    console.log(
      `  target ${String(row.targetRate).padStart(6)}/s  achieved ${String(row.achievedRate).padStart(6)}/s  ` +
        `fail ${row.failures}  drop ${row.dropped}  p50 ${row.registerP50Ms} ms  p99 ${row.registerP99Ms} ms  ` +
        `(steady p50 ${row.steadyP50Ms} p99 ${row.steadyP99Ms})  ` +
        `lag p99 ${row.generatorLagP99Ms} ms  ${row.sustained ? "sustained" : "NOT sustained"}`,
    );
  }
  const d = await runDelayAccuracyBench({
    seconds,
    rate: Number(argValue("--delay-rate", "500")),
    repeat: Number(argValue("--repeat", "1")),
  });
  for (const run of d.runs) {
    console.log(
      `20 ms injected delay at ${d.rate}/s (load average ${run.loadAverage}): register p50 ${run.registerP50Ms} ms, ` +
        `p99 ${run.registerP99Ms} ms, min ${run.registerMinMs} ms (steady = ${seconds > 1 ? "the summary after --warmup 3s" : "the whole run (--seconds 1: no warm-up)"}: p50 ${run.steadyP50Ms}, p99 ${run.steadyP99Ms}; ` +
        `service steady p50 ${run.steadyServiceP50Ms}, p99 ${run.steadyServiceP99Ms}, min ${run.serviceMinMs}; ` +
        `generator lag p99 ${run.generatorLagP99Ms} ms)`,
    );
  }
  if (d.runs.length > 1) {
    const span = (key) => `${d.range[key][0]}–${d.range[key][1]}`;
    console.log(
      `  over ${d.runs.length} runs: steady p50 ${span("steadyP50Ms")} ms, p99 ${span("steadyP99Ms")} ms; ` +
        `whole run p50 ${span("registerP50Ms")}, p99 ${span("registerP99Ms")} ms`,
    );
  }
  console.log(JSON.stringify({ rate: r, delay: { ...d, runs: undefined } }));
}
