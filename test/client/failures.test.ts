/**
 * How a virtual client fails, and recovers: silent targets (timeouts, with UDP retransmission),
 * rejected refreshes, 423, lost connections, unreachable targets, dispose.
 */
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { createConnectionProvider, VirtualClient } from "../../src/client/index.js";
import { UserError } from "../../src/errors.js";
import { Counter, Latency, failureByStatus, failureByTimeout, failureByTransport } from "../../src/metrics/names.js";
import { getBranch, getHeader } from "../../src/protocol/sip/headers.js";
import type { SipRequest } from "../../src/protocol/sip/message.js";
import { createResponse } from "../../src/protocol/sip/response.js";
import { FakeClock, realClock, type Clock } from "../../src/time/clock.js";
import { cleanupAfterEach, clientOptions, connectProvider, until } from "./support/client-fixtures.js";
import { CountingSink } from "./support/counting-sink.js";
import { isRequest, startRawSipServer, type RawSipServer } from "./support/raw-sip-server.js";

const defer = cleanupAfterEach();

async function setup(opts: {
  transport: "tcp" | "udp";
  model?: "per-client" | "shared";
  onRequest?: (req: SipRequest, reply: (d: Parameters<RawSipServer["received"][0]["reply"]>[0]) => void, nth: number) => void;
  requestTimeoutMs?: number;
  registerExpires?: number;
  refreshFraction?: number;
  clock?: Clock;
}) {
  let nth = 0;
  const server = await startRawSipServer((r) => {
    if (isRequest(r.message)) opts.onRequest?.(r.message, r.reply, nth++);
  });
  defer(() => server.close());
  const metrics = new CountingSink();
  const provider = await connectProvider({ port: server.port, metrics, model: opts.model, transport: opts.transport });
  defer(() => provider.close());
  const client = new VirtualClient(
    clientOptions({
      index: 7,
      user: "alice",
      connections: provider,
      metrics,
      clock: opts.clock ?? realClock,
      requestTimeoutMs: opts.requestTimeoutMs ?? 5000,
      registerExpires: opts.registerExpires ?? 600,
      refreshFraction: opts.refreshFraction ?? 0.9,
    }),
  );
  defer(() => client.dispose());
  return { server, metrics, provider, client };
}

/** 200 OK to a REGISTER, echoing its Contact with the granted expires. */
function ok(req: SipRequest, expires?: number) {
  const contact = getHeader(req, "Contact")!;
  const value = expires === undefined ? contact : contact.replace(/;expires=\d+/, `;expires=${expires}`);
  return createResponse(req, 200, "OK", { toTag: "srv1", headers: [["Contact", value]] });
}

const registers = (s: RawSipServer) => s.received.filter((r) => isRequest(r.message) && r.message.method === "REGISTER");

describe("a target that never answers", () => {
  it("UDP: the REGISTER is retransmitted (Timer E), then fails as a timeout; the client can try again", async () => {
    const { server, metrics, client } = await setup({ transport: "udp", requestTimeoutMs: 1200 });
    expect(await client.register()).toBe(false);
    expect(metrics.get(failureByTimeout(Counter.registerFailures))).toBe(1);
    expect(client.isRegistered).toBe(false);
    // Sent at 0 and again at T1 = 500 ms; the next retransmission (at 1500 ms) is after the timeout.
    const first = registers(server);
    expect(first).toHaveLength(2);
    expect(new Set(first.map((r) => getBranch(r.message)))).toHaveProperty("size", 1);

    // SIP.js's transaction was ended too: the Registerer is free to send a new REGISTER.
    expect(await client.register()).toBe(false);
    expect(metrics.get(failureByTimeout(Counter.registerFailures))).toBe(2);
    expect(metrics.get(Counter.registerAttempts)).toBe(2);
    const all = registers(server);
    expect(all).toHaveLength(4);
    expect(getBranch(all[2]!.message)).not.toBe(getBranch(all[0]!.message));
    // No retransmission of an abandoned transaction keeps going.
    await new Promise((r) => setTimeout(r, 700));
    expect(registers(server)).toHaveLength(4);
  });

  it("TCP: one REGISTER per attempt (reliable transport), failure counted as a timeout", async () => {
    const { server, metrics, client } = await setup({ transport: "tcp", requestTimeoutMs: 800 });
    expect(await client.register()).toBe(false);
    expect(metrics.get(failureByTimeout(Counter.registerFailures))).toBe(1);
    expect(registers(server)).toHaveLength(1);
    expect(metrics.latencies).toHaveLength(0);
  });
});

describe("rejections the Registerer handles", () => {
  it("423 Interval Too Brief: retried with Min-Expires within the same attempt, then registered", async () => {
    const { server, metrics, client } = await setup({
      transport: "tcp",
      registerExpires: 30,
      onRequest: (req, reply, nth) => {
        if (nth === 0) reply(createResponse(req, 423, "Interval Too Brief", { toTag: "t", headers: [["Min-Expires", "120"]] }));
        else reply(ok(req, 120));
      },
    });
    expect(await client.register()).toBe(true);
    const sent = registers(server);
    expect(sent).toHaveLength(2);
    expect(getHeader(sent[0]!.message, "Contact")).toMatch(/;expires=30$/);
    expect(getHeader(sent[1]!.message, "Contact")).toMatch(/;expires=120$/);
    expect(metrics.get(Counter.registerAttempts)).toBe(1);
    expect(metrics.get(Counter.registerSuccesses)).toBe(1);
    expect(Object.keys(metrics.counters).filter((k) => k.includes("failures"))).toEqual([]);
  });

  it("a refresh rejected with 503 is a failure by status and leaves the client unregistered", async () => {
    const { metrics, client } = await setup({
      transport: "udp",
      registerExpires: 2,
      refreshFraction: 0.5,
      onRequest: (req, reply, nth) => reply(nth === 0 ? ok(req, 2) : createResponse(req, 503, "Service Unavailable", { toTag: "t" })),
    });
    expect(await client.register()).toBe(true);
    expect(client.isRegistered).toBe(true);
    await until(() => metrics.get(failureByStatus(Counter.registerFailures, 503)) === 1);
    expect(client.isRegistered).toBe(false);
    expect(metrics.get(Counter.registerAttempts)).toBe(2);
    expect(metrics.get(Counter.registerSuccesses)).toBe(1);
  });
});

describe("lost connections", () => {
  it("TCP connection dropped while a REGISTER waits: a transport failure, not a timeout", async () => {
    let raw: RawSipServer | undefined;
    const { server, metrics, client } = await setup({
      transport: "tcp",
      requestTimeoutMs: 10_000,
      onRequest: () => {
        for (const c of raw!.connections) c.destroy();
      },
    });
    raw = server;
    expect(await client.register()).toBe(false);
    expect(metrics.get(failureByTransport(Counter.registerFailures))).toBe(1);
    expect(metrics.get(failureByTimeout(Counter.registerFailures))).toBe(0);
  });

  it("TCP connection dropped after registering: the client is no longer registered, and re-registers on a new connection", async () => {
    const { server, metrics, client } = await setup({ transport: "tcp", onRequest: (req, reply) => reply(ok(req)) });
    expect(await client.register()).toBe(true);
    const [first] = [...server.connections];
    first!.destroy();
    await until(() => !client.isRegistered);
    expect(await client.register()).toBe(true);
    expect(client.isRegistered).toBe(true);
    expect(server.connections.size).toBe(1);
    expect([...server.connections][0]).not.toBe(first);
    expect(metrics.get(Counter.registerSuccesses)).toBe(2);
  });
});

describe("a dropped shared connection", () => {
  it("its clients are no longer registered; the next register reopens it once for all of them", async () => {
    const server = await startRawSipServer((r) => {
      if (isRequest(r.message) && r.message.method === "REGISTER") r.reply(ok(r.message));
    });
    defer(() => server.close());
    const metrics = new CountingSink();
    const provider = await connectProvider({ port: server.port, metrics, model: "shared" });
    defer(() => provider.close());
    const clients = [0, 1, 2].map((i) => new VirtualClient(clientOptions({ index: i, user: `s${i}`, connections: provider, metrics })));
    for (const c of clients) defer(() => c.dispose());
    expect(await Promise.all(clients.map((c) => c.register()))).toEqual([true, true, true]);
    expect(server.connections.size).toBe(1);
    const [first] = [...server.connections];
    first!.destroy();
    await until(() => clients.every((c) => !c.isRegistered));
    expect(await Promise.all(clients.map((c) => c.register()))).toEqual([true, true, true]);
    expect(server.connections.size).toBe(1);
    expect([...server.connections][0]).not.toBe(first);
    expect(metrics.get(Counter.registerSuccesses)).toBe(6);
  });
});

describe("unreachable targets", () => {
  async function closedPort(): Promise<number> {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const port = (srv.address() as { port: number }).port;
    await new Promise<void>((r) => srv.close(() => r()));
    return port;
  }

  for (const [transport, model, cause] of [
    ["tcp", "per-client", "connection refused"],
    ["tcp", "shared", "connection refused"],
    ["udp", "per-client", "port unreachable"],
    ["udp", "shared", "port unreachable"],
  ] as const) {
    it(`${transport.toUpperCase()} ${model}: createConnectionProvider rejects with one clear sentence`, async () => {
      const port = await closedPort();
      const attempt = createConnectionProvider({
        model,
        transport,
        target: { host: "127.0.0.1", port },
        sharedConnections: 2,
        metrics: new CountingSink(),
        clock: realClock,
      });
      await expect(attempt).rejects.toBeInstanceOf(UserError);
      await expect(attempt).rejects.toThrow(
        `Cannot reach the SIP target 127.0.0.1:${port} over ${transport.toUpperCase()} (${cause}): start the target or fix --target.`,
      );
    });
  }
});

describe("steps and lifecycle", () => {
  it("a register step with expires asks for it; latency runs from the intended start", async () => {
    const { server, metrics, client } = await setup({ transport: "tcp", onRequest: (req, reply) => reply(ok(req)) });
    const intended = realClock.nowNs() - 5_000_000; // 5 ms late already
    expect(await client.runStep({ kind: "register", expires: 77 }, intended)).toBe(true);
    expect(getHeader(registers(server)[0]!.message, "Contact")).toMatch(/;expires=77$/);
    const [sample] = metrics.latencies;
    expect(sample!.metric).toBe(Latency.register);
    expect(sample!.latencyUs - sample!.serviceUs!).toBeGreaterThanOrEqual(5000);
    expect(await client.runStep({ kind: "unregister" }, realClock.nowNs())).toBe(true);
    expect(getHeader(registers(server)[1]!.message, "Contact")).toMatch(/;expires=0$/);
  });

  it("a pause step waits on the client's clock", async () => {
    const clock = new FakeClock();
    const { client } = await setup({ transport: "udp", clock });
    let done: boolean | undefined;
    const step = client.runStep({ kind: "pause", durationMs: 1000 }, clock.nowNs()).then((ok) => (done = ok));
    clock.advanceMs(999);
    await Promise.resolve();
    expect(done).toBeUndefined();
    clock.advanceMs(1);
    await step;
    expect(done).toBe(true);
  });

  it("the REGISTER carries the CPM identity: User-Agent, +sip.instance and the ICSI feature tags", async () => {
    const { server, client } = await setup({ transport: "tcp", onRequest: (req, reply) => reply(ok(req)) });
    expect(await client.register()).toBe(true);
    const req = registers(server)[0]!.message as SipRequest;
    expect(req.uri).toBe("sip:cpm.test");
    expect(getHeader(req, "User-Agent")).toBe("CPM-client/OMA1.0");
    const contact = getHeader(req, "Contact")!;
    expect(contact).toMatch(/^<sip:alice@127\.0\.0\.1:\d+;transport=tcp>;/);
    expect(contact).toContain('+sip.instance="<urn:uuid:');
    expect(contact).toContain('+g.3gpp.icsi-ref="urn%3Aurn-7%3A3gpp-service.ims.icsi.oma.cpm.msg,');
    expect(getHeader(req, "Via")).toMatch(/^SIP\/2\.0\/TCP 127\.0\.0\.1;branch=z9hG4bK[0-9a-f]{16}\.[0-9a-z]+;rport$/);
  });

  it("dispose releases the connection, is safe twice, and a disposed client does nothing", async () => {
    const { server, client } = await setup({ transport: "tcp", onRequest: (req, reply) => reply(ok(req)) });
    expect(await client.register()).toBe(true);
    expect(server.connections.size).toBe(1);
    await client.dispose();
    await client.dispose();
    await until(() => server.connections.size === 0);
    expect(client.isRegistered).toBe(false);
    expect(await client.register()).toBe(false);
    expect(registers(server)).toHaveLength(1);
  });
});
