import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { clientArrivalMs, clientsStartedWithin, invertRamp, IterationSchedule } from "../../src/execution/schedule.js";
import { globalIndex, shareCount } from "../../src/execution/split.js";
import type { PhasePlan } from "../../src/scenario/plan.js";

const phase = (durationMs: number, startRate: number, endRate = startRate): PhasePlan => ({ name: "p", durationMs, startRate, endRate });

/** Cumulative iterations N(t) of back-to-back linear phases, t in ms. */
function cumulative(phases: PhasePlan[], tMs: number): number {
  let n = 0;
  let start = 0;
  for (const p of phases) {
    const t = Math.min(Math.max(0, tMs - start), p.durationMs);
    const a = p.startRate / 1000;
    const b = p.endRate / 1000;
    n += a * t + ((b - a) * t * t) / (2 * p.durationMs);
    start += p.durationMs;
  }
  return n;
}

describe("client arrival schedule", () => {
  it("brings client i up at i / arrivalRate seconds after t0", () => {
    expect(clientArrivalMs({ arrivalRate: 100 }, 0)).toBe(0);
    expect(clientArrivalMs({ arrivalRate: 100 }, 250)).toBe(2500);
    expect(clientArrivalMs({ arrivalRate: 0 }, 250)).toBe(0);
  });

  it("starts only the clients whose arrival falls before the end of the run", () => {
    expect(clientsStartedWithin({ arrivalRate: 100, clients: 1000 }, 5000)).toBe(500);
    expect(clientsStartedWithin({ arrivalRate: 100, clients: 300 }, 5000)).toBe(300);
    expect(clientsStartedWithin({ arrivalRate: 3, clients: 300 }, 1000)).toBe(3);
    expect(clientsStartedWithin({ arrivalRate: 0, clients: 300 }, 1000)).toBe(300);
  });
});

describe("iteration schedule", () => {
  it("spaces a constant rate exactly: iteration j at j / rate, rate × duration iterations", () => {
    const s = new IterationSchedule([phase(5000, 10)]);
    expect(s.total).toBe(50);
    expect(s.timeOfMs(0)).toBe(0);
    expect(s.timeOfMs(1)).toBe(100);
    expect(s.timeOfMs(49)).toBeCloseTo(4900, 9);
    expect(s.timeOfMs(50)).toBeNull();
  });

  it("inverts a linear ramp in closed form: 0→10/s over 10 s puts iteration j at √(2j) s", () => {
    const s = new IterationSchedule([phase(10_000, 0, 10)]);
    expect(s.total).toBe(50);
    for (const j of [0, 1, 2, 8, 18, 49]) expect(s.timeOfMs(j)!).toBeCloseTo(Math.sqrt(2 * j) * 1000, 6);
  });

  it("never lands an iteration inside a hold phase (rate 0)", () => {
    const s = new IterationSchedule([phase(3000, 0), phase(2000, 5), phase(1000, 0)]);
    expect(s.total).toBe(10);
    expect(s.timeOfMs(0)).toBe(3000);
    expect(s.timeOfMs(9)).toBeCloseTo(3000 + 1800, 6);
  });

  it("handles a ramp down: 10→0/s over 2 s has 10 iterations, the last before the end", () => {
    const s = new IterationSchedule([phase(2000, 10, 0)]);
    expect(s.total).toBe(10);
    const times = Array.from({ length: 10 }, (_, j) => s.timeOfMs(j)!);
    expect(times[0]).toBe(0);
    expect(times[9]!).toBeLessThan(2000);
    expect(times.every((t, i) => i === 0 || t > times[i - 1]!)).toBe(true);
  });

  it("places iteration j where the cumulative arrivals reach j, and times never decrease (property)", () => {
    const phaseArb = fc.record({
      name: fc.constant("p"),
      durationMs: fc.integer({ min: 1, max: 20_000 }),
      startRate: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 500, noNaN: true })),
      endRate: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 500, noNaN: true })),
    });
    fc.assert(
      fc.property(fc.array(phaseArb, { minLength: 1, maxLength: 4 }), (phases) => {
        const s = new IterationSchedule(phases);
        const end = phases.reduce((a, p) => a + p.durationMs, 0);
        expect(s.total).toBe(Math.max(0, Math.ceil(cumulative(phases, end) - 1e-9)));
        let previous = -1;
        const step = Math.max(1, Math.floor(s.total / 200));
        for (let j = 0; j < s.total; j += step) {
          const t = s.timeOfMs(j)!;
          expect(t).toBeGreaterThanOrEqual(previous);
          expect(t).toBeGreaterThanOrEqual(0);
          expect(t).toBeLessThanOrEqual(end);
          // N(t) reaches j at t (within float tolerance of the rate × 1 µs).
          expect(Math.abs(cumulative(phases, t) - j)).toBeLessThan(1e-6 * Math.max(1, j));
          previous = t;
        }
      }),
    );
  });

  it("lets W workers together produce exactly the global schedule", () => {
    const s = new IterationSchedule([phase(2000, 0, 300), phase(1000, 300, 50)]);
    const global = Array.from({ length: s.total }, (_, j) => s.timeOfMs(j)!);
    for (const workers of [1, 2, 3, 7]) {
      const union: number[] = [];
      for (let w = 0; w < workers; w++) {
        for (let m = 0; m < shareCount(s.total, w, workers); m++) union.push(s.timeOfMs(globalIndex(m, w, workers))!);
      }
      expect(union.sort((a, b) => a - b)).toEqual(global);
    }
  });

  it("solves a flat ramp without dividing by the slope", () => {
    expect(invertRamp(0.01, 0.01, 1000, 5)).toBe(500);
    expect(invertRamp(0.01, 0.01 + 1e-15, 1000, 5)).toBeCloseTo(500, 6);
    expect(invertRamp(0, 0, 1000, 5)).toBe(1000);
  });
});
