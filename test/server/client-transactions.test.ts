/**
 * Client transactions of the server (requests the PF sends), driven by a FakeClock over a flow
 * that records what was written: retransmission schedules (Timer A/E), timeouts (Timer B/F and
 * the no-answer bound), ACK of non-2xx finals, CANCEL rules (RFC 3261 §9.1), 2xx retransmissions,
 * and the single-timer expiry queue they use.
 */
import { describe, expect, it } from "vitest";
import { getHeader } from "../../src/protocol/sip/headers.js";
import type { SipMessage, SipRequest, SipResponse } from "../../src/protocol/sip/message.js";
import { parseSipMessage } from "../../src/protocol/sip/parser.js";
import { createResponse } from "../../src/protocol/sip/response.js";
import { DeadlineQueue } from "../../src/server/timers/deadline-queue.js";
import { type ClientFailure, ClientTransactions } from "../../src/server/transaction/client-transactions.js";
import type { Flow } from "../../src/server/transport/flow.js";
import { FakeClock } from "../../src/time/clock.js";

class RecordingFlow implements Flow {
  readonly remote = { address: "127.0.0.1", port: 5070 };
  readonly sent: SipMessage[] = [];
  open = true;
  constructor(readonly transport: "udp" | "tcp") {}
  get isOpen(): boolean {
    return this.open;
  }
  send(data: Buffer): boolean {
    if (!this.open) return false;
    const r = parseSipMessage(data);
    if (!r.ok) throw new Error("the layer wrote an unparsable message");
    this.sent.push(r.message);
    return true;
  }
  methods(): string[] {
    return this.sent.map((m) => (m.kind === "request" ? m.method : String(m.status)));
  }
}

function request(method: string): SipRequest {
  return {
    kind: "request",
    method,
    uri: "sip:bob@127.0.0.1:5070",
    headers: [
      ["Max-Forwards", "70"],
      ["From", "<sip:alice@cpm.test>;tag=f1"],
      ["To", "<sip:bob@cpm.test>"],
      ["Call-ID", `c-${method}`],
      ["CSeq", `1 ${method}`],
    ],
    body: Buffer.alloc(0),
  };
}

function answer(req: SipMessage, status: number, toTag = "t1"): SipResponse {
  return createResponse(req as SipRequest, status, undefined, { toTag });
}

function setup(transport: "udp" | "tcp" = "udp", opts: { provisionalTimeoutMs?: number } = {}) {
  const clock = new FakeClock();
  const txs = new ClientTransactions(clock, { viaHost: "127.0.0.1", viaPort: 5060, t1Ms: 500, t2Ms: 4000, ...opts });
  const flow = new RecordingFlow(transport);
  const events: string[] = [];
  const user = {
    onResponse: (_tx: unknown, r: SipResponse) => events.push(String(r.status)),
    onFailure: (_tx: unknown, reason: ClientFailure) => events.push(reason),
  };
  return { clock, txs, flow, events, user };
}

describe("INVITE client transaction", () => {
  it("UDP: Timer A retransmits at T1, 2·T1, 4·T1 … until Timer B (64·T1) reports a timeout", () => {
    const { clock, txs, flow, events, user } = setup("udp");
    const tx = txs.send(request("INVITE"), flow, user);
    expect(getHeader(flow.sent[0]!, "Via")).toBe(`SIP/2.0/UDP 127.0.0.1:5060;branch=${tx.branch};rport`);
    const times: number[] = [];
    for (let t = 0; t < 32_000; t += 100) {
      const before = flow.sent.length;
      clock.advanceMs(100);
      if (flow.sent.length > before) times.push(t + 100);
    }
    expect(times).toEqual([500, 1500, 3500, 7500, 15500, 31500]);
    expect(events).toEqual(["timeout"]);
    expect(txs.size).toBe(0);
  });

  it("a provisional stops Timer A; a non-2xx final is ACKed on the same branch with the response's To", () => {
    const { clock, txs, flow, events, user } = setup("udp");
    txs.send(request("INVITE"), flow, user);
    const invite = flow.sent[0]!;
    txs.onResponse(answer(invite, 180));
    clock.advanceMs(10_000);
    expect(flow.methods()).toEqual(["INVITE"]);
    txs.onResponse(answer(invite, 486));
    expect(events).toEqual(["180", "486"]);
    const ack = flow.sent[1] as SipRequest;
    expect(ack.method).toBe("ACK");
    expect(getHeader(ack, "Via")).toBe(getHeader(invite, "Via"));
    expect(getHeader(ack, "To")).toBe("<sip:bob@cpm.test>;tag=t1");
    expect(getHeader(ack, "CSeq")).toBe("1 ACK");
    // A retransmitted 486 (our ACK lost) is ACKed again, the user hears it once.
    txs.onResponse(answer(invite, 486));
    expect(flow.methods()).toEqual(["INVITE", "ACK", "ACK"]);
    expect(events).toEqual(["180", "486"]);
    // Timer D: the lingering entry goes after 64·T1.
    clock.advanceMs(40_000);
    expect(txs.size).toBe(0);
  });

  it("2xx retransmissions reach the user again (it re-ACKs) while the UDP transaction lingers", () => {
    const { txs, flow, events, user } = setup("udp");
    txs.send(request("INVITE"), flow, user);
    txs.onResponse(answer(flow.sent[0]!, 200));
    txs.onResponse(answer(flow.sent[0]!, 200));
    expect(events).toEqual(["200", "200"]);
    expect(flow.methods()).toEqual(["INVITE"]);
  });

  it("TCP: no retransmissions; the transaction is forgotten at its final response", () => {
    const { clock, txs, flow, user } = setup("tcp");
    txs.send(request("INVITE"), flow, user);
    clock.advanceMs(20_000);
    expect(flow.methods()).toEqual(["INVITE"]);
    txs.onResponse(answer(flow.sent[0]!, 200));
    expect(txs.size).toBe(0);
  });

  it("CANCEL waits for a provisional (§9.1), shares the INVITE's branch, and is not sent after a final", () => {
    const { txs, flow, user } = setup("tcp");
    const tx = txs.send(request("INVITE"), flow, user);
    txs.cancel(tx);
    expect(flow.methods()).toEqual(["INVITE"]);
    txs.onResponse(answer(flow.sent[0]!, 180));
    expect(flow.methods()).toEqual(["INVITE", "CANCEL"]);
    const cancel = flow.sent[1] as SipRequest;
    expect(getHeader(cancel, "Via")).toBe(getHeader(flow.sent[0]!, "Via"));
    expect(getHeader(cancel, "CSeq")).toBe("1 CANCEL");
    expect(getHeader(cancel, "To")).toBe("<sip:bob@cpm.test>");

    const other = txs.send(request("INVITE"), flow, user);
    txs.onResponse(answer(flow.sent[2]!, 603));
    txs.cancel(other);
    expect(flow.methods()).toEqual(["INVITE", "CANCEL", "INVITE", "ACK"]);
  });

  it("ringing past the no-answer bound: CANCEL, a timeout for the user, and the 487 is still ACKed", () => {
    const { clock, txs, flow, events, user } = setup("tcp", { provisionalTimeoutMs: 1000 });
    txs.send(request("INVITE"), flow, user);
    txs.onResponse(answer(flow.sent[0]!, 180));
    clock.advanceMs(1000);
    expect(flow.methods()).toEqual(["INVITE", "CANCEL"]);
    expect(events).toEqual(["180", "timeout"]);
    txs.onResponse(answer(flow.sent[0]!, 487));
    expect(flow.methods()).toEqual(["INVITE", "CANCEL", "ACK"]);
    expect(events).toEqual(["180", "timeout", "487"]);
  });
});

describe("non-INVITE client transaction", () => {
  it("UDP: Timer E doubles up to T2, stays at T2 after a provisional; Timer F times out at 64·T1", () => {
    const { clock, txs, flow, events, user } = setup("udp");
    txs.send(request("BYE"), flow, user);
    const times: number[] = [];
    for (let t = 0; t < 32_000; t += 100) {
      const before = flow.sent.length;
      clock.advanceMs(100);
      if (flow.sent.length > before) times.push(t + 100);
    }
    expect(times.slice(0, 6)).toEqual([500, 1500, 3500, 7500, 11500, 15500]);
    expect(events).toEqual(["timeout"]);
  });

  it("a flow that is gone is reported as a transport failure, asynchronously", () => {
    const { clock, txs, flow, events, user } = setup("tcp");
    flow.open = false;
    txs.send(request("BYE"), flow, user);
    expect(events).toEqual([]);
    clock.advanceMs(1);
    expect(events).toEqual(["transport"]);
    expect(txs.size).toBe(0);
  });

  it("branches are unique across many transactions", () => {
    const { txs, flow, user } = setup("tcp");
    const branches = new Set<string>();
    for (let i = 0; i < 10_000; i++) branches.add(txs.send(request("OPTIONS"), flow, user).branch);
    expect(branches.size).toBe(10_000);
    expect([...branches].every((b) => b.startsWith("z9hG4bK"))).toBe(true);
  });
});

describe("DeadlineQueue", () => {
  it("fires each entry once after the fixed delay, skips cancelled ones, with one timer at a time", () => {
    const clock = new FakeClock();
    const fired: string[] = [];
    const q = new DeadlineQueue<string>(clock, 1000, (x) => fired.push(x), 10);
    q.push("a");
    clock.advanceMs(400);
    const b = q.push("b");
    q.push("c");
    b.cancelled = true;
    clock.advanceMs(599);
    expect(fired).toEqual([]);
    clock.advanceMs(11);
    expect(fired).toEqual(["a"]);
    clock.advanceMs(1000);
    expect(fired).toEqual(["a", "c"]);
    expect(q.size).toBe(0);
  });

  it("a cancelled entry no longer references its item (a finished session is not pinned for the delay)", () => {
    const clock = new FakeClock();
    const q = new DeadlineQueue<{ big: Buffer }>(clock, 10_000, () => {
      throw new Error("must not fire");
    });
    const h = q.push({ big: Buffer.alloc(16) });
    q.cancel(h);
    expect((h as unknown as { item: unknown }).item).toBeUndefined();
    clock.advanceMs(20_000);
    expect(q.size).toBe(0);
  });
});
