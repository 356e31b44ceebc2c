/**
 * Idle outgoing connections kept for later sessions (RFC 4975 §5.1): reuse, the linger that
 * closes them, endpoint close, and the session-close paths that build no error nobody waits for.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type MsrpEndpoint, type MsrpSessionCloseInfo, type MsrpSessionError } from "../../../src/protocol/msrp/index.js";
import { FakeClock } from "../../../src/time/clock.js";
import { connectedPair, EndpointSet, nextMessage } from "./support/msrp-peers.js";

const endpoints = new EndpointSet();
afterEach(() => endpoints.closeAll());

/** Waits (bounded) until the server has seen its inbound connections go. */
async function inboundGone(server: MsrpEndpoint): Promise<number> {
  for (let i = 0; i < 200 && server.stats().inboundConnections > 0; i++) await new Promise((r) => setTimeout(r, 5));
  return server.stats().inboundConnections;
}

function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}

describe("MSRP connections: idle outgoing connections are reused", () => {
  it("two sequential sessions to the same host:port use one TCP connection; the passive side binds the second on it", async () => {
    const server = await endpoints.create();
    const client = await endpoints.create();
    const first = await connectedPair(client, server);
    const conn = first.active.connection;
    await first.active.close();
    await first.passive.close();
    expect(client.stats()).toMatchObject({ sessions: 0, outboundConnections: 1, idleOutboundConnections: 1, outboundConnectionsOpened: 1 });

    const second = await connectedPair(client, server);
    expect(second.active.connection).toBe(conn);
    expect(second.passive.state).toBe("bound");
    expect(client.stats()).toMatchObject({ outboundConnections: 1, idleOutboundConnections: 0, outboundConnectionsOpened: 1 });
    expect(server.stats()).toMatchObject({ inboundConnections: 1, rejected506: 0, rejected481: 0 });
    const got = nextMessage(second.passive);
    expect((await second.active.send("on a reused connection", { contentType: "text/plain" })).ok).toBe(true);
    expect((await got).body.toString()).toBe("on a reused connection");
  });

  it("the linger closes an idle connection; a session taking it meanwhile starts the linger afresh", async () => {
    const clock = new FakeClock();
    const server = await endpoints.create();
    const client = await endpoints.create({ clock, idleLingerMs: 1000 });
    const first = await connectedPair(client, server);
    await first.active.close();
    clock.advanceMs(900);
    const second = await connectedPair(client, server);
    expect(second.active.connection).toBe(first.active.connection);
    await second.active.close();
    clock.advanceMs(900);
    expect(client.stats()).toMatchObject({ outboundConnections: 1, idleOutboundConnections: 1 });
    clock.advanceMs(100);
    expect(client.stats()).toMatchObject({ outboundConnections: 0, idleOutboundConnections: 0, outboundConnectionsOpened: 1 });
    expect(await inboundGone(server)).toBe(0);

    // The next session opens a new connection.
    const third = await connectedPair(client, server);
    expect(third.active.connection).not.toBe(first.active.connection);
    expect(client.stats().outboundConnectionsOpened).toBe(2);
  });

  it("an idle connection the peer closes leaves the pool; the next session opens a new one", async () => {
    const server = await endpoints.create();
    const client = await endpoints.create({ idleLingerMs: 60_000 });
    const first = await connectedPair(client, server);
    await first.active.close();
    const port = server.address.port;
    await server.close();
    for (let i = 0; i < 200 && client.stats().outboundConnections > 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(client.stats()).toMatchObject({ outboundConnections: 0, idleOutboundConnections: 0 });

    // A new peer on the same port: the dead connection is not offered to the next session.
    const again = await endpoints.create({ port });
    const second = await connectedPair(client, again);
    expect(second.active.connection).not.toBe(first.active.connection);
    expect(second.active.state).toBe("bound");
    expect(client.stats().outboundConnectionsOpened).toBe(2);
  });

  it("idleLingerMs 0 closes a connection as soon as its last session ends", async () => {
    const server = await endpoints.create();
    const client = await endpoints.create({ idleLingerMs: 0 });
    const first = await connectedPair(client, server);
    await first.active.close();
    expect(client.stats()).toMatchObject({ outboundConnections: 0, idleOutboundConnections: 0 });
    await connectedPair(client, server);
    expect(client.stats().outboundConnectionsOpened).toBe(2);
  });

  it("a connection whose binding failed is not kept", async () => {
    const server = await endpoints.create();
    const client = await endpoints.create();
    const active = client.createSession({ setup: "active" });
    const err = (await active.connect([`msrp://127.0.0.1:${server.address.port}/nosuchsession;tcp`]).catch((e: unknown) => e)) as MsrpSessionError;
    expect(err.status).toBe(481);
    expect(client.stats()).toMatchObject({ outboundConnections: 0, idleOutboundConnections: 0, outboundConnectionsOpened: 1 });
  });

  it("closing the endpoint closes idle connections at once and leaves no sockets or timers", async () => {
    const before = activeResources();
    const set = new EndpointSet();
    const server = await set.create();
    const client = await set.create({ idleLingerMs: 60_000 });
    const pair = await connectedPair(client, server);
    await pair.active.close();
    await pair.passive.close();
    expect(client.stats().idleOutboundConnections).toBe(1);
    await client.close();
    expect(client.stats()).toMatchObject({ outboundConnections: 0, idleOutboundConnections: 0 });
    expect(await inboundGone(server)).toBe(0);
    await set.closeAll();
    await new Promise((r) => setImmediate(r));
    const after = activeResources();
    for (const kind of ["TCPSocketWrap", "TCPServerWrap", "Timeout"]) {
      expect({ kind, n: after[kind] ?? 0 }).toEqual({ kind, n: Math.min(after[kind] ?? 0, before[kind] ?? 0) });
    }
  });
});

describe("MSRP sessions: closing", () => {
  it("closing a session before it is bound rejects whenBound with msrp-session-closed", async () => {
    const server = await endpoints.create();
    const passive = server.createSession({ setup: "passive" });
    const waiting = passive.whenBound().catch((e: unknown) => e as MsrpSessionError);
    const closed = new Promise<MsrpSessionCloseInfo>((r) => passive.once("close", r));
    await passive.close();
    expect((await waiting)?.code).toBe("msrp-session-closed");
    expect(await closed).toEqual({ reason: "local" });
  });

  it("closing a bound session keeps whenBound resolved and reports a local close without error", async () => {
    const server = await endpoints.create();
    const client = await endpoints.create();
    const { active } = await connectedPair(client, server);
    const closed = new Promise<MsrpSessionCloseInfo>((r) => active.once("close", r));
    await active.close();
    await expect(active.whenBound()).resolves.toBeUndefined();
    expect(await closed).toEqual({ reason: "local" });
    const r = await active.send("after close", { contentType: "text/plain" });
    expect(r.error?.code).toBe("msrp-session-closed");
  });
});
