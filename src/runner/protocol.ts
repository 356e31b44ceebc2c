/**
 * The typed messages between the coordinator (main thread) and client workers. Every message is
 * a discriminated union member; nothing else crosses the thread boundary.
 *
 * Lifecycle: coordinator → prepare; worker → ready (clients built, sockets ready); coordinator →
 * start(t0Ns) to all at once (the barrier); workers → snapshot each period; coordinator → stop;
 * worker → final snapshots, then done. A worker that throws reports `fatal` (or simply exits) and
 * the run finishes with the others.
 */
import type { RunConfig } from "../config/run-config.js";
import type { PeriodSnapshot } from "../metrics/snapshot.js";
import type { CpmServerOptions } from "../server/options.js";

export interface TargetAddress {
  host: string;
  port: number;
}

/**
 * Test-only fault injection (never set by the CLI): lets integration tests prove that a crashed
 * worker is reported and the run finishes with the others.
 */
export interface WorkerTestHooks {
  /** This worker throws an uncaught error `afterMs` after the start instant. */
  crash?: { workerId: number; afterMs: number; mode: "throw" | "exit" };
}

/** What a worker's engine did at stop (for the summary and warnings). */
export interface WorkerStopReport {
  abandoned: number;
  unregistered: number;
  unregisterFailed: number;
  unregisterSkipped: number;
  disposedCleanly: boolean;
}

export type CoordinatorToWorker =
  | {
      type: "prepare";
      workerId: number;
      workerCount: number;
      config: RunConfig;
      target: TargetAddress;
      /** Run length for this run (the plan's, or a shorter one the coordinator chose). */
      durationMs?: number;
      testHooks?: WorkerTestHooks;
    }
  | { type: "start"; t0Ns: number }
  | { type: "stop"; reason: "end" | "interrupt" };

export type WorkerToCoordinator =
  | { type: "ready"; workerId: number; clients: number }
  | { type: "snapshot"; snapshot: PeriodSnapshot }
  | { type: "warning"; workerId: number; message: string }
  /** `userError`: the message is a UserError sentence (e.g. target unreachable), not a crash. */
  | { type: "fatal"; workerId: number; message: string; userError?: boolean }
  | { type: "done"; workerId: number; stop?: WorkerStopReport };

/** Coordinator ↔ the embedded-server worker thread (runner/server-worker.ts). */
export type CoordinatorToServer =
  | { type: "start"; options: CpmServerOptions }
  | { type: "close" };

export type ServerToCoordinator =
  | { type: "listening"; host: string; port: number; transports: string[] }
  | { type: "error"; message: string; userError: boolean }
  | { type: "closed"; stats: unknown };
