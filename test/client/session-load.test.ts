/**
 * A small load check: 20 clients on one MSRP endpoint, 10 sessions at once each sending 5
 * messages on a schedule; every count must add up (nothing lost, nothing counted twice).
 */
import { describe, expect, it } from "vitest";
import { Counter, Gauge, Latency } from "../../src/metrics/names.js";
import type { SendStepPlan } from "../../src/scenario/plan.js";
import { context, sessionRig, until } from "./support/session-fixtures.js";

const fx = sessionRig();

const send: SendStepPlan = {
  kind: "send",
  count: 5,
  intervalMs: 10,
  size: { kind: "uniform", minBytes: 100, maxBytes: 3000 },
  contentType: "text/plain",
  chunkSize: 1024,
  imdn: true,
};

describe.each(["shared", "per-client"] as const)("%s SIP connections", (model) => {
  it("10 concurrent sessions × 5 messages: sent == received == 50, one delivery sample each, all sessions closed", async () => {
    const r = await fx.rig({ model });
    const clients = await Promise.all(Array.from({ length: 20 }, (_, i) => r.client(`user${i}`, i)));
    const runs = Array.from({ length: 10 }, async (_, i) => {
      const ctx = context(`user${i + 10}`, 100 + i);
      const caller = clients[i]!;
      const ok =
        (await caller.runStep({ kind: "invite", to: { kind: "index", index: i + 10 } }, 0, ctx)) &&
        (await caller.runStep(send, performance.timeOrigin * 1e6 + performance.now() * 1e6, ctx));
      await caller.endIteration(ctx);
      return ok;
    });
    expect(await Promise.all(runs)).toEqual(Array(10).fill(true));
    await until(() => r.metrics.get(Counter.messagesReceived) === 50);
    const m = r.metrics;
    expect(m.get(Counter.sessionAttempts)).toBe(10);
    expect(m.get(Counter.sessionSuccesses)).toBe(10);
    expect(m.get(Counter.msrpSendAttempts)).toBe(50);
    expect(m.get(Counter.msrpSendSuccesses)).toBe(50);
    expect(m.get(Counter.messagesSent)).toBe(50);
    expect(m.get(Counter.messagesReceived)).toBe(50);
    expect(m.get(Counter.messageBytesReceived)).toBe(m.get(Counter.messageBytesSent));
    expect(m.get(Counter.messageBytesSent)).toBeGreaterThan(50 * 100);
    expect(m.latencies.filter((l) => l.metric === Latency.messageDelivery)).toHaveLength(50);
    expect(m.latencies.filter((l) => l.metric === Latency.msrpSend)).toHaveLength(50);
    expect(Object.keys(m.counters).filter((k) => k.includes("failures"))).toEqual([]);
    // Every receiver got exactly the 5 messages of its own caller.
    for (let i = 10; i < 20; i++) {
      const got = r.received.filter((x) => x.user === `user${i}`);
      expect(got).toHaveLength(5);
      expect(new Set(got.map((x) => x.from))).toEqual(new Set([`<sip:user${i - 10}@cpm.test>`]));
    }
    await until(() => r.server.stats().pf.sessionsActive === 0 && r.msrp.stats().sessions === 0);
    expect(m.gauges[Gauge.activeSessions]).toBe(0);
    expect(clients.every((c) => c.activeSessions === 0)).toBe(true);
  });
});
