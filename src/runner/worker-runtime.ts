/**
 * The client worker's life, independent of the thread plumbing: prepare (metrics recorder,
 * connections, engine with its clients) → ready; start(t0) → engine schedules from t0 and a
 * snapshot of every completed 1 s period is posted at the absolute period boundaries; stop →
 * engine stop (grace, unregister, dispose, all bounded), final snapshots, done.
 *
 * worker-entry.ts wires it to parentPort with the real client factories; the connection and
 * client factories are injectable so the protocol logic does not need sockets to be exercised.
 */
import type { RunConfig } from "../config/run-config.js";
import { UserError } from "../errors.js";
import type { ClientSpec, EngineClient, StopOptions } from "../execution/engine.js";
import { ExecutionEngine } from "../execution/engine.js";
import { EventLoopLagMonitor, MetricsRecorder } from "../metrics/recorder.js";
import type { MetricsSink } from "../metrics/sink.js";
import type { PeriodSnapshot } from "../metrics/snapshot.js";
import type { Clock, TimerHandle } from "../time/clock.js";
import type { CoordinatorToWorker, TargetAddress, WorkerTestHooks, WorkerToCoordinator } from "./protocol.js";

export interface ConnectionsHandle {
  close(): Promise<void>;
}

export interface WorkerFactories<C extends ConnectionsHandle = ConnectionsHandle> {
  createConnections(args: { config: RunConfig; target: TargetAddress; metrics: MetricsSink; clock: Clock }): Promise<C>;
  createClient(spec: ClientSpec, ctx: { config: RunConfig; connections: C; metrics: MetricsSink; clock: Clock }): EngineClient;
}

/** Stop budgets. An interrupt must let the whole run end within 2 s, so every phase is short. */
export function stopBudget(reason: "end" | "interrupt", config: RunConfig): StopOptions {
  if (reason === "interrupt") {
    // 150 + 400 + 200 (+ 150 to close connections) ≈ 0.9 s worst case, inside INTERRUPT_STOP_MS.
    return { graceMs: 150, unregisterConcurrency: 500, unregisterDeadlineMs: 400, disposeDeadlineMs: 200 };
  }
  return {
    graceMs: Math.min(config.requestTimeoutMs, 3000),
    unregisterConcurrency: 500,
    unregisterDeadlineMs: Math.min(Math.max(config.requestTimeoutMs, 2000), 8000),
    disposeDeadlineMs: 2000,
  };
}

export class WorkerRuntime<C extends ConnectionsHandle = ConnectionsHandle> {
  private workerId = -1;
  private config: RunConfig | null = null;
  private recorder: MetricsRecorder | null = null;
  private lag: EventLoopLagMonitor | null = null;
  private connections: C | null = null;
  private engine: ExecutionEngine | null = null;
  private flushTimer: TimerHandle | null = null;
  private flushing: Generator<PeriodSnapshot | null, void, void> | null = null;
  private flushImmediate: NodeJS.Immediate | null = null;
  private hooks: WorkerTestHooks | undefined;
  private stopping: Promise<void> | null = null;
  private started = false;

  constructor(
    private readonly post: (message: WorkerToCoordinator) => void,
    private readonly factories: WorkerFactories<C>,
    private readonly clock: Clock,
  ) {}

  /** Handle one coordinator message; failures become a `fatal` message, never a throw. */
  async handle(message: CoordinatorToWorker): Promise<void> {
    try {
      switch (message.type) {
        case "prepare":
          await this.prepare(message);
          return;
        case "start":
          this.start(message.t0Ns);
          return;
        case "stop":
          await this.stop(message.reason);
          return;
      }
    } catch (err) {
      this.post({
        type: "fatal",
        workerId: this.workerId,
        message: err instanceof Error ? err.message : String(err),
        userError: err instanceof UserError,
      });
    }
  }

  private async prepare(message: Extract<CoordinatorToWorker, { type: "prepare" }>): Promise<void> {
    const { workerId, workerCount, config, target } = message;
    this.workerId = workerId;
    this.config = config;
    this.hooks = message.testHooks;
    const clock = this.clock;
    const recorder = new MetricsRecorder({ workerId, clock });
    this.recorder = recorder;
    this.connections = await this.factories.createConnections({ config, target, metrics: recorder, clock });
    const connections = this.connections;
    const engine = new ExecutionEngine({
      plan: config.plan,
      workerId,
      workerCount,
      clock,
      metrics: recorder,
      users: config.users,
      domain: config.domain,
      durationMs: message.durationMs,
      createClient: (spec) => this.factories.createClient(spec, { config, connections, metrics: recorder, clock }),
      onWarning: (text) => this.post({ type: "warning", workerId, message: text }),
    });
    this.engine = engine;
    recorder.addProbe({ sample: () => engine.gaugeValues() });
    const clients = engine.prepare();
    this.post({ type: "ready", workerId, clients });
  }

  private start(t0Ns: number): void {
    const { engine, recorder } = this;
    if (!engine || !recorder || this.started || this.stopping) return;
    this.started = true;
    recorder.setStart(t0Ns);
    // The lag monitor starts now, not at prepare: building thousands of clients blocks the loop
    // before t0, and that must not read as generator saturation in period 0.
    this.lag = new EventLoopLagMonitor();
    this.lag.start();
    recorder.addProbe(this.lag);
    engine.start(t0Ns);
    this.armFlush();
    const crash = this.hooks?.crash;
    if (crash && crash.workerId === this.workerId) {
      this.clock.at(t0Ns + crash.afterMs * 1_000_000, () => {
        // Test hook: an uncaught error in a timer callback kills the thread like a real bug would.
        throw new Error(`test hook: worker ${this.workerId} crashed on purpose`);
      });
    }
  }

  private armFlush(): void {
    const recorder = this.recorder!;
    // Absolute period boundaries (never "1 s after the last flush", which would drift); a timer
    // that fires a hair early flushes nothing and re-arms for the same instant.
    this.flushTimer = this.clock.at(recorder.nextFlushAtNs(), () => {
      this.flushTimer = null;
      if (this.stopping) return;
      this.finishFlush();
      // In pieces, one per turn of the loop, starting after the arrivals due at this instant (a
      // whole-number rate puts one exactly on every boundary): answers read in between are not
      // held behind the whole flush (see MetricsRecorder.flushStepsUpTo).
      this.flushing = recorder.flushStepsUpTo(this.clock.nowNs());
      this.flushImmediate = setImmediate(this.flushStep);
      this.armFlush();
    });
  }

  private readonly flushStep = (): void => {
    this.flushImmediate = null;
    const step = this.flushing?.next();
    if (step === undefined || step.done === true) {
      this.flushing = null;
      return;
    }
    if (step.value !== null) this.post({ type: "snapshot", snapshot: step.value });
    this.flushImmediate = setImmediate(this.flushStep);
  };

  /** Complete a stepped flush still running, at once (before the next one or the final one). */
  private finishFlush(): void {
    if (this.flushImmediate !== null) clearImmediate(this.flushImmediate);
    this.flushImmediate = null;
    const steps = this.flushing;
    this.flushing = null;
    if (steps) for (const snapshot of steps) if (snapshot !== null) this.post({ type: "snapshot", snapshot });
  }

  private stop(reason: "end" | "interrupt"): Promise<void> {
    this.stopping ??= this.doStop(reason);
    return this.stopping;
  }

  private async doStop(reason: "end" | "interrupt"): Promise<void> {
    this.flushTimer?.cancel();
    this.flushTimer = null;
    this.finishFlush();
    const report = this.engine ? await this.engine.stop(stopBudget(reason, this.config!)) : undefined;
    this.lag?.stop();
    if (this.recorder) {
      for (const snapshot of this.recorder.flushAll(this.clock.nowNs())) this.post({ type: "snapshot", snapshot });
      this.recorder.dispose();
    }
    if (this.connections) {
      const closing = this.connections.close().catch(() => undefined);
      await Promise.race([closing, new Promise<void>((resolve) => this.clock.after(reason === "interrupt" ? 150 : 1000, resolve))]);
    }
    this.post({ type: "done", workerId: this.workerId, stop: report });
  }
}
