/**
 * The runner: `runLoadTest(config, {write, signal})` runs one load test and returns its summary,
 * exit code and results directory (see coordinator.ts).
 */
export { runLoadTest, START_DELAY_MS, READY_TIMEOUT_MS, type RunOptions, type RunResult } from "./coordinator.js";
export { checkTargetReachable } from "./preflight.js";
export { embeddedServerOptions } from "./server-thread.js";
export type { WorkerTestHooks, WorkerStopReport, CoordinatorToWorker, WorkerToCoordinator } from "./protocol.js";
