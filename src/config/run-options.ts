/**
 * The options of `cpm-load run`: one table for the flags (cli/ builds yargs options from it), the
 * environment variables (CPM_LOAD_<FLAG>, e.g. CPM_LOAD_WORKERS) and the README. Values arrive
 * as strings (or booleans for switches) and are parsed and checked in config/resolve.ts, so flags
 * and environment variables get the same checks and every problem is reported at once.
 */

export interface RunOptionSpec {
  /** Flag name without dashes, kebab-case. */
  flag: string;
  /** Environment variable carrying the same setting. */
  env: string;
  type: "string" | "boolean";
  /** Placeholder for help texts. */
  value?: string;
  description: string;
}

/** `F`: the flag as a literal type, so RunOptionName follows from the table below. */
const spec = <F extends string>(flag: F, type: "string" | "boolean", description: string, value?: string): RunOptionSpec & { flag: F } => ({
  flag,
  env: `CPM_LOAD_${flag.toUpperCase().replace(/-/g, "_")}`,
  type,
  description,
  ...(value === undefined ? {} : { value }),
});

export const RUN_OPTIONS = [
  spec("clients", "string", "Number of virtual clients (overrides population.clients).", "N"),
  spec("duration", "string", "Run length with a unit, e.g. 60s or 5m; cuts or extends the scenario's last phase.", "DURATION"),
  spec("rate", "string", "Clients brought up (registered) per second (overrides population.rate).", "PER_SECOND"),
  spec("workers", "string", "Client worker threads (default: CPU cores, minus one when the embedded server runs).", "N"),
  spec("transport", "string", "SIP transport: tcp or udp (default tcp).", "tcp|udp"),
  spec("connection", "string", "Connection model: per-client (a socket per client) or shared (a few per worker) (default per-client).", "MODEL"),
  spec("shared-connections", "string", "TCP connections per worker in the shared model (default 4).", "N"),
  spec("target", "string", "SIP server to load, host:port (default: the embedded server). Only 127.0.0.0/8, localhost or ::1 unless --allow-remote.", "HOST:PORT"),
  spec("allow-remote", "boolean", "Allow a --target outside the loopback network (make sure you are allowed to load it)."),
  spec("domain", "string", "SIP domain of the users (overrides population.users.domain).", "DOMAIN"),
  spec("users", "string", "SIPp-style users file: one user;password per line (SEQUENTIAL/RANDOM first line and # comments allowed).", "FILE"),
  spec("warmup", "string", "Leave the latencies of the run's first DURATION out of the summary and latency thresholds (counters still count the whole run; overrides the scenario's warmup).", "DURATION"),
  spec("seed", "string", "Seed of every random choice, 0 to 4294967295 (overrides the scenario's seed).", "N"),
  spec("out", "string", "Folder for results; each run writes <out>/<run-id>/ (default results).", "DIR"),
  spec("delay", "string", "Embedded server: response delay, e.g. 20ms, uniform(10ms,30ms), normal(20ms,2ms), exponential(20ms).", "SPEC"),
  spec("auth", "boolean", "Embedded server: require digest authentication with the scenario's password template (or the --users file)."),
  spec("timeout", "string", "Give up on a request without a final answer after this long (default 8s).", "DURATION"),
  spec("live", "boolean", "Print a live line each second (default on; --no-live turns it off)."),
  spec("saturation-lag", "string", "Flag a worker as saturated when its event-loop lag p99 exceeds this (default 20ms).", "DURATION"),
] as const;

/** A run option's flag name: one of the table's `flag`s. */
export type RunOptionName = (typeof RUN_OPTIONS)[number]["flag"];

/** Flag values as the CLI parsed them: strings (numbers accepted too) and booleans; absent = not given. */
export type RunFlags = Partial<Record<RunOptionName, string | number | boolean | undefined>>;

/** Environment variables that belong to cpm-load but are not run options (no "unknown variable" error). */
export const OTHER_ENV_VARIABLES: readonly string[] = ["CPM_LOAD_DEBUG", "CPM_LOAD_KEEP_HELPER_PRIORITY"];

/** Defaults of run options that do not come from the scenario (README documents each). */
export const RUN_DEFAULTS = {
  transport: "tcp",
  connection: "per-client",
  sharedConnections: 4,
  out: "results",
  requestTimeoutMs: 8000,
  live: true,
  auth: false,
  saturationLagMs: 20,
} as const;
