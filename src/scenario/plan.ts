/**
 * The compiled, validated form of a scenario file: what the runner and the workers execute.
 * Pure data (structured-clone safe: it crosses to worker threads). Durations in ms, rates per second.
 *
 * Execution model (README "Scenario language" explains it to users):
 * - `population`: N virtual clients. Client i (0-based, global) comes up at t0 + i / arrivalRate:
 *   it registers (metric `register`, timed from that intended instant), keeps its registration
 *   refreshed, and unregisters when the run ends (if `unregisterAtEnd`).
 * - `phases`: back to back from t0; each generates scenario iterations at a rate ramping linearly
 *   from `startRate` to `endRate` (open model, iterations/s across the whole run). Iteration j
 *   picks a scenario by seeded weighted choice and runs on an idle registered client; when none is
 *   idle it is counted as dropped. A phase with rate 0 only holds the population.
 * - The run lasts `durationMs` (sum of phases); clients still coming up at the end are not started.
 */
export interface Plan {
  name: string;
  description?: string;
  seed: number;
  durationMs: number;
  population: PopulationPlan;
  phases: PhasePlan[];
  scenarios: ScenarioPlan[];
  /** Optional pass/fail criteria (thresholds), evaluated on the merged summary. */
  thresholds: ThresholdPlan[];
}

export interface PopulationPlan {
  clients: number;
  /** Clients brought up (registered) per second. */
  arrivalRate: number;
  /** User part template; `{index}` is the 0-based global client index, `{n}` the 1-based one; `{index:06}` zero-pads. */
  userTemplate: string;
  /** Password template (same placeholders plus `{user}`); used when the target challenges. */
  passwordTemplate: string;
  domain: string;
  /** Requested registration lifetime in seconds. */
  registerExpires: number;
  /** Refresh when this fraction of the granted lifetime has passed (SIP.js refreshFrequency/100). */
  refreshFraction: number;
  unregisterAtEnd: boolean;
}

export interface PhasePlan {
  name: string;
  durationMs: number;
  startRate: number;
  endRate: number;
}

export interface ScenarioPlan {
  name: string;
  weight: number;
  steps: StepPlan[];
}

/** Steps grow with later issues (message, session, group...). Keep `kind` the discriminant. */
export type StepPlan =
  | { kind: "register"; expires?: number }
  | { kind: "unregister" }
  | { kind: "pause"; durationMs: number };

export interface ThresholdPlan {
  /** e.g. "register" (latency) or "register.failures" (counter) */
  metric: string;
  /** "p50" | "p90" | "p99" | "p999" | "max" | "mean" (latency, in ms) | "count" | "rate" (fraction of attempts) */
  stat: string;
  op: "<" | "<=" | ">" | ">=" | "==";
  value: number;
  /** Original expression, e.g. "p99 < 200ms", for reports. */
  expression: string;
}
