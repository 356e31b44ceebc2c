/**
 * The built CLI end to end (child processes running bin/cpm-load.js; `npm test` builds first):
 * exit codes, one-line errors without stack traces, `serve` start and clean stop.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createConnection, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));
const bin = join(root, "bin", "cpm-load.js");

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, ...env, CPM_LOAD_DEBUG: "" } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** One line on stderr, "cpm-load: …", no stack trace. */
function expectOneLineError(result: Result, code: number): string {
  expect(result.code, result.stderr).toBe(code);
  const lines = result.stderr.trimEnd().split("\n");
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^cpm-load: /);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  return lines[0]!;
}

beforeAll(() => {
  if (!existsSync(join(root, "dist", "cli", "main.js"))) throw new Error("dist/ is missing: run `npm run build` first (npm test does).");
});

describe("cpm-load validate", () => {
  it("a valid scenario: summary on stdout, exit 0", async () => {
    const result = await cli(["validate", "scenarios/register.yaml"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("scenario register");
    expect(result.stdout).toContain("200 clients, 100/s");
    expect(result.stdout).toContain("re-register");
    expect(result.stdout).toContain("register.failures: rate == 0");
    expect(result.stdout.trimEnd().split("\n").pop()).toBe("scenarios/register.yaml is valid.");
    expect(result.stderr).toBe("");
  });

  it("--json prints the compiled plan", async () => {
    const result = await cli(["validate", "scenarios/register.yaml", "--json"]);
    expect(result.code).toBe(0);
    const plan = JSON.parse(result.stdout);
    expect(plan.durationMs).toBe(20_000);
    expect(plan.population.clients).toBe(200);
  });

  it("a bad file: every problem with file:line:col on stderr, exit 2, no stack trace", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cpm-cli-"));
    const file = join(dir, "bad.yaml");
    writeFileSync(file, "population:\n  clinets: 10\n  rate: -1\nduration: 10\n");
    const result = await cli(["validate", file]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(
      [
        `cpm-load: ${file} has 4 problems:`,
        `  ${file}:1:1: population is missing 'clients': add the number of virtual clients, e.g. \`clients: 100\``,
        `  ${file}:2:3: unknown key 'clinets' in population — did you mean 'clients'?`,
        `  ${file}:3:9: population.rate must be > 0 (got -1)`,
        `  ${file}:4:11: duration must be a duration with a unit (us, ms, s, m or h), e.g. "500ms", "20s" or "2m" (got 10)`,
        "",
      ].join("\n"),
    );
  });

  it("a missing file: one sentence, exit 2", async () => {
    const line = expectOneLineError(await cli(["validate", "nope.yaml"]), 2);
    expect(line).toBe("cpm-load: Scenario file 'nope.yaml' does not exist: check the path (scenarios/register.yaml is the bundled example).");
  });
});

describe("usage errors: one sentence, exit 2", () => {
  it("unknown flag, with a suggestion", async () => {
    const line = expectOneLineError(await cli(["run", "scenarios/register.yaml", "--clinets", "5"]), 2);
    expect(line).toBe("cpm-load: Unknown flag --clinets for `cpm-load run`: did you mean --clients? Or run `cpm-load run --help` for the usage.");
  });

  it("unknown command, missing scenario, missing flag value, no command", async () => {
    expect(expectOneLineError(await cli(["valdate", "x.yaml"]), 2)).toBe(
      "cpm-load: Unknown command 'valdate': did you mean 'validate'? The commands are run, serve, validate (`cpm-load --help`).",
    );
    expect(expectOneLineError(await cli(["run"]), 2)).toBe("cpm-load: `cpm-load run` needs a scenario file: e.g. cpm-load run scenarios/register.yaml.");
    expect(expectOneLineError(await cli(["run", "scenarios/register.yaml", "--clients"]), 2)).toBe(
      "cpm-load: The flag --clients needs a value: run `cpm-load run --help` for the usage.",
    );
    expect(expectOneLineError(await cli([]), 2)).toBe("cpm-load: No command given: use one of run, serve, validate (`cpm-load --help`).");
  });

  it("run: bad values from flags and environment are all listed before anything starts", async () => {
    const result = await cli(["run", "scenarios/register.yaml", "--clients", "0", "--transport", "sctp", "--target", "192.0.2.1:5060"], {
      CPM_LOAD_WORKERS: "lots",
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      [
        "cpm-load: 4 problems with this run:",
        "  - --clients '0' is not valid: give a whole number from 1 to 1000000, e.g. --clients 1000.",
        "  - CPM_LOAD_WORKERS='lots' is not valid: give a whole number from 1 to 64, e.g. CPM_LOAD_WORKERS=2.",
        "  - --transport 'sctp' is not valid: use tcp or udp.",
        "  - --target '192.0.2.1:5060' is outside the loopback network (127.0.0.0/8, localhost, ::1): pass --allow-remote if you are allowed to load that server.",
        "",
      ].join("\n"),
    );
  });
});

describe("help and version", () => {
  it("--version prints the package version", async () => {
    const result = await cli(["--version"]);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version);
  });

  it("every command has --help with its flags", async () => {
    const top = await cli(["--help"]);
    expect(top.code).toBe(0);
    for (const command of ["run <scenario>", "serve", "validate <scenario>"]) expect(top.stdout).toContain(`cpm-load ${command}`);
    expect(top.stdout).toContain("Exit codes:");
    const run = await cli(["run", "--help"]);
    expect(run.code).toBe(0);
    for (const flag of ["--clients", "--duration", "--rate", "--workers", "--transport", "--connection", "--target", "--allow-remote", "--users", "--seed", "--out", "--delay", "--auth", "--timeout", "--live"]) {
      expect(run.stdout).toContain(flag);
    }
    expect(run.stdout).toContain("CPM_LOAD_WORKERS");
    const serve = await cli(["serve", "--help"]);
    for (const flag of ["--host", "--port", "--transport", "--auth", "--auth-algorithm", "--delay", "--domain"]) expect(serve.stdout).toContain(flag);
    const validate = await cli(["validate", "--help"]);
    expect(validate.stdout).toContain("--json");
  });
});

describe("cpm-load serve", () => {
  it("--port 0 prints the port it got, accepts connections, and exits 0 on SIGTERM", async () => {
    const child = spawn(process.execPath, [bin, "serve", "--port", "0", "--transport", "tcp"], { cwd: root });
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve did not start: ${stdout}${stderr}`)), 15_000);
      child.stdout.on("data", (d: Buffer) => {
        stdout += d.toString();
        const match = /listening on sip:127\.0\.0\.1:(\d+) \(TCP\) — Ctrl-C to stop/.exec(stdout);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
    });
    expect(port).toBeGreaterThan(0);
    // The PF's MSRP listener is printed on the next line; both ports accept connections.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const msrpPort = Number(/MSRP on msrp:\/\/127\.0\.0\.1:(\d+) \(TCP\)/.exec(stdout)?.[1]);
    expect(msrpPort).toBeGreaterThan(0);
    for (const listening of [port, msrpPort]) {
      await new Promise<void>((resolve, reject) => {
        const socket = createConnection({ host: "127.0.0.1", port: listening }, () => socket.end(() => resolve()));
        socket.on("error", reject);
      });
    }
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(stdout).toContain("cpm-load serve: stopped");
    expect(stderr).toBe("");
  });

  it("a port in use: one sentence, exit 2", async () => {
    const blocker: Server = createServer();
    const port = await new Promise<number>((resolve) => blocker.listen(0, "127.0.0.1", () => resolve((blocker.address() as { port: number }).port)));
    try {
      const line = expectOneLineError(await cli(["serve", "--port", String(port), "--transport", "tcp"]), 2);
      expect(line).toBe(`cpm-load: Port ${port} on 127.0.0.1 is already in use: stop the other process or choose another port with --port.`);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it("bad serve flags: one sentence, exit 2", async () => {
    expect(expectOneLineError(await cli(["serve", "--transport", "sctp"]), 2)).toBe("cpm-load: --transport 'sctp' is not valid: use tcp, udp or tcp,udp.");
    expect(expectOneLineError(await cli(["serve", "--port", "70000"]), 2)).toMatch(/^cpm-load: --port 70000 is not a port/);
  });
});

describe("a reader that closes our output early", () => {
  it("validate piped into a reader that has already gone exits 0 without a stack trace", async () => {
    const { spawnSync } = await import("node:child_process");
    // `true` exits without reading, long before node has started: every write meets EPIPE.
    // bash reports the exit status of each side of the pipe.
    const result = spawnSync("bash", ["-c", `node ${JSON.stringify(bin)} validate scenarios/register.yaml | true; echo "\${PIPESTATUS[0]}"`], {
      cwd: root,
      encoding: "utf8",
    });
    expect(result.stderr).not.toMatch(/EPIPE|at .*\.js:\d+/);
    expect(result.stdout.trim()).toBe("0");
  });
});
