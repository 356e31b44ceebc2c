import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { iterationRandom, PeerResolver, type PeerResolverOptions } from "../../src/execution/peers.js";

const population = { arrivalRate: 10, userTemplate: "user{index:04}", passwordTemplate: "pw-{user}" };

function resolver(overrides: Partial<PeerResolverOptions> = {}): PeerResolver {
  return new PeerResolver({ population, clientsInRun: 100, users: null, domain: "cpm.test", seed: 7, settleMs: 1000, ...overrides });
}

describe("peer resolution", () => {
  it("clients up by an instant: a prefix of the population, i/rate after t0, capped at the run's clients", () => {
    const r = resolver();
    expect(r.upBy(-1)).toBe(0);
    expect(r.upBy(0)).toBe(1);
    expect(r.upBy(99.9)).toBe(1);
    expect(r.upBy(100)).toBe(2);
    expect(r.upBy(1000)).toBe(11);
    expect(r.upBy(60_000)).toBe(100);
    expect(resolver({ population: { ...population, arrivalRate: Number.POSITIVE_INFINITY } }).upBy(0)).toBe(100);
    // 3 per second: client 3 is up at exactly 1000 ms despite 3·1000/3 float arithmetic.
    expect(resolver({ population: { ...population, arrivalRate: 3 } }).upBy(1000)).toBe(4);
  });

  it("random: never the caller, only clients that came up at least settleMs before the iteration", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 0, max: 99 }),
        fc.integer({ min: 0, max: 20_000 }),
        (seed, iterationIndex, self, offsetMs) => {
          const r = resolver({ seed });
          const peer = r.resolve({ kind: "random" }, { self, iterationIndex, offsetMs }, r.drawsFor(iterationIndex));
          const settled = r.upBy(offsetMs - 1000);
          const up = r.upBy(offsetMs);
          const othersSettled = settled - (self < settled ? 1 : 0);
          const othersUp = up - (self < up ? 1 : 0);
          if (othersUp === 0) return peer === null;
          if (peer === null || peer === self || peer < 0) return false;
          // With another settled client the pick is among the settled; else among those up.
          return othersSettled > 0 ? peer < settled : peer < up;
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("random: the first moments of a run fall back to the clients already up, and nobody else up means no peer", () => {
    const r = resolver();
    const pick = (self: number, offsetMs: number) => r.resolve({ kind: "random" }, { self, iterationIndex: 3, offsetMs }, r.drawsFor(3));
    expect(pick(0, 50)).toBeNull(); // only client 0 is up
    expect(pick(0, 150)).toBe(1); // clients 0 and 1 are up, neither settled: the other one
    expect(pick(1, 150)).toBe(0);
    expect(pick(0, 1100)).toBe(1); // settled: clients 0 and 1; the caller is 0
  });

  it("random: a pure function of (seed, iteration, caller, instant), uniform over the candidates", () => {
    const a = resolver();
    const b = resolver();
    const counts = new Array<number>(10).fill(0);
    for (let j = 0; j < 9000; j++) {
      const request = { self: 4, iterationIndex: j, offsetMs: 1950 }; // settled: clients 0..9
      const peer = a.resolve({ kind: "random" }, request, a.drawsFor(j))!;
      expect(b.resolve({ kind: "random" }, request, b.drawsFor(j))).toBe(peer);
      counts[peer]!++;
    }
    expect(counts[4]).toBe(0);
    for (const [i, n] of counts.entries()) if (i !== 4) expect(n, `client ${i}`).toBeGreaterThan(850);
    // Another seed gives another sequence.
    const c = resolver({ seed: 8 });
    const seq = (r: PeerResolver) => Array.from({ length: 20 }, (_, j) => r.resolve({ kind: "random" }, { self: 4, iterationIndex: j, offsetMs: 1950 }, r.drawsFor(j)));
    expect(seq(c)).not.toEqual(seq(a));
  });

  it("random: two draws in one iteration use successive numbers of the iteration's stream", () => {
    const r = resolver({ clientsInRun: 1000, population: { ...population, arrivalRate: 1000 } });
    const draws = r.drawsFor(5);
    const first = r.resolve({ kind: "random" }, { self: 0, iterationIndex: 5, offsetMs: 5000 }, draws);
    const second = r.resolve({ kind: "random" }, { self: 0, iterationIndex: 5, offsetMs: 5000 }, draws);
    const again = r.drawsFor(5);
    expect([r.resolve({ kind: "random" }, { self: 0, iterationIndex: 5, offsetMs: 5000 }, again), r.resolve({ kind: "random" }, { self: 0, iterationIndex: 5, offsetMs: 5000 }, again)]).toEqual([
      first,
      second,
    ]);
    expect(first).not.toBe(second);
  });

  it("next: the following index, wrapping at the clients of the run; index: that client unless it is the caller or not in the run", () => {
    const r = resolver({ clientsInRun: 5 });
    const request = (self: number) => ({ self, iterationIndex: 0, offsetMs: 0 });
    const none = () => 0;
    expect([0, 1, 2, 3, 4].map((s) => r.resolve({ kind: "next" }, request(s), none))).toEqual([1, 2, 3, 4, 0]);
    expect(resolver({ clientsInRun: 1 }).resolve({ kind: "next" }, request(0), none)).toBeNull();
    expect(r.resolve({ kind: "index", index: 3 }, request(0), none)).toBe(3);
    expect(r.resolve({ kind: "index", index: 3 }, request(3), none)).toBeNull();
    expect(r.resolve({ kind: "index", index: 5 }, request(0), none)).toBeNull();
  });

  it("peer URIs use the same user names as the clients: templates, or the --users list", () => {
    expect(resolver().uriOf(12)).toBe("sip:user0012@cpm.test");
    const listed = resolver({ users: [{ user: "alice", password: "a" }, { user: "bob", password: "b" }], domain: "example.org" });
    expect(listed.uriOf(1)).toBe("sip:bob@example.org");
  });
});

describe("per-iteration random numbers", () => {
  it("depend on (seed, iteration) only, differ between iterations and seeds, and lie in [0, 1)", () => {
    const take = (seed: number, j: number) => {
      const next = iterationRandom(seed, j);
      return Array.from({ length: 5 }, () => next());
    };
    expect(take(1, 42)).toEqual(take(1, 42));
    expect(take(1, 42)).not.toEqual(take(1, 43));
    expect(take(1, 42)).not.toEqual(take(2, 42));
    for (let j = 0; j < 200; j++) for (const x of take(9, j)) expect(x >= 0 && x < 1).toBe(true);
  });
});
