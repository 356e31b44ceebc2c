import { describe, expect, it } from "vitest";
import type { IterationContext } from "../../src/client/iteration-context.js";
import { ExecutionEngine } from "../../src/execution/engine.js";
import { PeerResolver } from "../../src/execution/peers.js";
import { Counter, Latency } from "../../src/metrics/names.js";
import type { Plan, StepPlan } from "../../src/scenario/plan.js";
import { FakeClock } from "../../src/time/clock.js";
import { advance, fakeClientFactory, plan, RecordingSink, type FakeBehaviour } from "./fakes.js";

const MS = 1_000_000;

const invite: StepPlan = { kind: "invite", to: { kind: "random" } };
const send: StepPlan = { kind: "send", count: 1, intervalMs: 0, size: { kind: "fixed", bytes: 10 }, contentType: "text/plain", chunkSize: 2048, imdn: false };
const bye: StepPlan = { kind: "bye", by: "caller" };

function start(p: Plan, workers: number, clock: FakeClock, behaviour: FakeBehaviour, users: Array<{ user: string; password: string }> | null = null) {
  const factory = fakeClientFactory(clock, behaviour);
  const sink = new RecordingSink();
  const warnings: string[] = [];
  const t0 = clock.nowNs();
  for (let w = 0; w < workers; w++) {
    new ExecutionEngine({
      plan: p,
      workerId: w,
      workerCount: workers,
      clock,
      metrics: sink,
      createClient: factory.create,
      users,
      domain: "cpm.test",
      onWarning: (m) => warnings.push(m),
    }).start(t0);
  }
  return { factory, sink, warnings, t0 };
}

/** Clients come up at 10/s during the first 2 s while iterations already run at 20/s. */
const rampingPlan = (steps: StepPlan[] = [invite, send, bye]): Plan =>
  plan({
    seed: 11,
    population: { clients: 20, arrivalRate: 10, userTemplate: "u{index}" },
    phases: [{ name: "run", durationMs: 4000, startRate: 20, endRate: 20 }],
    durationMs: 4000,
    scenarios: [{ name: "chat", weight: 1, steps }],
  });

const userIndex = (uri: string | null): number | null => (uri === null ? null : Number(/^sip:u(\d+)@cpm\.test$/.exec(uri)![1]));

describe("execution engine: iteration context", () => {
  it("every step of an iteration gets the same context (global iteration index, fresh state); iterations get their own", async () => {
    const clock = new FakeClock(1000);
    const { factory, t0 } = start(rampingPlan(), 1, clock, {
      stepMs: 5,
      stepOk: (_spec, step, ctx) => {
        if (step.kind === "invite") ctx!.state.session = { opened: ctx!.iterationIndex };
        return true;
      },
    });
    await advance(clock, 4200, 5);
    const byCtx = new Map<IterationContext, StepPlan["kind"][]>();
    for (const s of factory.log.steps) {
      expect(s.ctx).toBeDefined();
      byCtx.set(s.ctx!, [...(byCtx.get(s.ctx!) ?? []), s.step.kind]);
    }
    expect(byCtx.size).toBeGreaterThan(40);
    for (const [ctx, kinds] of byCtx) {
      expect(kinds).toEqual(["invite", "send", "bye"]);
      expect(ctx.state.session).toEqual({ opened: ctx.iterationIndex });
    }
    // The index is the global iteration index: iteration j is intended at j / 20 s.
    const firstSteps = factory.log.steps.filter((s) => s.step.kind === "invite");
    for (const s of firstSteps) expect(s.intendedNs - t0).toBe(s.ctx!.iterationIndex * 50 * MS);
  });

  it("random peers are never the caller and only clients already up; the same iteration run by the same client picks the same peer with 1 or 3 workers", async () => {
    const run = async (workers: number) => {
      const clock = new FakeClock(1000);
      const picks: Array<{ iteration: number; self: number; peer: number | null; atNs: number; randoms: number[] }> = [];
      const { factory, t0 } = start(rampingPlan(), workers, clock, {
        stepMs: 20,
        stepOk: (spec, step, ctx) => {
          if (step.kind === "invite") {
            picks.push({
              iteration: ctx!.iterationIndex,
              self: spec.index,
              peer: userIndex(ctx!.peerUri(step.to)),
              atNs: clock.nowNs(),
              randoms: [ctx!.random(), ctx!.random()],
            });
          }
          return true;
        },
      });
      await advance(clock, 4200, 5);
      return { picks, registers: factory.log.registers, t0 };
    };
    const one = await run(1);
    const three = await run(3);
    expect(one.picks.length).toBeGreaterThan(50);
    for (const { picks, registers, t0 } of [one, three]) {
      for (const p of picks) {
        // Only before client 1 comes up (100 ms) is there nobody to call.
        if (p.peer === null) {
          expect(p.atNs - t0).toBeLessThan(100 * MS);
          continue;
        }
        expect(p.peer).not.toBe(p.self);
        // Only clients that had come up by the iteration's start (arrival i at i·100 ms).
        const registeredAt = registers.find((r) => r.index === p.peer)!.atNs;
        expect(registeredAt).toBeLessThanOrEqual(p.atNs);
        expect(p.peer! * 100 * MS).toBeLessThanOrEqual(p.atNs - t0);
      }
    }
    // Same seed, same iteration → same random numbers whatever the worker count.
    const key = (p: { iteration: number }) => p.iteration;
    const threeByIteration = new Map(three.picks.map((p) => [key(p), p]));
    let sameCaller = 0;
    for (const p of one.picks) {
      const q = threeByIteration.get(p.iteration);
      if (!q) continue;
      expect(q.randoms).toEqual(p.randoms);
      if (q.self === p.self) {
        sameCaller++;
        expect(q.peer).toBe(p.peer);
      }
    }
    expect(sameCaller).toBeGreaterThan(0);
    // And the pick is exactly the resolver's for (seed, iteration, caller, intended start).
    const resolver = new PeerResolver({
      population: rampingPlan().population,
      clientsInRun: 20,
      users: null,
      domain: "cpm.test",
      seed: 11,
    });
    for (const p of three.picks) {
      const expected = resolver.resolve({ kind: "random" }, { self: p.self, iterationIndex: p.iteration, offsetMs: p.iteration * 50 }, resolver.drawsFor(p.iteration));
      expect(p.peer).toBe(expected);
    }
  });

  it("next and index peers resolve to URIs from the --users list when one is given", async () => {
    const clock = new FakeClock(1000);
    const users = Array.from({ length: 4 }, (_, i) => ({ user: `name${i}`, password: "x" }));
    const seen: Array<[number, string | null, string | null]> = [];
    start(
      plan({
        population: { clients: 4, arrivalRate: 1000 },
        phases: [
          { name: "hold", durationMs: 100, startRate: 0, endRate: 0 },
          { name: "run", durationMs: 1000, startRate: 8, endRate: 8 },
        ],
        durationMs: 1100,
        scenarios: [{ name: "s", weight: 1, steps: [{ kind: "invite", to: { kind: "next" } }] }],
      }),
      1,
      clock,
      {
        stepMs: 1,
        stepOk: (spec, _step, ctx) => {
          seen.push([spec.index, ctx!.peerUri({ kind: "next" }), ctx!.peerUri({ kind: "index", index: 2 })]);
          return true;
        },
      },
      users,
    );
    await advance(clock, 1200, 5);
    expect(seen.length).toBe(8);
    for (const [self, next, two] of seen) {
      expect(next).toBe(`sip:name${(self + 1) % 4}@cpm.test`);
      expect(two).toBe(self === 2 ? null : "sip:name2@cpm.test");
    }
  });

  it("endIteration follows the last step once, also after a failed step; the client stays busy until it is done and the iteration latency excludes it", async () => {
    const clock = new FakeClock(1000);
    const p = plan({
      population: { clients: 1, arrivalRate: 1000 },
      phases: [
        { name: "hold", durationMs: 100, startRate: 0, endRate: 0 },
        { name: "run", durationMs: 1000, startRate: 4, endRate: 4 },
      ],
      durationMs: 1100,
      scenarios: [{ name: "s", weight: 1, steps: [invite, send, bye] }],
    });
    let calls = 0;
    const { factory, sink, t0 } = start(p, 1, clock, {
      stepMs: 20,
      endIterationMs: 300,
      // The second iteration's send fails: its bye never runs.
      stepOk: (_spec, step) => !(step.kind === "send" && ++calls === 2),
    });
    await advance(clock, 1500, 5);
    // Iterations at 100, 350, 600, 850 ms; each holds the only client 60 ms of steps + 300 ms of
    // endIteration, so 350 and 850 find it busy and are dropped.
    expect(sink.counter(Counter.iterationsStarted)).toBe(2);
    expect(sink.counter(Counter.iterationsDropped)).toBe(2);
    expect(sink.counter(Counter.iterationsCompleted)).toBe(1);
    expect(sink.counter(Counter.iterationsFailed)).toBe(1);
    expect(factory.log.steps.map((s) => s.step.kind)).toEqual(["invite", "send", "bye", "invite", "send"]);
    expect(factory.log.endIterations.map((e) => (e.atNs - t0) / MS)).toEqual([160, 640]);
    expect(factory.log.endIterations[0]!.ctx).toBe(factory.log.steps[0]!.ctx);
    expect(factory.log.endIterations[1]!.ctx).toBe(factory.log.steps[3]!.ctx);
    expect(sink.latencies.filter((l) => l.metric === Latency.iteration).map((l) => l.latencyUs)).toEqual([60_000]);
  });

  it("a throwing endIteration is reported once and the client goes back to work", async () => {
    const clock = new FakeClock(1000);
    const factory = fakeClientFactory(clock, { stepMs: 5 });
    const sink = new RecordingSink();
    const warnings: string[] = [];
    const engine = new ExecutionEngine({
      plan: plan({
        population: { clients: 1, arrivalRate: 1000 },
        phases: [
          { name: "hold", durationMs: 100, startRate: 0, endRate: 0 },
          { name: "run", durationMs: 1000, startRate: 5, endRate: 5 },
        ],
        durationMs: 1100,
        scenarios: [{ name: "s", weight: 1, steps: [invite] }],
      }),
      workerId: 0,
      workerCount: 1,
      clock,
      metrics: sink,
      createClient: (spec) => {
        const client = factory.create(spec);
        client.endIteration = () => Promise.reject(new Error("no session to close"));
        return client;
      },
      users: null,
      domain: "cpm.test",
      onWarning: (m) => warnings.push(m),
    });
    engine.start(clock.nowNs());
    await advance(clock, 1200, 5);
    expect(sink.counter(Counter.iterationsCompleted)).toBe(5);
    expect(warnings).toEqual(["ending an iteration threw: no session to close"]);
  });

  it("the stop grace waits for endIteration in flight, and a short grace counts it as abandoned", async () => {
    const stopAfter = async (graceMs: number) => {
      const clock = new FakeClock(1000);
      const p = plan({
        population: { clients: 1, arrivalRate: 1000 },
        phases: [
          { name: "hold", durationMs: 100, startRate: 0, endRate: 0 },
          { name: "run", durationMs: 900, startRate: 1, endRate: 1 },
        ],
        durationMs: 1000,
        scenarios: [{ name: "s", weight: 1, steps: [invite] }],
      });
      const factory = fakeClientFactory(clock, { stepMs: 5, endIterationMs: 400 });
      const engine = new ExecutionEngine({ plan: p, workerId: 0, workerCount: 1, clock, metrics: new RecordingSink(), createClient: factory.create, users: null, domain: "d" });
      const t0 = clock.nowNs();
      engine.start(t0);
      await advance(clock, 150, 5);
      expect(factory.log.endIterations.map((e) => (e.atNs - t0) / MS)).toEqual([105]);
      let stoppedAtMs = -1;
      const stopping = engine.stop({ graceMs, unregister: false }).then((report) => {
        stoppedAtMs = (clock.nowNs() - t0) / MS;
        return report;
      });
      await advance(clock, 1000, 5);
      return { report: await stopping, stoppedAtMs };
    };
    const patient = await stopAfter(1000);
    expect(patient.report.abandoned).toBe(0);
    expect(patient.stoppedAtMs).toBeGreaterThanOrEqual(505);
    const hasty = await stopAfter(100);
    expect(hasty.report.abandoned).toBe(1);
    expect(hasty.stoppedAtMs).toBeLessThan(505);
  });
});
