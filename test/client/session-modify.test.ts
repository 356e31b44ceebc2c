/**
 * Modifying and losing sessions (§7.4.4) with real clients through the embedded PF: re-INVITE with
 * a renewed MSRP leg after the connection dropped, session-timer refreshes, and MSRP legs that
 * never bind (counted under session.failures.msrp_connect_timeout).
 */
import { createServer, type Server, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { MsrpEndpoint, type MsrpEndpointOptions } from "../../src/protocol/msrp/endpoint.js";
import type { MsrpConnection } from "../../src/protocol/msrp/connection.js";
import type { MsrpSession } from "../../src/protocol/msrp/session.js";
import type { MsrpUri } from "../../src/protocol/msrp/uri.js";
import { Counter, Gauge, Latency } from "../../src/metrics/names.js";
import { context, sendStep as send, sessionRig, until } from "./support/session-fixtures.js";

const fx = sessionRig();

/**
 * An MSRP endpoint whose outgoing connections all go to `port` instead of the path's: pointed at
 * a listener that accepts and never answers, its sessions connect but never bind (a middlebox
 * that swallows the stream).
 */
class DivertedEndpoint extends MsrpEndpoint {
  constructor(
    private readonly port: number,
    opts: MsrpEndpointOptions,
  ) {
    super(opts);
  }

  override attachActive(session: MsrpSession, uri: MsrpUri, timeoutMs: number): Promise<MsrpConnection> {
    return super.attachActive(session, { ...uri, port: this.port }, timeoutMs);
  }
}

async function blackHole(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on("data", () => {});
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as { port: number }).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe("re-INVITE (§7.4.4)", () => {
  it.each(["per-client", "shared"] as const)(
    "%s: after the MSRP connection drops, a re-INVITE with a new path restores the stream and messages flow again",
    async (model) => {
      const r = await fx.rig({ model });
      const a = await r.client("alice", 0);
      await r.client("bob", 1);
      const ctx = context("bob");
      expect(await a.runStep({ kind: "invite", to: { kind: "next" } }, 0, ctx)).toBe(true);
      expect(await a.runStep(send(2), 0, ctx)).toBe(true);
      await until(() => r.received.length === 2);

      expect(await a.runStep({ kind: "reinvite", renewMsrp: true }, 0, ctx)).toBe(true);
      expect(r.metrics.get(Counter.reinviteSuccesses)).toBe(1);
      expect(r.server.stats().pf).toMatchObject({ reanchored: 1, sessionsActive: 1 });
      expect(await a.runStep(send(3), 0, ctx)).toBe(true);
      await until(() => r.received.length === 5);
      expect(r.metrics.get(Counter.messagesReceived)).toBe(5);
      expect(r.metrics.get(Counter.msrpSendSuccesses)).toBe(5);
      expect(r.metrics.gauges[Gauge.activeSessions]).toBe(1);

      // A plain re-INVITE keeps the stream as it is.
      expect(await a.runStep({ kind: "reinvite", renewMsrp: false }, 0, ctx)).toBe(true);
      expect(r.server.stats().pf.reanchored).toBe(1);
      expect(await a.runStep(send(1), 0, ctx)).toBe(true);
      await until(() => r.received.length === 6);
      expect(await a.runStep({ kind: "bye", by: "caller" }, 0, ctx)).toBe(true);
      await until(() => r.msrp.stats().sessions === 0);
    },
  );

  it("reinvite and bye steps without a current session fail as no_session", async () => {
    const r = await fx.rig();
    const a = await r.client("alice", 0);
    expect(await a.runStep({ kind: "reinvite", renewMsrp: true }, 0, context("bob"))).toBe(false);
    expect(await a.runStep({ kind: "bye", by: "caller" }, 0, context("bob"))).toBe(false);
    expect(r.metrics.get(`${Counter.reinviteFailures}.no_session`)).toBe(1);
    expect(r.metrics.get(`${Counter.byeFailures}.no_session`)).toBe(1);
  });

  it("the caller refreshes the session timer (RFC 4028) with re-INVITEs at half the interval", async () => {
    const r = await fx.rig({ server: { minSessionExpires: 1 } });
    const a = await r.client("alice", 0, { sessionExpiresS: 1 });
    await r.client("bob", 1);
    const ctx = context("bob");
    expect(await a.runStep({ kind: "invite", to: { kind: "next" } }, 0, ctx)).toBe(true);
    await until(() => r.server.stats().pf.modifications >= 2);
    expect(r.server.stats().pf.sessionsFailed["session-expired"]).toBeUndefined();
    expect(await a.runStep(send(1), 0, ctx)).toBe(true);
    await until(() => r.received.length === 1);
    await a.endIteration(ctx);
    await until(() => r.server.stats().pf.sessionsActive === 0);
  });
});

describe("an MSRP leg that never binds", () => {
  it("fails the invite step as msrp_connect_timeout when the client's own bind times out, and ends the session", async () => {
    const hole = await blackHole();
    fx.defer(() => hole.close());
    const diverted = new DivertedEndpoint(hole.port, { listen: false });
    await diverted.start();
    fx.defer(() => diverted.close());
    const r = await fx.rig();
    const a = await r.client("alice", 0, { msrp: diverted, msrpConnectTimeoutMs: 300 });
    await r.client("bob", 1);
    const ctx = context("bob");
    expect(await a.runStep({ kind: "invite", to: { kind: "next" } }, 0, ctx)).toBe(false);
    expect(r.metrics.get(`${Counter.sessionFailures}.msrp_connect_timeout`)).toBe(1);
    expect(samples(r.metrics, Latency.sessionSetup)).toBe(1); // the 200 came
    expect(samples(r.metrics, Latency.sessionReady)).toBe(0);
    expect(ctx.state.session).toBeUndefined();
    await until(() => r.server.stats().pf.sessionsActive === 0);
    await until(() => a.activeSessions === 0 && diverted.stats().sessions === 0);
    expect(r.metrics.gauges[Gauge.activeSessions] ?? 0).toBe(0);
  });

  it("fails it the same way when the PF gives up first and BYEs the session", async () => {
    const hole = await blackHole();
    fx.defer(() => hole.close());
    const diverted = new DivertedEndpoint(hole.port, { listen: false });
    await diverted.start();
    fx.defer(() => diverted.close());
    const r = await fx.rig({ server: { msrpConnectTimeoutMs: 300 } });
    const a = await r.client("alice", 0, { msrp: diverted, msrpConnectTimeoutMs: 20_000 });
    const b = await r.client("bob", 1);
    expect(await a.runStep({ kind: "invite", to: { kind: "next" } }, 0, context("bob"))).toBe(false);
    expect(r.metrics.get(`${Counter.sessionFailures}.msrp_connect_timeout`)).toBe(1);
    expect(r.server.stats().pf.sessionsFailed["msrp-connect-timeout"]).toBe(1);
    await until(() => a.activeSessions === 0 && b.activeSessions === 0);
    await until(() => diverted.stats().sessions === 0 && r.msrp.stats().sessions === 0);
  });
});

function samples(metrics: { latencies: Array<{ metric: string }> }, metric: string): number {
  return metrics.latencies.filter((l) => l.metric === metric).length;
}
