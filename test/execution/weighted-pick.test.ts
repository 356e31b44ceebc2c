import { describe, expect, it } from "vitest";
import { seededRandom } from "../../src/client/prng.js";
import { iterationRandom } from "../../src/execution/peers.js";
import { hashUnit, WeightedPicker } from "../../src/execution/weighted-pick.js";

describe("seeded weighted pick", () => {
  it("picks in proportion to the weights", () => {
    const picker = new WeightedPicker([1, 3, 6], 42);
    const counts = [0, 0, 0];
    for (let j = 0; j < 100_000; j++) counts[picker.pick(j)]!++;
    expect(counts[0]! / 100_000).toBeCloseTo(0.1, 1);
    expect(counts[1]! / 100_000).toBeCloseTo(0.3, 1);
    expect(counts[2]! / 100_000).toBeCloseTo(0.6, 1);
  });

  it("is a pure function of (seed, iteration): the same mix whatever the worker that asks", () => {
    const a = new WeightedPicker([2, 1, 1], 7);
    const b = new WeightedPicker([2, 1, 1], 7);
    const forward = Array.from({ length: 1000 }, (_, j) => a.pick(j));
    // Worker 1 of 3 asks for iterations 1, 4, 7, ... in its own order; the picks agree.
    for (let j = 999; j >= 0; j -= 3) expect(b.pick(j)).toBe(forward[j]);
  });

  it("gives another mix for another seed", () => {
    const a = new WeightedPicker([1, 1], 1);
    const b = new WeightedPicker([1, 1], 2);
    const diff = Array.from({ length: 200 }, (_, j) => a.pick(j) !== b.pick(j)).filter(Boolean).length;
    expect(diff).toBeGreaterThan(50);
  });

  it("never picks a zero-weight item and reports an all-zero mix as empty", () => {
    const picker = new WeightedPicker([0, 5, 0, 5, 0], 3);
    for (let j = 0; j < 10_000; j++) expect([1, 3]).toContain(picker.pick(j));
    const empty = new WeightedPicker([0, 0], 3);
    expect(empty.isEmpty).toBe(true);
    expect(empty.pick(0)).toBe(-1);
    expect(() => new WeightedPicker([1, -1], 0)).toThrow(RangeError);
  });

  it("maps into [0,1) also for indices beyond 2^32", () => {
    for (const j of [0, 1, 2 ** 32, 2 ** 32 + 1, 2 ** 50]) {
      const u = hashUnit(9, j);
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
    }
    expect(hashUnit(9, 2 ** 32)).not.toBe(hashUnit(9, 0));
  });

  it("iteration streams come from the client PRNG and keep their values (runs stay reproducible across versions)", () => {
    const a = iterationRandom(42, 7);
    const b = iterationRandom(42, 7);
    for (let i = 0; i < 100; i++) expect(a()).toBe(b());
    // Golden values from before the execution module used src/client/prng.ts (its own copy of mulberry32).
    const r = iterationRandom(42, 7);
    expect([r(), r(), r()]).toEqual([0.6809670287184417, 0.35793760675005615, 0.16558288736268878]);
    const q = iterationRandom(1, 2 ** 33 + 5);
    expect([q(), q()]).toEqual([0.42341434536501765, 0.8736239809077233]);
    const s = seededRandom(5);
    const t = seededRandom(5);
    for (let i = 0; i < 100; i++) expect(s()).toBe(t());
  });
});
