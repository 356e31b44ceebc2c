import { describe, expect, it } from "vitest";
import { ExitCode } from "../../src/errors.js";
import { Aggregator } from "../../src/metrics/aggregator.js";
import { createHistogram, encodeHistogram } from "../../src/metrics/histogram.js";
import { Counter, Latency } from "../../src/metrics/names.js";
import { buildSummary, exitCodeFor, formatSummary } from "../../src/report/index.js";
import { runConfig } from "./fixtures.js";

const info = { t0Ms: 1_700_000_000_000, workers: 3, target: { host: "127.0.0.1", port: 5070 } };

/** 3 workers, 2 s: 300 registrations of 2 ms, 5 failures. */
function totals() {
  const agg = new Aggregator({ workerIds: [0, 1, 2] });
  const h = createHistogram();
  for (let i = 0; i < 50; i++) h.recordValue(2000);
  const histograms = { [Latency.register]: encodeHistogram(h) };
  for (const period of [0, 1]) {
    for (const workerId of [0, 1, 2]) {
      agg.add({ workerId, period, histograms, counters: { [Counter.registerAttempts]: 50, [Counter.registerSuccesses]: 50 }, gauges: {} });
    }
  }
  agg.add({ workerId: 0, period: 1, histograms: {}, counters: { [Counter.registerAttempts]: 5, "register.failures": 5 }, gauges: {} });
  agg.finish();
  return agg.totals();
}

describe("buildSummary", () => {
  it("passes when every threshold holds, with rates over the measured duration", () => {
    const config = runConfig("/unused", {
      plan: { ...runConfig("/unused").plan, thresholds: [{ metric: "register", stat: "p99", op: "<", value: 5, expression: "p99 < 5ms" }] },
    });
    const s = buildSummary({ config, info, totals: totals(), endedAtMs: info.t0Ms + 2500 });
    expect(s.status).toBe("passed");
    expect(s.reasons).toEqual([]);
    expect(exitCodeFor(s)).toBe(ExitCode.ok);
    expect(s.durationS).toBe(2.5);
    expect(s.rates[Counter.registerSuccesses]).toBe(120);
    expect(s.latencies[Latency.register]).toEqual({ count: 300, min: 2, mean: 2, p50: 2, p90: 2, p95: 2, p99: 2, p999: 2, max: 2 });
    expect(s.failures).toEqual({ register: { total: 5, byCause: { unspecified: 5 } } });
    expect(s.workers).toEqual({ count: 3, crashed: [] });
    expect(s.periods).toBe(2);
    expect([s.startedAt, s.endedAt]).toEqual(["2023-11-14T22:13:20.000Z", "2023-11-14T22:13:22.500Z"]);
  });

  it("with a warm-up: latencies and latency thresholds after it, the whole run beside, failures in it still counted", () => {
    const agg = new Aggregator({ workerIds: [0], warmupPeriods: 1 });
    const cold = createHistogram();
    for (let i = 0; i < 10; i++) cold.recordValue(90_000);
    const warm = createHistogram();
    for (let i = 0; i < 90; i++) warm.recordValue(2000);
    agg.add({ workerId: 0, period: 0, histograms: { [Latency.register]: encodeHistogram(cold) }, counters: { "register.failures.timeout": 1 }, gauges: {} });
    agg.add({ workerId: 0, period: 1, histograms: { [Latency.register]: encodeHistogram(warm) }, counters: {}, gauges: {} });
    agg.finish();
    const base = runConfig("/unused").plan;
    const config = runConfig("/unused", {
      plan: {
        ...base,
        warmupMs: 1000,
        thresholds: [
          { metric: "register", stat: "p99", op: "<", value: 5, expression: "p99 < 5ms" },
          { metric: "register.failures", stat: "count", op: "==", value: 0, expression: "count == 0" },
        ],
      },
    });
    const s = buildSummary({ config, info, totals: agg.totals(), endedAtMs: info.t0Ms + 2000 });
    expect(s.latencies[Latency.register]).toMatchObject({ count: 90, p99: 2, max: 2 });
    expect(s.warmup?.seconds).toBe(1);
    expect(s.warmup?.wholeRunLatencies[Latency.register]?.count).toBe(100);
    expect(s.warmup?.wholeRunLatencies[Latency.register]?.max).toBeCloseTo(90, 0); // HDR, 3 significant digits
    expect(s.thresholds.map((t) => [t.expression, t.ok])).toEqual([
      ["p99 < 5ms", true],
      ["count == 0", false],
    ]);
    expect(s.failures).toEqual({ register: { total: 1, byCause: { timeout: 1 } } });
    expect(formatSummary(s)).toContain("latency (ms), after the 1.0s warm-up");
    expect(formatSummary(s)).toMatch(/whole run, warm-up included: register p50 [\d.]+ p99 90\.\d+ max 90\.\d+/);
    expect(buildSummary({ config: runConfig("/unused"), info, totals: totals(), endedAtMs: info.t0Ms + 2000 }).warmup).toBeUndefined();
  });

  it("a latency threshold whose samples all fell in the warm-up fails with a sentence saying so", () => {
    const agg = new Aggregator({ workerIds: [0], warmupPeriods: 2 });
    const h = createHistogram();
    for (let i = 0; i < 7; i++) h.recordValue(1000);
    agg.add({ workerId: 0, period: 0, histograms: { [Latency.register]: encodeHistogram(h) }, counters: {}, gauges: {} });
    agg.add({ workerId: 0, period: 2, histograms: {}, counters: {}, gauges: {} });
    agg.finish();
    const base = runConfig("/unused").plan;
    const config = runConfig("/unused", { plan: { ...base, warmupMs: 2000, thresholds: [{ metric: "register", stat: "p99", op: "<", value: 5, expression: "p99 < 5ms" }] } });
    const s = buildSummary({ config, info, totals: agg.totals(), endedAtMs: info.t0Ms + 3000 });
    expect(s.status).toBe("failed");
    expect(s.thresholds[0]).toMatchObject({ ok: false, actual: null });
    // The console still shows what was measured: the whole run, since nothing came after the warm-up.
    expect(formatSummary(s)).toContain("latency (ms), after the 2.0s warm-up\n  none: every sample fell in the warm-up\n  whole run, warm-up included: register p50 1.00 p99 1.00 max 1.00");
    expect(s.reasons).toEqual([
      {
        kind: "threshold",
        message: 'Threshold "register p99 < 5ms" failed: all 7 samples of "register" fell in the 2 s warm-up, so its p99 after it is undefined: shorten the warm-up or keep "register" going after it.',
      },
    ]);
  });

  it("fails on a threshold with exit code 99", () => {
    const s = buildSummary({ config: runConfig("/unused"), info, totals: totals(), endedAtMs: info.t0Ms + 2000 });
    expect(s.status).toBe("failed");
    expect(s.reasons).toEqual([
      { kind: "threshold", message: 'Threshold "register.failures rate < 1%" failed: actual 0.016.' },
    ]);
    expect(exitCodeFor(s)).toBe(ExitCode.thresholdsFailed);
  });

  it("a crashed worker fails the run with exit code 1, and interruption wins over both", () => {
    const crashed = [
      { workerId: 2, message: "out of memory" },
      { workerId: 1, message: "EMFILE" },
    ];
    const failed = buildSummary({ config: runConfig("/unused"), info, totals: totals(), workersCrashed: crashed, endedAtMs: info.t0Ms + 2000 });
    expect(failed.status).toBe("failed");
    expect(failed.workers.crashed.map((c) => c.workerId)).toEqual([1, 2]);
    expect(failed.reasons.map((r) => r.kind)).toEqual(["worker-crash", "worker-crash", "threshold"]);
    expect(exitCodeFor(failed)).toBe(ExitCode.runFailed);

    const interrupted = buildSummary({ config: runConfig("/unused"), info, totals: totals(), workersCrashed: crashed, interrupted: true, endedAtMs: info.t0Ms + 1000 });
    expect(interrupted.status).toBe("interrupted");
    expect(interrupted.reasons[0]).toEqual({ kind: "interrupted", message: "The run was interrupted before its planned end." });
    expect(exitCodeFor(interrupted)).toBe(ExitCode.interrupted);
  });

  it("takes given threshold results as they are", () => {
    const s = buildSummary({ config: runConfig("/unused"), info, totals: totals(), thresholdResults: [], endedAtMs: info.t0Ms + 2000 });
    expect([s.status, s.thresholds]).toEqual(["passed", []]);
  });
});
