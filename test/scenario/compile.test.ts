import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compileScenario, loadScenarioFile, ScenarioError } from "../../src/scenario/index.js";
import { UserError } from "../../src/errors.js";
import { MINIMAL_SCENARIO as minimal, problems } from "./support/scenario-text.js";

const scenariosDir = new URL("../../scenarios/", import.meta.url);


describe("valid scenarios compile to a Plan", () => {
  it("scenarios/register.yaml: population, phases, scenario and thresholds", () => {
    const plan = loadScenarioFile("scenarios/register.yaml");
    expect(plan.name).toBe("register");
    expect(plan.seed).toBe(1);
    expect(plan.durationMs).toBe(20_000);
    expect(plan.population).toEqual({
      clients: 200,
      arrivalRate: 100,
      userTemplate: "user{index:06}",
      passwordTemplate: "{user}-secret",
      domain: "cpm.test",
      registerExpires: 600,
      refreshFraction: 0.5,
      unregisterAtEnd: true,
    });
    expect(plan.phases).toEqual([
      { name: "ramp-up", durationMs: 2000, startRate: 0, endRate: 0 },
      { name: "steady", durationMs: 18_000, startRate: 20, endRate: 20 },
    ]);
    expect(plan.scenarios).toEqual([{ name: "re-register", weight: 1, steps: [{ kind: "register" }] }]);
    expect(plan.thresholds).toEqual([
      { metric: "register", stat: "p99", op: "<", value: 500, expression: "p99 < 500ms" },
      { metric: "register.failures", stat: "rate", op: "==", value: 0, expression: "rate == 0" },
    ]);
  });

  it("every bundled scenario is valid", () => {
    const files = readdirSync(scenariosDir).filter((f) => f.endsWith(".yaml"));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) expect(() => loadScenarioFile(`scenarios/${file}`), file).not.toThrow();
  });

  it("a minimal file gets every default: one holding phase of `duration`, seed 1, name from the file", () => {
    const plan = compileScenario(minimal, "dir/my load.test.yaml");
    expect(plan.name).toBe("my-load.test");
    expect(plan.seed).toBe(1);
    expect(plan.durationMs).toBe(30_000);
    expect(plan.phases).toEqual([{ name: "main", durationMs: 30_000, startRate: 0, endRate: 0 }]);
    expect(plan.scenarios).toEqual([]);
    expect(plan.thresholds).toEqual([]);
    expect(plan.population.arrivalRate).toBe(100);
    expect(plan.population.userTemplate).toBe("user{index:06}");
    expect(plan.population.passwordTemplate).toBe("{user}-secret");
    expect(plan.population.domain).toBe("cpm.test");
    expect(plan.population.registerExpires).toBe(600);
    expect(plan.population.refreshFraction).toBe(0.5);
    expect(plan.population.unregisterAtEnd).toBe(true);
    expect(plan.description).toBeUndefined();
    expect(plan.warmupMs).toBe(0);
  });

  it("warmup: compiled to ms; as long as the run, 0 or without a unit is refused where it is written", () => {
    expect(compileScenario("population: {clients: 1}\nduration: 10s\nwarmup: 3s\n", "x.yaml").warmupMs).toBe(3000);
    expect(compileScenario("population: {clients: 1}\nphases:\n  - {duration: 2s}\n  - {duration: 3s}\nwarmup: 3500ms\n", "x.yaml").warmupMs).toBe(3500);
    expect(problems("population: {clients: 1}\nduration: 10s\nwarmup: 10s\n")).toEqual([
      "x.yaml:3:9: warmup 10s is not shorter than the whole run (10s), so nothing would be measured: shorten it",
    ]);
    expect(problems("population: {clients: 1}\nphases:\n  - {duration: 2s}\nwarmup: 5s\n")).toEqual([
      "x.yaml:4:9: warmup 5s is not shorter than the whole run (2s), so nothing would be measured: shorten it",
    ]);
    // Whole periods are left out: 4.5 s of a 5 s run is all of it.
    expect(problems("population: {clients: 1}\nphases:\n  - {duration: 2s}\n  - {duration: 3s}\nwarmup: 4500ms\n")).toEqual([
      "x.yaml:5:9: warmup 4500ms, rounded up to whole seconds: 5s is not shorter than the whole run (5s), so nothing would be measured: shorten it",
    ]);
    expect(problems("population: {clients: 1}\nduration: 10s\nwarmup: 0s\n")).toEqual([
      "x.yaml:3:9: warmup must be longer than 0 (or left out): e.g. `warmup: 5s`",
    ]);
    expect(problems("population: {clients: 1}\nduration: 10s\nwarmup: 3\n")).toEqual([
      'x.yaml:3:9: warmup must be a duration with a unit (us, ms, s, m or h), e.g. "500ms", "20s" or "2m" (got 3)',
    ]);
  });

  it("phases add up to the duration, ramps keep both ends, weights are normalised and zero weights kept", () => {
    const plan = compileScenario(
      `
name: mix
seed: 42
duration: 1m
population: {clients: 50, rate: 12.5, users: {template: "u{n:04}", password: "pw-{index}", domain: example.org}, register: {expires: 120, refresh: 0.8, unregisterAtEnd: false}}
phases:
  - {name: ramp, duration: 10s, rate: {from: 0, to: 40}}
  - {duration: 50s, rate: 40}
scenarios:
  - name: a
    weight: 3
    steps: [register, {register: {expires: 60}}, {pause: 1.5s}, {unregister: }, unregister, {register: }]
  - {name: b, steps: [{pause: 250ms}]}
  - {name: off, weight: 0, steps: [register]}
`,
      "mix.yaml",
    );
    expect(plan.seed).toBe(42);
    expect(plan.durationMs).toBe(60_000);
    expect(plan.population).toMatchObject({ clients: 50, arrivalRate: 12.5, userTemplate: "u{n:04}", passwordTemplate: "pw-{index}", domain: "example.org" });
    expect(plan.population).toMatchObject({ registerExpires: 120, refreshFraction: 0.8, unregisterAtEnd: false });
    expect(plan.phases).toEqual([
      { name: "ramp", durationMs: 10_000, startRate: 0, endRate: 40 },
      { name: "phase-2", durationMs: 50_000, startRate: 40, endRate: 40 },
    ]);
    expect(plan.scenarios.map((s) => [s.name, s.weight])).toEqual([
      ["a", 0.75],
      ["b", 0.25],
      ["off", 0],
    ]);
    expect(plan.scenarios[0]!.steps).toEqual([
      { kind: "register" },
      { kind: "register", expires: 60 },
      { kind: "pause", durationMs: 1500 },
      { kind: "unregister" },
      { kind: "unregister" },
      { kind: "register" },
    ]);
    expect(plan.scenarios[1]!.steps).toEqual([{ kind: "pause", durationMs: 250 }]);
  });

  it("x- keys hold YAML anchors that aliases reuse; a problem inside an anchor is reported where it is written", () => {
    const plan = compileScenario(
      `x-steps: &steps [register, {pause: 1s}, unregister]
population: {clients: 2}
duration: 5s
scenarios:
  - {name: a, steps: *steps}
  - {name: b, steps: *steps}
`,
      "anchors.yaml",
    );
    expect(plan.scenarios[1]!.steps).toEqual([{ kind: "register" }, { kind: "pause", durationMs: 1000 }, { kind: "unregister" }]);
    expect(problems("x-steps: &steps [register, {pause: 1}]\npopulation: {clients: 2}\nduration: 5s\nscenarios:\n  - {name: a, steps: *steps}\n")).toEqual([
      'x.yaml:1:36: scenarios[0].steps[1].pause must be a duration with a unit (us, ms, s, m or h), e.g. "500ms", "20s" or "2m" (got 1)',
    ]);
  });

  it("thresholds compile to ms for latencies, fractions for rates, whole numbers for counts", () => {
    const plan = compileScenario(
      `${minimal}thresholds:
  register: ["p99 < 1s", "p50<=500us", "max < 250", "p99.9 < 2s", "count >= 100"]
  register.service: p95 < 20ms
  register.failures: ["rate < 1%", "count == 0"]
  register.failures.status.503: rate <= 0.001
  register.failures.timeout: count == 0
`,
      "t.yaml",
    );
    expect(plan.thresholds.map((t) => [t.metric, t.stat, t.op, t.value])).toEqual([
      ["register", "p99", "<", 1000],
      ["register", "p50", "<=", 0.5],
      ["register", "max", "<", 250],
      ["register", "p99.9", "<", 2000],
      ["register", "count", ">=", 100],
      ["register.service", "p95", "<", 20],
      ["register.failures", "rate", "<", 0.01],
      ["register.failures", "count", "==", 0],
      ["register.failures.status.503", "rate", "<=", 0.001],
      ["register.failures.timeout", "count", "==", 0],
    ]);
    expect(plan.thresholds[1]!.expression).toBe("p50<=500us");
  });
});

describe("every problem names file:line:col", () => {
  it("bad YAML syntax", () => {
    expect(problems("population:\n  clients: [1, 2\nduration: 5s\n")).toEqual([
      expect.stringMatching(/^x\.yaml:3:1: invalid YAML: /),
    ]);
  });

  it("a key given twice", () => {
    expect(problems("population: {clients: 1}\nduration: 5s\nduration: 6s\n")).toEqual(["x.yaml:3:1: invalid YAML: Map keys must be unique"]);
  });

  it("wrong type", () => {
    expect(problems("population:\n  clients: many\nduration: 5s\n")).toEqual([
      "x.yaml:2:12: population.clients must be a whole number, not the string 'many'",
    ]);
    expect(problems("- population\n")).toEqual(["x.yaml:1:1: the scenario must be a mapping (key: value), not a list"]);
  });

  it("unknown key, with a suggestion when one is close", () => {
    expect(problems("population:\n  clients: 1\n  clinets: 2\nduration: 5s\n")).toEqual([
      "x.yaml:3:3: unknown key 'clinets' in population — did you mean 'clients'?",
    ]);
    expect(problems(`${minimal}colour: blue\n`)).toEqual([
      expect.stringMatching(/^x\.yaml:4:1: unknown key 'colour' at the top level \(allowed: name, description, seed, duration, warmup, population, phases, scenarios, thresholds, or x-<name> for your own anchors\)$/),
    ]);
  });

  it("negative rates", () => {
    expect(problems("population:\n  clients: 1\n  rate: -5\nphases:\n  - duration: 5s\n    rate: -1\n")).toEqual([
      "x.yaml:3:9: population.rate must be > 0 (got -5)",
      "x.yaml:6:11: phases[0].rate must be a number of iterations per second (0 or more) or a ramp {from: 10, to: 100} (got -1)",
    ]);
  });

  it("weights adding up to zero", () => {
    expect(problems(`${minimal}scenarios:\n  - {name: a, weight: 0, steps: [register]}\n  - {name: b, weight: 0, steps: [register]}\n`)).toEqual([
      "x.yaml:4:1: the scenario weights add up to 0: give at least one scenario a weight above 0",
    ]);
  });

  it("bad duration strings", () => {
    expect(problems("population: {clients: 1}\nduration: 60\n")).toEqual([
      'x.yaml:2:11: duration must be a duration with a unit (us, ms, s, m or h), e.g. "500ms", "20s" or "2m" (got 60)',
    ]);
    expect(problems("population: {clients: 1}\nphases:\n  - duration: 5 seconds\n")).toEqual([
      'x.yaml:3:15: phases[0].duration must be a duration with a unit (us, ms, s, m or h), e.g. "500ms", "20s" or "2m" (got \'5 seconds\')',
    ]);
    expect(problems("population: {clients: 1}\nduration: 0s\n")).toEqual(["x.yaml:2:11: duration must be longer than 0: e.g. `duration: 30s`"]);
  });

  it("bad threshold expressions and unknown metrics", () => {
    expect(problems(`${minimal}thresholds:\n  register: p99 less than 200ms\n`)).toEqual([
      expect.stringMatching(/^x\.yaml:5:13: threshold 'p99 less than 200ms' for register is not an expression: write <stat> <op> <value>/),
    ]);
    expect(problems(`${minimal}thresholds:\n  register:\n    - p99 < soon\n`)).toEqual([
      expect.stringMatching(/^x\.yaml:6:7: threshold 'p99 < soon' for register has the value 'soon', which is not a duration/),
    ]);
    expect(problems(`${minimal}thresholds:\n  register.failures: [rate < 5]\n`)).toEqual([
      expect.stringMatching(/^x\.yaml:5:23: threshold 'rate < 5' for register.failures has the value '5', which is not a fraction/),
    ]);
    expect(problems(`${minimal}thresholds:\n  register: [rate < 0.1]\n`)).toEqual([
      expect.stringMatching(/^x\.yaml:5:14: threshold 'rate < 0.1' for register: 'rate' does not apply to a latency metric/),
    ]);
    expect(problems(`${minimal}thresholds:\n  regster: p99 < 1s\n`)).toEqual([
      expect.stringMatching(/^x\.yaml:5:3: threshold metric 'regster' does not exist — did you mean 'register'\?/),
    ]);
    expect(problems(`${minimal}thresholds:\n  sip.bytes_sent: rate < 0.5\n`)).toEqual([
      expect.stringMatching(/^x\.yaml:5:19: threshold 'rate < 0.5' for sip.bytes_sent: 'rate' needs an '.attempts' counter/),
    ]);
  });

  it("missing keys point at the mapping that should hold them", () => {
    expect(problems("duration: 5s\npopulation:\n  rate: 5\n")).toEqual([
      "x.yaml:2:1: population is missing 'clients': add the number of virtual clients, e.g. `clients: 100`",
    ]);
    expect(problems("population: {clients: 1}\n")).toEqual([
      "x.yaml:1:1: the scenario has neither `duration` nor `phases`: add e.g. `duration: 30s` (the population is held that long)",
    ]);
    expect(problems("")).toEqual([expect.stringMatching(/^x\.yaml:1:1: the file is empty/)]);
  });

  it("steps: unknown step kinds and empty lists", () => {
    expect(problems(`${minimal}scenarios:\n  - name: a\n    steps:\n      - regster: {}\n      - sleep\n      - {register: {}, pause: 1s}\n  - {name: b, steps: []}\n`)).toEqual([
      "x.yaml:7:9: unknown key 'regster' in scenarios[0].steps[0] — did you mean 'register'?",
      "x.yaml:8:9: scenarios[0].steps[1] must be one of the steps register, unregister, invite, send, reinvite, bye, or a mapping such as {pause: 2s} or {largeMessage: {size: 5MB}} (got 'sleep')",
      "x.yaml:9:9: scenarios[0].steps[2] must be exactly one step, e.g. {register: {}}, {pause: 2s}, {invite: {to: random}}, {send: {count: 5}} or {bye: {}}",
      "x.yaml:10:15: scenarios[1].steps must have at least 1 item",
    ]);
  });

  it("rules beyond the schema: phases vs duration, duplicate names, iterations without scenarios, templates", () => {
    expect(
      problems(`population:
  clients: 5
  users: {template: "user", password: "{idx}"}
duration: 10s
phases:
  - {name: p, duration: 4s, rate: 5}
  - {name: p, duration: 4s}
`),
    ).toEqual([
      'x.yaml:3:21: population.users.template gives all 5 clients the same user name: include {index} or {n}, e.g. "user{index:06}"',
      "x.yaml:3:39: population.users.password has an unknown placeholder '{idx}': use {index}, {n}, {user}, optionally zero-padded like {index:06}",
      "x.yaml:4:11: duration 10s does not match the phases, which add up to 8s: remove `duration` or make it equal",
      "x.yaml:6:35: phases[0] runs scenario iterations but the file has no `scenarios`: add a scenario or set the rate to 0",
      "x.yaml:7:12: phase name 'p' is used twice (also phases[0]): give each phase its own name",
    ]);
  });

  it("reports all problems at once, sorted by position, in one UserError", () => {
    const text = "name: bad name\npopulation:\n  clients: 0\n  rate: fast\n  clinets: 3\nduration: 1 minute\nthresholds:\n  register: p99 < 1 s\n";
    let error: unknown;
    try {
      compileScenario(text, "bad.yaml");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UserError);
    const scenarioError = error as ScenarioError;
    expect(scenarioError.exitCode).toBe(2);
    expect(scenarioError.problems.map((p) => [p.line, p.col])).toEqual([
      [1, 7],
      [3, 12],
      [4, 9],
      [5, 3],
      [6, 11],
      [8, 13],
    ]);
    const lines = scenarioError.message.split("\n");
    expect(lines[0]).toBe("bad.yaml has 6 problems:");
    expect(lines.slice(1).every((l) => /^ {2}bad\.yaml:\d+:\d+: /.test(l))).toBe(true);
  });

  it("a missing file is one sentence", () => {
    expect(() => loadScenarioFile("scenarios/does-not-exist.yaml")).toThrow(
      "Scenario file 'scenarios/does-not-exist.yaml' does not exist: check the path (scenarios/register.yaml is the bundled example).",
    );
  });

  it("the schema file is the one the YAML files reference", () => {
    const text = readFileSync(new URL("register.yaml", scenariosDir), "utf8");
    expect(text.split("\n")[0]).toBe("# yaml-language-server: $schema=./scenario.schema.json");
  });
});
