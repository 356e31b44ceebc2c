/**
 * The coordinator (main thread): target preflight (embedded server thread, or a reachability
 * check of an external target), client workers prepare → ready → start-at-t0 barrier, period
 * snapshots merged into the live output, stop at the planned end or on abort, thresholds, summary,
 * result files. Results are written whatever happens after the outputs exist: thresholds failing,
 * Ctrl-C, a crashed worker, a target that disappears, even a preflight failure (then the summary
 * says why nothing ran and the UserError is rethrown for the CLI's one-sentence message).
 */
import type { RunConfig } from "../config/run-config.js";
import { ExitCode, UserError } from "../errors.js";
import { Aggregator, type MergedPeriod, warmupPeriods } from "../metrics/aggregator.js";
import { Counter, Gauge } from "../metrics/names.js";
import { evaluateThresholds } from "../metrics/thresholds.js";
import { buildSummary, combineOutputs, createOutputs, exitCodeFor, type Output, type RunInfo, type RunSummary } from "../report/index.js";
import { realClock, type Clock } from "../time/clock.js";
import { WorkerPool } from "./pool.js";
import { checkTargetReachable } from "./preflight.js";
import type { TargetAddress, WorkerStopReport, WorkerTestHooks, WorkerToCoordinator } from "./protocol.js";
import { ServerThread } from "./server-thread.js";
import { stopBudget } from "./worker-runtime.js";

export interface RunOptions {
  /** Console text (live line, warnings, summary); nothing is printed without it. */
  write?: (text: string) => void;
  /** Abort = Ctrl-C: stop now, write the results, resolve within 2 s with exit code 130. */
  signal?: AbortSignal;
  /** Test-only fault injection; the CLI never sets it. */
  testHooks?: WorkerTestHooks;
}

export interface RunResult {
  summary: RunSummary;
  exitCode: number;
  outDir: string;
}

/** Gap between the start message and t0, so every worker has the message before t0 (the barrier). */
export const START_DELAY_MS = 200;
/** Workers must be ready (clients built, connections open) within this. */
export const READY_TIMEOUT_MS = 60_000;
/** From the abort to every worker done; the remaining time to 2 s is for files and the server. */
const INTERRUPT_STOP_MS = 1100;
const NS_PER_MS = 1_000_000;
const MAX_WARNINGS_PER_KIND = 5;

export function runLoadTest(config: RunConfig, opts: RunOptions = {}): Promise<RunResult> {
  return new RunCoordinator(config, opts, realClock).run();
}

type WorkerPhase = "spawned" | "ready" | "done" | "gone";

class RunCoordinator {
  private readonly output: Output;
  private readonly aggregator: Aggregator;
  private readonly workerIds: number[];
  private readonly phase = new Map<number, WorkerPhase>();
  private readonly crashed: Array<{ workerId: number; message: string }> = [];
  private readonly stopReports: WorkerStopReport[] = [];
  /** Workers given up on at stop time: late, not crashed. */
  private readonly stopTimedOut = new Set<number>();
  private readonly listeners = new Set<() => void>();
  private readonly warningCounts = new Map<string, number>();
  private pool: WorkerPool | null = null;
  private server: ServerThread | null = null;
  private info: RunInfo | null = null;
  private interrupted = false;
  private abortedAtMs: number | null = null;
  private error: string | null = null;
  private userError: UserError | null = null;
  private saturationWarned = false;

  constructor(
    private readonly config: RunConfig,
    private readonly opts: RunOptions,
    private readonly clock: Clock,
  ) {
    this.output = combineOutputs(createOutputs({ config, write: opts.write }));
    this.workerIds = Array.from({ length: Math.max(1, config.workers) }, (_, i) => i);
    this.aggregator = new Aggregator({ workerIds: this.workerIds, warmupPeriods: warmupPeriods(config.plan.warmupMs) });
  }

  async run(): Promise<RunResult> {
    const signal = this.opts.signal;
    const onAbort = () => {
      if (this.interrupted) return;
      this.interrupted = true;
      this.abortedAtMs = this.clock.nowMs();
      this.notify();
    };
    if (signal?.aborted) onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await this.execute();
    } catch (err) {
      if (err instanceof UserError) {
        this.userError = err;
        this.error = err.message;
      } else {
        this.error = `internal error: ${err instanceof Error ? err.message : String(err)}`;
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
    return this.finish();
  }

  private async execute(): Promise<void> {
    const config = this.config;
    let target: TargetAddress;
    if (config.target.kind === "embedded") {
      this.server = await ServerThread.start(config);
      target = this.server.address;
    } else {
      target = { host: config.target.host, port: config.target.port };
      await checkTargetReachable(target, config.transport);
    }
    if (this.interrupted) return;

    this.pool = new WorkerPool(this.workerIds.length, {
      onMessage: (id, message) => this.onWorkerMessage(id, message),
      onGone: (id, reason) => this.onWorkerGone(id, reason),
    });
    for (const id of this.workerIds) {
      this.phase.set(id, "spawned");
      this.pool.send(id, {
        type: "prepare",
        workerId: id,
        workerCount: this.workerIds.length,
        config,
        target,
        durationMs: config.plan.durationMs,
        testHooks: this.opts.testHooks,
      });
    }
    const allReady = await this.waitUntil(() => this.interrupted || this.userError !== null || this.count("spawned") === 0, READY_TIMEOUT_MS);
    if (!allReady) {
      for (const id of this.workerIds) {
        if (this.phase.get(id) === "spawned") this.pool.giveUp(id, `not ready within ${READY_TIMEOUT_MS / 1000} s`);
      }
    }
    if (this.userError) throw this.userError;
    if (this.interrupted) {
      await this.stopWorkers("interrupt");
      return;
    }
    if (this.count("ready") === 0) {
      this.error = "No client worker could start: see the crash reasons below.";
      return;
    }

    const t0Ns = this.clock.nowNs() + START_DELAY_MS * NS_PER_MS;
    const t0Ms = t0Ns / NS_PER_MS;
    this.aggregator.setT0(t0Ms);
    this.info = { t0Ms, workers: this.count("ready"), target };
    this.output.start(this.info);
    this.pool.broadcast({ type: "start", t0Ns });

    const endMs = t0Ms + config.plan.durationMs;
    await this.waitUntil(() => this.interrupted || this.count("ready") === 0, Math.max(0, endMs - this.clock.nowMs()));
    await this.stopWorkers(this.interrupted ? "interrupt" : "end");
  }

  private async stopWorkers(reason: "end" | "interrupt"): Promise<void> {
    const pool = this.pool;
    if (!pool) return;
    pool.broadcast({ type: "stop", reason });
    const budget = stopBudget(reason, this.config);
    const waitMs =
      reason === "interrupt"
        ? Math.max(100, INTERRUPT_STOP_MS - (this.clock.nowMs() - (this.abortedAtMs ?? this.clock.nowMs())))
        : budget.graceMs + (budget.unregisterDeadlineMs ?? 0) + (budget.disposeDeadlineMs ?? 0) + 3000;
    // An abort while waiting for a normal stop shortens the wait to the interrupt budget.
    const stopped = await this.waitUntil(() => this.running() === 0 || (reason === "end" && this.interrupted), waitMs);
    if (!stopped && reason === "end" && this.interrupted) {
      pool.broadcast({ type: "stop", reason: "interrupt" });
      await this.waitUntil(() => this.running() === 0, INTERRUPT_STOP_MS);
    }
    for (const id of this.workerIds) {
      if (this.phase.get(id) === "ready" || this.phase.get(id) === "spawned") {
        this.stopTimedOut.add(id);
        pool.giveUp(id, `did not stop within ${Math.round(waitMs)} ms`);
      }
    }
  }

  private async finish(): Promise<RunResult> {
    await this.pool?.terminateAll().catch(() => undefined);
    for (const p of this.aggregator.finish()) this.emitPeriod(p);
    const totals = this.aggregator.totals();
    if (this.error === null && this.info !== null && !this.interrupted) {
      const attempts = totals.counters[Counter.registerAttempts] ?? 0;
      const successes = totals.counters[Counter.registerSuccesses] ?? 0;
      if (attempts > 0 && successes === 0) {
        this.error = `Every registration failed (${attempts} attempts): check the target, --transport and the credentials.`;
      }
    }
    const skipped = this.stopReports.reduce((n, r) => n + r.unregisterSkipped, 0);
    if (skipped > 0) this.warn("unregister", `${skipped} clients were not unregistered before the stop deadline.`);
    const summary = buildSummary({
      config: this.config,
      info: this.info,
      totals,
      thresholdResults: evaluateThresholds(this.config.plan.thresholds, totals),
      workersCrashed: this.crashed,
      interrupted: this.interrupted,
      error: this.error,
      endedAtMs: this.clock.nowMs(),
    });
    const [written] = await Promise.allSettled([this.output.stop(summary), this.server?.close(this.interrupted ? 250 : 1000)]);
    if (this.userError) throw this.userError;
    if (written.status === "rejected") {
      const reason = written.reason instanceof Error ? written.reason.message : String(written.reason);
      throw new UserError(`The results could not be written to ${this.config.outDir} (${reason}): check --out and free disk space.`);
    }
    return { summary, exitCode: exitCodeFor(summary), outDir: this.config.outDir };
  }

  private onWorkerMessage(id: number, message: WorkerToCoordinator): void {
    switch (message.type) {
      case "ready":
        if (this.phase.get(id) === "spawned") this.phase.set(id, "ready");
        break;
      case "snapshot":
        this.aggregator.add(message.snapshot);
        for (const p of this.aggregator.takeCompleted()) this.emitPeriod(p);
        break;
      case "warning":
        this.warn(`worker:${message.message}`, `worker ${id}: ${message.message}`);
        break;
      case "fatal":
        if (message.userError && this.info === null) {
          // A problem the user can fix (e.g. the target refuses connections): fail the run with it.
          this.userError ??= new UserError(message.message, ExitCode.runFailed);
          this.stopTimedOut.add(id);
        }
        this.pool?.giveUp(id, message.message);
        break;
      case "done":
        this.phase.set(id, "done");
        if (message.stop) this.stopReports.push(message.stop);
        break;
    }
    this.notify();
  }

  private onWorkerGone(id: number, reason: string): void {
    this.phase.set(id, "gone");
    this.aggregator.workerGone(id);
    if (!this.stopTimedOut.has(id)) {
      this.crashed.push({ workerId: id, message: reason });
      this.warn(`crash:${id}`, `worker ${id} crashed (${reason}); the run continues with the other workers.`);
    } else if (this.userError === null) {
      this.warn(`late:${id}`, `worker ${id} ${reason}; it was stopped.`);
    }
    // Its absence may complete periods the others already reported.
    for (const p of this.aggregator.takeCompleted()) this.emitPeriod(p);
    this.notify();
  }

  private emitPeriod(p: MergedPeriod): void {
    this.output.period(p);
    const lag = p.gauges[Gauge.eventLoopLagP99];
    if (!this.saturationWarned && lag !== undefined && lag > this.config.saturationLagUs) {
      this.saturationWarned = true;
      this.warn(
        "saturation",
        `generator saturated: event-loop lag p99 ${(lag / 1000).toFixed(1)} ms in second ${p.period + 1} exceeds ` +
          `${(this.config.saturationLagUs / 1000).toFixed(1)} ms, so latencies may measure the load generator rather than the target.`,
      );
    }
  }

  private warn(kind: string, text: string): void {
    const n = this.warningCounts.get(kind) ?? 0;
    this.warningCounts.set(kind, n + 1);
    if (n < MAX_WARNINGS_PER_KIND) this.opts.write?.(`cpm-load: warning: ${text}\n`);
  }

  private count(phase: WorkerPhase): number {
    let n = 0;
    for (const p of this.phase.values()) if (p === phase) n++;
    return n;
  }

  private running(): number {
    return this.count("spawned") + this.count("ready");
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  /** Resolves true once `done()` holds (re-checked on every worker event or abort), false on timeout. */
  private waitUntil(done: () => boolean, timeoutMs: number): Promise<boolean> {
    if (done()) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const finish = (value: boolean) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        resolve(value);
      };
      const check = () => {
        if (done()) finish(true);
      };
      const timer = setTimeout(() => finish(done()), timeoutMs);
      this.listeners.add(check);
    });
  }
}
