import { describe, expect, it } from "vitest";
import { createHistogram } from "../../src/metrics/histogram.js";
import { Counter, Latency, serviceTimeName } from "../../src/metrics/names.js";
import { evaluateThresholds } from "../../src/metrics/thresholds.js";
import type { ThresholdPlan } from "../../src/scenario/plan.js";

function t(metric: string, stat: string, op: ThresholdPlan["op"], value: number): ThresholdPlan {
  return { metric, stat, op, value, expression: `${stat} ${op} ${value}` };
}

function totals() {
  const register = createHistogram();
  // 1 ms … 100 ms, one sample each: p50 = 50 ms, p99 = 99 ms, max = 100 ms (within 0.1 %).
  for (let ms = 1; ms <= 100; ms++) register.recordValue(ms * 1000);
  return {
    histograms: { [Latency.register]: register, [serviceTimeName(Latency.register)]: register },
    counters: {
      [Counter.registerAttempts]: 200,
      [Counter.registerSuccesses]: 190,
      "register.failures.status.503": 6,
      "register.failures.timeout": 4,
    },
  };
}

describe("evaluateThresholds", () => {
  it("compares latency statistics in ms", () => {
    const r = evaluateThresholds(
      [
        t(Latency.register, "p99", "<", 200),
        t(Latency.register, "p50", "<=", 40),
        t(Latency.register, "max", ">=", 100),
        t(Latency.register, "p99.9", "<", 101),
        t(serviceTimeName(Latency.register), "mean", "<", 60),
      ],
      totals(),
    );
    expect(r.map((x) => [x.actual, x.ok])).toEqual([
      [99.007, true],
      [50.015, false],
      [100.031, true],
      [100.031, true],
      [50.504, true], // true mean 50.5 ms; HDR means use bucket midpoints
    ]);
    expect(r[1]).toMatchObject({ expression: "p50 <= 40", metric: "register", stat: "p50", op: "<=", value: 40 });
  });

  it("counts a counter family and a latency's samples", () => {
    const r = evaluateThresholds(
      [
        t(Counter.registerFailures, "count", "==", 10),
        t("register.failures.timeout", "count", "<", 1),
        t("register.failures.status.408", "count", "==", 0), // never happened: 0, not unknown
        t(Latency.register, "count", ">=", 100),
      ],
      totals(),
    );
    expect(r.map((x) => [x.actual, x.ok])).toEqual([
      [10, true],
      [4, false],
      [0, true],
      [100, true],
    ]);
  });

  it("computes a rate against the family's attempts counter", () => {
    const r = evaluateThresholds(
      [
        t(Counter.registerFailures, "rate", "<", 0.01),
        t("register.failures.status.503", "rate", "<=", 0.03),
        t(Counter.registerSuccesses, "rate", ">", 0.9),
        t(Counter.unregisterFailures, "rate", "==", 0), // no unregistration at all: rate 0
      ],
      totals(),
    );
    expect(r.map((x) => [x.actual, x.ok])).toEqual([
      [0.05, false],
      [0.03, true],
      [0.95, true],
      [0, true],
    ]);
  });

  it("fails with a clear message for an unknown metric, a wrong statistic or a metric without samples", () => {
    const r = evaluateThresholds(
      [
        t("regster", "p99", "<", 200),
        t(Latency.register, "p42", "<", 1),
        t(Latency.register, "rate", "<", 1),
        t(Counter.registerAttempts, "p99", "<", 1),
        t(Latency.sessionSetup, "p99", "<", 1000),
        t("sip.bytes_sent", "rate", "<", 1),
      ],
      totals(),
    );
    expect(r.every((x) => !x.ok && x.actual === null)).toBe(true);
    expect(r.map((x) => x.message)).toEqual([
      'unknown metric "regster": it is neither a latency nor a counter of this run (see the README\'s metric list).',
      expect.stringContaining('unknown statistic "p42" for "register"'),
      '"rate" applies to counters, not to the latency "register": use a counter such as "register.failures".',
      '"p99" applies to latencies, not to the counter "register.attempts": use count or rate.',
      'no samples of "session_setup" were recorded, so its p99 is undefined.',
      'no ".attempts" counter matches "sip.bytes_sent", so its rate cannot be computed.',
    ]);
  });
});
