import { describe, expect, it } from "vitest";
import { ExecutionEngine } from "../../src/execution/engine.js";
import { Counter, Gauge, Latency } from "../../src/metrics/names.js";
import type { Plan, StepPlan } from "../../src/scenario/plan.js";
import { FakeClock } from "../../src/time/clock.js";
import { advance, fakeClientFactory, plan, RecordingSink } from "./fakes.js";

const MS = 1_000_000;
// Fake time starts near 0 so nanosecond arithmetic stays exact (epoch ns exceed 2^53).

function engineFor(p: Plan, workerId: number, workerCount: number, clock: FakeClock, factory: ReturnType<typeof fakeClientFactory>, sink = new RecordingSink()) {
  const warnings: string[] = [];
  const engine = new ExecutionEngine({
    plan: p,
    workerId,
    workerCount,
    clock,
    metrics: sink,
    createClient: factory.create,
    users: null,
    domain: "example.test",
    onWarning: (m) => warnings.push(m),
  });
  return { engine, sink, warnings };
}

describe("execution engine: population", () => {
  it("brings this worker's clients up at t0 + i/rate and registers them timed from that instant", async () => {
    const clock = new FakeClock(1000);
    const factory = fakeClientFactory(clock);
    const { engine, sink } = engineFor(plan({ population: { clients: 10, arrivalRate: 10 } }), 1, 2, clock, factory);
    expect(engine.prepare()).toBe(5);
    expect(factory.clients.map((c) => c.spec.user)).toEqual(["user0001", "user0003", "user0005", "user0007", "user0009"]);
    expect(factory.clients[0]!.spec.password).toBe("pw-user0001");
    const t0 = clock.nowNs() + 200 * MS;
    engine.start(t0);
    await advance(clock, 1300, 10);
    expect(factory.log.registers.map((r) => r.index)).toEqual([1, 3, 5, 7, 9]);
    for (const r of factory.log.registers) {
      expect(r.intendedNs).toBe(t0 + r.index * 100 * MS);
      expect(r.atNs).toBe(r.intendedNs);
    }
    engine.sampleGauges();
    expect(sink.gauges.get(Gauge.registeredClients)).toBe(5);
    expect(sink.gauges.get(Gauge.activeClients)).toBe(0);
  });

  it("never starts clients whose arrival falls after the end of the run", async () => {
    const clock = new FakeClock(1000);
    const factory = fakeClientFactory(clock);
    const { engine } = engineFor(plan({ durationMs: 2000, population: { clients: 100, arrivalRate: 10 } }), 0, 2, clock, factory);
    expect(engine.prepare()).toBe(10);
    engine.start(clock.nowNs());
    await advance(clock, 5000, 50);
    expect(factory.log.registers.length).toBe(10);
    expect(Math.max(...factory.log.registers.map((r) => r.index))).toBe(18);
  });

  it("leaves a client whose registration fails or throws out of iterations, warning once", async () => {
    const clock = new FakeClock(1000);
    const factory = fakeClientFactory(clock, {
      registerOk: (s) => s.index !== 0,
      registerThrows: (s) => s.index === 1 || s.index === 2,
    });
    const p = plan({
      population: { clients: 4, arrivalRate: 1000 },
      phases: [
        { name: "hold", durationMs: 100, startRate: 0, endRate: 0 },
        { name: "run", durationMs: 1000, startRate: 10, endRate: 10 },
      ],
      durationMs: 1100,
      scenarios: [{ name: "s", weight: 1, steps: [{ kind: "register" }] }],
    });
    const { engine, sink, warnings } = engineFor(p, 0, 1, clock, factory);
    engine.start(clock.nowNs());
    await advance(clock, 1100, 5);
    expect(new Set(factory.log.steps.map((s) => s.index))).toEqual(new Set([3]));
    expect(warnings).toEqual(["a registration threw: boom"]);
    expect(sink.counter(Counter.iterationsStarted)).toBe(10);
  });
});

describe("execution engine: iterations", () => {
  const twoClientsPlan = () =>
    plan({
      population: { clients: 2, arrivalRate: 1000 },
      phases: [
        { name: "hold", durationMs: 1000, startRate: 0, endRate: 0 },
        { name: "run", durationMs: 1000, startRate: 10, endRate: 10 },
      ],
      durationMs: 2000,
      scenarios: [{ name: "s", weight: 1, steps: [{ kind: "register" }, { kind: "pause", durationMs: 440 }] }],
    });

  it("runs each iteration on an idle client from its intended time and drops it when none is idle", async () => {
    const clock = new FakeClock(1000);
    const factory = fakeClientFactory(clock, { stepMs: 10 });
    const { engine, sink } = engineFor(twoClientsPlan(), 0, 1, clock, factory);
    const t0 = clock.nowNs();
    engine.start(t0);
    await advance(clock, 1250);
    engine.sampleGauges();
    expect(sink.gauges.get(Gauge.activeClients)).toBe(2);
    await advance(clock, 1000);
    // Iterations at 1000..1900 ms; each holds its client 450 ms: A 1000, B 1100, A 1500, B 1600 run.
    expect(factory.log.steps.map((s) => [s.index, (s.intendedNs - t0) / MS])).toEqual([
      [0, 1000],
      [1, 1100],
      [0, 1500],
      [1, 1600],
    ]);
    expect(factory.log.steps.every((s) => s.atNs === s.intendedNs)).toBe(true);
    expect(sink.counter(Counter.iterationsStarted)).toBe(4);
    expect(sink.counter(Counter.iterationsDropped)).toBe(6);
    expect(sink.counter(Counter.iterationsCompleted)).toBe(4);
    const iterations = sink.latencies.filter((l) => l.metric === Latency.iteration);
    expect(iterations.map((l) => l.latencyUs)).toEqual([450_000, 450_000, 450_000, 450_000]);
  });

  it("bounds iterations in flight when asked", async () => {
    const clock = new FakeClock(1000);
    const factory = fakeClientFactory(clock, { stepMs: 10 });
    const sink = new RecordingSink();
    const engine = new ExecutionEngine({
      plan: twoClientsPlan(),
      workerId: 0,
      workerCount: 1,
      clock,
      metrics: sink,
      createClient: factory.create,
      users: null,
      domain: "d",
      maxConcurrentIterations: 1,
    });
    engine.start(clock.nowNs());
    await advance(clock, 2200, 5);
    // One at a time: 1000, 1500 run; the rest are dropped.
    expect(sink.counter(Counter.iterationsStarted)).toBe(2);
    expect(sink.counter(Counter.iterationsDropped)).toBe(8);
  });

  it("skips a client whose registration lapsed", async () => {
    const clock = new FakeClock(1000);
    const factory = fakeClientFactory(clock, { stepMs: 1 });
    const { engine } = engineFor(
      plan({
        population: { clients: 3, arrivalRate: 1000 },
        phases: [
          { name: "hold", durationMs: 100, startRate: 0, endRate: 0 },
          { name: "run", durationMs: 1000, startRate: 20, endRate: 20 },
        ],
        durationMs: 1100,
        scenarios: [{ name: "s", weight: 1, steps: [{ kind: "register" }] }],
      }),
      0,
      1,
      clock,
      factory,
    );
    engine.start(clock.nowNs());
    await advance(clock, 50);
    factory.clients[1]!.isRegistered = false;
    await advance(clock, 1100, 5);
    const used = new Set(factory.log.steps.map((s) => s.index));
    expect(used).toEqual(new Set([0, 2]));
    expect(factory.log.steps.length).toBe(20);
  });

  it("picks the same scenario for iteration j whatever the worker count", async () => {
    const mixFor = async (workers: number): Promise<Map<number, number | undefined>> => {
      const clock = new FakeClock(1000);
      const p = plan({
        population: { clients: 30, arrivalRate: 0 },
        phases: [
          { name: "hold", durationMs: 100, startRate: 0, endRate: 0 },
          { name: "run", durationMs: 2000, startRate: 50, endRate: 50 },
        ],
        durationMs: 2100,
        scenarios: [
          { name: "a", weight: 1, steps: [{ kind: "register", expires: 1 }] },
          { name: "b", weight: 2, steps: [{ kind: "register", expires: 2 }] },
          { name: "c", weight: 0, steps: [{ kind: "register", expires: 3 }] },
        ],
      });
      const factory = fakeClientFactory(clock, { stepMs: 1 });
      const t0 = clock.nowNs();
      for (let w = 0; w < workers; w++) engineFor(p, w, workers, clock, factory).engine.start(t0);
      await advance(clock, 2200, 5);
      const mix = new Map<number, number | undefined>();
      for (const s of factory.log.steps) mix.set(Math.round((s.intendedNs - t0) / MS), (s.step as Extract<StepPlan, { kind: "register" }>).expires);
      return mix;
    };
    const one = await mixFor(1);
    const three = await mixFor(3);
    expect(one.size).toBe(100);
    expect([...three.entries()].sort((a, b) => a[0] - b[0])).toEqual([...one.entries()].sort((a, b) => a[0] - b[0]));
    expect([...one.values()].filter((e) => e === 3)).toEqual([]);
    expect([...one.values()].filter((e) => e === 1).length).toBeGreaterThan(15);
  });
});

describe("execution engine: stop", () => {
  const stopPlan = () =>
    plan({
      population: { clients: 20, arrivalRate: 100 },
      phases: [
        { name: "hold", durationMs: 300, startRate: 0, endRate: 0 },
        { name: "run", durationMs: 9700, startRate: 1, endRate: 1 },
      ],
      durationMs: 10_000,
      scenarios: [{ name: "s", weight: 1, steps: [{ kind: "pause", durationMs: 60_000 }] }],
    });

  it("cancels arrivals, gives in-flight work a grace period, unregisters with bounded concurrency, disposes", async () => {
    const clock = new FakeClock(1000);
    const factory = fakeClientFactory(clock, { unregisterMs: 100 });
    const { engine, sink } = engineFor(stopPlan(), 0, 1, clock, factory);
    engine.start(clock.nowNs());
    await advance(clock, 400, 5);
    expect(factory.log.registers.length).toBe(20);
    const stopping = engine.stop({ graceMs: 1000, unregisterConcurrency: 3, unregisterDeadlineMs: 5000 });
    expect(engine.stop({ graceMs: 0 })).toBe(stopping);
    await advance(clock, 2000, 10);
    const report = await stopping;
    expect(report).toEqual({ abandoned: 1, unregistered: 20, unregisterFailed: 0, unregisterSkipped: 0, disposedCleanly: true });
    expect(factory.log.maxConcurrentUnregisters).toBe(3);
    expect(factory.log.disposed.length).toBe(20);
    // The pause still running when the grace ended was cut short: interrupted, not failed; no
    // iteration started after stop.
    expect(sink.counter(Counter.iterationsStarted)).toBe(1);
    expect(sink.counter(Counter.iterationsInterrupted)).toBe(1);
    expect(sink.counter(Counter.iterationsFailed)).toBe(0);
    await advance(clock, 5000, 100);
    expect(sink.counter(Counter.iterationsStarted)).toBe(1);
    expect(factory.log.registers.length).toBe(20);
  });

  it("counts an iteration that fails within the grace period as failed, one cut short after it as interrupted", async () => {
    const clock = new FakeClock(1000);
    // Steps take 500 ms; the second iteration's step fails.
    const factory = fakeClientFactory(clock, { stepMs: 500, stepOk: (_spec, _step, ctx) => ctx?.iterationIndex !== 1 });
    const p = plan({
      population: { clients: 2, arrivalRate: 100 },
      phases: [
        { name: "hold", durationMs: 100, startRate: 0, endRate: 0 },
        { name: "run", durationMs: 9900, startRate: 2, endRate: 2 },
      ],
      durationMs: 10_000,
      scenarios: [{ name: "s", weight: 1, steps: [{ kind: "invite", to: { kind: "random" } } as unknown as StepPlan, { kind: "pause", durationMs: 60_000 }] }],
    });
    const { engine, sink } = engineFor(p, 0, 1, clock, factory);
    engine.start(clock.nowNs());
    // Iterations start at 100 ms and 600 ms, one on each client: the first goes on into its pause.
    await advance(clock, 700, 5);
    expect(new Set(factory.log.steps.map((s) => s.index)).size).toBe(2);
    expect(sink.counter(Counter.iterationsStarted)).toBe(2);
    const stopping = engine.stop({ graceMs: 1000, unregisterDeadlineMs: 1000 });
    await advance(clock, 3000, 10);
    await stopping;
    // The second iteration's step failed at its own pace (1,100 ms) inside the grace period; the
    // first was still in its pause when the grace ended (1,700 ms).
    expect(sink.counter(Counter.iterationsFailed)).toBe(1);
    expect(sink.counter(Counter.iterationsInterrupted)).toBe(1);
    expect(sink.counter(Counter.iterationsCompleted)).toBe(0);
  });

  it("bounds the unregister phase by its deadline and still disposes every client", async () => {
    const clock = new FakeClock(1000);
    const factory = fakeClientFactory(clock, { unregisterMs: 1000 });
    const { engine } = engineFor(stopPlan(), 0, 1, clock, factory);
    engine.start(clock.nowNs());
    await advance(clock, 250, 5);
    const stopping = engine.stop({ graceMs: 0, unregisterConcurrency: 2, unregisterDeadlineMs: 2500 });
    await advance(clock, 3000, 10);
    const report = await stopping;
    expect(report.unregistered).toBe(4);
    expect(report.unregisterSkipped).toBe(16);
    expect(factory.log.disposed.length).toBe(20);
  });

  it("skips unregistering when the plan says so", async () => {
    const clock = new FakeClock(1000);
    const factory = fakeClientFactory(clock);
    const p = stopPlan();
    const { engine } = engineFor({ ...p, population: { ...p.population, unregisterAtEnd: false } }, 0, 1, clock, factory);
    engine.start(clock.nowNs());
    await advance(clock, 500, 5);
    const stopping = engine.stop({ graceMs: 0 });
    await advance(clock, 100, 5);
    const report = await stopping;
    expect(report.unregistered).toBe(0);
    expect(factory.log.unregisters.length).toBe(0);
  });
});
