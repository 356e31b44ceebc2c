/** Fakes for engine tests: clients whose answers take FakeClock time, and a recording sink. */
import type { IterationContext } from "../../src/client/iteration-context.js";
import type { ClientSpec, EngineClient } from "../../src/execution/engine.js";
import type { MetricsSink } from "../../src/metrics/sink.js";
import type { Plan, StepPlan } from "../../src/scenario/plan.js";
import type { Clock, FakeClock } from "../../src/time/clock.js";

export class RecordingSink implements MetricsSink {
  readonly counters = new Map<string, number>();
  readonly gauges = new Map<string, number>();
  readonly latencies: Array<{ metric: string; latencyUs: number; serviceUs?: number }> = [];
  latency(metric: string, latencyUs: number, serviceUs?: number): void {
    this.latencies.push({ metric, latencyUs, serviceUs });
  }
  count(name: string, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }
  gauge(name: string, value: number): void {
    this.gauges.set(name, value);
  }
  counter(name: string): number {
    return this.counters.get(name) ?? 0;
  }
}

export interface FakeBehaviour {
  registerMs?: number;
  registerOk?: (spec: ClientSpec) => boolean;
  registerThrows?: (spec: ClientSpec) => boolean;
  stepMs?: number;
  /** Result of a step (default true); may use the context (e.g. resolve a peer). */
  stepOk?: (spec: ClientSpec, step: StepPlan, ctx: IterationContext | undefined) => boolean;
  unregisterMs?: number;
  /** Time endIteration takes; undefined: the fake client has no endIteration at all. */
  endIterationMs?: number;
}

export interface CallLog {
  registers: Array<{ index: number; intendedNs: number | undefined; atNs: number }>;
  steps: Array<{ index: number; step: StepPlan; intendedNs: number; atNs: number; ctx: IterationContext | undefined }>;
  endIterations: Array<{ index: number; ctx: IterationContext; atNs: number }>;
  unregisters: Array<{ index: number; atNs: number }>;
  disposed: number[];
  maxConcurrentUnregisters: number;
}

export function fakeClientFactory(clock: Clock, behaviour: FakeBehaviour = {}) {
  const log: CallLog = { registers: [], steps: [], endIterations: [], unregisters: [], disposed: [], maxConcurrentUnregisters: 0 };
  const clients: FakeClient[] = [];
  let unregistering = 0;
  class FakeClient implements EngineClient {
    isRegistered = false;
    constructor(readonly spec: ClientSpec) {}
    register(intendedStartNs?: number): Promise<boolean> {
      log.registers.push({ index: this.spec.index, intendedNs: intendedStartNs, atNs: clock.nowNs() });
      if (behaviour.registerThrows?.(this.spec)) return Promise.reject(new Error("boom"));
      return new Promise((resolve) =>
        clock.after(behaviour.registerMs ?? 5, () => {
          const ok = behaviour.registerOk?.(this.spec) ?? true;
          this.isRegistered = ok;
          resolve(ok);
        }),
      );
    }
    unregister(): Promise<boolean> {
      log.unregisters.push({ index: this.spec.index, atNs: clock.nowNs() });
      unregistering++;
      log.maxConcurrentUnregisters = Math.max(log.maxConcurrentUnregisters, unregistering);
      return new Promise((resolve) =>
        clock.after(behaviour.unregisterMs ?? 5, () => {
          unregistering--;
          this.isRegistered = false;
          resolve(true);
        }),
      );
    }
    runStep(step: StepPlan, intendedStartNs: number, ctx?: IterationContext): Promise<boolean> {
      log.steps.push({ index: this.spec.index, step, intendedNs: intendedStartNs, atNs: clock.nowNs(), ctx });
      const ok = behaviour.stepOk?.(this.spec, step, ctx) ?? true;
      return new Promise((resolve) => clock.after(behaviour.stepMs ?? 10, () => resolve(ok)));
    }
    endIteration?: (ctx: IterationContext) => Promise<void> =
      behaviour.endIterationMs === undefined
        ? undefined
        : (ctx) => {
            log.endIterations.push({ index: this.spec.index, ctx, atNs: clock.nowNs() });
            return new Promise((resolve) => clock.after(behaviour.endIterationMs!, () => resolve()));
          };
    async dispose(): Promise<void> {
      log.disposed.push(this.spec.index);
    }
  }
  const create = (spec: ClientSpec): EngineClient => {
    const c = new FakeClient(spec);
    clients.push(c);
    return c;
  };
  return { create, log, clients };
}

/** Let promise continuations run (the engine reacts to client answers in microtasks). */
export async function settle(): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Advance fake time in small steps, letting promise continuations run between steps. */
export async function advance(clock: FakeClock, ms: number, stepMs = 1): Promise<void> {
  for (let t = 0; t < ms; t += stepMs) {
    clock.advanceMs(Math.min(stepMs, ms - t));
    await settle();
  }
}

export function plan(overrides: Partial<Omit<Plan, "population">> & { population?: Partial<Plan["population"]> } = {}): Plan {
  const { population, ...rest } = overrides;
  return {
    name: "test",
    seed: 1,
    durationMs: 5000,
    warmupMs: 0,
    phases: [{ name: "steady", durationMs: 5000, startRate: 0, endRate: 0 }],
    scenarios: [],
    thresholds: [],
    ...rest,
    population: {
      clients: 10,
      arrivalRate: 10,
      userTemplate: "user{index:04}",
      passwordTemplate: "pw-{user}",
      domain: "example.test",
      registerExpires: 3600,
      refreshFraction: 0.5,
      unregisterAtEnd: true,
      ...population,
    },
  };
}
