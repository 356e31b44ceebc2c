import { describe, expect, it } from "vitest";
import { ServerTransactionTable } from "../../src/server/transaction/server-transaction-table.js";
import { inviteKeyFor, transactionKey } from "../../src/server/transaction/transaction-key.js";
import type { Flow } from "../../src/server/transport/flow.js";
import { FakeClock } from "../../src/time/clock.js";

function recordingFlow(transport: "udp" | "tcp"): Flow & { sent: string[] } {
  const sent: string[] = [];
  return { transport, remote: { address: "127.0.0.1", port: 5070 }, isOpen: true, sent, send: (b) => (sent.push(b.toString()), true) };
}

const via = { protocol: "SIP/2.0", transport: "UDP", host: "10.0.0.1", port: 5070, params: { branch: "z9hG4bK-1" } };

describe("transaction keys", () => {
  it("ACK matches its INVITE, CANCEL has its own key but finds the INVITE", () => {
    const base = { via, callId: "c", cseq: 1, fromTag: undefined };
    const invite = transactionKey({ ...base, method: "INVITE" });
    expect(transactionKey({ ...base, method: "ACK" })).toBe(invite);
    expect(transactionKey({ ...base, method: "CANCEL" })).not.toBe(invite);
    expect(inviteKeyFor({ ...base, method: "CANCEL" })).toBe(invite);
  });

  it("the same branch from another sent-by is another transaction; RFC 2543 peers key on Call-ID/CSeq/tag", () => {
    const base = { callId: "c", cseq: 1, fromTag: "t", method: "REGISTER" };
    expect(transactionKey({ ...base, via })).not.toBe(transactionKey({ ...base, via: { ...via, port: 5071 } }));
    const old = { ...via, params: { branch: "1234" } };
    expect(transactionKey({ ...base, via: old })).toBe("2543|c|1|t|10.0.0.1:5070|REGISTER");
  });
});

describe("ServerTransactionTable", () => {
  it("keeps a completed UDP transaction with its response for the configured lifetime", () => {
    const clock = new FakeClock();
    const table = new ServerTransactionTable(clock, { udpLifetimeMs: 32_000 });
    const flow = recordingFlow("udp");
    const tx = table.create("k1", "REGISTER", flow);
    expect(table.recordResponse(tx, 200, Buffer.from("200"))).toBe(true);
    expect(table.get("k1")?.lastResponse?.toString()).toBe("200");
    // A second final response is refused.
    expect(table.recordResponse(tx, 500, Buffer.from("500"))).toBe(false);
    clock.advanceMs(31_000);
    expect(table.size).toBe(1);
    clock.advanceMs(1_500);
    expect(table.size).toBe(0);
    expect(tx.lastResponse).toBeNull();
  });

  it("drops TCP transactions on completion (Timer J = 0) but keeps them while proceeding", () => {
    const table = new ServerTransactionTable(new FakeClock(), { udpLifetimeMs: 32_000 });
    const tx = table.create("k", "INVITE", recordingFlow("tcp"));
    expect(table.get("k")).toBe(tx);
    table.recordResponse(tx, 100, Buffer.from("100"));
    expect(table.get("k")?.lastResponse?.toString()).toBe("100");
    table.recordResponse(tx, 486, Buffer.from("486"));
    expect(table.size).toBe(0);
  });

  it("a UDP lifetime of 0 keeps nothing after completion", () => {
    const table = new ServerTransactionTable(new FakeClock(), { udpLifetimeMs: 0 });
    table.recordResponse(table.create("k", "REGISTER", recordingFlow("udp")), 200, Buffer.from("200"));
    expect(table.size).toBe(0);
  });

  it("retransmits a failed UDP INVITE's final response (Timer G) until the ACK", () => {
    const clock = new FakeClock();
    const table = new ServerTransactionTable(clock, { udpLifetimeMs: 32_000 });
    const flow = recordingFlow("udp");
    const tx = table.create("k", "INVITE", flow);
    table.recordResponse(tx, 405, Buffer.from("405"));
    clock.advanceMs(500); // T1
    clock.advanceMs(1000); // 2·T1
    clock.advanceMs(2000); // 4·T1
    expect(flow.sent).toEqual(["405", "405", "405"]);
    table.acknowledge(tx);
    expect(tx.state).toBe("confirmed");
    clock.advanceMs(10_000);
    expect(flow.sent).toHaveLength(3);
  });

  it("Timer G intervals double up to T2 and stop when the entry expires", () => {
    const clock = new FakeClock();
    const table = new ServerTransactionTable(clock, { udpLifetimeMs: 32_000 });
    const flow = recordingFlow("udp");
    table.recordResponse(table.create("k", "INVITE", flow), 480, Buffer.from("480"));
    clock.advanceMs(40_000);
    // 0.5, 1.5, 3.5, 7.5, then every 4 s up to 32 s: 11.5 … 31.5 → 4 + 6 = 10 retransmissions.
    expect(flow.sent).toHaveLength(10);
    expect(table.size).toBe(0);
  });

  it("close() cancels timers and forgets every transaction", () => {
    const clock = new FakeClock();
    const table = new ServerTransactionTable(clock, { udpLifetimeMs: 32_000 });
    const flow = recordingFlow("udp");
    table.recordResponse(table.create("k", "INVITE", flow), 480, Buffer.from("480"));
    table.create("k2", "REGISTER", flow);
    table.close();
    clock.advanceMs(10_000);
    expect(flow.sent).toEqual([]);
    expect(table.size).toBe(0);
  });
});
