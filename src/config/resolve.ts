/**
 * defaults < scenario file < environment (CPM_LOAD_*) < flags → one frozen RunConfig.
 * Every problem (scenario, flags, environment, users file) is collected and reported together
 * in one UserError, each as a sentence with the fix.
 */
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { isAbsolute, join, resolve as resolvePath } from "node:path";
import { ExitCode, UserError } from "../errors.js";
import { PERIOD_MS, warmupPeriods } from "../metrics/aggregator.js";
import { loadScenarioFile, ScenarioError, formatProblem } from "../scenario/index.js";
import type { PhasePlan, Plan } from "../scenario/plan.js";
import { didYouMean, suggest } from "../scenario/did-you-mean.js";
import { userTemplateIsPerClient } from "../scenario/templates.js";
import { formatDurationMs, parseDelaySpec, parseDurationMs } from "./durations.js";
import type { ConnectionModel, RunConfig, SipTransportName, TargetConfig, UserCredential } from "./run-config.js";
import { OTHER_ENV_VARIABLES, RUN_DEFAULTS, RUN_OPTIONS, type RunFlags, type RunOptionName } from "./run-options.js";
import { parseTarget } from "./target.js";
import { parseUsersFile, shuffleUsers } from "./users-file.js";

export interface ResolveInput {
  scenarioFile: string;
  flags: RunFlags;
  env: Record<string, string | undefined>;
  /** Injected by tests; default: now. Used for the run id. */
  now?: Date;
  /** Base for relative --users and --out paths; default process.cwd(). */
  cwd?: string;
  /** CPU cores for the --workers default; default os.availableParallelism(). */
  cores?: number;
}

/** The largest sensible values; beyond them a typo is more likely than intent. */
const LIMITS = { clients: 1_000_000, workers: 64, sharedConnections: 1024 } as const;
const SEED_MAX = 4_294_967_295;

/** One option's raw value and where it came from ("--clients" or "CPM_LOAD_CLIENTS"). */
interface Raw {
  value: string | boolean;
  label: string;
  text: string;
}

export function resolveRunConfig(input: ResolveInput): RunConfig {
  const problems: string[] = [];
  const cwd = input.cwd ?? process.cwd();

  let plan: Plan | null = null;
  try {
    plan = loadScenarioFile(input.scenarioFile);
  } catch (error) {
    if (error instanceof ScenarioError) problems.push(...error.problems.map(formatProblem));
    else if (error instanceof UserError) problems.push(error.message);
    else throw error;
  }

  const raw = collectRaw(input.flags, input.env, problems);
  const str = (name: RunOptionName): Raw | undefined => raw.get(name);
  const fail = (r: Raw, why: string): undefined => {
    problems.push(`${r.text} ${why}.`);
    return undefined;
  };
  const int = (name: RunOptionName, min: number, max: number, example: string): number | undefined => {
    const r = str(name);
    if (!r) return undefined;
    const n = typeof r.value === "string" && /^\s*\d+\s*$/.test(r.value) ? Number(r.value) : Number.NaN;
    return n >= min && n <= max ? n : fail(r, `is not valid: give a whole number from ${min} to ${max}, e.g. ${r.label}${r.label.startsWith("--") ? " " : "="}${example}`);
  };
  const positive = (name: RunOptionName, example: string): number | undefined => {
    const r = str(name);
    if (!r) return undefined;
    const n = typeof r.value === "string" && /^\s*\d+(\.\d+)?(e\d+)?\s*$/i.test(r.value) ? Number(r.value) : Number.NaN;
    return n > 0 && Number.isFinite(n) ? n : fail(r, `is not valid: give a number above 0, e.g. ${r.label}${r.label.startsWith("--") ? " " : "="}${example}`);
  };
  const duration = (name: RunOptionName, example: string): number | undefined => {
    const r = str(name);
    if (!r) return undefined;
    const text = String(r.value).trim();
    const ms = /[a-z]$/i.test(text) ? parseDurationMs(text) : null;
    if (ms === null) {
      return fail(r, `is not a duration: give a number with a unit (us, ms, s, m or h), e.g. ${r.label}${r.label.startsWith("--") ? " " : "="}${example}`);
    }
    return ms > 0 ? ms : fail(r, "must be longer than 0");
  };
  const choice = <T extends string>(name: RunOptionName, choices: readonly T[]): T | undefined => {
    const r = str(name);
    if (!r) return undefined;
    const v = String(r.value).trim().toLowerCase() as T;
    return choices.includes(v) ? v : fail(r, `is not valid: use ${choices.join(" or ")}${didYouMean(String(r.value), choices)}`);
  };
  const bool = (name: RunOptionName): boolean | undefined => {
    const r = str(name);
    if (!r) return undefined;
    if (typeof r.value === "boolean") return r.value;
    const v = r.value.trim().toLowerCase();
    if (["1", "true", "yes", "on"].includes(v)) return true;
    if (["0", "false", "no", "off", ""].includes(v)) return false;
    return fail(r, "is not a switch value: use 1/true/yes or 0/false/no");
  };
  const text = (name: RunOptionName): string | undefined => {
    const r = str(name);
    if (!r) return undefined;
    const v = String(r.value).trim();
    return v === "" ? fail(r, "is empty: give a value or leave it out") : v;
  };

  // ----- values of every option (each reports its own problems)
  const clients = int("clients", 1, LIMITS.clients, "1000");
  const durationMs = duration("duration", "60s");
  const warmupRaw = str("warmup");
  // `0` / `0s` turns a scenario's warm-up off; any other value is a duration like the others.
  const warmupMs = warmupRaw && parseDurationMs(String(warmupRaw.value)) === 0 ? 0 : duration("warmup", "5s");
  const rate = positive("rate", "100");
  const workersFlag = int("workers", 1, LIMITS.workers, "2");
  const transport = choice<SipTransportName>("transport", ["tcp", "udp"]) ?? RUN_DEFAULTS.transport;
  const connection = choice<ConnectionModel>("connection", ["per-client", "shared"]) ?? RUN_DEFAULTS.connection;
  const sharedConnections = int("shared-connections", 1, LIMITS.sharedConnections, "4") ?? RUN_DEFAULTS.sharedConnections;
  const allowRemote = bool("allow-remote") ?? false;
  const seed = int("seed", 0, SEED_MAX, "42");
  const out = text("out") ?? RUN_DEFAULTS.out;
  const auth = bool("auth") ?? RUN_DEFAULTS.auth;
  const requestTimeoutMs = duration("timeout", "8s") ?? RUN_DEFAULTS.requestTimeoutMs;
  const live = bool("live") ?? RUN_DEFAULTS.live;
  const saturationLagMs = duration("saturation-lag", "20ms") ?? RUN_DEFAULTS.saturationLagMs;

  const domainRaw = str("domain");
  let domain = text("domain");
  if (domainRaw && domain !== undefined && !/^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(domain)) {
    domain = fail(domainRaw, "is not a host name: give a SIP domain such as cpm.test");
  }

  let target: TargetConfig = { kind: "embedded", host: "127.0.0.1", port: 0 };
  const targetRaw = str("target");
  const targetText = text("target");
  if (targetRaw && targetText !== undefined && targetText.toLowerCase() !== "embedded") {
    const parsed = parseTarget(targetText, allowRemote, targetRaw.label);
    if (parsed.ok) target = { kind: "external", host: parsed.host, port: parsed.port };
    else problems.push(parsed.message);
  }
  const embedded = target.kind === "embedded";

  let delay: string | null = null;
  const delayRaw = str("delay");
  const delayText = text("delay");
  if (delayRaw && delayText !== undefined) {
    if (!embedded) problems.push(`${delayRaw.label} applies only to the embedded server: remove it, or remove --target to use the embedded server.`);
    // A bare number would be milliseconds; like every duration flag, ask for the unit instead of guessing.
    else if (/\d\s*$/.test(delayText) || parseDelaySpec(delayText) === null) {
      fail(delayRaw, "is not a delay: use a duration (20ms) or uniform(10ms,30ms), normal(20ms,2ms), exponential(20ms)");
    } else delay = delayText;
  }
  if (auth && !embedded) {
    problems.push(`${str("auth")!.label} applies only to the embedded server (an external target decides itself whether to challenge): remove it.`);
  }

  const cores = input.cores ?? availableParallelism();
  // The embedded server takes a core of its own; the generator must not compete with it.
  const workers = workersFlag ?? Math.max(1, embedded ? cores - 1 : cores);

  // ----- the plan with the run's overrides
  let finalPlan: Plan | null = null;
  let users: UserCredential[] | null = null;
  if (plan) {
    const finalClients = clients ?? plan.population.clients;
    const finalSeed = seed ?? plan.seed;
    const phases = durationMs === undefined ? plan.phases : fitPhases(plan.phases, durationMs);
    const finalDurationMs = phases.reduce((sum, p) => sum + p.durationMs, 0);
    // An invalid --warmup was reported above: the scenario's value is not judged in its name.
    const finalWarmupMs = warmupMs ?? (warmupRaw ? 0 : plan.warmupMs);
    const excludedMs = warmupPeriods(finalWarmupMs) * PERIOD_MS;
    if (excludedMs >= finalDurationMs) {
      const source = warmupMs !== undefined ? warmupRaw!.label : "The scenario's warmup";
      const rounded = excludedMs !== finalWarmupMs ? `, rounded up to whole seconds: ${formatDurationMs(excludedMs)}` : "";
      problems.push(
        `${source} (${formatDurationMs(finalWarmupMs)}${rounded}) is not shorter than the whole run (${formatDurationMs(finalDurationMs)}), so nothing would be measured: shorten the warm-up or lengthen the run.`,
      );
    }
    finalPlan = {
      ...plan,
      seed: finalSeed,
      durationMs: finalDurationMs,
      warmupMs: finalWarmupMs,
      population: {
        ...plan.population,
        clients: finalClients,
        arrivalRate: rate ?? plan.population.arrivalRate,
        domain: domain ?? plan.population.domain,
      },
      phases,
    };

    const usersRaw = str("users");
    const usersPath = text("users");
    if (usersRaw && usersPath !== undefined) {
      users = readUsers(usersPath, usersRaw, cwd, finalSeed, finalClients, problems);
    } else {
      if (finalClients > 1 && !userTemplateIsPerClient(plan.population.userTemplate)) {
        problems.push(
          `The user template '${plan.population.userTemplate}' gives all ${finalClients} clients the same name: add {index} or {n} to population.users.template, or pass --users.`,
        );
      }
    }
  }

  if (problems.length > 0 || !finalPlan) throw configError(problems);

  const runId = uniqueRunId(runStamp(input.now ?? new Date()), finalPlan.name, out, cwd);
  const config: RunConfig = {
    runId,
    scenarioFile: input.scenarioFile,
    plan: finalPlan,
    workers,
    transport,
    connection,
    sharedConnections,
    target,
    domain: finalPlan.population.domain,
    users,
    outDir: join(out, runId),
    requestTimeoutMs,
    embedded: { delay, auth },
    live,
    saturationLagUs: Math.round(saturationLagMs * 1000),
    toolVersion: toolVersion(),
  };
  return deepFreeze(config);
}

/** Valid but risky settings of a resolved config, one sentence each (cli/ prints them as warnings). */
export function runConfigWarnings(config: RunConfig): string[] {
  const warnings: string[] = [];
  const clients = config.plan.population.clients;
  if (config.workers > clients) {
    warnings.push(`${config.workers} workers for ${clients} clients leaves some workers idle: pass --workers ${clients} or fewer.`);
  }
  if (config.connection === "per-client" && clients > 19_000) {
    warnings.push(
      `${clients} clients with --connection per-client need a socket each, close to the usual open-file limit (ulimit -n): use --connection shared or raise the limit.`,
    );
  }
  return warnings;
}

// ---------------------------------------------------------------------------------------------

function configError(problems: string[]): UserError {
  if (problems.length === 1) return new UserError(problems[0]!, ExitCode.usage);
  return new UserError([`${problems.length} problems with this run:`, ...problems.map((p) => `  - ${p}`)].join("\n"), ExitCode.usage);
}

/** Flag beats environment; unknown CPM_LOAD_* variables are problems (a typo silently ignored is worse). */
function collectRaw(flags: RunFlags, env: Record<string, string | undefined>, problems: string[]): Map<RunOptionName, Raw> {
  const raw = new Map<RunOptionName, Raw>();
  const known = new Set(RUN_OPTIONS.map((o) => o.env));
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith("CPM_LOAD_") || known.has(name) || OTHER_ENV_VARIABLES.includes(name)) continue;
    const near = suggest(name, known);
    problems.push(`The environment variable ${name} is not a cpm-load setting: unset it or fix its name${near ? ` (did you mean ${near}?)` : ""}.`);
  }
  for (const option of RUN_OPTIONS) {
    const name = option.flag as RunOptionName;
    const flag = flags[name];
    if (flag !== undefined && flag !== null) {
      const value = typeof flag === "number" ? String(flag) : flag;
      raw.set(name, { value, label: `--${option.flag}`, text: typeof value === "boolean" ? `--${option.flag}` : `--${option.flag} '${value}'` });
      continue;
    }
    const fromEnv = env[option.env];
    // An empty variable counts as unset (the usual shell convention: `CPM_LOAD_WORKERS= cpm-load run …`).
    if (fromEnv !== undefined && fromEnv !== "") raw.set(name, { value: fromEnv, label: option.env, text: `${option.env}='${fromEnv}'` });
  }
  return raw;
}

/**
 * The run lasts exactly `targetMs`: phases after it are dropped, the one it falls in is cut (a
 * ramp ends at the rate it had reached), and a shorter scenario is extended by holding the last
 * phase's end rate (lengthening a constant phase, or appending "<name>-hold" after a ramp).
 */
export function fitPhases(phases: readonly PhasePlan[], targetMs: number): PhasePlan[] {
  const out: PhasePlan[] = [];
  let t = 0;
  for (const phase of phases) {
    if (t >= targetMs) break;
    const remaining = targetMs - t;
    if (phase.durationMs <= remaining) {
      out.push({ ...phase });
      t += phase.durationMs;
      continue;
    }
    const reached = phase.startRate + (phase.endRate - phase.startRate) * (remaining / phase.durationMs);
    out.push({ ...phase, durationMs: remaining, endRate: reached });
    t = targetMs;
  }
  if (t < targetMs) {
    const last = out[out.length - 1]!;
    if (last.startRate === last.endRate) last.durationMs += targetMs - t;
    else out.push({ name: `${last.name}-hold`, durationMs: targetMs - t, startRate: last.endRate, endRate: last.endRate });
  }
  return out;
}

function readUsers(path: string, r: Raw, cwd: string, seed: number, clients: number, problems: string[]): UserCredential[] | null {
  const full = isAbsolute(path) ? path : resolvePath(cwd, path);
  let text: string;
  try {
    text = readFileSync(full, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    problems.push(
      code === "ENOENT"
        ? `${r.label}: the users file '${path}' does not exist: check the path.`
        : `${r.label}: the users file '${path}' cannot be read (${code ?? (error as Error).message}): check the path and its permissions.`,
    );
    return null;
  }
  const parsed = parseUsersFile(text, path);
  if (!parsed.ok) {
    problems.push(...parsed.problems.map((p) => `${p}.`));
    return null;
  }
  if (parsed.users.length < clients) {
    problems.push(
      `The users file '${path}' has ${parsed.users.length} user${parsed.users.length === 1 ? "" : "s"} but the run has ${clients} clients: add users or pass --clients ${parsed.users.length}.`,
    );
    return null;
  }
  const ordered = parsed.order === "random" ? shuffleUsers(parsed.users, seed) : parsed.users;
  // One credential per client: the rest would only be cloned to every worker for nothing.
  return ordered.slice(0, clients);
}

/** Local date and time, YYYYMMDD-HHMMSS: sorts by time and reads at a glance. */
export function runStamp(now: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
}

function uniqueRunId(stamp: string, name: string, out: string, cwd: string): string {
  const base = `${stamp}-${name}`;
  const taken = (id: string) => existsSync(resolvePath(cwd, out, id));
  if (!taken(base)) return base;
  for (let i = 2; i < 10_000; i++) if (!taken(`${base}-${i}`)) return `${base}-${i}`;
  return `${base}-${process.pid}`;
}

let cachedVersion: string | undefined;

/** The package version, read next to this module (src/config and dist/config are both two levels down). */
export function toolVersion(): string {
  if (cachedVersion === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: string };
      cachedVersion = pkg.version ?? "unknown";
    } catch {
      cachedVersion = "unknown";
    }
  }
  return cachedVersion;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
