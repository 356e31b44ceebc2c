/**
 * The per-worker execution engine: owns this worker's share of the population and of the
 * iteration schedule. It brings clients up on their arrival times (register, timed from the
 * intended instant), runs scenario iterations on idle registered clients at the intended times of
 * the open-model schedule (dropping, never queueing, when no client is idle), and stops cleanly.
 *
 * It talks to clients only through `EngineClient` and makes them through a factory, so the
 * schedule, pick and drop logic is tested with a FakeClock and fake clients, without sockets.
 */
import type { IterationContext } from "../client/iteration-context.js";
import type { UserCredential } from "../config/run-config.js";
import { Counter, Gauge, Latency } from "../metrics/names.js";
import type { MetricsSink } from "../metrics/sink.js";
import type { Plan, StepPlan } from "../scenario/plan.js";
import type { Clock, TimerHandle } from "../time/clock.js";
import { ArrivalLoop } from "./arrival-loop.js";
import { iterationRandom, PeerResolver } from "./peers.js";
import { clientArrivalMs, clientsStartedWithin, IterationSchedule } from "./schedule.js";
import { globalIndex, shareCount } from "./split.js";
import { credentialsFor } from "./user-names.js";
import { WeightedPicker } from "./weighted-pick.js";

const NS_PER_US = 1_000;
const DEFAULT_CATCH_UP_BATCH = 50;

/**
 * What the engine needs of a virtual client (src/client VirtualClient implements it). Every step
 * of one iteration gets the same IterationContext (seeded random numbers, peer resolution, the
 * iteration's session state); `endIteration` follows the last step, also after a failed one, so
 * the client can close a session the steps left open.
 */
export interface EngineClient {
  readonly isRegistered: boolean;
  register(intendedStartNs?: number): Promise<boolean>;
  unregister(): Promise<boolean>;
  runStep(step: StepPlan, intendedStartNs: number, ctx?: IterationContext): Promise<boolean>;
  endIteration?(ctx: IterationContext): Promise<void>;
  dispose(): Promise<void>;
}

export interface ClientSpec {
  /** Global client index (0-based across all workers). */
  index: number;
  user: string;
  password: string;
  domain: string;
}

export type ClientFactory = (spec: ClientSpec) => EngineClient;

export interface EngineOptions {
  plan: Plan;
  workerId: number;
  workerCount: number;
  clock: Clock;
  metrics: MetricsSink;
  createClient: ClientFactory;
  /** Explicit credentials (--users); null: from the plan's templates. */
  users: readonly UserCredential[] | null;
  /** SIP domain of the users. */
  domain: string;
  /** Run length; arrivals at or after it are never started. Default plan.durationMs. */
  durationMs?: number;
  /** Bound on iterations in flight in this worker (beyond it iterations are dropped). */
  maxConcurrentIterations?: number;
  /**
   * Arrivals delivered per timer turn when catching up (default 50). Starting an iteration or a
   * registration costs up to a millisecond of synchronous work (SIP.js request, SDP, MSRP
   * session), so a late timer that released 1000 at once would block the loop for a second and
   * every answer behind it would read as target latency; small batches let I/O run in between.
   */
  catchUpBatch?: number;
  /** Problems worth a line in the run output (first of each kind only). */
  onWarning?: (message: string) => void;
  /** A `random` peer must have come up this long before the iteration (default 1000 ms, see peers.ts). */
  peerSettleMs?: number;
}

export interface StopOptions {
  /** How long in-flight registrations and iterations may still finish. */
  graceMs: number;
  /** Unregister registered clients (default plan.population.unregisterAtEnd). */
  unregister?: boolean;
  /** Unregistrations in flight at once. */
  unregisterConcurrency?: number;
  /** The unregister phase ends after this long; clients not yet done are skipped. */
  unregisterDeadlineMs?: number;
  /** Disposing clients (closing sockets) ends after this long. */
  disposeDeadlineMs?: number;
}

export interface StopReport {
  /** Registrations or iterations still running when the grace period ended. */
  abandoned: number;
  unregistered: number;
  unregisterFailed: number;
  /** Registered clients not unregistered because the deadline passed. */
  unregisterSkipped: number;
  /** Whether disposing clients finished before its deadline. */
  disposedCleanly: boolean;
}

type ClientState = "pending" | "registering" | "idle" | "busy" | "down";

interface Slot {
  client: EngineClient;
  state: ClientState;
}

export class ExecutionEngine {
  /** This worker's clients in arrival order; local k is global client globalIndex(k). */
  private readonly slots: Slot[] = [];
  /** Local indices of idle registered clients, least recently used first (Set keeps insertion order). */
  private readonly idle = new Set<number>();
  private readonly schedule: IterationSchedule;
  private readonly picker: WeightedPicker;
  private readonly peers: PeerResolver;
  private readonly durationMs: number;
  private t0Ns = 0;
  private readonly maxConcurrent: number;
  private clientLoop: ArrivalLoop | null = null;
  private iterationLoop: ArrivalLoop | null = null;
  private inFlight = 0;
  private iterationsInFlight = 0;
  private readonly inFlightWaiters: Array<() => void> = [];
  private readonly pauses = new Set<{ timer: TimerHandle; resolve: (ok: boolean) => void }>();
  private readonly warned = new Set<string>();
  private prepared = false;
  private started = false;
  private stopping: Promise<StopReport> | null = null;
  /** Set when the stop's grace period has ended: iterations still running are being cut short. */
  private graceOver = false;
  private stopped = false;

  constructor(private readonly opts: EngineOptions) {
    this.schedule = new IterationSchedule(opts.plan.phases);
    this.picker = new WeightedPicker(
      opts.plan.scenarios.map((s) => (s.steps.length > 0 ? s.weight : 0)),
      opts.plan.seed,
    );
    this.durationMs = opts.durationMs ?? opts.plan.durationMs;
    this.maxConcurrent = opts.maxConcurrentIterations ?? Number.POSITIVE_INFINITY;
    this.peers = new PeerResolver({
      population: opts.plan.population,
      clientsInRun: clientsStartedWithin(opts.plan.population, this.durationMs),
      users: opts.users,
      domain: opts.domain,
      seed: opts.plan.seed,
      settleMs: opts.peerSettleMs,
    });
  }

  /** Clients this worker will bring up (its share of those arriving within the run). */
  get clientCount(): number {
    return this.prepared ? this.slots.length : this.clientShare();
  }

  /** Iterations this worker is scheduled to start (its share of the whole schedule). */
  get iterationCount(): number {
    return shareCount(this.iterationTotal(), this.opts.workerId, this.opts.workerCount);
  }

  /** Build this worker's clients (before the start barrier, so construction is not timed). */
  prepare(): number {
    if (this.prepared) return this.slots.length;
    this.prepared = true;
    const { plan, workerId, workerCount } = this.opts;
    const n = this.clientShare();
    for (let k = 0; k < n; k++) {
      const index = globalIndex(k, workerId, workerCount);
      const cred = credentialsFor(index, plan.population, this.opts.users);
      const client = this.opts.createClient({ index, user: cred.user, password: cred.password, domain: this.opts.domain });
      this.slots.push({ client, state: "pending" });
    }
    return n;
  }

  /** Start the arrival schedules from the common start instant t0. */
  start(t0Ns: number): void {
    if (this.started) throw new Error("engine already started");
    this.prepare();
    this.started = true;
    this.t0Ns = t0Ns;
    if (this.stopping) return;
    const { workerId, workerCount, plan } = this.opts;
    this.clientLoop = new ArrivalLoop({
      clock: this.opts.clock,
      t0Ns,
      offsetMsOf: (k) => (k < this.slots.length ? clientArrivalMs(plan.population, globalIndex(k, workerId, workerCount)) : null),
      onArrival: (k, intendedNs) => this.arrive(k, intendedNs),
      maxBatch: this.opts.catchUpBatch ?? DEFAULT_CATCH_UP_BATCH,
    });
    const iterations = this.iterationCount;
    this.iterationLoop = new ArrivalLoop({
      clock: this.opts.clock,
      t0Ns,
      offsetMsOf: (m) => {
        if (m >= iterations) return null;
        const offset = this.schedule.timeOfMs(globalIndex(m, workerId, workerCount));
        return offset === null || offset >= this.durationMs ? null : offset;
      },
      onArrival: (m, intendedNs) => this.iterate(globalIndex(m, workerId, workerCount), intendedNs),
      maxBatch: this.opts.catchUpBatch ?? DEFAULT_CATCH_UP_BATCH,
    });
    this.clientLoop.start();
    if (!this.picker.isEmpty) this.iterationLoop.start();
  }

  /**
   * The client gauges now (registered clients, clients running an iteration). The worker samples
   * them as a metrics probe at each period flush, so they land in the period just ended.
   */
  gaugeValues(): Record<string, number> {
    if (this.stopped) return { [Gauge.registeredClients]: 0, [Gauge.activeClients]: 0 };
    let registered = 0;
    for (const slot of this.slots) if (slot.client.isRegistered) registered++;
    return { [Gauge.registeredClients]: registered, [Gauge.activeClients]: this.iterationsInFlight };
  }

  /** Publish the client gauges through the metrics sink. */
  sampleGauges(): void {
    for (const [name, value] of Object.entries(this.gaugeValues())) this.opts.metrics.gauge(name, value);
  }

  /** Counts for tests and the worker's final report. */
  stats(): { clients: number; arrived: number; idle: number; inFlight: number; iterationsInFlight: number } {
    return {
      clients: this.slots.length,
      arrived: this.clientLoop?.delivered ?? 0,
      idle: this.idle.size,
      inFlight: this.inFlight,
      iterationsInFlight: this.iterationsInFlight,
    };
  }

  /**
   * Stop: no further arrivals; in-flight work gets `graceMs` to finish; then registered clients
   * unregister (bounded concurrency and deadline) and every client is disposed. Safe to call twice
   * (the second call returns the first call's promise).
   */
  stop(options: StopOptions): Promise<StopReport> {
    this.stopping ??= this.doStop(options);
    return this.stopping;
  }

  private async doStop(options: StopOptions): Promise<StopReport> {
    this.clientLoop?.cancel();
    this.iterationLoop?.cancel();
    await this.waitInFlight(options.graceMs);
    // From here on, an iteration that ends unsuccessfully was cut short by the stop, not failed.
    this.graceOver = true;
    const abandoned = this.inFlight;
    // Pauses still sleeping would keep their iteration alive: end them as failed.
    for (const pause of [...this.pauses]) {
      pause.timer.cancel();
      this.pauses.delete(pause);
      pause.resolve(false);
    }
    const report: StopReport = { abandoned, unregistered: 0, unregisterFailed: 0, unregisterSkipped: 0, disposedCleanly: true };
    const unregister = options.unregister ?? this.opts.plan.population.unregisterAtEnd;
    if (unregister) {
      const registered = this.slots.filter((s) => s.client.isRegistered).map((s) => s.client);
      Object.assign(
        report,
        await this.unregisterAll(registered, options.unregisterConcurrency ?? 200, options.unregisterDeadlineMs ?? 5000),
      );
    }
    this.idle.clear();
    report.disposedCleanly = await this.withDeadline(
      Promise.all(this.slots.map((s) => s.client.dispose().catch((err: unknown) => this.warn("dispose", `disposing a client failed: ${describe(err)}`)))),
      options.disposeDeadlineMs ?? 2000,
    );
    this.stopped = true;
    this.sampleGauges();
    return report;
  }

  private clientShare(): number {
    const started = clientsStartedWithin(this.opts.plan.population, this.durationMs);
    return shareCount(started, this.opts.workerId, this.opts.workerCount);
  }

  private iterationTotal(): number {
    return this.picker.isEmpty ? 0 : this.schedule.total;
  }

  private arrive(k: number, intendedNs: number): void {
    const slot = this.slots[k];
    if (!slot || slot.state !== "pending") return;
    slot.state = "registering";
    this.inFlight++;
    settle(() => slot.client.register(intendedNs), (err) => this.warn("register", `a registration threw: ${describe(err)}`)).then((ok) => {
      this.inFlight--;
      slot.state = ok && slot.client.isRegistered ? "idle" : "down";
      if (slot.state === "idle" && !this.stopping) this.idle.add(k);
      this.notifyInFlight();
    });
  }

  private iterate(globalIteration: number, intendedNs: number): void {
    const metrics = this.opts.metrics;
    const scenario = this.opts.plan.scenarios[this.picker.pick(globalIteration)];
    if (!scenario) return;
    const k = this.iterationsInFlight < this.maxConcurrent ? this.takeIdle() : -1;
    if (k < 0) {
      metrics.count(Counter.iterationsDropped);
      return;
    }
    const slot = this.slots[k]!;
    slot.state = "busy";
    this.inFlight++;
    this.iterationsInFlight++;
    metrics.count(Counter.iterationsStarted);
    const actualStartNs = this.opts.clock.nowNs();
    const ctx = this.iterationContext(globalIteration, globalIndex(k, this.opts.workerId, this.opts.workerCount), intendedNs);
    void this.runSteps(slot.client, scenario.steps, intendedNs, ctx).then(async (ok) => {
      const endNs = this.opts.clock.nowNs();
      if (ok) {
        metrics.count(Counter.iterationsCompleted);
        metrics.latency(
          Latency.iteration,
          Math.max(0, (endNs - intendedNs) / NS_PER_US),
          Math.max(0, (endNs - actualStartNs) / NS_PER_US),
        );
      } else {
        metrics.count(this.graceOver ? Counter.iterationsInterrupted : Counter.iterationsFailed);
      }
      // Closing what the steps left open is cleanup, not part of the iteration's latency; the
      // client stays busy (and the stop grace waits) until it is done.
      if (slot.client.endIteration) {
        await settle(
          async () => {
            await slot.client.endIteration!(ctx);
            return true;
          },
          (err) => this.warn("endIteration", `ending an iteration threw: ${describe(err)}`),
        );
      }
      this.inFlight--;
      this.iterationsInFlight--;
      slot.state = slot.client.isRegistered ? "idle" : "down";
      if (slot.state === "idle" && !this.stopping) this.idle.add(k);
      this.notifyInFlight();
    });
  }

  /**
   * The context of global iteration `iterationIndex` run by global client `self`: seeded random
   * numbers and peers that depend on (seed, iteration, self, intended start) only.
   */
  private iterationContext(iterationIndex: number, self: number, intendedNs: number): IterationContext {
    const request = { self, iterationIndex, offsetMs: (intendedNs - this.t0Ns) / 1_000_000 };
    let draws: (() => number) | null = null;
    return {
      iterationIndex,
      random: iterationRandom(this.opts.plan.seed, iterationIndex),
      peerUri: (peer) => {
        draws ??= this.peers.drawsFor(iterationIndex);
        const index = this.peers.resolve(peer, request, draws);
        return index === null ? null : this.peers.uriOf(index);
      },
      state: {},
    };
  }

  private async runSteps(client: EngineClient, steps: readonly StepPlan[], intendedNs: number, ctx: IterationContext): Promise<boolean> {
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i]!;
      // Only the first step is timed from the schedule; later ones start when the previous ends.
      const stepIntendedNs = i === 0 ? intendedNs : this.opts.clock.nowNs();
      const ok =
        step.kind === "pause"
          ? await this.pause(step.durationMs)
          : await settle(() => client.runStep(step, stepIntendedNs, ctx), (err) => this.warn(`step:${step.kind}`, `a ${step.kind} step threw: ${describe(err)}`));
      if (!ok) return false;
    }
    return true;
  }

  /** Pauses are engine time (the one clock), so they are cut short cleanly at stop. */
  private pause(durationMs: number): Promise<boolean> {
    if (this.stopping) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const entry = {
        timer: this.opts.clock.after(durationMs, () => {
          this.pauses.delete(entry);
          resolve(true);
        }),
        resolve,
      };
      this.pauses.add(entry);
    });
  }

  /** Least recently used idle client that is still registered, or -1. */
  private takeIdle(): number {
    for (const k of this.idle) {
      this.idle.delete(k);
      const slot = this.slots[k]!;
      if (slot.client.isRegistered) return k;
      // Its registration lapsed (failed refresh): it is no longer eligible for iterations.
      slot.state = "down";
    }
    return -1;
  }

  private notifyInFlight(): void {
    if (this.inFlight > 0) return;
    for (const wake of this.inFlightWaiters.splice(0)) wake();
  }

  private waitInFlight(graceMs: number): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = this.opts.clock.after(graceMs, () => resolve());
      this.inFlightWaiters.push(() => {
        timer.cancel();
        resolve();
      });
    });
  }

  private async unregisterAll(
    clients: EngineClient[],
    concurrency: number,
    deadlineMs: number,
  ): Promise<Pick<StopReport, "unregistered" | "unregisterFailed" | "unregisterSkipped">> {
    let next = 0;
    let unregistered = 0;
    let failed = 0;
    let expired = false;
    const lane = async (): Promise<void> => {
      while (!expired && next < clients.length) {
        const client = clients[next++]!;
        const ok = await settle(() => client.unregister(), (err) => this.warn("unregister", `an unregistration threw: ${describe(err)}`));
        if (ok) unregistered++;
        else failed++;
      }
    };
    const lanes = Array.from({ length: Math.min(Math.max(1, concurrency), clients.length) }, lane);
    const finished = await this.withDeadline(Promise.all(lanes), deadlineMs);
    if (!finished) expired = true;
    return { unregistered, unregisterFailed: failed, unregisterSkipped: clients.length - unregistered - failed };
  }

  /** Resolves true when `work` settles within `ms`, false when the deadline comes first. */
  private withDeadline(work: Promise<unknown>, ms: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = this.opts.clock.after(ms, () => resolve(false));
      void work.then(
        () => {
          timer.cancel();
          resolve(true);
        },
        () => {
          timer.cancel();
          resolve(true);
        },
      );
    });
  }

  private warn(kind: string, message: string): void {
    if (this.warned.has(kind)) return;
    this.warned.add(kind);
    this.opts.onWarning?.(message);
  }
}

/** Run a client call; a throw or rejection counts as a failure (and is reported once). */
async function settle(call: () => Promise<boolean>, onError: (err: unknown) => void): Promise<boolean> {
  try {
    return await call();
  } catch (err) {
    onError(err);
    return false;
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
