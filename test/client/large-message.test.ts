/**
 * Large message mode (§7.3.2) between real clients through the embedded PF: one CPIM message
 * streamed in chunks from the seeded pattern, confirmed by the receiver's success REPORT, then BYE.
 */
import { describe, expect, it } from "vitest";
import { payloadBytes, payloadOffset } from "../../src/client/message-stamp.js";
import { seededRandom } from "../../src/client/prng.js";
import { Counter, Gauge, Latency } from "../../src/metrics/names.js";
import type { LargeMessageStepPlan } from "../../src/scenario/plan.js";
import { context, sessionRig, until } from "./support/session-fixtures.js";

const fx = sessionRig();

const large = (bytes: number, chunkSize = 65_536, failureReport: "yes" | "partial" = "yes"): LargeMessageStepPlan => ({
  kind: "largeMessage",
  to: { kind: "next" },
  size: { kind: "fixed", bytes },
  chunkSize,
  contentType: "application/octet-stream",
  failureReport,
});

const count = (metrics: { latencies: Array<{ metric: string }> }, metric: string): number =>
  metrics.latencies.filter((l) => l.metric === metric).length;

describe("large message", () => {
  it("5 MB: the receiver gets the exact bytes, large_message and message_delivery are recorded, the session ends", async () => {
    const r = await fx.rig();
    const a = await r.client("alice", 0);
    const b = await r.client("bob", 1, { keepLargeMessageBodies: true });
    const size = 5 * 1024 * 1024;
    expect(await a.runStep(large(size, 32 * 1024), 0, context("bob", 3))).toBe(true);
    await until(() => r.received.length === 1);
    const got = r.received[0]!;
    expect(got).toMatchObject({ user: "bob", kind: "large", contentType: "application/octet-stream", contentBytes: size });
    // Fixed size: the only draw is the pattern offset.
    const expected = payloadBytes(size, payloadOffset(seededRandom(3)));
    expect(got.content.length).toBe(size);
    expect(got.content.equals(expected)).toBe(true);
    expect(got.stamp?.sentAtNs).toBeGreaterThan(0);

    expect(r.metrics.get(Counter.largeMessageAttempts)).toBe(1);
    expect(r.metrics.get(Counter.largeMessageSuccesses)).toBe(1);
    expect(count(r.metrics, Latency.largeMessage)).toBe(1);
    expect(count(r.metrics, Latency.messageDelivery)).toBe(1);
    expect(count(r.metrics, Latency.msrpSend)).toBe(1);
    expect(count(r.metrics, Latency.sessionSetup)).toBe(0); // large messages have their own metric
    expect(r.metrics.get(Counter.messageBytesSent)).toBe(size);
    expect(r.metrics.get(Counter.messageBytesReceived)).toBe(size);
    expect(r.metrics.get(Counter.msrpBytesSent)).toBeGreaterThan(size);
    expect(r.server.stats().pf.msrpReportsRelayed).toBe(1);
    await until(() => a.activeSessions === 0 && b.activeSessions === 0);
    await until(() => r.server.stats().pf.sessionsActive === 0 && r.msrp.stats().sessions === 0);
    expect(r.metrics.gauges[Gauge.activeSessions]).toBe(0);
  });

  it("a receiver that keeps no bodies (the default) still measures delivery and size from the first chunk", async () => {
    const r = await fx.rig({ model: "shared" });
    const a = await r.client("alice", 0);
    await r.client("bob", 1);
    const size = 3 * 1024 * 1024 + 17;
    expect(await a.runStep(large(size, 4096), 0, context("bob"))).toBe(true);
    await until(() => r.received.length === 1);
    const got = r.received[0]!;
    expect(got.content.length).toBe(0);
    expect(got.contentBytes).toBe(size);
    expect(got.contentType).toBe("application/octet-stream");
    expect(got.stamp?.sentAtNs).toBeGreaterThan(0);
    expect(count(r.metrics, Latency.messageDelivery)).toBe(1);
    expect(r.metrics.get(Counter.messagesUnstamped)).toBe(0);
    expect(r.metrics.get(Counter.messageBytesReceived)).toBe(size);
  });

  it("50 MB streams through (no body held by sender or receiver) and arrives whole", async () => {
    const r = await fx.rig();
    const a = await r.client("alice", 0);
    await r.client("bob", 1);
    const size = 50 * 1024 * 1024;
    expect(await a.runStep(large(size), 0, context("bob"))).toBe(true);
    await until(() => r.received.length === 1);
    expect(r.received[0]!.contentBytes).toBe(size);
    expect(r.metrics.get(Counter.messageBytesReceived)).toBe(size);
    expect(r.metrics.get(Counter.largeMessageSuccesses)).toBe(1);
  });

  it("Failure-Report partial: delivered and confirmed by the success REPORT alone, with no 200 per chunk on the way back", async () => {
    const size = 2 * 1024 * 1024;
    const chunkSize = 16 * 1024;
    const chunks = size / chunkSize;
    const run = async (failureReport: "yes" | "partial") => {
      const r = await fx.rig();
      const a = await r.client("alice", 0);
      await r.client("bob", 1);
      expect(await a.runStep(large(size, chunkSize, failureReport), 0, context("bob"))).toBe(true);
      await until(() => r.received.length === 1);
      expect(r.received[0]!.contentBytes).toBe(size);
      expect(r.metrics.get(Counter.largeMessageSuccesses)).toBe(1);
      expect(count(r.metrics, Latency.msrpSend)).toBe(1);
      expect(r.server.stats().pf.msrpReportsRelayed).toBe(1);
      return r.metrics.get(Counter.msrpBytesReceived);
    };
    const withOk = await run("yes");
    const partial = await run("partial");
    // Every chunk's 200 (well over 40 bytes each: tid, To-Path, From-Path, end-line) is gone from
    // what the clients received; the message bytes and the REPORT are the same.
    expect(withOk - partial).toBeGreaterThan(chunks * 40);
  });

  it("a rejected large-message INVITE counts large_message.failures.status.<code>", async () => {
    const r = await fx.rig();
    const a = await r.client("alice", 0);
    await r.client("bob", 1, { answer: { delayMs: 0, rejectProbability: 1, rejectStatus: 603, reply: "none" } });
    expect(await a.runStep(large(1000), 0, context("bob"))).toBe(false);
    expect(r.metrics.get(`${Counter.largeMessageFailures}.status.603`)).toBe(1);
    expect(r.metrics.get(Counter.largeMessageSuccesses)).toBe(0);
  });
});
