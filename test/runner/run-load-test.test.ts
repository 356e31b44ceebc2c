/**
 * End-to-end runs of runLoadTest: real worker threads from dist/ (npm test builds first), the
 * embedded server in its own thread, real SIP over loopback sockets, real result files.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ExitCode, UserError } from "../../src/errors.js";
import { Counter, Gauge, Latency } from "../../src/metrics/names.js";
import type { RunSummary } from "../../src/report/index.js";
import { runLoadTest } from "../../src/runner/index.js";
import { type ScenarioShape, family, makeConfig } from "./support/config.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function config(shape: ScenarioShape, flags: Parameters<typeof makeConfig>[1] = {}) {
  const made = makeConfig(shape, { workers: "2", ...flags });
  dirs.push(made.dir);
  return made.config;
}

const RESULT_FILES = ["config.json", "summary.json", "periods.csv", "latency.hlog"];

function readResults(outDir: string): { summary: RunSummary; rows: Array<Record<string, string>> } {
  for (const f of RESULT_FILES) expect(existsSync(join(outDir, f)), f).toBe(true);
  const summary = JSON.parse(readFileSync(join(outDir, "summary.json"), "utf8")) as RunSummary;
  const rows = parseCsv(readFileSync(join(outDir, "periods.csv"), "utf8"));
  return { summary, rows };
}

/** periods.csv holds numbers and metric names only (no quoting needed), so a split suffices. */
function parseCsv(text: string): Array<Record<string, string>> {
  const [header, ...lines] = text.trim().split("\n");
  const columns = header!.split(",");
  return lines.map((line) => Object.fromEntries(line.split(",").map((v, i) => [columns[i]!, v])));
}

/** 100 clients up in 1 s, then re-register iterations at 20/s for 3 s: a ~4 s run. */
const hundredClients: ScenarioShape = { clients: 100, arrivalRate: 100, phases: [[1, 0], [3, 20]] };

function expectConsistentCounts(summary: RunSummary, clients: number): void {
  const c = summary.counters;
  expect(c[Counter.registerAttempts]).toBe((c[Counter.registerSuccesses] ?? 0) + family(c, Counter.registerFailures));
  expect(family(c, Counter.registerFailures)).toBe(0);
  // Every client registered once, and every completed iteration was one more REGISTER (refresh).
  expect(c[Counter.registerSuccesses]).toBe(clients + (c[Counter.iterationsCompleted] ?? 0));
  expect((c[Counter.iterationsStarted] ?? 0) + (c[Counter.iterationsDropped] ?? 0)).toBe(60);
  expect(c[Counter.iterationsCompleted]).toBe(c[Counter.iterationsStarted]);
  expect(c[Counter.unregisterSuccesses]).toBe(clients);
  expect(summary.gauges[Gauge.registeredClients]).toBe(clients);
}

function expectEveryPeriodCovered(summary: RunSummary, rows: Array<Record<string, string>>): void {
  const periods = new Set(rows.map((r) => Number(r.period)));
  expect(summary.periods).toBeGreaterThanOrEqual(4);
  for (let p = 0; p < summary.periods; p++) expect(periods.has(p), `period ${p} in periods.csv`).toBe(true);
}

describe("runLoadTest with a warm-up", () => {
  it("--warmup 1500ms leaves the first 2 periods' latencies out of the summary; periods.csv, counters and the whole run keep them", async () => {
    const cfg = config(hundredClients, { connection: "shared", warmup: "1500ms" });
    const result = await runLoadTest(cfg, { write: () => {} });
    expect(result.exitCode).toBe(ExitCode.ok);
    const { summary, rows } = readResults(result.outDir);
    expect(summary.warmup?.seconds).toBe(2);
    const perPeriod = rows.filter((r) => r.metric === Latency.register && r.kind === "latency").map((r) => [Number(r.period), Number(r.count)] as const);
    const inWarmup = perPeriod.filter(([p]) => p < 2).reduce((sum, [, n]) => sum + n, 0);
    const after = perPeriod.filter(([p]) => p >= 2).reduce((sum, [, n]) => sum + n, 0);
    // The population (100 first REGISTERs) comes up in the first second: inside the warm-up.
    expect(inWarmup).toBeGreaterThanOrEqual(100);
    expect(after).toBeGreaterThan(0);
    expect(summary.latencies[Latency.register]!.count).toBe(after);
    expect(summary.warmup!.wholeRunLatencies[Latency.register]!.count).toBe(inWarmup + after);
    // Counters are never cut: every REGISTER of the run is counted.
    expect(summary.warmup!.wholeRunLatencies[Latency.register]!.count).toBe(summary.counters[Counter.registerSuccesses]);
    expectConsistentCounts(summary, 100);
  });
});

describe("runLoadTest against the embedded server", () => {
  it("runs 100 clients on 2 workers (per-client TCP), writes the four result files, and the counts add up", async () => {
    const cfg = config(hundredClients, { connection: "per-client", transport: "tcp" });
    const text: string[] = [];
    const result = await runLoadTest(cfg, { write: (t) => text.push(t) });
    expect(result.exitCode).toBe(ExitCode.ok);
    expect(result.outDir).toBe(cfg.outDir);
    const { summary, rows } = readResults(result.outDir);
    expect(summary.status).toBe("passed");
    expect(summary.workers).toEqual({ count: 2, crashed: [] });
    expectConsistentCounts(summary, 100);
    expectEveryPeriodCovered(summary, rows);
    expect(summary.latencies[Latency.register]!.count).toBe(summary.counters[Counter.registerSuccesses]);
    expect(rows.some((r) => r.metric === Latency.register && r.kind === "latency")).toBe(true);
    expect(readFileSync(join(result.outDir, "latency.hlog"), "utf8")).toContain(`Tag=${Latency.register}`);
    expect(text.join("")).toContain(cfg.runId);
  });

  it("runs the shared connection model with the same accounting", async () => {
    const cfg = config(hundredClients, { connection: "shared", "shared-connections": "2", transport: "tcp" });
    const result = await runLoadTest(cfg);
    expect(result.exitCode).toBe(ExitCode.ok);
    const { summary, rows } = readResults(result.outDir);
    expect(summary.connection).toBe("shared");
    expectConsistentCounts(summary, 100);
    expectEveryPeriodCovered(summary, rows);
  });

  it("finishes with the other worker when one crashes, lists the crash and exits 1", async () => {
    const cfg = config(hundredClients, { connection: "shared" });
    const text: string[] = [];
    const result = await runLoadTest(cfg, {
      write: (t) => text.push(t),
      testHooks: { crash: { workerId: 1, afterMs: 1500, mode: "throw" } },
    });
    expect(result.exitCode).toBe(ExitCode.runFailed);
    const { summary, rows } = readResults(result.outDir);
    expect(summary.status).toBe("failed");
    expect(summary.workers.crashed).toEqual([{ workerId: 1, message: "test hook: worker 1 crashed on purpose" }]);
    expect(summary.reasons.map((r) => r.kind)).toContain("worker-crash");
    expect(text.join("")).toContain("worker 1 crashed");
    // Worker 0 ran to the end: its 50 clients registered and unregistered.
    expect(summary.counters[Counter.unregisterSuccesses]).toBe(50);
    expectEveryPeriodCovered(summary, rows);
  });

  it("stops on abort, writes the results, resolves within 2 s with exit code 130", async () => {
    const cfg = config({ clients: 100, arrivalRate: 100, phases: [[1, 0], [29, 20]] }, { connection: "shared", live: true });
    const controller = new AbortController();
    let abortedAt = 0;
    const result = await runLoadTest(cfg, {
      signal: controller.signal,
      write: (t) => {
        // Abort once the live line reports the third second.
        if (abortedAt === 0 && /^\s+3s /m.test(t)) {
          abortedAt = performance.now();
          controller.abort();
        }
      },
    });
    const stopMs = performance.now() - abortedAt;
    expect(abortedAt).toBeGreaterThan(0);
    expect(stopMs).toBeLessThan(2000);
    expect(result.exitCode).toBe(ExitCode.interrupted);
    const { summary, rows } = readResults(result.outDir);
    expect(summary.status).toBe("interrupted");
    expect(summary.durationS).toBeLessThan(10);
    expect(summary.counters[Counter.registerSuccesses]).toBeGreaterThanOrEqual(100);
    expect(rows.length).toBeGreaterThan(0);
  });

  it("measures an injected 20 ms server delay from the intended start (per-client UDP, generous bounds)", async () => {
    const cfg = config({ clients: 40, arrivalRate: 40, phases: [[1, 0], [2, 40]] }, { connection: "per-client", transport: "udp", delay: "20ms" });
    const result = await runLoadTest(cfg);
    expect(result.exitCode).toBe(ExitCode.ok);
    const { summary } = readResults(result.outDir);
    const register = summary.latencies[Latency.register]!;
    const service = summary.latencies[`${Latency.register}.service`]!;
    // Never below the injected delay: the server holds each answer on clock.at (precise, never
    // early; a setTimeout could answer ~1 ms early), and the client's service time contains that
    // hold. The HDR bucket holding 20,000 µs starts at 20,000 µs. npm run bench prints the figures.
    expect(register.min).toBeGreaterThanOrEqual(20);
    expect(service.min).toBeGreaterThanOrEqual(20);
    // Upper bounds only catch gross errors (a delay applied twice reads ~40 ms; a lost UDP answer
    // costs a 500 ms retransmission): other processes on a 2-core machine can stretch the tail to
    // a few hundred ms (seen: p99 228 ms beside a session-rate bench), so no tighter bound here.
    expect(register.p50).toBeLessThan(35);
    expect(register.p99).toBeLessThan(500);
    // Timed from the intended instant, the latency can only include more than the service time.
    expect(register.p50).toBeGreaterThanOrEqual(service.p50);
    expect(family(summary.counters, Counter.registerFailures)).toBe(0);
  });

  it("returns exit code 130 with results when aborted before it starts", async () => {
    const cfg = config(hundredClients, { connection: "shared" });
    const controller = new AbortController();
    controller.abort();
    const result = await runLoadTest(cfg, { signal: controller.signal });
    expect(result.exitCode).toBe(ExitCode.interrupted);
    const { summary } = readResults(result.outDir);
    expect(summary.status).toBe("interrupted");
    expect(summary.counters[Counter.registerAttempts] ?? 0).toBe(0);
  });

  it("exits 99 when a threshold fails, with the results written", async () => {
    const cfg = config({ ...hundredClients, thresholds: "  register.successes:\n    - count > 1000000\n" }, { connection: "shared" });
    const result = await runLoadTest(cfg);
    expect(result.exitCode).toBe(ExitCode.thresholdsFailed);
    const { summary } = readResults(result.outDir);
    expect(summary.thresholds).toHaveLength(1);
    expect(summary.thresholds[0]).toMatchObject({ ok: false, actual: summary.counters[Counter.registerSuccesses] });
  });
});

describe("runLoadTest against an external target", () => {
  it("rejects an unreachable target with a UserError and still writes a summary saying so", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as AddressInfo).port;
    await new Promise<void>((r) => blocker.close(() => r()));
    const cfg = config(hundredClients, { target: `127.0.0.1:${port}` });
    const err = await runLoadTest(cfg).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toBe(
      `The target tcp://127.0.0.1:${port} is not reachable (connection refused): start it or correct --target and --transport.`,
    );
    expect((err as UserError).exitCode).toBe(ExitCode.runFailed);
    const summary = JSON.parse(readFileSync(join(cfg.outDir, "summary.json"), "utf8")) as RunSummary;
    expect(summary.status).toBe("failed");
    expect(summary.reasons[0]!.message).toBe((err as UserError).message);
  });
});
