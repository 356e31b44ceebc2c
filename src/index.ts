/**
 * cpm-load as a library: run a load test from a resolved config, start the embedded CPM server,
 * load and validate scenarios. The CLI (src/cli/) is a thin layer over exactly these calls.
 */
export { runLoadTest, type RunOptions, type RunResult } from "./runner/index.js";
export { createCpmServer, type CpmServer, type CpmServerOptions, type ServerStats } from "./server/index.js";
export { loadScenarioFile, compileScenario } from "./scenario/index.js";
export { resolveRunConfig, type ResolveInput } from "./config/resolve.js";
export { UserError, ExitCode } from "./errors.js";
export { Latency, Counter, Gauge, serviceTimeName } from "./metrics/names.js";
export type { RunConfig, ConnectionModel, SipTransportName, UserCredential } from "./config/run-config.js";
export type { Plan, ScenarioPlan, StepPlan, PhasePlan, PopulationPlan, ThresholdPlan } from "./scenario/plan.js";
export type { RunSummary } from "./report/index.js";
