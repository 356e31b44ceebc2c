/**
 * What the PF answers when a session cannot be set up, and how it ends sessions that fail later:
 * unknown/offline callees, rejections, CANCEL, timeouts, bad SDP, clients that never connect MSRP,
 * forking, authentication.
 */
import { describe, expect, it } from "vitest";
import { buildDigestCredentials, formatDigestCredentials, parseDigestChallenge } from "../../src/protocol/sip/digest.js";
import { getHeader, getTag } from "../../src/protocol/sip/headers.js";
import type { CpmServer, CpmServerOptions } from "../../src/server/index.js";
import { MsrpPeer } from "./support/msrp-peer.js";
import { establish, pfFixtures } from "./support/pf-fixtures.js";
import { clientAnswer, clientOffer, msrpMediaOf, type TestUa } from "./support/sip-ua.js";

const fx = pfFixtures();
const offer = () => clientOffer(MsrpPeer.planned().path);

/** The embedded server with alice and bob registered over TCP. */
async function aliceAndBob(opts?: CpmServerOptions): Promise<{ s: CpmServer; a: TestUa; b: TestUa }> {
  const s = await fx.server(opts);
  const a = await fx.ua(s, "alice");
  const b = await fx.ua(s, "bob");
  return { s, a, b };
}

/** alice invites bob, who is registered twice (b1, b2): the INVITE forks to both (i1, i2). */
async function forkedInvite() {
  const s = await fx.server();
  const a = await fx.ua(s, "alice");
  const b1 = await fx.ua(s, "bob");
  const b2 = await fx.ua(s, "bob");
  a.invite(b1.aor, { body: offer() });
  const i1 = await b1.request("INVITE");
  const i2 = await b2.request("INVITE");
  return { s, a, b1, b2, i1, i2 };
}

describe("routing", () => {
  it("a callee that never registered → 404; one registered but offline now → 480", async () => {
    const s = await fx.server();
    const a = await fx.ua(s, "alice");
    a.invite("sip:nobody@cpm.test", { body: offer() });
    expect((await a.final("INVITE")).status).toBe(404);
    const b = await fx.ua(s, "bob");
    expect((await b.register(0)).status).toBe(200);
    a.invite(b.aor, { body: offer() });
    const r = await a.final("INVITE");
    expect([r.status, r.reason]).toEqual([480, "Temporarily Unavailable"]);
    expect(s.stats().pf.sessionsFailed).toEqual({ "not-found": 1, unavailable: 1 });
  });

  it("a callee whose TCP connection is gone counts as offline → 480", async () => {
    const { a, b } = await aliceAndBob();
    await b.close();
    await new Promise((r) => setTimeout(r, 50));
    a.invite(b.aor, { body: offer() });
    expect((await a.final("INVITE")).status).toBe(480);
  });

  it("users of the auth users list are known without registering: 480, not 404", async () => {
    const s = await fx.server({ auth: { users: [{ user: "carol", password: "pw" }, { user: "alice", password: "pw" }] } });
    const a = await fx.ua(s, "alice", "tcp", false);
    expect((await a.register(600, "pw")).status).toBe(200);
    a.invite("sip:carol@cpm.test", { body: offer() });
    expect((await a.final("INVITE")).status).toBe(480);
    a.invite("sip:dave@cpm.test", { body: offer() });
    expect((await a.final("INVITE")).status).toBe(404);
  });
});

describe("callee answers", () => {
  it("B rejects with 486 → A gets 486; the PF ACKs B's 486 in its transaction", async () => {
    const { s, a, b } = await aliceAndBob();
    a.invite(b.aor, { body: offer() });
    const bi = await b.request("INVITE");
    b.respond(bi, 486, { toTag: "busy1" });
    const r = await a.final("INVITE");
    expect([r.status, r.reason]).toEqual([486, "Busy Here"]);
    const ack = await b.request("ACK");
    expect(getHeader(ack, "Via")).toBe(getHeader(bi, "Via"));
    expect(getTag(ack, "To")).toBe("busy1");
    expect(s.stats().pf).toMatchObject({ sessionsActive: 0, sessionsFailed: { "rejected.486": 1 } });
  });

  it("CANCEL from A while B rings: 200 for the CANCEL, 487 for A's INVITE, CANCEL to B, B's 487 is ACKed", async () => {
    const { s, a, b } = await aliceAndBob();
    const invite = a.invite(b.aor, { body: offer() });
    const bi = await b.request("INVITE");
    b.respond(bi, 180, { toTag: "ring1" });
    await a.next((m) => m.kind === "response" && m.status === 180, "180");
    a.cancel(invite);
    expect((await a.final("CANCEL")).status).toBe(200);
    expect((await a.final("INVITE")).status).toBe(487);
    const cancel = await b.request("CANCEL");
    expect(getHeader(cancel, "Via")).toBe(getHeader(bi, "Via"));
    expect(getHeader(cancel, "CSeq")).toBe("1 CANCEL");
    b.respond(cancel, 200);
    b.respond(bi, 487, { toTag: "ring1" });
    expect(getTag(await b.request("ACK"), "To")).toBe("ring1");
    expect(s.stats().pf).toMatchObject({ sessionsActive: 0, sessionsFailed: { cancelled: 1 } });
  });

  it("a CANCEL that overtakes a 200 held by the injected delay: 487 to A, the callee's leg is BYEd", async () => {
    const { s, a, b } = await aliceAndBob({ delay: { kind: "fixed", ms: 300 } });
    const invite = a.invite(b.aor, { body: offer() });
    const bi = await b.request("INVITE");
    b.respond(bi, 200, { toTag: "fast", body: clientAnswer(bi.body, MsrpPeer.planned().path) });
    await b.request("ACK");
    a.cancel(invite);
    expect((await a.final("CANCEL")).status).toBe(200);
    expect((await a.final("INVITE")).status).toBe(487);
    expect(getTag(await b.request("BYE"), "To")).toBe("fast");
    expect(s.stats().pf).toMatchObject({ sessionsActive: 0, sessionsFailed: { cancelled: 1 } });
  });

  it("no answer at all from a UDP callee: INVITE retransmitted (Timer A), then 408 to A (Timer B)", async () => {
    const s = await fx.server({ sipT1Ms: 40, inviteTimeoutMs: 400 });
    const a = await fx.ua(s, "alice");
    const b = await fx.ua(s, "bob", "udp");
    a.invite(b.aor, { body: offer() });
    const r = await a.final("INVITE");
    expect([r.status, r.reason]).toEqual([408, "Request Timeout"]);
    const copies = b.received.filter((m) => m.kind === "request" && m.method === "INVITE");
    expect(copies.length).toBeGreaterThanOrEqual(3);
    expect(new Set(copies.map((m) => getHeader(m, "Via"))).size).toBe(1);
    expect(s.stats().pf.sessionsFailed).toEqual({ timeout: 1 });
    expect(s.stats().retransmissionsSent).toBeGreaterThanOrEqual(2);
  });

  it("B rings past the no-answer bound: CANCEL to B, 408 to A", async () => {
    const { a, b } = await aliceAndBob({ noAnswerTimeoutMs: 200 });
    a.invite(b.aor, { body: offer() });
    const bi = await b.request("INVITE");
    b.respond(bi, 180, { toTag: "r" });
    const cancel = await b.request("CANCEL");
    b.respond(cancel, 200);
    b.respond(bi, 487, { toTag: "r" });
    expect((await a.final("INVITE")).status).toBe(408);
  });

  it("two contacts: both get the INVITE, the first 200 wins, the other is CANCELled; A gets one 200", async () => {
    const { s, a, b1, b2, i1, i2 } = await forkedInvite();
    expect(getHeader(i1, "Call-ID")).not.toBe(getHeader(i2, "Call-ID"));
    b2.respond(i2, 180, { toTag: "two" });
    b1.respond(i1, 200, { toTag: "one", body: clientAnswer(i1.body, MsrpPeer.planned().path) });
    const ok = await a.final("INVITE");
    expect(ok.status).toBe(200);
    await b1.request("ACK");
    const cancel = await b2.request("CANCEL");
    expect(getHeader(cancel, "Via")).toBe(getHeader(i2, "Via"));
    b2.respond(cancel, 200);
    b2.respond(i2, 487, { toTag: "two" });
    await b2.request("ACK");
    expect(a.pending((m) => m.kind === "response" && m.status >= 200)).toHaveLength(0);
    expect(s.stats().pf).toMatchObject({ sessionsEstablished: 1, sessionsActive: 1 });
  });

  it("two contacts both answer 200: the late one is ACKed and BYEd", async () => {
    const { s, a, b1, b2, i1, i2 } = await forkedInvite();
    b1.respond(i1, 200, { toTag: "one", body: clientAnswer(i1.body, MsrpPeer.planned().path) });
    expect((await a.final("INVITE")).status).toBe(200);
    b2.respond(i2, 200, { toTag: "two", body: clientAnswer(i2.body, MsrpPeer.planned().path) });
    // b2 may also see a CANCEL that crossed its 200; what matters is ACK then BYE on its dialog.
    expect(getTag(await b2.request("ACK"), "To")).toBe("two");
    const bye = await b2.request("BYE");
    expect(getTag(bye, "To")).toBe("two");
    expect(s.stats().pf.sessionsEstablished).toBe(1);
  });

  it("all contacts fail: the best answer wins (RFC 3261 §16.7: 6xx over 4xx, a real 4xx over a timeout)", async () => {
    const { a, b1, b2, i1, i2 } = await forkedInvite();
    b1.respond(i1, 480, { toTag: "x1" });
    b2.respond(i2, 603, { toTag: "x2" });
    expect((await a.final("INVITE")).status).toBe(603);
  });
});

describe("bad input", () => {
  it("SDP without an MSRP media line → 488 Not Acceptable Here with a Warning; no SDP at all → 488", async () => {
    const { s, a, b } = await aliceAndBob();
    const audio = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    a.invite(b.aor, { body: audio });
    const r = await a.final("INVITE");
    expect([r.status, r.reason]).toEqual([488, "Not Acceptable Here"]);
    expect(getHeader(r, "Warning")).toMatch(/^399 cpm-serv ".*m=message.*"$/);
    a.invite(b.aor, { contentType: null });
    expect((await a.final("INVITE")).status).toBe(488);
    // An offer asking the PF to connect out (setup passive) cannot be served either.
    a.invite(b.aor, { body: clientOffer(MsrpPeer.planned().path, { setup: "passive" }) });
    expect(getHeader(await a.final("INVITE"), "Warning")).toContain("setup:passive");
    expect(b.pending((m) => m.kind === "request" && m.method === "INVITE")).toHaveLength(0);
    expect(s.stats().pf.sessionsFailed).toEqual({ "bad-sdp": 3 });
  });

  it("the callee answers without usable MSRP: BYE to the callee, 488 to the caller", async () => {
    const { s, a, b } = await aliceAndBob();
    a.invite(b.aor, { body: offer() });
    const bi = await b.request("INVITE");
    b.respond(bi, 200, { toTag: "bad", body: "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=message 0 TCP/MSRP *\r\n" });
    expect((await a.final("INVITE")).status).toBe(488);
    await b.request("ACK");
    expect(getTag(await b.request("BYE"), "To")).toBe("bad");
    expect(s.stats().pf.sessionsFailed).toEqual({ "bad-answer": 1 });
  });

  it("Session-Expires below Min-SE → 422 with Min-SE", async () => {
    const { a, b } = await aliceAndBob();
    a.invite(b.aor, { body: offer(), headers: [["Session-Expires", "30"]] });
    const r = await a.final("INVITE");
    expect(r.status).toBe(422);
    expect(getHeader(r, "Min-SE")).toBe("90");
  });

  it("a client that never connects its MSRP leg: BYE on both legs after the connect timeout, counted", async () => {
    const { s, a, b } = await aliceAndBob({ msrpConnectTimeoutMs: 300 });
    const aPlan = MsrpPeer.planned();
    const invite = a.invite(b.aor, { body: clientOffer(aPlan.path) });
    const bi = await b.request("INVITE");
    b.respond(bi, 200, { toTag: "silent", body: clientAnswer(bi.body, MsrpPeer.planned().path) });
    const ok = await a.final("INVITE");
    a.ack2xx(invite, ok);
    // A binds its leg, B never connects.
    const aMsrp = await fx.msrp(s, aPlan.sessionId);
    expect((await aMsrp.bind(msrpMediaOf(ok.body).path)).status).toBe(200);
    const byeA = await a.request("BYE");
    const byeB = await b.request("BYE");
    expect(getHeader(byeA, "Reason")).toMatch(/^SIP;cause=408/);
    expect(getTag(byeB, "To")).toBe("silent");
    a.respond(byeA, 200);
    b.respond(byeB, 200);
    expect(s.stats().pf).toMatchObject({ sessionsActive: 0, sessionsFailed: { "msrp-connect-timeout": 1 }, msrpSessions: 0 });
  });

  it("a session whose clients both connected is not touched by the connect timeout", async () => {
    const { s, a, b } = await aliceAndBob({ msrpConnectTimeoutMs: 150 });
    await establish(fx, s, a, b);
    await new Promise((r) => setTimeout(r, 400));
    expect(a.pending((m) => m.kind === "request" && m.method === "BYE")).toHaveLength(0);
    expect(s.stats().pf).toMatchObject({ sessionsActive: 1, sessionsFailed: {} });
  });
});

describe("authentication of callers", () => {
  it("with auth on: a caller on its registered flow is trusted; on another flow it is challenged 401 and may answer", async () => {
    const s = await fx.server({ auth: { passwordTemplate: "{user}-pw" } });
    const a = await fx.ua(s, "alice", "tcp", false);
    const b = await fx.ua(s, "bob", "tcp", false);
    expect((await a.register(600, "alice-pw")).status).toBe(200);
    expect((await b.register(600, "bob-pw")).status).toBe(200);
    a.invite(b.aor, { body: offer() });
    expect(getHeader(await b.request("INVITE"), "P-Asserted-Identity")).toBe("<sip:alice@cpm.test>");

    // The same user on another connection, without credentials: challenged (UAS: 401, not 407).
    const other = await fx.ua(s, "alice", "tcp", false);
    const invite = other.invite(b.aor, { body: offer() });
    const r = await other.final("INVITE");
    expect(r.status).toBe(401);
    const challenge = parseDigestChallenge(getHeader(r, "WWW-Authenticate")!)!;
    // Answered with alice's credentials the INVITE is routed; with bob's password it is refused.
    const send = (password: string, cseq: number) => {
      const creds = buildDigestCredentials({ challenge, username: "alice", password, method: "INVITE", uri: invite.uri, cnonce: `c${cseq}` })!;
      other.invite(b.aor, { body: offer(), headers: [["Authorization", formatDigestCredentials(creds)]] });
    };
    send("wrong", 2);
    expect((await other.final("INVITE")).status).toBe(403);
    send("alice-pw", 3);
    expect((await b.request("INVITE")).method).toBe("INVITE");
  });
});
