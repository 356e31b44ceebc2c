/**
 * The real worker factories in-process: the SIP connection provider and the worker's one MSRP
 * endpoint (loopback, ephemeral port) come up together, every client of the worker gets that same
 * endpoint, and close() releases both.
 */
import { rmSync } from "node:fs";
import { connect } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { Counter } from "../../src/metrics/names.js";
import { UserError } from "../../src/errors.js";
import { Timers } from "sip.js/lib/core/timers.js";
import { TCP_TIMER_LM_MS, workerFactories, WORKER_MSRP_HOST } from "../../src/runner/worker-factories.js";
import { createCpmServer } from "../../src/server/index.js";
import { realClock } from "../../src/time/clock.js";
import { RecordingSink } from "../execution/fakes.js";
import { makeConfig } from "./support/config.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function config() {
  const made = makeConfig({ clients: 2, arrivalRate: 2, phases: [[1, 0]] }, { connection: "shared" });
  dirs.push(made.dir);
  return made.config;
}

/** Whether a TCP connection to the address is accepted. */
function accepts(address: { host: string; port: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(address.port, address.host);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

describe("worker factories", () => {
  it("open the SIP connections and one MSRP endpoint on loopback, hand the endpoint to every client, shorten Timers L/M over TCP, and close both", async () => {
    const server = await createCpmServer({ port: 0, transports: ["tcp"], domain: "runner.test" });
    try {
      const cfg = config();
      const metrics = new RecordingSink();
      const connections = await workerFactories.createConnections({
        config: cfg,
        target: { host: server.sipAddress.host, port: server.sipAddress.port },
        metrics,
        clock: realClock,
      });
      const address = connections.msrp.address;
      expect(address.host).toBe(WORKER_MSRP_HOST);
      expect(address.port).toBeGreaterThan(0);
      expect(await accepts(address)).toBe(true);
      const ctx = { config: cfg, connections, metrics, clock: realClock };
      const a = workerFactories.createClient({ index: 0, user: "u00000", password: "p", domain: "runner.test" }, ctx);
      const b = workerFactories.createClient({ index: 1, user: "u00001", password: "p", domain: "runner.test" }, ctx);
      // Over TCP finished INVITE transactions are kept 4 s, not 32 s, even after clients are built.
      expect(Timers.TIMER_L).toBe(TCP_TIMER_LM_MS);
      expect(Timers.TIMER_M).toBe(TCP_TIMER_LM_MS);
      // Both clients register through the shared SIP connections.
      expect(await a.register()).toBe(true);
      expect(await b.register()).toBe(true);
      expect(metrics.counter(Counter.registerSuccesses)).toBe(2);
      await Promise.all([a.dispose(), b.dispose()]);
      await connections.close();
      expect(await accepts(address)).toBe(false);
      expect(() => connections.msrp.createSession({ setup: "passive" })).toThrow(/closed/);
      // Safe twice.
      await connections.close();
    } finally {
      await server.close();
    }
  });

  it("an unreachable SIP target fails with the provider's UserError before any MSRP listener is opened", async () => {
    const server = await createCpmServer({ port: 0, transports: ["tcp"] });
    const target = { host: server.sipAddress.host, port: server.sipAddress.port };
    await server.close();
    const err = await workerFactories
      .createConnections({ config: config(), target, metrics: new RecordingSink(), clock: realClock })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
  });
});
