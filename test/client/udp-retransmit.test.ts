/**
 * UDP request retransmission (RFC 3261 Timers A and E) on a fake clock.
 */
import { describe, expect, it } from "vitest";
import { UdpRetransmitter, requestKey } from "../../src/client/udp-retransmit.js";
import { FakeClock } from "../../src/time/clock.js";

function setup() {
  const clock = new FakeClock();
  const sent: Array<{ atMs: number; data: string }> = [];
  const start = clock.nowMs();
  const rt = new UdpRetransmitter(clock, (data) => sent.push({ atMs: clock.nowMs() - start, data }));
  return { clock, sent, rt };
}

describe("UdpRetransmitter", () => {
  it("non-INVITE: T1, 2T1, 4T1, then every T2 (4 s) until the 64*T1 deadline", () => {
    const { clock, sent, rt } = setup();
    rt.track("REGISTER", "b1", "REGISTER sip:x SIP/2.0\r\n");
    clock.advanceMs(40_000);
    expect(sent.map((s) => s.atMs)).toEqual([500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(rt.size).toBe(0);
  });

  it("non-INVITE: a provisional response slows to T2, a final one stops", () => {
    const { clock, sent, rt } = setup();
    rt.track("MESSAGE", "b2", "MESSAGE");
    clock.advanceMs(600); // one retransmission at 500
    rt.onResponse("b2", "MESSAGE", 100);
    clock.advanceMs(1000); // the timer armed at 500 fires at 1500 anyway
    clock.advanceMs(4000);
    expect(sent.map((s) => s.atMs)).toEqual([500, 1500, 5500]);
    rt.onResponse("b2", "MESSAGE", 200);
    clock.advanceMs(20_000);
    expect(sent).toHaveLength(3);
  });

  it("INVITE: Timer A doubles without the T2 cap and any response stops it", () => {
    const { clock, sent, rt } = setup();
    rt.track("INVITE", "b3", "INVITE");
    clock.advanceMs(8000);
    expect(sent.map((s) => s.atMs)).toEqual([500, 1500, 3500, 7500]);
    rt.onResponse("b3", "INVITE", 180);
    clock.advanceMs(30_000);
    expect(sent).toHaveLength(4);
  });

  it("keeps a CANCEL apart from the INVITE it shares a branch with; ACK is never tracked; cancel() and close() stop", () => {
    const { clock, sent, rt } = setup();
    rt.track("INVITE", "b4", "INVITE");
    rt.track("CANCEL", "b4", "CANCEL");
    rt.track("ACK", "b5", "ACK");
    rt.onResponse("b4", "CANCEL", 200);
    clock.advanceMs(600);
    expect(sent.map((s) => s.data)).toEqual(["INVITE"]);
    rt.cancel("b4", "INVITE");
    rt.track("OPTIONS", "b6", "OPTIONS");
    rt.close();
    clock.advanceMs(60_000);
    expect(sent).toHaveLength(1);
    rt.track("OPTIONS", "b7", "OPTIONS");
    expect(rt.size).toBe(0);
  });

  it("requestKey reads method and branch of a request as SIP.js writes it, nothing for responses", () => {
    expect(requestKey("REGISTER sip:cpm.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKab.1;rport\r\n\r\n")).toEqual({ method: "REGISTER", branch: "z9hG4bKab.1" });
    expect(requestKey("ACK sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKq\r\n\r\n")).toEqual({ method: "ACK", branch: "z9hG4bKq" });
    expect(requestKey("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKq\r\n\r\n")).toBeUndefined();
  });
});
