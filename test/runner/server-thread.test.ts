import { createServer, type AddressInfo } from "node:net";
import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { ExitCode, UserError } from "../../src/errors.js";
import { checkTargetReachable } from "../../src/runner/preflight.js";
import { embeddedServerOptions, ServerThread } from "../../src/runner/server-thread.js";
import { makeConfig } from "./support/config.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function config(flags: Parameters<typeof makeConfig>[1] = {}) {
  const made = makeConfig({ clients: 3, arrivalRate: 3, phases: [[1, 0]] }, flags);
  dirs.push(made.dir);
  return made.config;
}

describe("embedded server thread", () => {
  it("builds server options from the run: address, domain, auth from the password template, delay", () => {
    const opts = embeddedServerOptions(config({ auth: true, delay: "uniform(10ms,30ms)" }));
    expect(opts).toMatchObject({
      host: "127.0.0.1",
      port: 0,
      transports: ["tcp", "udp"],
      domain: "runner.test",
      auth: { passwordTemplate: "{user}-pw" },
      delay: { kind: "uniform", minMs: 10, maxMs: 30 },
    });
    expect(embeddedServerOptions(config()).auth).toBeNull();
    expect(embeddedServerOptions(config()).delay).toBeNull();
  });

  it("runs the server in its own thread on an ephemeral port reachable over TCP and UDP, and closes it", async () => {
    const server = await ServerThread.start(config());
    expect(server.address.host).toBe("127.0.0.1");
    expect(server.address.port).toBeGreaterThan(0);
    await checkTargetReachable(server.address, "tcp");
    await checkTargetReachable(server.address, "udp");
    const stats = (await server.close()) as { requests: Record<string, number> };
    expect(stats.requests.OPTIONS).toBe(1);
    await expect(checkTargetReachable(server.address, "tcp", 500)).rejects.toBeInstanceOf(UserError);
  });

  it("rejects a port in use with the server's one-sentence UserError", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const err = await ServerThread.start({ ...config(), target: { kind: "embedded", host: "127.0.0.1", port } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UserError);
      expect((err as UserError).message).toMatch(new RegExp(`${port}.*in use`));
      expect((err as UserError).exitCode).not.toBe(ExitCode.ok);
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });
});
