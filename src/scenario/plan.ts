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
  /**
   * Latencies of the first `warmupMs` after t0 are left out of the summary and of latency
   * thresholds (rounded up to whole 1 s periods); 0 = none. Counters always cover the whole run.
   */
  warmupMs: number;
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
  /** Terminating-user behaviour (incoming sessions). Defaults: accept at once, never reject, no reply. */
  answer?: AnswerPlan;
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
  | { kind: "pause"; durationMs: number }
  | InviteStepPlan
  | SendStepPlan
  | ByeStepPlan
  | ReinviteStepPlan
  | LargeMessageStepPlan;

/**
 * Which other virtual client a session or message goes to (src/execution/peers.ts resolves it).
 * `random`: a seeded pick, from (seed, iteration index), among the clients that came up at least
 * 1 s before the iteration's intended start (so their REGISTER has completed; while no other
 * client is that old, among all those already up), never the sender itself; `next`: the client
 * with the following global index, wrapping at the clients that come up during the run, handy for
 * deterministic pairs; `index`: that client (0-based). IterationContext.peerUri returns null when
 * there is nobody (a one-client population, or `index` naming the caller itself or a client
 * outside the run).
 */
export type PeerPlan = { kind: "random" } | { kind: "next" } | { kind: "index"; index: number };

/**
 * A size in bytes: fixed, or drawn uniformly from [min, max] with the iteration's seeded PRNG.
 * The scenario language writes sizes as bytes or with B/KB/MB units, 1024-based, at most 100 MB.
 */
export type SizePlan = { kind: "fixed"; bytes: number } | { kind: "uniform"; minBytes: number; maxBytes: number };

/**
 * Open a 1-1 CPM session (§7.4.1/7.4.2) to a peer: INVITE with the session ICSI and MSRP SDP.
 * Metrics: session_setup (INVITE → 200), session_ready (INVITE → the first MSRP SEND answered).
 * The session stays the iteration's "current session" for the following send/reinvite/bye steps;
 * an iteration that ends with a session still open closes it (BYE) without counting a failure.
 */
export interface InviteStepPlan {
  kind: "invite";
  to: PeerPlan;
  /** Subject header, optional. */
  subject?: string;
}

/**
 * Send CPIM messages over the current session's MSRP stream. Metrics: msrp_send (SEND → 200 per
 * message), message_delivery (sender's SEND → the receiving client has the whole message).
 */
export interface SendStepPlan {
  kind: "send";
  count: number;
  /** Gap between the starts of consecutive messages (scheduled from the step start, no drift). */
  intervalMs: number;
  size: SizePlan;
  /** Payload type inside CPIM (default text/plain). */
  contentType: string;
  /** MSRP chunk size in bytes (default 2048 for chat). */
  chunkSize: number;
  /** Ask for IMDN delivery notifications (later issue may measure imdn_delivered). */
  imdn: boolean;
}

/** Close the current session (§7.4.3). `by: "callee"` asks the peer to send the BYE instead. */
export interface ByeStepPlan {
  kind: "bye";
  by: "caller" | "callee";
}

/** Modify the current session (§7.4.4): re-INVITE; `renewMsrp` drops the MSRP TCP connection first and re-establishes it with a new path. */
export interface ReinviteStepPlan {
  kind: "reinvite";
  renewMsrp: boolean;
}

/**
 * Large message mode (§7.3.2): INVITE with the largemsg ICSI and `a=sendonly`, exactly one CPIM
 * message over MSRP in chunks, then BYE. Metric: large_message (INVITE → the last chunk answered
 * / success REPORT, then BYE sent).
 */
export interface LargeMessageStepPlan {
  kind: "largeMessage";
  to: PeerPlan;
  size: SizePlan;
  chunkSize: number;
  contentType: string;
  /**
   * Failure-Report of the chunks: `yes` (a 200 for every chunk at every hop) or `partial` (only
   * errors are answered; the success REPORT confirms the message). Default `yes`.
   */
  failureReport: "yes" | "partial";
}

/**
 * How a virtual client behaves when it is the called party (terminating user).
 * Applies to every client of the population.
 */
export interface AnswerPlan {
  /** Delay before accepting (200) an INVITE; 0 = at once. */
  delayMs: number;
  /** Probability in [0,1] to reject instead of accepting (seeded per incoming INVITE). */
  rejectProbability: number;
  /** Final status of a rejection (e.g. 486, 480, 603). */
  rejectStatus: number;
  /** "none": just receive; "echo": send every received chat message back in the same session. */
  reply: "none" | "echo";
}

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
