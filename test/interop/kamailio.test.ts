/**
 * Interop: cpm-load's SIP.js clients register, with digest auth, against Kamailio (a registrar no
 * one here wrote) as an external target. Kamailio runs from test/interop/kamailio-registrar.cfg
 * (in-memory usrloc, pv_www_authenticate with "<user>-secret" passwords) on a free port.
 */
import { createSocket } from "node:dgram";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliPath, freeSipPort, hasBinary, spawnLogged, type Spawned } from "../support/peers.js";

const here = new URL(".", import.meta.url).pathname;

/** Kamailio forks its workers after printing its banner: wait until it answers OPTIONS. */
async function waitForOptions(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const answered = await new Promise<boolean>((resolve) => {
      const socket = createSocket("udp4");
      const timer = setTimeout(() => { socket.close(); resolve(false); }, 300);
      socket.once("message", () => { clearTimeout(timer); socket.close(); resolve(true); });
      socket.bind(0, "127.0.0.1", () => {
        const local = socket.address().port;
        const options = [
          `OPTIONS sip:127.0.0.1:${port} SIP/2.0`,
          `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK-probe-${Date.now()}`,
          "Max-Forwards: 70",
          `From: <sip:probe@127.0.0.1>;tag=probe`,
          `To: <sip:127.0.0.1:${port}>`,
          `Call-ID: probe-${Date.now()}@127.0.0.1`,
          "CSeq: 1 OPTIONS",
          "Content-Length: 0",
          "",
          "",
        ].join("\r\n");
        socket.send(options, port, "127.0.0.1");
      });
    });
    if (answered) return;
  }
  throw new Error(`Kamailio did not answer OPTIONS on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

function readSummary(outDir: string): { counters: Record<string, number>; status: string } {
  // --out holds one folder per run (<out>/<run-id>/); each test uses a fresh --out.
  const runDirs = readdirSync(outDir, { withFileTypes: true }).filter((entry) => entry.isDirectory());
  if (runDirs.length !== 1) throw new Error(`expected one run folder in ${outDir}, found ${runDirs.length}`);
  return JSON.parse(readFileSync(join(outDir, runDirs[0]!.name, "summary.json"), "utf8"));
}

describe.skipIf(!hasBinary("kamailio"))("cpm-load clients register with digest against Kamailio", () => {
  let kamailio: Spawned;
  let port: number;

  beforeAll(async () => {
    port = await freeSipPort();
    const dir = mkdtempSync(join(tmpdir(), "cpm-kamailio-"));
    const cfg = join(dir, "kamailio.cfg");
    writeFileSync(cfg, readFileSync(join(here, "kamailio-registrar.cfg"), "utf8").replaceAll("__PORT__", String(port)));
    kamailio = spawnLogged("kamailio", ["-f", cfg, "-DD", "-E", "-Y", dir, "-w", dir, "-m", "64"]);
    await waitForOptions(port);
  }, 20_000);

  afterAll(async () => {
    await kamailio?.stop("SIGTERM");
  });

  for (const transport of ["udp", "tcp"] as const) {
    it(`40 clients register over ${transport.toUpperCase()}, answer the challenge, and unregister`, async () => {
      const out = mkdtempSync(join(tmpdir(), "cpm-out-"));
      const run = spawnLogged("node", [
        cliPath, "run", "scenarios/register.yaml", "--target", `127.0.0.1:${port}`, "--transport", transport,
        "--clients", "40", "--rate", "40", "--duration", "4s", "--workers", "1", "--domain", "cpm.test",
        "--out", out, "--no-live",
      ]);
      const code = await run.exited();
      const summary = readSummary(out);
      expect(summary.counters["register.failures.status.403"] ?? 0).toBe(0);
      expect(summary.counters["register.successes"]).toBeGreaterThanOrEqual(40);
      expect(summary.counters["unregister.successes"]).toBe(40);
      expect(code, run.output()).toBe(0);
    });
  }

  it("clients with wrong passwords get 403 from Kamailio and the run reports them", async () => {
    const out = mkdtempSync(join(tmpdir(), "cpm-out-"));
    const users = join(out, "users.csv");
    writeFileSync(users, ["SEQUENTIAL", ...Array.from({ length: 5 }, (_, i) => `wrong${i};not-their-password`)].join("\n") + "\n");
    const run = spawnLogged("node", [
      cliPath, "run", "scenarios/register.yaml", "--target", `127.0.0.1:${port}`, "--users", users,
      "--clients", "5", "--rate", "5", "--duration", "3s", "--workers", "1", "--domain", "cpm.test",
      "--out", out, "--no-live",
    ]);
    const code = await run.exited();
    const summary = readSummary(out);
    expect(summary.counters["register.failures.status.403"]).toBe(5);
    expect(summary.counters["register.successes"] ?? 0).toBe(0);
    expect(code).not.toBe(0);
  });
});
