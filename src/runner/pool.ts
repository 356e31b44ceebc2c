/**
 * Client worker threads: spawn from the compiled dist/ files, route their typed messages, and turn
 * every way a thread can end without saying `done` (uncaught error, `fatal`, exit) into exactly
 * one `onGone` call, so the coordinator can report the crash and stop waiting for that worker.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker, type ResourceLimits } from "node:worker_threads";
import type { CoordinatorToWorker, WorkerToCoordinator } from "./protocol.js";

/**
 * Path of a compiled runner file (e.g. "worker-entry.js"). Worker threads cannot start from .ts
 * under vitest/tsx, so when this module runs from src/ (tests, tsx) the file is taken from dist/.
 */
export function compiledRunnerFile(name: string, moduleUrl: string = import.meta.url): string {
  const here = dirname(fileURLToPath(moduleUrl));
  const srcMarker = `${sep}src${sep}runner`;
  const dir = here.endsWith(srcMarker) ? join(here.slice(0, -srcMarker.length), "dist", "runner") : here;
  const file = resolve(dir, name.replace(/\.ts$/, ".js"));
  if (!existsSync(file)) {
    throw new Error(`${file} does not exist: build the project first (npm run build).`);
  }
  return file;
}

/**
 * Heap bounds per client worker. 10,000 SIP.js user agents fit well within 4 GB; the larger young
 * generation (≈64 MB semi-spaces) cuts scavenge frequency under message churn (see the SIP.js
 * measurements in ARCHITECTURE.md).
 */
export const CLIENT_WORKER_LIMITS: ResourceLimits = { maxOldGenerationSizeMb: 4096, maxYoungGenerationSizeMb: 192 };

export interface PoolEvents {
  onMessage(workerId: number, message: WorkerToCoordinator): void;
  /** The worker ended (or was given up on) without `done`; called at most once per worker. */
  onGone(workerId: number, reason: string): void;
}

type WorkerState = "running" | "done" | "gone";

interface PoolEntry {
  id: number;
  worker: Worker;
  state: WorkerState;
  lastError: string | null;
  exited: Promise<void>;
}

export class WorkerPool {
  private readonly entries: PoolEntry[] = [];

  constructor(
    count: number,
    private readonly events: PoolEvents,
    opts: { file?: string; resourceLimits?: ResourceLimits } = {},
  ) {
    const file = opts.file ?? compiledRunnerFile("worker-entry.js");
    for (let id = 0; id < count; id++) {
      const worker = new Worker(file, { resourceLimits: opts.resourceLimits ?? CLIENT_WORKER_LIMITS, name: `cpm-load client worker ${id}` });
      const entry: PoolEntry = {
        id,
        worker,
        state: "running",
        lastError: null,
        exited: new Promise<void>((done) => worker.once("exit", () => done())),
      };
      worker.on("message", (message: WorkerToCoordinator) => this.onMessage(entry, message));
      worker.on("error", (err: Error) => {
        entry.lastError = err.message;
      });
      worker.on("exit", (code) => {
        if (entry.state === "running") this.markGone(entry, entry.lastError ?? `the thread exited with code ${code}`);
      });
      this.entries.push(entry);
    }
  }

  get size(): number {
    return this.entries.length;
  }

  /** Workers that have neither finished nor gone. */
  get running(): number[] {
    return this.entries.filter((e) => e.state === "running").map((e) => e.id);
  }

  send(workerId: number, message: CoordinatorToWorker): void {
    const entry = this.entries[workerId];
    if (entry && entry.state === "running") entry.worker.postMessage(message);
  }

  broadcast(message: CoordinatorToWorker): void {
    for (const entry of this.entries) if (entry.state === "running") entry.worker.postMessage(message);
  }

  /** Give up on a worker (fatal message, or it did not stop in time): reported once, then terminated. */
  giveUp(workerId: number, reason: string): void {
    const entry = this.entries[workerId];
    if (entry && entry.state === "running") {
      this.markGone(entry, reason);
      void entry.worker.terminate();
    }
  }

  /** Terminate every thread (finished ones too: a closed socket may still hold their loop). */
  async terminateAll(): Promise<void> {
    await Promise.all(
      this.entries.map(async (entry) => {
        if (entry.state === "running") entry.state = "done";
        await entry.worker.terminate();
        await entry.exited;
      }),
    );
  }

  private onMessage(entry: PoolEntry, message: WorkerToCoordinator): void {
    if (entry.state !== "running") return;
    if (message.type === "done") entry.state = "done";
    this.events.onMessage(entry.id, message);
  }

  private markGone(entry: PoolEntry, reason: string): void {
    entry.state = "gone";
    this.events.onGone(entry.id, reason);
  }
}
