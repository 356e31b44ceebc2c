import { afterEach, describe, expect, it } from "vitest";
import { Aggregator, warmupPeriods } from "../../src/metrics/aggregator.js";
import { createHistogram, latencyStats, type Histogram } from "../../src/metrics/histogram.js";
import { Counter, Gauge, Latency, serviceTimeName } from "../../src/metrics/names.js";
import { MetricsRecorder } from "../../src/metrics/recorder.js";
import type { PeriodSnapshot } from "../../src/metrics/snapshot.js";
import { FakeClock } from "../../src/time/clock.js";

/** Deterministic pseudo-random latencies with a long tail (µs). */
function* samples(seed: number, n: number): Generator<number> {
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    const u = x / 2 ** 32;
    yield Math.round(200 + 1000 * u + (u > 0.98 ? 2_000_000 * (u - 0.98) * 50 : 0));
  }
}

const recorders: MetricsRecorder[] = [];
afterEach(() => {
  for (const r of recorders.splice(0)) r.dispose();
});

function snap(workerId: number, period: number, extra: Partial<PeriodSnapshot> = {}): PeriodSnapshot {
  return { workerId, period, histograms: {}, counters: {}, gauges: {}, ...extra };
}

describe("Aggregator", () => {
  it("merging three workers' snapshots equals one histogram holding every sample, per period and in total", () => {
    const clock = new FakeClock();
    const t0 = clock.nowNs();
    const workers = [0, 1, 2].map((id) => {
      const r = new MetricsRecorder({ workerId: id, clock, t0Ns: t0, wasm: id !== 2 }); // mixed backends
      recorders.push(r);
      return r;
    });
    const agg = new Aggregator({ workerIds: [0, 1, 2], t0Ms: clock.nowMs() });
    const total = createHistogram();
    const perPeriod: Histogram[] = [];
    const periods = 5;
    const gen = samples(42, 30_000);
    for (let p = 0; p < periods; p++) {
      perPeriod[p] = createHistogram();
      for (let i = 0; i < 6000; i++) {
        const v = gen.next().value as number;
        workers[i % 3]!.latency(Latency.register, v);
        workers[i % 3]!.count(Counter.registerSuccesses);
        total.recordValue(v);
        perPeriod[p]!.recordValue(v);
      }
      clock.advanceMs(1000);
      for (const w of workers) for (const s of w.flushUpTo()) agg.add(s);
    }

    const merged = agg.takeCompleted();
    expect(merged.map((m) => m.period)).toEqual([0, 1, 2, 3, 4]);
    for (const m of merged) {
      expect(m.workers).toBe(3);
      expect(m.startMs).toBe(1_700_000_000_000 + m.period * 1000);
      expect(m.counters[Counter.registerSuccesses]).toBe(6000);
      expect(latencyStats(m.histograms[Latency.register]!)).toEqual(latencyStats(perPeriod[m.period]!));
    }
    const totals = agg.totals();
    const expected = latencyStats(total);
    expect(expected.count).toBe(30_000);
    expect(expected.max).toBeGreaterThan(1_000_000); // the tail is really there
    expect(latencyStats(totals.histograms[Latency.register]!)).toEqual(expected);
    expect(latencyStats(totals.histograms[serviceTimeName(Latency.register)]!)).toEqual(expected);
    expect(totals.counters[Counter.registerSuccesses]).toBe(30_000);
    expect(totals.periods).toBe(5);
    expect(agg.finish()).toEqual([]);
  });

  it("with a warm-up, run latencies leave out its periods, the whole-run ones keep them, and counters count everything", () => {
    const clock = new FakeClock();
    const t0 = clock.nowNs();
    const workers = [0, 1].map((id) => {
      const r = new MetricsRecorder({ workerId: id, clock, t0Ns: t0 });
      recorders.push(r);
      return r;
    });
    const agg = new Aggregator({ workerIds: [0, 1], t0Ms: clock.nowMs(), warmupPeriods: 2 });
    const measured = createHistogram();
    const whole = createHistogram();
    for (let p = 0; p < 5; p++) {
      // Slow warm-up seconds (cold code), then fast ones: the warm-up's 50 ms values must not reach the run figures.
      for (let i = 0; i < 100; i++) {
        const v = p < 2 ? 50_000 + i : 1_000 + i;
        workers[i % 2]!.latency(Latency.register, v);
        workers[i % 2]!.count(Counter.registerSuccesses);
        whole.recordValue(v);
        if (p >= 2) measured.recordValue(v);
      }
      clock.advanceMs(1000);
      for (const w of workers) for (const s of w.flushUpTo()) agg.add(s);
    }
    const totals = agg.totals();
    expect(totals.warmupPeriods).toBe(2);
    expect(latencyStats(totals.histograms[Latency.register]!)).toEqual(latencyStats(measured));
    expect(latencyStats(totals.histograms[Latency.register]!).count).toBe(300);
    expect(latencyStats(totals.histograms[Latency.register]!).max).toBeLessThan(2_000);
    expect(latencyStats(totals.wholeRunHistograms![Latency.register]!)).toEqual(latencyStats(whole));
    expect(latencyStats(totals.wholeRunHistograms![Latency.register]!).count).toBe(500);
    expect(totals.counters[Counter.registerSuccesses]).toBe(500);
    // Periods themselves are untouched: periods.csv and latency.hlog still show the warm-up.
    expect(agg.takeCompleted().map((m) => latencyStats(m.histograms[Latency.register]!).count)).toEqual([100, 100, 100, 100, 100]);
  });

  it("a warm-up covers whole periods, rounded up", () => {
    expect([0, 1, 999, 1000, 1001, 2500, 3000].map(warmupPeriods)).toEqual([0, 1, 1, 1, 2, 3, 3]);
  });

  it("without a warm-up there are no separate whole-run histograms", () => {
    const agg = new Aggregator({ workerIds: [1] });
    expect(agg.totals().warmupPeriods).toBe(0);
    expect(agg.totals().wholeRunHistograms).toBeUndefined();
  });

  it("waits for every live worker, hands periods out in order and only once", () => {
    const agg = new Aggregator({ workerIds: [1, 2] });
    agg.add(snap(1, 0, { counters: { a: 1 } }));
    agg.add(snap(1, 1, { counters: { a: 2 } }));
    expect(agg.takeCompleted()).toEqual([]);
    agg.add(snap(2, 0, { counters: { a: 10 } }));
    expect(agg.takeCompleted().map((p) => [p.period, p.counters.a, p.workers])).toEqual([[0, 11, 2]]);
    expect(agg.takeCompleted()).toEqual([]);
    agg.add(snap(2, 1, { counters: { a: 20 } }));
    expect(agg.takeCompleted().map((p) => [p.period, p.counters.a, p.workers])).toEqual([[1, 22, 2]]);
  });

  it("a worker reporting period k is done with the periods before it (it sends in order)", () => {
    const agg = new Aggregator({ workerIds: [1, 2] });
    agg.add(snap(1, 0, { counters: { a: 1 } }));
    agg.add(snap(1, 1, { counters: { a: 2 } }));
    agg.add(snap(2, 1, { counters: { a: 20 } })); // worker 2 had nothing to send for period 0
    expect(agg.takeCompleted().map((p) => [p.period, p.counters.a, p.workers])).toEqual([
      [0, 1, 1],
      [1, 22, 2],
    ]);
    // Should period 0 of worker 2 still arrive, it is counted in the totals, not re-opened.
    agg.add(snap(2, 0, { counters: { a: 10 } }));
    expect(agg.takeCompleted()).toEqual([]);
    expect(agg.totals().counters.a).toBe(33);
    expect(agg.totals().lateSnapshots).toBe(1);
  });

  it("a worker that crashed mid-run does not block completion, and its data stays in", () => {
    const agg = new Aggregator({ workerIds: [1, 2, 3] });
    for (const w of [1, 2, 3]) agg.add(snap(w, 0, { counters: { [Counter.registerAttempts]: 5 } }));
    agg.add(snap(1, 1, { counters: { [Counter.registerAttempts]: 5 } }));
    agg.add(snap(2, 1, { counters: { [Counter.registerAttempts]: 5 } }));
    expect(agg.takeCompleted().map((p) => p.period)).toEqual([0]);
    agg.workerGone(3);
    expect(agg.liveWorkers).toEqual([1, 2]);
    const done = agg.takeCompleted();
    expect(done.map((p) => [p.period, p.workers, p.counters[Counter.registerAttempts]])).toEqual([[1, 2, 10]]);
    expect(agg.totals().counters[Counter.registerAttempts]).toBe(25);
  });

  it("when every worker is gone, everything received is complete", () => {
    const agg = new Aggregator({ workerIds: [1] });
    agg.add(snap(1, 0));
    agg.add(snap(1, 1));
    agg.workerGone(1);
    expect(agg.takeCompleted().map((p) => p.period)).toEqual([0, 1]);
  });

  it("finish hands out the rest with gaps filled, and late snapshots only reach the totals", () => {
    const agg = new Aggregator({ workerIds: [1, 2], t0Ms: 5000 });
    agg.add(snap(1, 0, { counters: { c: 1 } }));
    agg.add(snap(1, 3, { counters: { c: 3 } }));
    const rest = agg.finish();
    expect(rest.map((p) => [p.period, p.startMs, p.workers, p.counters.c ?? 0])).toEqual([
      [0, 5000, 1, 1],
      [1, 6000, 0, 0],
      [2, 7000, 0, 0],
      [3, 8000, 1, 3],
    ]);
    agg.add(snap(2, 1, { counters: { c: 100 } }));
    expect(agg.finish()).toEqual([]);
    const t = agg.totals();
    expect([t.counters.c, t.lateSnapshots, t.periods]).toEqual([104, 1, 4]);
  });

  it("sums gauges across workers, takes the max for lag gauges, and keeps per-period peaks", () => {
    const agg = new Aggregator({ workerIds: [1, 2] });
    const g = (registered: number, lag: number) => ({
      gauges: { [Gauge.registeredClients]: registered, [Gauge.eventLoopLagP99]: lag, [Gauge.eventLoopLagMax]: lag * 2 },
    });
    agg.add(snap(1, 0, g(100, 1000)));
    agg.add(snap(2, 0, g(50, 3000)));
    agg.add(snap(1, 1, g(300, 500)));
    agg.add(snap(2, 1, g(0, 700)));
    agg.add(snap(1, 2, g(10, 90_000))); // worker 2 has not sent period 2 yet
    const done = agg.takeCompleted();
    expect(done.map((p) => p.gauges)).toEqual([
      { [Gauge.registeredClients]: 150, [Gauge.eventLoopLagP99]: 3000, [Gauge.eventLoopLagMax]: 6000 },
      { [Gauge.registeredClients]: 300, [Gauge.eventLoopLagP99]: 700, [Gauge.eventLoopLagMax]: 1400 },
    ]);
    const t = agg.totals();
    expect(t.gauges).toEqual({
      [Gauge.registeredClients]: 300,
      [Gauge.eventLoopLagP99]: 90_000, // pending period 2 counts towards the peaks
      [Gauge.eventLoopLagMax]: 180_000,
    });
    expect(t.lag).toEqual([
      { workerId: 1, p99Us: [1000, 500, 90_000], maxP99Us: 90_000, maxUs: 180_000 },
      { workerId: 2, p99Us: [3000, 700], maxP99Us: 3000, maxUs: 6000 },
    ]);
  });

  it("counts an undecodable histogram instead of throwing", () => {
    const agg = new Aggregator({ workerIds: [1] });
    agg.add(snap(1, 0, { histograms: { [Latency.register]: "not a histogram" }, counters: { x: 1 } }));
    const [p] = agg.takeCompleted();
    expect(p!.histograms).toEqual({});
    expect(p!.counters).toEqual({ x: 1 });
    expect(agg.totals().decodeErrors).toBe(1);
  });
});
