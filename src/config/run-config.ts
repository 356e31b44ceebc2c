/**
 * One frozen RunConfig: defaults < scenario file < environment < flags (config/resolve.ts builds it).
 * Written verbatim (plus the tool version) to results/<run-id>/config.json so a run is reproducible.
 */
import type { Plan } from "../scenario/plan.js";

export type SipTransportName = "tcp" | "udp";
export type ConnectionModel = "per-client" | "shared";

export interface TargetConfig {
  /** "embedded": start our PF/CF in a worker thread; "external": use host/port. */
  kind: "embedded" | "external";
  host: string;
  port: number;
}

export interface UserCredential {
  user: string;
  password: string;
}

export interface RunConfig {
  runId: string;
  scenarioFile: string;
  plan: Plan;
  workers: number;
  transport: SipTransportName;
  connection: ConnectionModel;
  /** TCP connections per worker in the shared model. */
  sharedConnections: number;
  target: TargetConfig;
  /** SIP domain (From/To/Request-URI host); defaults to the plan's population.domain. */
  domain: string;
  /** Per-user credentials from --users (SIPp-style CSV); null: derive from the plan's templates. */
  users: UserCredential[] | null;
  /** Results directory for this run: <out>/<runId>. */
  outDir: string;
  /** Transaction timeout for a request without a final answer (ms). */
  requestTimeoutMs: number;
  /** Embedded server options (ignored for external targets). */
  embedded: {
    /** Injected response delay, e.g. "20ms" or "uniform(10ms,30ms)" / "normal(20ms,2ms)"; null: none. */
    delay: string | null;
    auth: boolean;
  };
  /** Print the live line each second. */
  live: boolean;
  /** Event-loop lag p99 (µs) above which a worker counts as saturated. */
  saturationLagUs: number;
  toolVersion: string;
}
