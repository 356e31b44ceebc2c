/**
 * Seeded, deterministic weighted choice. The pick for global iteration j is a pure function of
 * (seed, j), not of a PRNG stream, so the scenario mix of a run is the same whatever the worker
 * count and whichever worker runs iteration j (artillery's unseeded Math.random pick is the
 * counterexample).
 */

/** murmur3's 32-bit finaliser: a bijective avalanche mix. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A uniform value in [0, 1) derived from (seed, index) alone. Index may exceed 2^32. */
export function hashUnit(seed: number, index: number): number {
  const lo = index >>> 0;
  const hi = Math.floor(index / 0x1_0000_0000) >>> 0;
  let h = fmix32((seed >>> 0) ^ 0x9e3779b9);
  h = fmix32(h ^ lo);
  h = fmix32((h + Math.imul(hi, 0x27d4eb2f)) >>> 0 ^ 0x165667b1);
  // Second, independent word for 53 bits of resolution.
  const h2 = fmix32(h ^ 0x5bd1e995);
  return (h * 0x20_0000 + (h2 >>> 11)) / 2 ** 53;
}

/** Weighted choice among items by non-negative weights; items of weight 0 are never picked. */
export class WeightedPicker {
  private readonly cumulative: number[] = [];
  readonly totalWeight: number;

  constructor(
    weights: readonly number[],
    private readonly seed: number,
  ) {
    let sum = 0;
    for (const w of weights) {
      if (!(w >= 0) || !Number.isFinite(w)) throw new RangeError(`weights must be finite and non-negative, got ${w}`);
      sum += w;
      this.cumulative.push(sum);
    }
    this.totalWeight = sum;
  }

  /** Whether any item can be picked. */
  get isEmpty(): boolean {
    return !(this.totalWeight > 0);
  }

  /** The item index for global iteration `index`, or -1 when every weight is 0. */
  pick(index: number): number {
    if (this.isEmpty) return -1;
    const target = hashUnit(this.seed, index) * this.totalWeight;
    // First cumulative weight strictly above the target: zero-weight items share their
    // predecessor's cumulative value and so can never be the first one above it.
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cumulative[mid]! > target) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
