/**
 * Virtual clients in CPM 1-1 sessions through the real embedded PF (B2BUA, MSRP anchored at the
 * PF) over real sockets: set-up, messages with delivery measured by the receiver, echo replies,
 * BYE from either end, rejection and unavailable peers, both SIP connection models.
 */
import { describe, expect, it } from "vitest";
import { payloadBytes, payloadOffset } from "../../src/client/message-stamp.js";
import { seededRandom } from "../../src/client/prng.js";
import { Counter, Gauge, Latency } from "../../src/metrics/names.js";
import { context, sendStep as send, sessionRig, until } from "./support/session-fixtures.js";

const fx = sessionRig();

type Sample = { metric: string; latencyUs: number; serviceUs: number | undefined };
const samples = (metrics: { latencies: Sample[] }, metric: string): Sample[] => metrics.latencies.filter((l) => l.metric === metric);

describe.each(["per-client", "shared"] as const)("%s SIP connections", (model) => {
  it("A invites B, sends 3 messages of 500 B that B receives byte for byte (message_delivery 3×), then BYEs", async () => {
    const r = await fx.rig({ model });
    const a = await r.client("alice", 0);
    const b = await r.client("bob", 1);
    const ctx = context("bob", 7);
    const intended = performance.timeOrigin * 1e6 + performance.now() * 1e6;
    expect(await a.runStep({ kind: "invite", to: { kind: "next" } }, intended, ctx)).toBe(true);
    expect(r.metrics.get(Counter.sessionAttempts)).toBe(1);
    expect(r.metrics.get(Counter.sessionSuccesses)).toBe(1);
    expect(samples(r.metrics, Latency.sessionSetup)).toHaveLength(1);
    expect(samples(r.metrics, Latency.sessionReady)).toHaveLength(1);
    const setup = samples(r.metrics, Latency.sessionSetup)[0]!;
    const ready = samples(r.metrics, Latency.sessionReady)[0]!;
    expect(setup.serviceUs).toBeGreaterThan(0);
    expect(setup.latencyUs).toBeGreaterThanOrEqual(setup.serviceUs!);
    expect(ready.serviceUs).toBeGreaterThanOrEqual(setup.serviceUs!);
    expect(r.metrics.gauges[Gauge.activeSessions]).toBe(1);
    expect(r.server.stats().pf).toMatchObject({ sessionsActive: 1 });

    // The payloads A sends are the seeded pattern slices the same PRNG draws give.
    const expectRandom = seededRandom(7);
    const expected = [0, 1, 2].map(() => Buffer.from(payloadBytes(500, payloadOffset(expectRandom)))); // fixed size: no size draw
    expect(await a.runStep(send(3, 500), performance.timeOrigin * 1e6 + performance.now() * 1e6, ctx)).toBe(true);
    await until(() => r.received.length === 3);
    expect(r.received.map((m) => m.user)).toEqual(["bob", "bob", "bob"]);
    expect(r.received.map((m) => m.contentType)).toEqual(["text/plain", "text/plain", "text/plain"]);
    expect(r.received.map((m) => m.from)).toEqual(["<sip:alice@cpm.test>", "<sip:alice@cpm.test>", "<sip:alice@cpm.test>"]);
    expect(new Set(r.received.map((m) => m.content.toString("latin1")))).toEqual(new Set(expected.map((e) => e.toString("latin1"))));
    expect(samples(r.metrics, Latency.messageDelivery)).toHaveLength(3);
    expect(samples(r.metrics, Latency.msrpSend)).toHaveLength(3);
    expect(r.metrics.get(Counter.messagesSent)).toBe(3);
    expect(r.metrics.get(Counter.messagesReceived)).toBe(3);
    expect(r.metrics.get(Counter.messageBytesSent)).toBe(1500);
    expect(r.metrics.get(Counter.messageBytesReceived)).toBe(1500);
    expect(r.metrics.get(Counter.msrpBytesSent)).toBeGreaterThan(1500);

    expect(await a.runStep({ kind: "bye", by: "caller" }, 0, ctx)).toBe(true);
    expect(r.metrics.get(Counter.byeSuccesses)).toBe(1);
    expect(ctx.state.session).toBeUndefined();
    await until(() => a.activeSessions === 0 && b.activeSessions === 0);
    await until(() => r.server.stats().pf.sessionsActive === 0);
    expect(r.metrics.gauges[Gauge.activeSessions]).toBe(0);
    await until(() => r.msrp.stats().sessions === 0);
  });

  it("the callee closes the session when the caller's bye step asks it to (by: callee)", async () => {
    const r = await fx.rig({ model });
    const a = await r.client("alice", 0);
    const b = await r.client("bob", 1);
    const ctx = context("bob");
    expect(await a.runStep({ kind: "invite", to: { kind: "next" } }, 0, ctx)).toBe(true);
    expect(await a.runStep({ kind: "bye", by: "callee" }, 0, ctx)).toBe(true);
    expect(r.metrics.get(Counter.byeSuccesses)).toBe(1);
    await until(() => a.activeSessions === 0 && b.activeSessions === 0);
    expect(r.received).toHaveLength(0); // the control message is not a message
    expect(r.metrics.get(Counter.messagesReceived)).toBe(0);
  });
});

describe("terminating behaviour", () => {
  it("echo: B sends every message back in the same session; A records its delivery", async () => {
    const r = await fx.rig();
    const a = await r.client("alice", 0);
    await r.client("bob", 1, { answer: { delayMs: 0, rejectProbability: 0, rejectStatus: 486, reply: "echo" } });
    const ctx = context("bob");
    expect(await a.runStep({ kind: "invite", to: { kind: "next" } }, 0, ctx)).toBe(true);
    expect(await a.runStep(send(2, 300), 0, ctx)).toBe(true);
    await until(() => r.received.length === 4);
    const atBob = r.received.filter((m) => m.user === "bob");
    const atAlice = r.received.filter((m) => m.user === "alice");
    expect(atBob).toHaveLength(2);
    expect(atAlice).toHaveLength(2);
    expect(atAlice.map((m) => m.from)).toEqual(["<sip:bob@cpm.test>", "<sip:bob@cpm.test>"]);
    expect(new Set(atAlice.map((m) => m.content.toString()))).toEqual(new Set(atBob.map((m) => m.content.toString())));
    expect(samples(r.metrics, Latency.messageDelivery)).toHaveLength(4);
    expect(r.metrics.get(Counter.messagesSent)).toBe(4);
    await a.endIteration(ctx);
    await until(() => a.activeSessions === 0);
  });

  it("an accept delay sends 180 first and still sets up the session", async () => {
    const r = await fx.rig();
    const a = await r.client("alice", 0);
    await r.client("bob", 1, { answer: { delayMs: 50, rejectProbability: 0, rejectStatus: 486, reply: "none" } });
    const ctx = context("bob");
    expect(await a.runStep({ kind: "invite", to: { kind: "next" } }, 0, ctx)).toBe(true);
    expect(r.metrics.get(Counter.sessionIncomingAccepted)).toBe(1);
    const setup = samples(r.metrics, Latency.sessionSetup)[0]!;
    expect(setup.serviceUs).toBeGreaterThanOrEqual(50_000);
    await a.endIteration(ctx);
  });

  it("B rejects every INVITE with 486 (rejectProbability 1): counted as session.failures.status.486", async () => {
    const r = await fx.rig();
    const a = await r.client("alice", 0);
    await r.client("bob", 1, { answer: { delayMs: 0, rejectProbability: 1, rejectStatus: 486, reply: "none" } });
    const ctx = context("bob");
    expect(await a.runStep({ kind: "invite", to: { kind: "next" } }, 0, ctx)).toBe(false);
    expect(r.metrics.get(`${Counter.sessionFailures}.status.486`)).toBe(1);
    expect(r.metrics.get(Counter.sessionIncomingRejected)).toBe(1);
    expect(r.metrics.get(Counter.sessionSuccesses)).toBe(0);
    expect(samples(r.metrics, Latency.sessionSetup)).toHaveLength(0);
    expect(ctx.state.session).toBeUndefined();
    await until(() => a.activeSessions === 0);
    // A send step without a session fails as no_session for every message it would have sent.
    expect(await a.runStep(send(2, 10), 0, ctx)).toBe(false);
    expect(r.metrics.get(`${Counter.msrpSendFailures}.no_session`)).toBe(2);
  });

  it("a peer that unregistered gets 480, one that never registered 404, and no peer at all no_peer", async () => {
    const r = await fx.rig();
    const a = await r.client("alice", 0);
    const b = await r.client("bob", 1);
    expect(await b.unregister()).toBe(true);
    expect(await a.runStep({ kind: "invite", to: { kind: "next" } }, 0, context("bob"))).toBe(false);
    expect(r.metrics.get(`${Counter.sessionFailures}.status.480`)).toBe(1);
    expect(await a.runStep({ kind: "invite", to: { kind: "next" } }, 0, context("ghost"))).toBe(false);
    expect(r.metrics.get(`${Counter.sessionFailures}.status.404`)).toBe(1);
    expect(await a.runStep({ kind: "invite", to: { kind: "random" } }, 0, context(null))).toBe(false);
    expect(r.metrics.get(`${Counter.sessionFailures}.no_peer`)).toBe(1);
    expect(r.metrics.get(Counter.sessionAttempts)).toBe(3);
    await until(() => a.activeSessions === 0 && r.msrp.stats().sessions === 0);
  });

  it("an INVITE not answered within requestTimeoutMs is CANCELled and counted as a timeout", async () => {
    const r = await fx.rig();
    const a = await r.client("alice", 0, { requestTimeoutMs: 300 });
    await r.client("bob", 1, { answer: { delayMs: 20_000, rejectProbability: 0, rejectStatus: 486, reply: "none" } });
    expect(await a.runStep({ kind: "invite", to: { kind: "next" } }, 0, context("bob"))).toBe(false);
    expect(r.metrics.get(`${Counter.sessionFailures}.timeout`)).toBe(1);
    await until(() => r.metrics.get(Counter.sessionIncomingCanceled) === 1);
    await until(() => r.server.stats().pf.sessionsActive === 0);
    await until(() => a.activeSessions === 0 && r.msrp.stats().sessions === 0);
  });

  it("disposing a client ends its pending INVITE at once without counting a failure", async () => {
    const r = await fx.rig();
    const a = await r.client("alice", 0, { requestTimeoutMs: 20_000 });
    await r.client("bob", 1, { answer: { delayMs: 20_000, rejectProbability: 0, rejectStatus: 486, reply: "none" } });
    const step = a.runStep({ kind: "invite", to: { kind: "next" } }, 0, context("bob"));
    await until(() => a.activeSessions === 1);
    await a.dispose();
    expect(await step).toBe(false);
    expect(Object.keys(r.metrics.counters).filter((k) => k.startsWith(Counter.sessionFailures))).toEqual([]);
    expect(a.activeSessions).toBe(0);
  });
});
