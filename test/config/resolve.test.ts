import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fitPhases, resolveRunConfig, runConfigWarnings, type ResolveInput } from "../../src/config/resolve.js";
import type { RunFlags } from "../../src/config/run-options.js";
import { UserError } from "../../src/errors.js";

const now = new Date(2026, 10, 25, 9, 5, 7); // local time: 2026-11-25 09:05:07
const scenario = "scenarios/register.yaml";

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "cpm-resolve-"));
}

function resolve(flags: RunFlags = {}, env: Record<string, string> = {}, extra: Partial<ResolveInput> = {}) {
  return resolveRunConfig({ scenarioFile: scenario, flags, env, now, cores: 2, cwd: tempDir(), ...extra });
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).exitCode).toBe(2);
    const lines = (error as UserError).message.split("\n");
    return lines.length === 1 ? lines : lines.slice(1).map((l) => l.replace(/^ {2}- /, ""));
  }
  throw new Error("expected a UserError");
}

describe("resolveRunConfig: defaults < scenario file < environment < flags", () => {
  it("defaults and scenario values when nothing overrides them", () => {
    const config = resolve();
    expect(config.runId).toBe("20261125-090507-register");
    expect(config.outDir).toBe(join("results", "20261125-090507-register"));
    expect(config.scenarioFile).toBe(scenario);
    expect(config.plan.population.clients).toBe(200);
    expect(config.plan.population.arrivalRate).toBe(100);
    expect(config.plan.durationMs).toBe(20_000);
    expect(config.plan.seed).toBe(1);
    expect(config.transport).toBe("tcp");
    expect(config.connection).toBe("per-client");
    expect(config.sharedConnections).toBe(4);
    expect(config.target).toEqual({ kind: "embedded", host: "127.0.0.1", port: 0 });
    expect(config.domain).toBe("cpm.test");
    expect(config.users).toBeNull();
    expect(config.requestTimeoutMs).toBe(8000);
    expect(config.embedded).toEqual({ delay: null, auth: false });
    expect(config.live).toBe(true);
    expect(config.saturationLagUs).toBe(20_000);
    expect(config.toolVersion).toBe(JSON.parse(readFileSync("package.json", "utf8")).version);
  });

  it("the environment beats the file and flags beat the environment, option by option", () => {
    const env = {
      CPM_LOAD_CLIENTS: "50",
      CPM_LOAD_RATE: "25",
      CPM_LOAD_TRANSPORT: "udp",
      CPM_LOAD_SEED: "7",
      CPM_LOAD_WORKERS: "3",
      CPM_LOAD_DOMAIN: "env.test",
      CPM_LOAD_LIVE: "0",
      CPM_LOAD_TIMEOUT: "3s",
    };
    const fromEnv = resolve({}, env);
    expect(fromEnv.plan.population.clients).toBe(50);
    expect(fromEnv.plan.population.arrivalRate).toBe(25);
    expect(fromEnv.transport).toBe("udp");
    expect(fromEnv.plan.seed).toBe(7);
    expect(fromEnv.workers).toBe(3);
    expect(fromEnv.domain).toBe("env.test");
    expect(fromEnv.plan.population.domain).toBe("env.test");
    expect(fromEnv.live).toBe(false);
    expect(fromEnv.requestTimeoutMs).toBe(3000);

    const fromFlags = resolve(
      { clients: "10", rate: 5, transport: "tcp", seed: "9", workers: "1", domain: "flag.test", live: true, timeout: "500ms" },
      env,
    );
    expect(fromFlags.plan.population.clients).toBe(10);
    expect(fromFlags.plan.population.arrivalRate).toBe(5);
    expect(fromFlags.transport).toBe("tcp");
    expect(fromFlags.plan.seed).toBe(9);
    expect(fromFlags.workers).toBe(1);
    expect(fromFlags.domain).toBe("flag.test");
    expect(fromFlags.live).toBe(true);
    expect(fromFlags.requestTimeoutMs).toBe(500);
  });

  it("an empty environment variable counts as unset", () => {
    expect(resolve({}, { CPM_LOAD_CLIENTS: "" }).plan.population.clients).toBe(200);
  });

  it("workers default to the cores, minus one for the embedded server, never below one", () => {
    expect(resolve({}, {}, { cores: 2 }).workers).toBe(1);
    expect(resolve({}, {}, { cores: 8 }).workers).toBe(7);
    expect(resolve({}, {}, { cores: 1 }).workers).toBe(1);
    expect(resolve({ target: "127.0.0.1:5060" }, {}, { cores: 2 }).workers).toBe(2);
  });

  it("--target, --connection shared, --delay, --auth, --saturation-lag", () => {
    const external = resolve({ target: "localhost:5070", connection: "shared", "shared-connections": "8" });
    expect(external.target).toEqual({ kind: "external", host: "localhost", port: 5070 });
    expect(external.connection).toBe("shared");
    expect(external.sharedConnections).toBe(8);
    const embedded = resolve({ target: "embedded", delay: "uniform(10ms,30ms)", auth: true, "saturation-lag": "50ms" });
    expect(embedded.target.kind).toBe("embedded");
    expect(embedded.embedded).toEqual({ delay: "uniform(10ms,30ms)", auth: true });
    expect(embedded.saturationLagUs).toBe(50_000);
    expect(resolve({}, { CPM_LOAD_AUTH: "yes" }).embedded.auth).toBe(true);
  });

  it("the result is frozen all the way down", () => {
    const config = resolve();
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.plan.population)).toBe(true);
    expect(Object.isFrozen(config.plan.phases[0])).toBe(true);
  });

  it("a run id already taken in --out gets a numbered suffix", () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, "out", "20261125-090507-register"), { recursive: true });
    mkdirSync(join(cwd, "out", "20261125-090507-register-2"), { recursive: true });
    const config = resolve({ out: "out" }, {}, { cwd });
    expect(config.runId).toBe("20261125-090507-register-3");
    expect(config.outDir).toBe(join("out", "20261125-090507-register-3"));
  });
});

describe("--duration fits the phases", () => {
  it("cuts the scenario: later phases dropped, the phase it falls in shortened", () => {
    const config = resolve({ duration: "4s" });
    expect(config.plan.durationMs).toBe(4000);
    expect(config.plan.phases).toEqual([
      { name: "ramp-up", durationMs: 2000, startRate: 0, endRate: 0 },
      { name: "steady", durationMs: 2000, startRate: 20, endRate: 20 },
    ]);
    expect(resolve({ duration: "1s" }).plan.phases).toEqual([{ name: "ramp-up", durationMs: 1000, startRate: 0, endRate: 0 }]);
  });

  it("extends a constant last phase, and holds the end rate after a ramp", () => {
    expect(resolve({ duration: "1m" }).plan.phases[1]).toEqual({ name: "steady", durationMs: 58_000, startRate: 20, endRate: 20 });
    const ramp = [{ name: "up", durationMs: 10_000, startRate: 0, endRate: 100 }];
    expect(fitPhases(ramp, 15_000)).toEqual([ramp[0], { name: "up-hold", durationMs: 5000, startRate: 100, endRate: 100 }]);
    expect(fitPhases(ramp, 2500)).toEqual([{ name: "up", durationMs: 2500, startRate: 0, endRate: 25 }]);
  });
});

describe("warm-up", () => {
  it("none by default; --warmup (or CPM_LOAD_WARMUP) sets it, and beats the scenario's", () => {
    expect(resolve().plan.warmupMs).toBe(0);
    expect(resolve({ warmup: "3s" }).plan.warmupMs).toBe(3000);
    expect(resolve({}, { CPM_LOAD_WARMUP: "1500ms" }).plan.warmupMs).toBe(1500);
    const dir = tempDir();
    const file = join(dir, "w.yaml");
    writeFileSync(file, "population: {clients: 1}\nduration: 10s\nwarmup: 4s\n");
    expect(resolveRunConfig({ scenarioFile: file, flags: {}, env: {}, now }).plan.warmupMs).toBe(4000);
    expect(resolveRunConfig({ scenarioFile: file, flags: { warmup: "2s" }, env: {}, now }).plan.warmupMs).toBe(2000);
    // 0 turns the scenario's warm-up off, from the command line or the environment.
    expect(resolveRunConfig({ scenarioFile: file, flags: { warmup: "0" }, env: {}, now }).plan.warmupMs).toBe(0);
    expect(resolveRunConfig({ scenarioFile: file, flags: {}, env: { CPM_LOAD_WARMUP: "0s" }, now }).plan.warmupMs).toBe(0);
  });

  it("a warm-up as long as the run (after --duration) is refused with the fix", () => {
    expect(problemsOf(() => resolve({ warmup: "20s" }))).toEqual([
      "--warmup (20s) is not shorter than the whole run (20s), so nothing would be measured: shorten the warm-up or lengthen the run.",
    ]);
    expect(problemsOf(() => resolve({ warmup: "5s", duration: "5s" }))).toEqual([
      "--warmup (5s) is not shorter than the whole run (5s), so nothing would be measured: shorten the warm-up or lengthen the run.",
    ]);
    // Whole seconds are left out: 2.5 s of a 3 s run is all of it.
    expect(problemsOf(() => resolve({ warmup: "2500ms", duration: "3s" }))).toEqual([
      "--warmup (2500ms, rounded up to whole seconds: 3s) is not shorter than the whole run (3s), so nothing would be measured: shorten the warm-up or lengthen the run.",
    ]);
    expect(resolve({ warmup: "2500ms", duration: "4s" }).plan.warmupMs).toBe(2500);
    expect(problemsOf(() => resolve({ warmup: "5" }))).toEqual([
      "--warmup '5' is not a duration: give a number with a unit (us, ms, s, m or h), e.g. --warmup 5s.",
    ]);
    const dir = tempDir();
    const file = join(dir, "w.yaml");
    writeFileSync(file, "population: {clients: 1}\nduration: 10s\nwarmup: 4s\n");
    expect(problemsOf(() => resolveRunConfig({ scenarioFile: file, flags: { duration: "3s" }, env: {}, now }))).toEqual([
      "The scenario's warmup (4s) is not shorter than the whole run (3s), so nothing would be measured: shorten the warm-up or lengthen the run.",
    ]);
    // An invalid --warmup is reported as such, and the scenario's value is not blamed in its name.
    expect(problemsOf(() => resolveRunConfig({ scenarioFile: file, flags: { duration: "3s", warmup: "5" }, env: {}, now }))).toEqual([
      "--warmup '5' is not a duration: give a number with a unit (us, ms, s, m or h), e.g. --warmup 5s.",
    ]);
  });
});

describe("every problem at once, each a sentence with the fix", () => {
  it("bad flags and environment values", () => {
    expect(
      problemsOf(() =>
        resolve(
          { clients: "many", duration: "60", rate: "-1", transport: "tls", connection: "pooled", seed: "-3", timeout: "0s", out: " " },
          { CPM_LOAD_WORKERS: "zero", CPM_LOAD_LIVE: "maybe", CPM_LOAD_WORKRES: "2" },
        ),
      ),
    ).toEqual([
      "The environment variable CPM_LOAD_WORKRES is not a cpm-load setting: unset it or fix its name (did you mean CPM_LOAD_WORKERS?).",
      "--clients 'many' is not valid: give a whole number from 1 to 1000000, e.g. --clients 1000.",
      "--duration '60' is not a duration: give a number with a unit (us, ms, s, m or h), e.g. --duration 60s.",
      "--rate '-1' is not valid: give a number above 0, e.g. --rate 100.",
      "CPM_LOAD_WORKERS='zero' is not valid: give a whole number from 1 to 64, e.g. CPM_LOAD_WORKERS=2.",
      "--transport 'tls' is not valid: use tcp or udp.",
      "--connection 'pooled' is not valid: use per-client or shared.",
      "--seed '-3' is not valid: give a whole number from 0 to 4294967295, e.g. --seed 42.",
      "--out ' ' is empty: give a value or leave it out.",
      "--timeout '0s' must be longer than 0.",
      "CPM_LOAD_LIVE='maybe' is not a switch value: use 1/true/yes or 0/false/no.",
    ]);
  });

  it("scenario problems are listed with the flag problems", () => {
    const dir = tempDir();
    const file = join(dir, "bad.yaml");
    writeFileSync(file, "population:\n  clients: 0\nduration: 5s\n");
    expect(problemsOf(() => resolveRunConfig({ scenarioFile: file, flags: { transport: "x" }, env: {}, now }))).toEqual([
      `${file}:2:12: population.clients must be >= 1 (got 0)`,
      "--transport 'x' is not valid: use tcp or udp.",
    ]);
  });

  it("options for the embedded server are refused with an external target", () => {
    expect(problemsOf(() => resolve({ target: "127.0.0.1:5060", delay: "20ms", auth: true }))).toEqual([
      "--delay applies only to the embedded server: remove it, or remove --target to use the embedded server.",
      "--auth applies only to the embedded server (an external target decides itself whether to challenge): remove it.",
    ]);
    expect(problemsOf(() => resolve({ delay: "20" }))).toEqual([
      "--delay '20' is not a delay: use a duration (20ms) or uniform(10ms,30ms), normal(20ms,2ms), exponential(20ms).",
    ]);
  });

  it("--auth with a password template using {index} is fine (the runner hands the server the expanded users)", () => {
    const dir = tempDir();
    const file = join(dir, "idx.yaml");
    writeFileSync(file, 'population:\n  clients: 2\n  users: {password: "pw{index}"}\nduration: 5s\n');
    const config = resolveRunConfig({ scenarioFile: file, flags: { auth: true }, env: {}, now });
    expect(config.embedded.auth).toBe(true);
    expect(config.plan.population.passwordTemplate).toBe("pw{index}");
  });
});

describe("--target", () => {
  const target = (t: string, extra: RunFlags = {}) => resolve({ target: t, ...extra }).target;

  it("accepts loopback hosts with or without a port", () => {
    expect(target("127.0.0.1:5080")).toEqual({ kind: "external", host: "127.0.0.1", port: 5080 });
    expect(target("127.10.20.30")).toEqual({ kind: "external", host: "127.10.20.30", port: 5060 });
    expect(target("[::1]:5070")).toEqual({ kind: "external", host: "::1", port: 5070 });
    expect(target("::1")).toEqual({ kind: "external", host: "::1", port: 5060 });
    expect(target("sip:localhost:5062")).toEqual({ kind: "external", host: "localhost", port: 5062 });
  });

  it("refuses hosts outside the loopback network unless --allow-remote", () => {
    expect(problemsOf(() => target("10.0.0.5:5060"))).toEqual([
      "--target '10.0.0.5:5060' is outside the loopback network (127.0.0.0/8, localhost, ::1): pass --allow-remote if you are allowed to load that server.",
    ]);
    expect(problemsOf(() => target("sbc.example.com"))).toHaveLength(1);
    expect(target("10.0.0.5:5060", { "allow-remote": true })).toEqual({ kind: "external", host: "10.0.0.5", port: 5060 });
    expect(target("sbc.example.com", { "allow-remote": true })).toEqual({ kind: "external", host: "sbc.example.com", port: 5060 });
  });

  it("rejects malformed targets", () => {
    expect(problemsOf(() => target("127.0.0.1:99999"))).toEqual([
      "--target '127.0.0.1:99999' has no valid port: give a port from 1 to 65535, e.g. --target 127.0.0.1:5060.",
    ]);
    expect(problemsOf(() => target("127.0.0.1:"))).toHaveLength(1);
    expect(problemsOf(() => target(":5060"))).toEqual(["--target ':5060' does not name a host: write host:port, e.g. --target 127.0.0.1:5060."]);
    expect(problemsOf(() => target("[127.0.0.1]:5060"))).toHaveLength(1);
    expect(problemsOf(() => resolve({}, { CPM_LOAD_TARGET: "bad host:1" }))).toEqual([
      "CPM_LOAD_TARGET='bad host:1' does not name a host: write host:port, e.g. CPM_LOAD_TARGET=127.0.0.1:5060.",
    ]);
  });
});

describe("--users", () => {
  function usersFile(text: string): string {
    const file = join(tempDir(), "users.csv");
    writeFileSync(file, text);
    return file;
  }

  it("reads SIPp-style user;password lines, skipping the mode line, comments and blank lines", () => {
    const file = usersFile("SEQUENTIAL\n# test users\nalice;a-pw\n\nbob;b-pw;extra field\r\ncarol;c-pw\n");
    const config = resolve({ users: file, clients: "2" });
    expect(config.users).toEqual([
      { user: "alice", password: "a-pw" },
      { user: "bob", password: "b-pw" },
    ]);
  });

  it("understands SIPp's [authentication username=… password=…] field", () => {
    const file = usersFile("SEQUENTIAL\nsipp0;[authentication username=sipp0 password=s0-secret]\nsipp1;[authentication username=other password=x]\n");
    expect(problemsOf(() => resolve({ users: file, clients: "1" }))).toEqual([
      `${file}:3: the authentication username 'other' differs from the user 'sipp1': cpm-load registers and authenticates with one name, so make them equal.`,
    ]);
    const ok = usersFile("sipp0;[authentication username=sipp0 password=s0-secret]\n");
    expect(resolve({ users: ok, clients: "1" }).users).toEqual([{ user: "sipp0", password: "s0-secret" }]);
  });

  it("RANDOM shuffles deterministically by seed", () => {
    const lines = Array.from({ length: 20 }, (_, i) => `u${i};p${i}`);
    const file = usersFile(`RANDOM\n${lines.join("\n")}\n`);
    const a = resolve({ users: file, clients: "20", seed: "5" }).users!;
    const b = resolve({ users: file, clients: "20", seed: "5" }).users!;
    const c = resolve({ users: file, clients: "20", seed: "6" }).users!;
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a.map((u) => u.user)).not.toEqual(lines.map((l) => l.split(";")[0]));
    expect([...a].map((u) => u.user).sort()).toEqual(lines.map((l) => l.split(";")[0]).sort());
  });

  it("fewer users than clients is an error naming both numbers", () => {
    const file = usersFile("alice;a\nbob;b\n");
    expect(problemsOf(() => resolve({ users: file, clients: "3" }))).toEqual([
      `The users file '${file}' has 2 users but the run has 3 clients: add users or pass --clients 2.`,
    ]);
  });

  it("malformed lines, duplicates and missing files are reported with their line", () => {
    const file = usersFile("alice;a\njustaname\nbad user;x\nalice;again\n");
    expect(problemsOf(() => resolve({ users: file, clients: "1" }))).toEqual([
      `${file}:2: 'justaname' is not 'user;password': write one user and its password per line, separated by ';'.`,
      `${file}:3: user 'bad user' has characters not allowed in a SIP user name: use letters, digits and - _ . ! ~ * ' ( ) & = + $ , ? /.`,
      `${file}:4: user 'alice' is listed twice (also line 1): each virtual client needs its own user.`,
    ]);
    expect(problemsOf(() => resolve({ users: "/nonexistent/users.csv" }))).toEqual([
      "--users: the users file '/nonexistent/users.csv' does not exist: check the path.",
    ]);
    expect(problemsOf(() => resolve({ users: usersFile("# nothing\nSEQUENTIAL\n") }))).toHaveLength(1);
  });

  it("without --users, a user template without {index}/{n} cannot serve several clients", () => {
    const file = join(tempDir(), "one.yaml");
    writeFileSync(file, 'population:\n  clients: 1\n  users: {template: alice}\nduration: 5s\n');
    expect(resolveRunConfig({ scenarioFile: file, flags: {}, env: {}, now }).plan.population.userTemplate).toBe("alice");
    expect(problemsOf(() => resolveRunConfig({ scenarioFile: file, flags: { clients: "2" }, env: {}, now }))).toEqual([
      "The user template 'alice' gives all 2 clients the same name: add {index} or {n} to population.users.template, or pass --users.",
    ]);
  });
});

describe("runConfigWarnings", () => {
  it("warns about idle workers and per-client socket counts", () => {
    expect(runConfigWarnings(resolve())).toEqual([]);
    expect(runConfigWarnings(resolve({ clients: "2", workers: "4" }))).toEqual([
      "4 workers for 2 clients leaves some workers idle: pass --workers 2 or fewer.",
    ]);
    expect(runConfigWarnings(resolve({ clients: "20000", rate: "2000" }))[0]).toMatch(/^20000 clients with --connection per-client need a socket each/);
  });
});
