import { afterEach, describe, expect, it } from "vitest";
import { decodeHistogram, latencyStats } from "../../src/metrics/histogram.js";
import { Counter, Gauge, Latency, serviceTimeName } from "../../src/metrics/names.js";
import { EventLoopLagMonitor, MetricsRecorder } from "../../src/metrics/recorder.js";
import { FakeClock } from "../../src/time/clock.js";

const recorders: MetricsRecorder[] = [];
function makeRecorder(clock: FakeClock, opts: { wasm?: boolean; t0?: boolean } = {}): MetricsRecorder {
  const r = new MetricsRecorder({ workerId: 1, clock, t0Ns: opts.t0 === false ? undefined : clock.nowNs(), wasm: opts.wasm });
  recorders.push(r);
  return r;
}
afterEach(() => {
  for (const r of recorders.splice(0)) r.dispose();
});

describe("MetricsRecorder", () => {
  for (const wasm of [true, false]) {
    it(`puts samples into 1-second periods since t0 and encodes them (${wasm ? "wasm" : "js"} histograms)`, () => {
      const clock = new FakeClock();
      const r = makeRecorder(clock, { wasm });
      expect(r.usesWasm).toBe(wasm);
      r.latency(Latency.register, 1200, 800);
      r.latency(Latency.register, 2500, 2400);
      r.count(Counter.registerAttempts, 2);
      clock.advanceMs(1000);
      r.latency(Latency.register, 50_000);
      r.count(Counter.registerAttempts);
      clock.advanceMs(1500);

      const snaps = r.flushUpTo();
      expect(snaps.map((s) => s.period)).toEqual([0, 1]);
      const [s0, s1] = snaps;
      expect(s0!.workerId).toBe(1);
      expect(s0!.counters).toEqual({ [Counter.registerAttempts]: 2 });
      const reg0 = decodeHistogram(s0!.histograms[Latency.register]!);
      expect(reg0.totalCount).toBe(2);
      expect(reg0.getValueAtPercentile(100)).toBe(2501); // 2500 with 3 significant digits: bucket top
      const svc0 = decodeHistogram(s0!.histograms[serviceTimeName(Latency.register)]!);
      expect(latencyStats(svc0).min).toBe(800);
      expect(latencyStats(svc0).max).toBe(2401);
      // No service time given: the latency is the service time.
      const svc1 = decodeHistogram(s1!.histograms[serviceTimeName(Latency.register)]!);
      expect(svc1.totalCount).toBe(1);
      expect(latencyStats(svc1).min).toBe(latencyStats(decodeHistogram(s1!.histograms[Latency.register]!)).min);
      expect(s1!.counters).toEqual({ [Counter.registerAttempts]: 1 });
      // Period 2 is still running.
      expect(r.flushUpTo()).toEqual([]);
      expect(r.nextFlushAtNs()).toBe(1_700_000_003_000 * 1e6);
    });
  }

  it("emits empty snapshots for quiet periods so the coordinator can complete them", () => {
    const clock = new FakeClock();
    const r = makeRecorder(clock);
    clock.advanceMs(3000);
    const snaps = r.flushUpTo();
    expect(snaps).toEqual([0, 1, 2].map((period) => ({ workerId: 1, period, histograms: {}, counters: {}, gauges: {} })));
  });

  it("records samples taken before t0 (or before t0 is known) in period 0", () => {
    const clock = new FakeClock();
    const r = makeRecorder(clock, { t0: false });
    r.count(Counter.registerAttempts);
    clock.advanceMs(5000);
    r.count(Counter.registerAttempts);
    r.setStart(clock.nowNs() + 2e9);
    r.count(Counter.registerAttempts);
    clock.advanceMs(3000); // 1 s after t0
    const snaps = r.flushUpTo();
    expect(snaps).toHaveLength(1);
    expect(snaps[0]!.period).toBe(0);
    expect(snaps[0]!.counters[Counter.registerAttempts]).toBe(3);
  });

  it("carries gauges forward until they change, per period", () => {
    const clock = new FakeClock();
    const r = makeRecorder(clock);
    r.gauge(Gauge.registeredClients, 10);
    r.gauge(Gauge.registeredClients, 20);
    clock.advanceMs(1000);
    r.gauge(Gauge.activeClients, 5);
    clock.advanceMs(1000);
    clock.advanceMs(1000);
    r.gauge(Gauge.registeredClients, 7);
    clock.advanceMs(1000);
    const gauges = r.flushUpTo().map((s) => s.gauges);
    expect(gauges).toEqual([
      { [Gauge.registeredClients]: 20 },
      { [Gauge.registeredClients]: 20, [Gauge.activeClients]: 5 },
      { [Gauge.registeredClients]: 20, [Gauge.activeClients]: 5 },
      { [Gauge.registeredClients]: 7, [Gauge.activeClients]: 5 },
    ]);
  });

  it("a gauge set in the next period before the flush does not leak into the finished one", () => {
    const clock = new FakeClock();
    const r = makeRecorder(clock);
    r.gauge(Gauge.activeClients, 1);
    clock.advanceMs(1010); // the flush timer fires a little late…
    r.gauge(Gauge.activeClients, 2); // …after a client already changed the gauge in period 1
    const [s0] = r.flushUpTo();
    expect(s0!.gauges[Gauge.activeClients]).toBe(1);
    clock.advanceMs(1000);
    expect(r.flushUpTo()[0]!.gauges[Gauge.activeClients]).toBe(2);
  });

  it("flushAll at stop includes the running period, and later samples go to a new period", () => {
    const clock = new FakeClock();
    const r = makeRecorder(clock);
    clock.advanceMs(1500);
    r.count(Counter.registerSuccesses);
    const snaps = r.flushAll();
    expect(snaps.map((s) => [s.period, s.counters])).toEqual([
      [0, {}],
      [1, { [Counter.registerSuccesses]: 1 }],
    ]);
    // A straggler answer after the final flush is not lost and never re-opens period 1.
    r.count(Counter.registerSuccesses);
    const again = r.flushAll();
    expect(again.map((s) => [s.period, s.counters])).toEqual([[2, { [Counter.registerSuccesses]: 1 }]]);
  });

  it("takeSnapshot out of order keeps skipped data and sends it with the next flush", () => {
    const clock = new FakeClock();
    const r = makeRecorder(clock);
    r.count(Counter.registerAttempts);
    clock.advanceMs(1000);
    r.count(Counter.registerAttempts, 4);
    const s1 = r.takeSnapshot(1);
    expect(s1.counters[Counter.registerAttempts]).toBe(4);
    clock.advanceMs(1000);
    const rest = r.flushUpTo();
    expect(rest.map((s) => [s.period, s.counters[Counter.registerAttempts]])).toEqual([[0, 1]]);
  });

  it("counts non-finite latencies instead of recording them, and clamps negatives to 0", () => {
    const clock = new FakeClock();
    const r = makeRecorder(clock);
    r.latency(Latency.register, Number.NaN);
    r.latency(Latency.register, 10, Number.POSITIVE_INFINITY);
    r.latency(Latency.register, -5, 3);
    clock.advanceMs(1000);
    const [s] = r.flushUpTo();
    expect(s!.counters[Counter.invalidSamples]).toBe(2);
    const h = decodeHistogram(s!.histograms[Latency.register]!);
    expect([h.totalCount, latencyStats(h).max]).toEqual([1, 0]);
    expect(latencyStats(decodeHistogram(s!.histograms[serviceTimeName(Latency.register)]!))).toMatchObject({ count: 1, max: 3 });
  });

  it("samples probes into the periods it flushes", () => {
    const clock = new FakeClock();
    let n = 0;
    const r = makeRecorder(clock);
    r.addProbe({ sample: () => ({ [Gauge.eventLoopLagP99]: ++n * 100 }) });
    clock.advanceMs(2000);
    const snaps = r.flushUpTo();
    // One sample per flush call: the lag it measured spans both periods.
    expect(snaps.map((s) => s.gauges[Gauge.eventLoopLagP99])).toEqual([100, 100]);
    clock.advanceMs(1000);
    expect(r.flushUpTo()[0]!.gauges[Gauge.eventLoopLagP99]).toBe(200);
    expect(r.flushUpTo()).toEqual([]);
    expect(n).toBe(2); // nothing due: the probe is not reset
  });

  it("flushStepsUpTo gives the same snapshots in pieces, one histogram per step, and later samples stay out", () => {
    const clock = new FakeClock();
    const stepped = makeRecorder(clock);
    const whole = makeRecorder(clock);
    for (const r of [stepped, whole]) {
      r.latency(Latency.register, 1200, 800);
      r.count(Counter.registerAttempts);
      r.gauge(Gauge.activeClients, 3);
    }
    clock.advanceMs(1000);
    for (const r of [stepped, whole]) r.latency(Latency.register, 5000);
    clock.advanceMs(1000);
    const steps = stepped.flushStepsUpTo();
    // Taken out at the call: a sample from now on belongs to period 2, not 0 or 1.
    stepped.latency(Latency.register, 99_000);
    const yielded: Array<number | null> = [];
    const snaps = [];
    for (const s of steps) {
      yielded.push(s === null ? null : s.period);
      if (s !== null) snaps.push(s);
    }
    // Probes with the first step; then per period one step per non-empty histogram (register and
    // its service time), the last one completing the snapshot.
    expect(yielded).toEqual([null, null, 0, null, null, 1]);
    expect(snaps).toEqual(whole.flushUpTo());
    clock.advanceMs(1000);
    const [s2] = stepped.flushUpTo();
    expect(decodeHistogram(s2!.histograms[Latency.register]!).totalCount).toBe(1);
  });

  it("a recorder disposed while a stepped flush runs ends it without touching freed histograms", () => {
    const clock = new FakeClock();
    const r = makeRecorder(clock);
    r.latency(Latency.register, 100);
    r.count(Counter.registerAttempts);
    clock.advanceMs(1000);
    const steps = r.flushStepsUpTo();
    expect(steps.next().value).toBeNull();
    r.dispose();
    const rest = [...steps].filter((s) => s !== null);
    expect(rest).toEqual([{ workerId: 1, period: 0, histograms: {}, counters: { [Counter.registerAttempts]: 1 }, gauges: {} }]);
  });

  it("dispose is safe twice and later samples are dropped", () => {
    const clock = new FakeClock();
    const r = makeRecorder(clock);
    r.latency(Latency.register, 100);
    r.dispose();
    r.dispose();
    r.latency(Latency.register, 100);
    clock.advanceMs(1000);
    expect(r.flushUpTo()[0]!.histograms).toEqual({});
  });
});

describe("EventLoopLagMonitor", () => {
  it("reads zero before it is started", () => {
    const m = new EventLoopLagMonitor();
    expect(m.sample()).toEqual({ [Gauge.eventLoopLagP99]: 0, [Gauge.eventLoopLagMax]: 0 });
  });

  it("reports a blocked event loop as lag, without the timer resolution", async () => {
    const m = new EventLoopLagMonitor({ resolutionMs: 10 });
    m.start();
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    await sleep(30);
    const end = Date.now() + 120;
    while (Date.now() < end) {
      // Busy: the lag timer cannot fire.
    }
    await sleep(30);
    const s = m.sample();
    m.stop();
    m.stop();
    // A 120 ms block makes at least one timer interval ≥ 120 ms, i.e. lag ≥ 110 ms.
    expect(s[Gauge.eventLoopLagMax]).toBeGreaterThanOrEqual(100_000);
    expect(s[Gauge.eventLoopLagP99]).toBeLessThanOrEqual(s[Gauge.eventLoopLagMax]!);
  });
});
