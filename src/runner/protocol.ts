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

export interface TargetAddress {
  host: string;
  port: number;
}

export type CoordinatorToWorker =
  | { type: "prepare"; workerId: number; workerCount: number; config: RunConfig; target: TargetAddress }
  | { type: "start"; t0Ns: number }
  | { type: "stop"; reason: "end" | "interrupt" };

export type WorkerToCoordinator =
  | { type: "ready"; workerId: number; clients: number }
  | { type: "snapshot"; snapshot: PeriodSnapshot }
  | { type: "warning"; workerId: number; message: string }
  | { type: "fatal"; workerId: number; message: string }
  | { type: "done"; workerId: number };
