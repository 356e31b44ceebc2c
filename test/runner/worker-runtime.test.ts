import { describe, expect, it } from "vitest";
import type { RunConfig } from "../../src/config/run-config.js";
import { Counter, Gauge, Latency } from "../../src/metrics/names.js";
import type { CoordinatorToWorker, WorkerToCoordinator } from "../../src/runner/protocol.js";
import { WorkerRuntime, type WorkerFactories } from "../../src/runner/worker-runtime.js";
import { UserError } from "../../src/errors.js";
import { FakeClock } from "../../src/time/clock.js";
import { advance, fakeClientFactory, plan } from "../execution/fakes.js";

const MS = 1_000_000;

function config(overrides: Partial<RunConfig> = {}): RunConfig {
  return {
    runId: "t",
    scenarioFile: "t.yaml",
    plan: plan({ durationMs: 3000, population: { clients: 6, arrivalRate: 4 } }),
    workers: 2,
    transport: "tcp",
    connection: "shared",
    sharedConnections: 1,
    target: { kind: "external", host: "127.0.0.1", port: 5060 },
    domain: "example.test",
    users: null,
    outDir: "/tmp/none",
    requestTimeoutMs: 1000,
    embedded: { delay: null, auth: false },
    live: false,
    saturationLagUs: 20_000,
    toolVersion: "0",
    ...overrides,
  };
}

function setup(createConnections?: WorkerFactories["createConnections"]) {
  const clock = new FakeClock(1000);
  const clients = fakeClientFactory(clock, { registerMs: 20 });
  const posted: WorkerToCoordinator[] = [];
  let closed = 0;
  const factories: WorkerFactories = {
    createConnections: createConnections ?? (async () => ({ close: async () => void closed++ })),
    createClient: (spec) => clients.create(spec),
  };
  const runtime = new WorkerRuntime((m) => posted.push(m), factories, clock);
  return { clock, clients, posted, runtime, closedCount: () => closed };
}

const prepare = (c: RunConfig, workerId = 1): CoordinatorToWorker => ({
  type: "prepare",
  workerId,
  workerCount: 2,
  config: c,
  target: { host: "127.0.0.1", port: 5060 },
  durationMs: c.plan.durationMs,
});

describe("worker runtime", () => {
  it("prepares its share, posts a snapshot at each absolute period boundary, and reports done after stop", async () => {
    const { clock, clients, posted, runtime, closedCount } = setup();
    await runtime.handle(prepare(config()));
    expect(posted).toEqual([{ type: "ready", workerId: 1, clients: 3 }]);
    const t0 = clock.nowNs() + 200 * MS;
    await runtime.handle({ type: "start", t0Ns: t0 });
    await advance(clock, 200 + 2500, 10);
    const snapshots = posted.filter((m) => m.type === "snapshot").map((m) => (m as Extract<WorkerToCoordinator, { type: "snapshot" }>).snapshot);
    expect(snapshots.map((s) => s.period)).toEqual([0, 1]);
    // Clients 1, 3, 5 come up at 250, 750, 1250 ms: two registered by the end of period 0.
    expect(clients.log.registers.map((r) => (r.intendedNs! - t0) / MS)).toEqual([250, 750, 1250]);
    expect(snapshots[0]!.gauges[Gauge.registeredClients]).toBe(2);
    expect(snapshots[1]!.gauges[Gauge.registeredClients]).toBe(3);
    expect(snapshots[0]!.gauges[Gauge.eventLoopLagP99]).toBeTypeOf("number");

    const stopping = runtime.handle({ type: "stop", reason: "end" });
    await advance(clock, 3000, 10);
    await stopping;
    const done = posted.at(-1)!;
    expect(done).toEqual({
      type: "done",
      workerId: 1,
      stop: { abandoned: 0, unregistered: 3, unregisterFailed: 0, unregisterSkipped: 0, disposedCleanly: true },
    });
    const finalSnapshots = posted.filter((m) => m.type === "snapshot").slice(2);
    expect(finalSnapshots.length).toBeGreaterThan(0);
    expect(finalSnapshots.at(-1)!.type === "snapshot" && finalSnapshots.at(-1)!.snapshot.gauges[Gauge.registeredClients]).toBe(0);
    expect(closedCount()).toBe(1);
    expect(clients.log.disposed.length).toBe(3);
  });

  it("flushes a period in pieces after the boundary's timers, giving the loop back between histograms", async () => {
    const clock = new FakeClock(1000);
    const clients = fakeClientFactory(clock, { registerMs: 20 });
    const posted: WorkerToCoordinator[] = [];
    const runtime = new WorkerRuntime(
      (m) => posted.push(m),
      {
        createConnections: async () => ({ close: async () => undefined }),
        createClient: (spec, ctx) => {
          const client = clients.create(spec);
          // The fake records no latency; this one does, so the period has histograms to encode.
          const register = client.register.bind(client);
          client.register = async (ns) => {
            const ok = await register(ns);
            ctx.metrics.latency(Latency.register, 20_000, 19_000);
            return ok;
          };
          return client;
        },
      },
      clock,
    );
    await runtime.handle(prepare(config()));
    const t0 = clock.nowNs();
    await runtime.handle({ type: "start", t0Ns: t0 });
    await advance(clock, 999, 1);
    const snapshotsPosted = () => posted.filter((m) => m.type === "snapshot").length;
    expect(snapshotsPosted()).toBe(0);
    clock.advanceMs(1); // the boundary: its timers run, the flush only starts
    expect(snapshotsPosted()).toBe(0);
    let turns = 0;
    while (snapshotsPosted() === 0 && turns < 20) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      turns++;
    }
    // Probes, then register and register.service one turn each.
    expect(snapshotsPosted()).toBe(1);
    expect(turns).toBeGreaterThanOrEqual(3);
    const [snapshot] = posted.filter((m) => m.type === "snapshot").map((m) => (m as Extract<WorkerToCoordinator, { type: "snapshot" }>).snapshot);
    expect(Object.keys(snapshot!.histograms).sort()).toEqual(["register", "register.service"]);
    const stopping = runtime.handle({ type: "stop", reason: "interrupt" });
    await advance(clock, 2000, 10);
    await stopping;
    expect(posted.filter((m) => m.type === "snapshot").map((m) => (m as Extract<WorkerToCoordinator, { type: "snapshot" }>).snapshot.period)).toEqual([0, 1]);
  });

  it("turns a failing prepare into a fatal message that says whether the user can fix it", async () => {
    const { posted, runtime } = setup(async () => {
      throw new UserError("The target tcp://127.0.0.1:5060 is not reachable (connection refused): start it.");
    });
    await runtime.handle(prepare(config()));
    expect(posted).toEqual([
      { type: "fatal", workerId: 1, message: "The target tcp://127.0.0.1:5060 is not reachable (connection refused): start it.", userError: true },
    ]);
  });

  it("stops before start without scheduling anything", async () => {
    const { clock, clients, posted, runtime } = setup();
    await runtime.handle(prepare(config()));
    const stopping = runtime.handle({ type: "stop", reason: "interrupt" });
    await advance(clock, 1000, 10);
    await stopping;
    await runtime.handle({ type: "start", t0Ns: clock.nowNs() });
    await advance(clock, 1000, 10);
    expect(clients.log.registers.length).toBe(0);
    expect(posted.at(-1)).toMatchObject({ type: "done", workerId: 1 });
    expect(posted.filter((m) => m.type === "snapshot").every((m) => m.type === "snapshot" && !(Counter.registerAttempts in m.snapshot.counters))).toBe(true);
  });
});
