import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { globalIndex, ownedIndices, ownsIndex, shareCount } from "../../src/execution/split.js";

describe("exact split of clients and iterations across workers", () => {
  it("gives every worker floor or ceil of total/W and the shares add up to the total", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 1, max: 64 }), (total, workers) => {
        let sum = 0;
        for (let w = 0; w < workers; w++) {
          const share = shareCount(total, w, workers);
          expect(share === Math.floor(total / workers) || share === Math.ceil(total / workers)).toBe(true);
          sum += share;
        }
        expect(sum).toBe(total);
      }),
    );
  });

  it("partitions the indices: every index is owned by exactly one worker, ascending within a worker", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 1, max: 16 }), (total, workers) => {
        const seen = new Array<number>(total).fill(0);
        for (let w = 0; w < workers; w++) {
          const owned = ownedIndices(total, w, workers);
          owned.forEach((i, k) => {
            expect(globalIndex(k, w, workers)).toBe(i);
            expect(ownsIndex(i, w, workers)).toBe(true);
            if (k > 0) expect(i).toBeGreaterThan(owned[k - 1]!);
            seen[i]!++;
          });
        }
        expect(seen.every((n) => n === 1)).toBe(true);
      }),
    );
  });

  it("gives the first workers the extra item: 10 clients over 4 workers are 3,3,2,2", () => {
    expect([0, 1, 2, 3].map((w) => shareCount(10, w, 4))).toEqual([3, 3, 2, 2]);
    expect(ownedIndices(10, 1, 4)).toEqual([1, 5, 9]);
    expect(shareCount(2, 3, 4)).toBe(0);
  });

  it("rejects a worker id outside the pool", () => {
    expect(() => shareCount(10, 4, 4)).toThrow(RangeError);
    expect(() => shareCount(10, 0, 0)).toThrow(RangeError);
  });
});
