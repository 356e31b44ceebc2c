/**
 * Interop: SIPp (a SIP implementation no one here wrote) registers against `cpm-load serve`.
 * Runs the built CLI as a child process and SIPp with its exit code as the verdict
 * (0: every call succeeded, 1: at least one failed).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliPath, freeSipPort, hasBinary, spawnLogged, type Spawned } from "../support/peers.js";

const here = new URL(".", import.meta.url).pathname;

async function runSipp(args: string[]): Promise<{ code: number | null; output: string }> {
  const localPort = await freeSipPort();
  const mediaPort = await freeSipPort();
  const controlPort = await freeSipPort();
  const sipp = spawnLogged("sipp", [
    ...args,
    "-i", "127.0.0.1", "-p", String(localPort), "-mp", String(mediaPort), "-cp", String(controlPort),
    "-buff_size", "4194304", "-nostdin", "-timeout", "30s", "-timeout_error", "-trace_err",
    "-error_file", join(tmpdir(), `sipp-errors-${localPort}.log`),
  ]);
  const code = await sipp.exited();
  return { code, output: sipp.output() };
}

describe.skipIf(!hasBinary("sipp"))("SIPp registers against cpm-load serve", () => {
  let server: Spawned;
  let authServer: Spawned;
  let port: number;
  let authPort: number;

  beforeAll(async () => {
    port = await freeSipPort();
    server = spawnLogged("node", [cliPath, "serve", "--host", "127.0.0.1", "--port", String(port)]);
    await server.waitFor(/listening on/);
    authPort = await freeSipPort();
    authServer = spawnLogged("node", [cliPath, "serve", "--port", String(authPort), "--auth", "template:{user}-secret"]);
    await authServer.waitFor(/listening on/);
  });

  afterAll(async () => {
    expect(await server?.stop("SIGTERM")).toBe(0);
    await authServer?.stop("SIGTERM");
  });

  it("200 UDP registrations from SIPp all succeed", async () => {
    const result = await runSipp(["-sf", join(here, "sipp-register.xml"), "-m", "200", "-r", "100", "-t", "u1", `127.0.0.1:${port}`]);
    expect(result.output).toMatch(/Successful call\s*\|\s*\d+\s*\|\s*200\b/);
    expect(result.code).toBe(0);
  });

  it("200 TCP registrations from SIPp over one connection all succeed", async () => {
    const result = await runSipp(["-sf", join(here, "sipp-register.xml"), "-m", "200", "-r", "100", "-t", "t1", `127.0.0.1:${port}`]);
    expect(result.output).toMatch(/Successful call\s*\|\s*\d+\s*\|\s*200\b/);
    expect(result.code).toBe(0);
  });

  it("SIPp answers the digest challenge of serve --auth and registers", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cpm-sipp-"));
    const users = join(dir, "users.csv");
    writeFileSync(users, ["SEQUENTIAL", ...Array.from({ length: 50 }, (_, i) => `sipp${i};[authentication username=sipp${i} password=sipp${i}-secret]`)].join("\n") + "\n");
    const result = await runSipp(["-sf", join(here, "sipp-register-digest.xml"), "-inf", users, "-m", "50", "-r", "50", "-t", "u1", `127.0.0.1:${authPort}`]);
    expect(result.output).toMatch(/Successful call\s*\|\s*\d+\s*\|\s*50\b/);
    expect(result.code).toBe(0);
  });

  it("a wrong password from SIPp is refused (the scenario expecting 200 fails)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cpm-sipp-"));
    const users = join(dir, "users.csv");
    writeFileSync(users, "SEQUENTIAL\nmallory;[authentication username=mallory password=not-the-password]\n");
    const result = await runSipp(["-sf", join(here, "sipp-register-digest.xml"), "-inf", users, "-m", "1", "-t", "u1", `127.0.0.1:${authPort}`]);
    expect(result.output).toMatch(/Failed call\s*\|\s*\d+\s*\|\s*1\b/);
    expect(result.code).not.toBe(0);
  });
});
