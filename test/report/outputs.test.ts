import { HistogramLogReader, listTags } from "hdr-histogram-js";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Aggregator, type MergedPeriod } from "../../src/metrics/aggregator.js";
import { createHistogram, latencyStats, latencyStatsMs, usToMs } from "../../src/metrics/histogram.js";
import { Counter, Gauge, Latency, failureByStatus, failureByTimeout, serviceTimeName } from "../../src/metrics/names.js";
import { MetricsRecorder } from "../../src/metrics/recorder.js";
import {
  buildSummary,
  combineOutputs,
  createOutputs,
  CSV_COLUMNS,
  type Output,
  type RunInfo,
} from "../../src/report/index.js";
import { FakeClock } from "../../src/time/clock.js";
import { parseCsv, runConfig } from "./fixtures.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "cpm-load-report-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Two workers register clients for 3 s; worker 1 sees a 503 and a timeout. */
function simulateRun(clock: FakeClock) {
  const t0Ns = clock.nowNs();
  const recorders = [1, 2].map((workerId) => new MetricsRecorder({ workerId, clock, t0Ns }));
  const agg = new Aggregator({ workerIds: [1, 2], t0Ms: clock.nowMs() });
  const all = createHistogram();
  const periods: MergedPeriod[] = [];
  for (let second = 0; second < 3; second++) {
    for (let i = 0; i < 50; i++) {
      const r = recorders[i % 2]!;
      const us = 1000 + second * 1000 + i * 37;
      r.count(Counter.registerAttempts);
      r.count(Counter.registerSuccesses);
      r.latency(Latency.register, us, us - 100);
      all.recordValue(us);
    }
    recorders[0]!.gauge(Gauge.registeredClients, 25 * (second + 1));
    recorders[1]!.gauge(Gauge.registeredClients, 25 * (second + 1));
    recorders[0]!.gauge(Gauge.eventLoopLagP99, 2000 + second);
    recorders[1]!.gauge(Gauge.eventLoopLagP99, 3000);
    if (second === 1) {
      recorders[0]!.count(Counter.registerAttempts, 2);
      recorders[0]!.count(failureByStatus(Counter.registerFailures, 503));
      recorders[0]!.count(failureByTimeout(Counter.registerFailures));
    }
    clock.advanceMs(1000);
    for (const r of recorders) for (const s of r.flushUpTo()) agg.add(s);
    periods.push(...agg.takeCompleted());
  }
  for (const r of recorders) r.dispose();
  return { agg, all, periods };
}

async function readText(name: string): Promise<string> {
  return readFile(join(dir, name), "utf8");
}

describe("outputs", () => {
  it("write config.json, summary.json, periods.csv and latency.hlog with the run's figures", async () => {
    const clock = new FakeClock();
    const out = join(dir, "results", "run-1"); // does not exist yet: created by the outputs
    const config = runConfig(out);
    const info: RunInfo = { t0Ms: clock.nowMs(), workers: 2, target: { host: "127.0.0.1", port: 45060 } };
    const text: string[] = [];
    const outputs = createOutputs({ config, write: (t) => text.push(t) });
    expect(outputs).toHaveLength(4);
    const output = combineOutputs(outputs);
    output.start(info);

    const { agg, all, periods } = simulateRun(clock);
    expect(periods.map((p) => p.period)).toEqual([0, 1, 2]);
    for (const p of periods) output.period(p);
    const totals = agg.totals();
    const summary = buildSummary({ config, info, totals, endedAtMs: clock.nowMs() });
    await output.stop(summary);

    // config.json: the RunConfig verbatim, tool version first.
    const configJson = JSON.parse(await readText("results/run-1/config.json"));
    expect(configJson).toEqual(config);
    expect(Object.keys(configJson)[0]).toBe("toolVersion");

    // summary.json: the summary verbatim, and its numbers are the merged ones.
    const summaryJson = JSON.parse(await readText("results/run-1/summary.json"));
    expect(summaryJson).toEqual(JSON.parse(JSON.stringify(summary)));
    expect(summaryJson.status).toBe("failed"); // 2 failures of 152 attempts breaks "rate < 1%"
    expect(summaryJson.latencies.register).toEqual(latencyStatsMs(all));
    expect(summaryJson.latencies.register.count).toBe(150);
    expect(summaryJson.counters).toEqual({
      [Counter.registerAttempts]: 152,
      "register.failures.status.503": 1,
      "register.failures.timeout": 1,
      [Counter.registerSuccesses]: 150,
    });
    expect(summaryJson.rates[Counter.registerSuccesses]).toBe(50);
    expect(summaryJson.durationS).toBe(3);
    expect(summaryJson.gauges).toEqual({ [Gauge.registeredClients]: 150, [Gauge.eventLoopLagP99]: 3000 });
    expect(summaryJson.failures).toEqual({ register: { total: 2, byCause: { "status.503": 1, timeout: 1 } } });
    expect(summaryJson.thresholds.map((t: { ok: boolean; actual: number }) => [t.ok, t.actual])).toEqual([
      [true, usToMs(latencyStats(all).p99)],
      [false, 2 / 152],
    ]);
    expect(summaryJson.target).toEqual({ kind: "embedded", host: "127.0.0.1", port: 45060 });
    expect(summaryJson.startedAt).toBe("2023-11-14T22:13:20.000Z");
    expect(summaryJson.saturated).toBe(false);

    // periods.csv parses back: header, then rows per period per metric.
    const rows = parseCsv(await readText("results/run-1/periods.csv"));
    expect(rows[0]).toEqual([...CSV_COLUMNS]);
    const records = rows.slice(1).map((r) => Object.fromEntries(CSV_COLUMNS.map((c, i) => [c, r[i]])));
    const reg = records.filter((r) => r.metric === Latency.register);
    expect(reg.map((r) => [r.period, r.time_s, r.kind, r.count])).toEqual([
      ["0", "0", "latency", "50"],
      ["1", "1", "latency", "50"],
      ["2", "2", "latency", "50"],
    ]);
    const p1 = latencyStats(periods[1]!.histograms[Latency.register]!);
    expect(Number(reg[1]!.p99_ms)).toBe(usToMs(p1.p99));
    expect(Number(reg[1]!.max_ms)).toBe(usToMs(p1.max));
    expect(Number(reg[1]!.mean_ms)).toBe(usToMs(p1.mean));
    const attempts = records.filter((r) => r.metric === Counter.registerAttempts);
    expect(attempts.map((r) => [r.kind, r.count, r.rate_per_s, r.value])).toEqual([
      ["counter", "50", "50", "50"],
      ["counter", "52", "52", "102"],
      ["counter", "50", "50", "152"],
    ]);
    const gauge = records.filter((r) => r.metric === Gauge.registeredClients);
    expect(gauge.map((r) => [r.kind, r.value, r.count])).toEqual([
      ["gauge", "50", ""],
      ["gauge", "100", ""],
      ["gauge", "150", ""],
    ]);
    expect(records.filter((r) => r.metric === serviceTimeName(Latency.register))).toHaveLength(3);

    // latency.hlog decodes back with the library's reader: per-tag sums equal the totals.
    const hlog = await readText("results/run-1/latency.hlog");
    expect(hlog).toContain("#[Histogram log format version 1.3]");
    expect(hlog).toContain("#[StartTime: 1700000000.000 (seconds since epoch)");
    expect(hlog).toContain("#[BaseTime: 1700000000.000 (seconds since epoch)]");
    expect(listTags(hlog).sort()).toEqual([Latency.register, serviceTimeName(Latency.register)]);
    const reader = new HistogramLogReader(hlog);
    const merged = createHistogram();
    const seen: Array<[string, number, number]> = [];
    for (let h = reader.nextIntervalHistogram(); h; h = reader.nextIntervalHistogram()) {
      seen.push([h.tag, h.startTimeStampMsec, h.endTimeStampMsec - h.startTimeStampMsec]);
      if (h.tag === Latency.register) merged.add(h);
    }
    expect(seen).toEqual(
      [0, 1, 2].flatMap((k) => [
        [Latency.register, 1_700_000_000_000 + k * 1000, 1000],
        [serviceTimeName(Latency.register), 1_700_000_000_000 + k * 1000, 1000],
      ]),
    );
    expect(latencyStats(merged)).toEqual(latencyStats(all));
    // The interval max column is in ms.
    const line = hlog.split("\n").find((l) => l.startsWith(`Tag=${Latency.register},2.000,`))!;
    expect(Number(line.split(",")[3])).toBe(usToMs(latencyStats(periods[2]!.histograms[Latency.register]!).max));

    // Console: a banner, one live line per period with the figures, then the summary.
    const console = text.join("");
    expect(text[0]).toContain("run 20240101-120000-test  scenario register-storm  tcp/per-client  target 127.0.0.1:45060  workers 2");
    const live = text.slice(1, 4);
    expect(live[0]).toBe(
      `    1s  reg     50/s  ok        50  fail       0  active      50  register p50  ${fmt(periods[0]!, 50)}ms p99  ${fmt(periods[0]!, 99)}ms  lag 3.00ms\n`,
    );
    expect(live[1]).toMatch(/^ {4}2s {2}reg {5}50\/s {2}ok {7}100 {2}fail {7}2 {2}active {5}100 {2}register p50/);
    expect(live[2]).toMatch(/^ {4}3s {2}reg {5}50\/s {2}ok {7}150 {2}fail {7}2 {2}active {5}150 /);
    const summaryText = text[4]!;
    expect(summaryText).toContain("FAILED  run 20240101-120000-test  scenario register-storm  3.0s  workers 2");
    expect(summaryText).toMatch(new RegExp(`register +150 +${esc(fmtMs(summary.latencies.register!.min))} `));
    expect(summaryText).toMatch(/register\.attempts +152 +50\.7/);
    expect(summaryText).toContain("register  2  (status.503 1, timeout 1)");
    expect(summaryText).toMatch(/ok +register p99 < 200ms +actual \d+\.\d+ms/);
    expect(summaryText).toMatch(/FAIL +register.failures rate < 1% +actual 1\.32%/);
    expect(summaryText).toContain(`results: ${out}`);
    expect(summaryText).not.toContain("GENERATOR SATURATED");
    expect(console.endsWith("\n")).toBe(true);
  });

  it("stop writes every file even if no period ever completed (and start never came)", async () => {
    const out = join(dir, "never-started");
    const config = runConfig(out);
    const text: string[] = [];
    const output = combineOutputs(createOutputs({ config, write: (t) => text.push(t) }));
    const agg = new Aggregator({ workerIds: [1] });
    const summary = buildSummary({
      config,
      info: null,
      totals: agg.totals(),
      error: "The target 127.0.0.1:5999 did not answer: start it or pass --target.",
      endedAtMs: 1_700_000_000_000,
    });
    await output.stop(summary);

    expect(JSON.parse(await readText("never-started/config.json")).runId).toBe(config.runId);
    const s = JSON.parse(await readText("never-started/summary.json"));
    expect([s.status, s.durationS, s.periods, s.rates, s.latencies]).toEqual(["failed", 0, 0, {}, {}]);
    expect(s.reasons[0]).toEqual({ kind: "error", message: "The target 127.0.0.1:5999 did not answer: start it or pass --target." });
    expect(await readText("never-started/periods.csv")).toBe(`${CSV_COLUMNS.join(",")}\n`);
    const hlog = await readText("never-started/latency.hlog");
    expect(hlog).toContain("#[BaseTime: 1700000000.000");
    expect(new HistogramLogReader(hlog).nextIntervalHistogram()).toBeNull();
    expect(text.join("")).toContain("FAILED  run 20240101-120000-test");
    expect(text.join("")).toContain("did not answer");
    // A threshold on a metric that never got samples fails with its reason.
    expect(text.join("")).toContain('  FAIL  register p99 < 200ms         no samples of "register" were recorded, so its p99 is undefined.\n');
    expect(s.reasons[1].message).toBe('Threshold "register p99 < 200ms" failed: no samples of "register" were recorded, so its p99 is undefined.');
  });

  it("without write there is no console output, and live lines follow config.live", async () => {
    expect(createOutputs({ config: runConfig(dir) })).toHaveLength(3);
    const text: string[] = [];
    const [consoleOut] = createOutputs({ config: runConfig(dir, { live: false }), write: (t) => text.push(t) });
    consoleOut!.start({ t0Ms: 0, workers: 1, target: { host: "127.0.0.1", port: 1 } });
    consoleOut!.period({ period: 0, startMs: 0, histograms: {}, counters: {}, gauges: {}, workers: 1 });
    expect(text).toEqual([]);
  });

  it("flags a saturated generator in the summary and on the console", async () => {
    const config = runConfig(dir, { plan: { ...runConfig(dir).plan, thresholds: [] } });
    const agg = new Aggregator({ workerIds: [1, 2] });
    for (let k = 0; k < 10; k++) {
      agg.add({ workerId: 1, period: k, histograms: {}, counters: {}, gauges: { [Gauge.eventLoopLagP99]: 500, [Gauge.eventLoopLagMax]: 900 } });
      const lag = k < 3 ? 250_000 : 1000; // worker 2 lagged for 3 of 10 s
      agg.add({ workerId: 2, period: k, histograms: {}, counters: {}, gauges: { [Gauge.eventLoopLagP99]: lag, [Gauge.eventLoopLagMax]: lag * 2 } });
    }
    agg.finish();
    const summary = buildSummary({
      config,
      info: { t0Ms: 1_700_000_000_000, workers: 2, target: { host: "127.0.0.1", port: 5060 } },
      totals: agg.totals(),
      endedAtMs: 1_700_000_010_000,
    });
    expect(summary.status).toBe("passed"); // saturation warns; it does not fail the run
    expect(summary.saturated).toBe(true);
    expect(summary.generator).toEqual({
      lagBoundUs: 100_000,
      workers: [
        { workerId: 1, maxLagP99Us: 500, maxLagUs: 900, periods: 10, periodsOverBound: 0, saturated: false },
        { workerId: 2, maxLagP99Us: 250_000, maxLagUs: 500_000, periods: 10, periodsOverBound: 3, saturated: true },
      ],
    });
    const text: string[] = [];
    await createOutputs({ config, write: (t) => text.push(t) })[0]!.stop(summary);
    expect(text.join("")).toContain(
      "GENERATOR SATURATED: worker 2 lag p99 up to 250ms in 3/10 s (bound 100ms): the figures measure the load generator, not the target; use more workers or a lower rate.",
    );
  });

  it("a file that cannot be written makes stop reject, after the other outputs finished", async () => {
    const blocker = join(dir, "a-file");
    await writeFile(blocker, "x");
    const bad = runConfig(join(blocker, "run")); // a directory below a regular file
    const text: string[] = [];
    const outputs: Output[] = [...createOutputs({ config: bad, write: (t) => text.push(t) })];
    const output = combineOutputs(outputs);
    output.start({ t0Ms: 1_700_000_000_000, workers: 1, target: { host: "127.0.0.1", port: 1 } });
    const summary = buildSummary({ config: bad, info: null, totals: new Aggregator({ workerIds: [] }).totals(), endedAtMs: 1_700_000_000_000 });
    await expect(output.stop(summary)).rejects.toMatchObject({ code: expect.stringMatching(/ENOTDIR|EEXIST/) });
    expect(text.join("")).toContain("run 20240101-120000-test"); // the console still printed its summary
    expect((await stat(blocker)).isFile()).toBe(true);
  });
});

function fmt(p: MergedPeriod, percentile: number): string {
  return fmtMs(usToMs(p.histograms[Latency.register]!.getValueAtPercentile(percentile)));
}
function fmtMs(ms: number): string {
  return ms < 10 ? ms.toFixed(2) : ms.toFixed(1);
}
function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
