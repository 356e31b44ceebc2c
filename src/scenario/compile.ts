/**
 * Scenario YAML → Plan. Three passes, all reporting with file:line:col and all problems at once:
 * YAML syntax (the `yaml` package, with a LineCounter), the JSON Schema (ajv, every error mapped
 * back to its node), then the rules a schema cannot say (durations adding up, unique names,
 * weights, templates, threshold expressions). Only a file with no problem at all is compiled.
 */
import type { ErrorObject } from "ajv";
import { LineCounter, parseDocument } from "yaml";
import { formatDurationMs as formatMs, parseDurationMs } from "../config/durations.js";
import { PERIOD_MS, warmupPeriods } from "../metrics/aggregator.js";
import { didYouMean } from "./did-you-mean.js";
import type { AnswerPlan, PeerPlan, PhasePlan, Plan, ScenarioPlan, SizePlan, StepPlan, ThresholdPlan } from "./plan.js";
import { ScenarioError, type ScenarioProblem } from "./scenario-error.js";
import { schemaErrors } from "./schema.js";
import { checkTemplate, userTemplateIsPerClient } from "./templates.js";
import { metricKind, parseThreshold, unknownMetricMessage } from "./thresholds.js";
import { displayPath, pointerSegments, YamlLocator, type Position } from "./yaml-locations.js";

/** Defaults of the scenario language (README "Scenario language" documents each). */
export const SCENARIO_DEFAULTS = {
  seed: 1,
  arrivalRate: 100,
  userTemplate: "user{index:06}",
  passwordTemplate: "{user}-secret",
  domain: "cpm.test",
  registerExpires: 600,
  refreshFraction: 0.5,
  unregisterAtEnd: true,
  weight: 1,
  /** Name of the single phase made from `duration` when the file has no `phases`. */
  holdPhaseName: "main",
  /** Terminating-user behaviour when `population.answer` leaves a key out. */
  answer: { delayMs: 0, rejectProbability: 0, rejectStatus: 486, reply: "none" },
  /** Chat messages (`send`): one message of 100 bytes of text, 2 KB MSRP chunks, no IMDN. */
  send: { count: 1, intervalMs: 0, sizeBytes: 100, contentType: "text/plain", chunkSize: 2048, imdn: false },
  /** Large messages: 64 KB MSRP chunks (the usual upper end of chunk sizes, RFC 4975 §7.1). */
  largeMessage: { chunkSize: 64 * 1024, contentType: "application/octet-stream", failureReport: "yes" as "yes" | "partial" },
} as const;

/** The largest message or chunk size a scenario may ask for (100 MB, 1024-based). */
export const MAX_SIZE_BYTES = 100 * 1024 * 1024;

type Data = Record<string, unknown>;
const isObject = (v: unknown): v is Data => typeof v === "object" && v !== null && !Array.isArray(v);
const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const durationOf = (v: unknown): number | null => (typeof v === "string" && /[a-z]\s*$/.test(v) ? parseDurationMs(v) : null);

export function compileScenario(text: string, fileName: string): Plan {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, strict: true });
  const problems: ScenarioProblem[] = [];
  const add = (pos: Position, message: string) => problems.push({ file: fileName, line: pos.line, col: pos.col, message });

  for (const error of [...doc.errors, ...doc.warnings]) {
    add(lines.linePos(error.pos[0]), `invalid YAML: ${firstLine(error.message)}`);
  }
  if (problems.length > 0) throw new ScenarioError(problems);

  const locate = new YamlLocator(doc, lines);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (error) {
    add({ line: 1, col: 1 }, `invalid YAML: ${firstLine((error as Error).message)}`);
    throw new ScenarioError(problems);
  }
  if (data === null || data === undefined) {
    add({ line: 1, col: 1 }, "the file is empty: a scenario needs at least `population: {clients: <n>}` and a `duration`");
    throw new ScenarioError(problems);
  }

  const seen = new Set<string>();
  for (const error of schemaErrors(data)) {
    const problem = schemaProblem(error, locate);
    if (!problem) continue;
    const key = `${problem.pos.line}:${problem.pos.col}:${problem.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    add(problem.pos, problem.message);
  }
  if (isObject(data)) checkRules(data, locate, add);

  if (problems.length > 0) {
    problems.sort((a, b) => a.line - b.line || a.col - b.col);
    throw new ScenarioError(problems);
  }
  return buildPlan(data as Data, fileName);
}

function firstLine(message: string): string {
  return message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "").trim();
}

// ---------------------------------------------------------------------------------------------
// Schema errors → sentences

const TYPE_WORDS: Record<string, string> = {
  integer: "a whole number",
  number: "a number",
  string: "a string",
  boolean: "true or false",
  object: "a mapping (key: value)",
  array: "a list",
  null: "empty",
};

function describeValue(value: unknown): string {
  if (value === null) return "empty";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return `the string '${value}'`;
  if (typeof value === "number" && !Number.isInteger(value)) return `the number ${value}`;
  if (typeof value === "number") return `${value}`;
  return String(value);
}

const scalarSuffix = (value: unknown): string =>
  value === null || typeof value === "object" ? "" : ` (got ${typeof value === "string" ? `'${value}'` : String(value)})`;

function schemaProblem(error: ErrorObject, locate: YamlLocator): { pos: Position; message: string } | null {
  const segments = pointerSegments(error.instancePath);
  const where = segments.length === 0 ? "the scenario" : displayPath(segments);
  const parent = (error.parentSchema ?? {}) as Record<string, unknown>;
  const custom = typeof parent.errorMessage === "string" ? parent.errorMessage : undefined;
  switch (error.keyword) {
    case "if":
      // The failing then/else branch reports the real problem.
      return null;
    case "additionalProperties": {
      const key = String((error.params as { additionalProperty: string }).additionalProperty);
      const allowed = Object.keys((parent.properties as Record<string, unknown> | undefined) ?? {}).filter((k) => k !== "$schema");
      const place = segments.length === 0 ? " at the top level" : ` in ${where}`;
      const extension = segments.length === 0 ? ", or x-<name> for your own anchors" : "";
      const hint = didYouMean(key, allowed) || (allowed.length > 0 ? ` (allowed: ${allowed.join(", ")}${extension})` : " (it takes no keys)");
      return { pos: locate.keyPosition([...segments, key]), message: `unknown key '${key}'${place}${hint}` };
    }
    case "required": {
      const missing = String((error.params as { missingProperty: string }).missingProperty);
      return { pos: locate.entryPosition(segments), message: `${where} is missing '${missing}'${REQUIRED_HINTS[missing] ?? ""}` };
    }
  }
  const pos = locate.valuePosition(segments);
  if (custom) return { pos, message: `${where} ${custom}${scalarSuffix(error.data)}` };
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "type": {
      const types = ([] as string[]).concat(params.type as string | string[]);
      const wanted = types.map((t) => TYPE_WORDS[t] ?? t).join(" or ");
      return { pos, message: `${where} must be ${wanted}, not ${describeValue(error.data)}` };
    }
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum": {
      const op = { minimum: ">=", maximum: "<=", exclusiveMinimum: ">", exclusiveMaximum: "<" }[error.keyword];
      return { pos, message: `${where} must be ${op} ${String(params.limit)}${scalarSuffix(error.data)}` };
    }
    case "minItems":
      return { pos: locate.entryPosition(segments), message: `${where} must have at least ${String(params.limit)} item${params.limit === 1 ? "" : "s"}` };
    case "minLength":
      return { pos, message: `${where} must not be empty` };
    case "maxLength":
      return { pos, message: `${where} must be at most ${String(params.limit)} characters long` };
    case "enum":
      return { pos, message: `${where} must be one of ${(params.allowedValues as unknown[]).map((v) => `'${String(v)}'`).join(", ")}${scalarSuffix(error.data)}` };
    default:
      return { pos, message: `${where} ${error.message ?? "is not valid"}` };
  }
}

const REQUIRED_HINTS: Record<string, string> = {
  population: ": add e.g. `population: {clients: 100, rate: 50}`",
  clients: ": add the number of virtual clients, e.g. `clients: 100`",
  duration: ": add e.g. `duration: 30s`",
  name: ": give it a name, e.g. `name: re-register`",
  steps: ": add a list of steps, e.g. `steps: [register]`",
  from: ": a ramp needs both ends, e.g. `rate: {from: 0, to: 50}`",
  to: ": a ramp needs both ends, e.g. `rate: {from: 0, to: 50}`",
  size: ": add the message size, e.g. `size: 5MB` (1024-based units B, KB, MB)",
  min: ": a size range needs both ends, e.g. `size: {min: 100, max: 1KB}`",
  max: ": a size range needs both ends, e.g. `size: {min: 100, max: 1KB}`",
};

// ---------------------------------------------------------------------------------------------
// Rules beyond the schema. They run on possibly invalid data, so every access checks its type.

function checkRules(data: Data, locate: YamlLocator, add: (pos: Position, message: string) => void): void {
  const phases = Array.isArray(data.phases) ? data.phases : null;
  const scenarios = Array.isArray(data.scenarios) ? data.scenarios : [];
  const duration = durationOf(data.duration);

  if (data.duration === undefined && data.phases === undefined) {
    add(locate.valuePosition([]), "the scenario has neither `duration` nor `phases`: add e.g. `duration: 30s` (the population is held that long)");
  }
  if (duration === 0) add(locate.valuePosition(["duration"]), "duration must be longer than 0: e.g. `duration: 30s`");
  const warmup = durationOf(data.warmup);

  // The run's length as far as it is known here (phases add up to it, else `duration`).
  let runMs: number | null = phases ? null : duration;
  if (phases) {
    let sum = 0;
    let sumKnown = true;
    const names = new Map<string, number>();
    phases.forEach((phase, i) => {
      if (!isObject(phase)) return (sumKnown = false);
      const ms = durationOf(phase.duration);
      if (ms === null) sumKnown = false;
      else if (ms === 0) add(locate.valuePosition(["phases", String(i), "duration"]), `phases[${i}].duration must be longer than 0`);
      else sum += ms;
      const name = typeof phase.name === "string" ? phase.name : `phase-${i + 1}`;
      if (names.has(name)) {
        add(locate.valuePosition(["phases", String(i), "name"]), `phase name '${name}' is used twice (also phases[${names.get(name)}]): give each phase its own name`);
      } else names.set(name, i);
      const rate = phase.rate;
      const runs = (isNumber(rate) && rate > 0) || (isObject(rate) && ((isNumber(rate.from) && rate.from > 0) || (isNumber(rate.to) && rate.to > 0)));
      if (runs && scenarios.length === 0) {
        add(
          locate.valuePosition(["phases", String(i), "rate"]),
          `phases[${i}] runs scenario iterations but the file has no \`scenarios\`: add a scenario or set the rate to 0`,
        );
      }
      return undefined;
    });
    if (sumKnown && duration !== null && duration > 0 && sum > 0 && sum !== duration) {
      add(
        locate.valuePosition(["duration"]),
        `duration ${String(data.duration)} does not match the phases, which add up to ${formatMs(sum)}: remove \`duration\` or make it equal`,
      );
    }
    if (sumKnown && sum > 0) runMs = sum;
  }
  if (warmup === 0) add(locate.valuePosition(["warmup"]), "warmup must be longer than 0 (or left out): e.g. `warmup: 5s`");
  // Whole periods are left out (warmupPeriods rounds up): that must leave at least one.
  const excludedMs = warmup === null ? 0 : warmupPeriods(warmup) * PERIOD_MS;
  if (warmup !== null && runMs !== null && runMs > 0 && excludedMs >= runMs) {
    const rounded = excludedMs !== warmup ? `, rounded up to whole seconds: ${formatMs(excludedMs)}` : "";
    add(
      locate.valuePosition(["warmup"]),
      `warmup ${String(data.warmup)}${rounded} is not shorter than the whole run (${formatMs(runMs)}), so nothing would be measured: shorten it`,
    );
  }

  const scenarioNames = new Map<string, number>();
  let weightSum = 0;
  let weightsKnown = scenarios.length > 0;
  scenarios.forEach((scenario, i) => {
    if (!isObject(scenario)) return (weightsKnown = false);
    if (typeof scenario.name === "string") {
      const previous = scenarioNames.get(scenario.name);
      if (previous !== undefined) {
        add(
          locate.valuePosition(["scenarios", String(i), "name"]),
          `scenario name '${scenario.name}' is used twice (also scenarios[${previous}]): give each scenario its own name`,
        );
      } else scenarioNames.set(scenario.name, i);
    }
    const weight = scenario.weight === undefined ? 1 : scenario.weight;
    if (isNumber(weight) && weight >= 0) weightSum += weight;
    else weightsKnown = false;
    return undefined;
  });
  if (weightsKnown && weightSum === 0) {
    add(locate.entryPosition(["scenarios"]), "the scenario weights add up to 0: give at least one scenario a weight above 0");
  }

  const population = isObject(data.population) ? data.population : {};
  const clients = isNumber(population.clients) ? population.clients : null;
  scenarios.forEach((scenario, i) => {
    if (isObject(scenario) && Array.isArray(scenario.steps)) checkSteps(scenario.steps, ["scenarios", String(i), "steps"], clients, locate, add);
  });

  const users = isObject(population.users) ? population.users : {};
  if (typeof users.template === "string") {
    for (const problem of checkTemplate(users.template, "user")) {
      add(locate.valuePosition(["population", "users", "template"]), `population.users.template ${problem}`);
    }
    if (isNumber(population.clients) && population.clients > 1 && !userTemplateIsPerClient(users.template)) {
      add(
        locate.valuePosition(["population", "users", "template"]),
        `population.users.template gives all ${population.clients} clients the same user name: include {index} or {n}, e.g. "user{index:06}"`,
      );
    }
  }
  if (typeof users.password === "string") {
    for (const problem of checkTemplate(users.password, "password")) {
      add(locate.valuePosition(["population", "users", "password"]), `population.users.password ${problem}`);
    }
  }

  if (isObject(data.thresholds)) {
    for (const [metric, expressions] of Object.entries(data.thresholds)) {
      const kind = metricKind(metric);
      if (kind === null) {
        add(locate.keyPosition(["thresholds", metric]), unknownMetricMessage(metric));
        continue;
      }
      const list = typeof expressions === "string" ? [expressions] : Array.isArray(expressions) ? expressions : [];
      list.forEach((expression, i) => {
        if (typeof expression !== "string") return;
        const parsed = parseThreshold(metric, expression, kind);
        if (!parsed.ok) {
          const path = typeof expressions === "string" ? ["thresholds", metric] : ["thresholds", metric, String(i)];
          add(locate.valuePosition(path), parsed.message);
        }
      });
    }
  }
}

/** The kind of a step as written (`send` or `{send: {...}}`), or null when it is not a step. */
function stepKind(step: unknown): string | null {
  if (typeof step === "string") return step;
  if (isObject(step)) {
    const keys = Object.keys(step);
    return keys.length === 1 ? keys[0]! : null;
  }
  return null;
}

/**
 * Session steps follow the session's life within one scenario: an `invite` opens the iteration's
 * one current session, `send`/`reinvite` use it, `bye` closes it. A second `invite` while one is
 * open would lose track of the first (the iteration holds one current session), so it is refused
 * too. Sizes given with units are bounded here (the schema only checks their spelling), and so
 * are client indices (the schema does not know the population).
 */
function checkSteps(
  steps: unknown[],
  path: string[],
  clients: number | null,
  locate: YamlLocator,
  add: (pos: Position, message: string) => void,
): void {
  let open: number | null = null;
  let closedBy: number | null = null;
  steps.forEach((step, j) => {
    const here = [...path, String(j)];
    const where = displayPath(here);
    const kind = stepKind(step);
    const body = isObject(step) && kind !== null && isObject(step[kind]) ? (step[kind] as Data) : {};
    if (kind === "invite") {
      if (open !== null) {
        add(
          locate.valuePosition(here),
          `${where} opens a session while the one from ${displayPath([...path, String(open)])} is still open: add a bye before it (an iteration holds one session at a time)`,
        );
      }
      open = j;
    } else if (kind === "send" || kind === "reinvite" || kind === "bye") {
      if (open === null) {
        const why =
          closedBy === null
            ? "no session is open"
            : `the session was closed by the bye at ${displayPath([...path, String(closedBy)])}`;
        add(locate.valuePosition(here), `${where} (${kind}) needs an open session but ${why}: add an invite step before it`);
      }
      if (kind === "bye") {
        open = null;
        closedBy = j;
      }
    }
    if (kind === "invite" || kind === "largeMessage") {
      const to = body.to;
      if (isNumber(to) && Number.isInteger(to) && to >= 0 && clients !== null && to >= clients) {
        add(
          locate.valuePosition([...here, kind, "to"]),
          `${where}.${kind}.to names client ${to}, but the population has ${clients} client${clients === 1 ? "" : "s"} (indices 0 to ${clients - 1}): use a smaller index, next or random`,
        );
      }
    }
    if (kind === "send" || kind === "largeMessage") {
      checkSize(body.size, [...here, kind, "size"], locate, add);
      checkSize(body.chunkSize, [...here, kind, "chunkSize"], locate, add);
    }
  });
}

function checkSize(value: unknown, path: string[], locate: YamlLocator, add: (pos: Position, message: string) => void): void {
  const where = displayPath(path);
  const one = (v: unknown, at: string[]): number | null => {
    if (typeof v !== "string") return isNumber(v) ? v : null;
    const bytes = parseSizeBytes(v);
    if (bytes === null) return null;
    if (bytes < 1) add(locate.valuePosition(at), `${displayPath(at)} is ${v.trim()}, which is less than 1 byte: give a size of at least 1B`);
    else if (bytes > MAX_SIZE_BYTES) add(locate.valuePosition(at), `${displayPath(at)} is ${v.trim()}, above the limit of 100MB: give a smaller size`);
    return bytes;
  };
  if (isObject(value)) {
    const min = one(value.min, [...path, "min"]);
    const max = one(value.max, [...path, "max"]);
    if (min !== null && max !== null && min > max) {
      add(locate.valuePosition([...path, "min"]), `${where}.min (${min} bytes) is above ${where}.max (${max} bytes): swap them`);
    }
  } else one(value, path);
}

/**
 * A size as written: a whole number of bytes, or a number with B, KB or MB. Units are 1024-based
 * (1KB = 1024 bytes, 1MB = 1,048,576 bytes), as MSRP chunk sizes are usually counted; a fraction
 * rounds to the nearest byte ("1.5KB" = 1536). Null when it is not a size.
 */
export function parseSizeBytes(value: string | number): number | null {
  if (typeof value === "number") return Number.isInteger(value) && value >= 0 ? value : null;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kKmM]?)[bB]\s*$/.exec(value);
  if (!match) return null;
  const unit = match[2]!.toLowerCase();
  const multiplier = unit === "k" ? 1024 : unit === "m" ? 1024 * 1024 : 1;
  return Math.round(Number(match[1]) * multiplier);
}

// ---------------------------------------------------------------------------------------------
// Valid data → Plan

function buildPlan(data: Data, fileName: string): Plan {
  const d = SCENARIO_DEFAULTS;
  const population = data.population as Data;
  const users = (population.users ?? {}) as Data;
  const register = (population.register ?? {}) as Data;

  const phases: PhasePlan[] = Array.isArray(data.phases)
    ? (data.phases as Data[]).map((phase, i) => {
        const rate = phase.rate ?? 0;
        const [startRate, endRate] = isObject(rate) ? [rate.from as number, rate.to as number] : [rate as number, rate as number];
        return { name: (phase.name as string | undefined) ?? `phase-${i + 1}`, durationMs: durationOf(phase.duration)!, startRate, endRate };
      })
    : [{ name: d.holdPhaseName, durationMs: durationOf(data.duration)!, startRate: 0, endRate: 0 }];

  const rawScenarios = (data.scenarios ?? []) as Data[];
  const weightSum = rawScenarios.reduce((sum, s) => sum + ((s.weight as number | undefined) ?? d.weight), 0);
  const scenarios: ScenarioPlan[] = rawScenarios.map((s) => ({
    name: s.name as string,
    // Normalised so weights read as shares of the iterations (they add up to 1).
    weight: ((s.weight as number | undefined) ?? d.weight) / weightSum,
    steps: (s.steps as unknown[]).map(compileStep),
  }));

  const thresholds: ThresholdPlan[] = [];
  for (const [metric, expressions] of Object.entries((data.thresholds ?? {}) as Data)) {
    const kind = metricKind(metric)!;
    for (const expression of ([] as string[]).concat(expressions as string | string[])) {
      const parsed = parseThreshold(metric, expression, kind);
      if (parsed.ok) thresholds.push(parsed.threshold);
    }
  }

  const plan: Plan = {
    name: (data.name as string | undefined) ?? nameFromFile(fileName),
    ...(typeof data.description === "string" ? { description: data.description } : {}),
    seed: (data.seed as number | undefined) ?? d.seed,
    durationMs: phases.reduce((sum, p) => sum + p.durationMs, 0),
    warmupMs: durationOf(data.warmup) ?? 0,
    population: {
      clients: population.clients as number,
      arrivalRate: (population.rate as number | undefined) ?? d.arrivalRate,
      userTemplate: (users.template as string | undefined) ?? d.userTemplate,
      passwordTemplate: (users.password as string | undefined) ?? d.passwordTemplate,
      domain: (users.domain as string | undefined) ?? d.domain,
      registerExpires: (register.expires as number | undefined) ?? d.registerExpires,
      refreshFraction: (register.refresh as number | undefined) ?? d.refreshFraction,
      unregisterAtEnd: (register.unregisterAtEnd as boolean | undefined) ?? d.unregisterAtEnd,
      ...(isObject(population.answer) ? { answer: compileAnswer(population.answer) } : {}),
    },
    phases,
    scenarios,
    thresholds,
  };
  return plan;
}

function compileAnswer(answer: Data): AnswerPlan {
  const d = SCENARIO_DEFAULTS.answer;
  const reject = isObject(answer.reject) ? answer.reject : {};
  return {
    delayMs: answer.delay === undefined ? d.delayMs : durationOf(answer.delay)!,
    rejectProbability: (reject.probability as number | undefined) ?? d.rejectProbability,
    rejectStatus: (reject.status as number | undefined) ?? d.rejectStatus,
    reply: (answer.reply as AnswerPlan["reply"] | undefined) ?? d.reply,
  };
}

const compilePeer = (to: unknown): PeerPlan =>
  to === undefined || to === "random" ? { kind: "random" } : to === "next" ? { kind: "next" } : { kind: "index", index: to as number };

function compileSize(value: unknown, fallbackBytes: number): SizePlan {
  if (value === undefined) return { kind: "fixed", bytes: fallbackBytes };
  if (isObject(value)) {
    return { kind: "uniform", minBytes: parseSizeBytes(value.min as string | number)!, maxBytes: parseSizeBytes(value.max as string | number)! };
  }
  return { kind: "fixed", bytes: parseSizeBytes(value as string | number)! };
}

const sizeOr = (value: unknown, fallback: number): number => (value === undefined ? fallback : parseSizeBytes(value as string | number)!);

function compileStep(step: unknown): StepPlan {
  const [kind, raw] = typeof step === "string" ? [step, null] : Object.entries(step as Data)[0]!;
  const value: Data = isObject(raw) ? raw : {};
  switch (kind) {
    case "register": {
      const expires = value.expires as number | undefined;
      return expires === undefined ? { kind: "register" } : { kind: "register", expires };
    }
    case "unregister":
      return { kind: "unregister" };
    case "invite":
      return { kind: "invite", to: compilePeer(value.to), ...(typeof value.subject === "string" ? { subject: value.subject } : {}) };
    case "send": {
      const d = SCENARIO_DEFAULTS.send;
      return {
        kind: "send",
        count: (value.count as number | undefined) ?? d.count,
        intervalMs: value.interval === undefined ? d.intervalMs : durationOf(value.interval)!,
        size: compileSize(value.size, d.sizeBytes),
        contentType: (value.contentType as string | undefined) ?? d.contentType,
        chunkSize: sizeOr(value.chunkSize, d.chunkSize),
        imdn: (value.imdn as boolean | undefined) ?? d.imdn,
      };
    }
    case "reinvite":
      return { kind: "reinvite", renewMsrp: (value.renewMsrp as boolean | undefined) ?? false };
    case "bye":
      return { kind: "bye", by: (value.by as "caller" | "callee" | undefined) ?? "caller" };
    case "largeMessage": {
      const d = SCENARIO_DEFAULTS.largeMessage;
      return {
        kind: "largeMessage",
        to: compilePeer(value.to),
        size: compileSize(value.size, 0),
        chunkSize: sizeOr(value.chunkSize, d.chunkSize),
        contentType: (value.contentType as string | undefined) ?? d.contentType,
        failureReport: (value.failureReport as "yes" | "partial" | undefined) ?? d.failureReport,
      };
    }
    default:
      return { kind: "pause", durationMs: durationOf(raw)! };
  }
}

/** "scenarios/my load.yaml" → "my-load": the name goes into the results folder name. */
export function nameFromFile(fileName: string): string {
  const base = fileName.split(/[\\/]/).pop() ?? "scenario";
  const stem = base.replace(/\.(ya?ml|json)$/i, "");
  const clean = stem.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^[^A-Za-z0-9]+/, "").slice(0, 64);
  return clean === "" ? "scenario" : clean;
}
