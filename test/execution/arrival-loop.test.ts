import { describe, expect, it } from "vitest";
import { ArrivalLoop } from "../../src/execution/arrival-loop.js";
import { FakeClock } from "../../src/time/clock.js";

const MS = 1_000_000;

describe("arrival loop", () => {
  it("delivers each arrival with its own absolute intended time, even when timers fire late", () => {
    const clock = new FakeClock();
    const t0 = clock.nowNs() + 200 * MS;
    const got: Array<[number, number, number]> = [];
    const loop = new ArrivalLoop({
      clock,
      t0Ns: t0,
      offsetMsOf: (k) => (k < 100 ? k * 7 : null),
      onArrival: (k, intended) => got.push([k, intended, clock.nowNs()]),
    });
    loop.start();
    // Big, irregular steps: a stalled event loop. Intended times must not drift.
    for (const step of [150, 333, 17, 1, 250, 500]) clock.advanceMs(step);
    expect(got.length).toBe(100);
    got.forEach(([k, intended, at], i) => {
      expect(k).toBe(i);
      expect(intended).toBe(t0 + k * 7 * MS);
      expect(at).toBeGreaterThanOrEqual(intended);
    });
    expect(loop.finished).toBe(true);
  });

  it("catches up in bounded batches, yielding to the event loop between them", () => {
    const clock = new FakeClock();
    const perTurn: number[] = [];
    // Count deliveries per timer turn by wrapping the clock's timer callbacks.
    const counting = {
      nowNs: () => clock.nowNs(),
      nowMs: () => clock.nowMs(),
      after: (ms: number, fn: () => void) => clock.after(ms, fn),
      at: (ns: number, fn: () => void) =>
        clock.at(ns, () => {
          perTurn.push(0);
          fn();
        }),
    };
    const loop = new ArrivalLoop({
      clock: counting,
      t0Ns: clock.nowNs(),
      offsetMsOf: (k) => (k < 45 ? 0 : null),
      maxBatch: 10,
      onArrival: () => perTurn[perTurn.length - 1]!++,
    });
    loop.start();
    clock.advanceMs(0);
    expect(perTurn).toEqual([10, 10, 10, 10, 5]);
  });

  it("stops delivering when cancelled", () => {
    const clock = new FakeClock();
    let n = 0;
    const loop = new ArrivalLoop({ clock, t0Ns: clock.nowNs(), offsetMsOf: (k) => k * 10, onArrival: () => n++ });
    loop.start();
    clock.advanceMs(95);
    expect(n).toBe(10);
    loop.cancel();
    clock.advanceMs(1000);
    expect(n).toBe(10);
    expect(loop.finished).toBe(true);
  });
});
