/**
 * Modifying sessions through the PF (§7.4.4): re-INVITE and UPDATE pass-through with the SDP
 * re-anchored, a new MSRP path after a dropped connection, glare, refusals, session timers, and
 * the 2xx/ACK handshake over UDP.
 */
import { describe, expect, it } from "vitest";
import { getHeader, getTag } from "../../src/protocol/sip/headers.js";
import { MsrpPeer } from "./support/msrp-peer.js";
import { establish, pfFixtures } from "./support/pf-fixtures.js";
import { clientAnswer, clientOffer, cseqMethod, msrpMediaOf } from "./support/sip-ua.js";

const fx = pfFixtures();

describe("re-INVITE", () => {
  it("A re-INVITEs with a new MSRP path (its connection dropped): B sees the PF's unchanged path, A gets a new PF path, messages flow again", async () => {
    const s = await fx.server();
    const a = await fx.ua(s, "alice");
    const b = await fx.ua(s, "bob");
    const e = await establish(fx, s, a, b);
    e.aMsrp.destroy();

    const fresh = MsrpPeer.planned();
    a.sendInDialog(e.aDialog, "INVITE", [], clientOffer(fresh.path));
    const re = await b.request("INVITE");
    expect(getHeader(re, "Call-ID")).toBe(e.bDialog.callId);
    expect(getTag(re, "To")).toBe(e.bTag);
    expect(getHeader(re, "CSeq")).toBe("2 INVITE");
    expect(msrpMediaOf(re.body).path).toEqual(e.pfPathB);
    b.respond(re, 200, { body: clientAnswer(re.body, [e.bMsrp.uri]) });
    await b.next((m) => m.kind === "request" && m.method === "ACK" && getHeader(m, "CSeq") === "2 ACK", "ACK of the re-INVITE");

    const ok = await a.final("INVITE");
    expect(ok.status).toBe(200);
    const newPath = msrpMediaOf(ok.body).path;
    expect(newPath).not.toEqual(e.pfPathA);
    a.send(a.inDialog(e.aDialog, "ACK", [], Buffer.alloc(0), e.aDialog.cseq));

    const aMsrp = await fx.msrp(s, fresh.sessionId);
    expect((await aMsrp.bind(newPath)).status).toBe(200);
    const sent = aMsrp.sendChunk(newPath, { body: "after the reconnect", contentType: "message/cpim" });
    expect((await aMsrp.response(sent.tid)).status).toBe(200);
    expect((await e.bMsrp.request("SEND")).body.toString()).toBe("after the reconnect");
    expect(s.stats().pf).toMatchObject({ modifications: 1, reanchored: 1, sessionsActive: 1 });
  });

  it("a refresh re-INVITE with the same path changes nothing: same PF paths on both legs, MSRP untouched", async () => {
    const s = await fx.server();
    const a = await fx.ua(s, "alice");
    const b = await fx.ua(s, "bob");
    const e = await establish(fx, s, a, b);
    a.sendInDialog(e.aDialog, "INVITE", [], clientOffer([e.aMsrp.uri]));
    const re = await b.request("INVITE");
    expect(msrpMediaOf(re.body).path).toEqual(e.pfPathB);
    b.respond(re, 200, { body: clientAnswer(re.body, [e.bMsrp.uri]) });
    const ok = await a.final("INVITE");
    expect(msrpMediaOf(ok.body).path).toEqual(e.pfPathA);
    const sent = e.aMsrp.sendChunk(e.pfPathA, { body: "still here", contentType: "message/cpim" });
    expect((await e.aMsrp.response(sent.tid)).status).toBe(200);
    expect((await e.bMsrp.request("SEND")).body.toString()).toBe("still here");
    expect(s.stats().pf).toMatchObject({ modifications: 1, reanchored: 0 });
  });

  it("B refuses the re-INVITE with 488: A gets 488 and the session goes on", async () => {
    const s = await fx.server();
    const a = await fx.ua(s, "alice");
    const b = await fx.ua(s, "bob");
    const e = await establish(fx, s, a, b);
    a.sendInDialog(e.aDialog, "INVITE", [], clientOffer(MsrpPeer.planned().path));
    const re = await b.request("INVITE");
    b.respond(re, 488);
    expect((await a.final("INVITE")).status).toBe(488);
    // The old legs still relay (the prepared replacement was dropped).
    const sent = e.aMsrp.sendChunk(e.pfPathA, { body: "unchanged", contentType: "message/cpim" });
    expect((await e.aMsrp.response(sent.tid)).status).toBe(200);
    expect((await e.bMsrp.request("SEND")).body.toString()).toBe("unchanged");
  });

  it("an unusable offer in a re-INVITE → 488 from the PF; B is not asked", async () => {
    const s = await fx.server();
    const a = await fx.ua(s, "alice");
    const b = await fx.ua(s, "bob");
    const e = await establish(fx, s, a, b);
    a.sendInDialog(e.aDialog, "INVITE", [], "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 1 RTP/AVP 0\r\n");
    expect((await a.final("INVITE")).status).toBe(488);
    expect(b.pending((m) => m.kind === "request" && m.method === "INVITE")).toHaveLength(0);
  });

  it("glare: an offer from A while B's re-INVITE is still open → 491; B's re-INVITE completes", async () => {
    const s = await fx.server();
    const a = await fx.ua(s, "alice");
    const b = await fx.ua(s, "bob");
    const e = await establish(fx, s, a, b);
    b.sendInDialog(e.bDialog, "INVITE", [], clientOffer([e.bMsrp.uri]));
    const atA = await a.request("INVITE");
    expect(getHeader(atA, "Call-ID")).toBe(e.aDialog.callId);
    a.sendInDialog(e.aDialog, "INVITE", [], clientOffer([e.aMsrp.uri]));
    const glare = await a.final("INVITE");
    expect([glare.status, glare.reason]).toEqual([491, "Request Pending"]);
    a.respond(atA, 200, { body: clientAnswer(atA.body, [e.aMsrp.uri]) });
    const ok = await b.final("INVITE");
    expect(ok.status).toBe(200);
    expect(msrpMediaOf(ok.body).path).toEqual(e.pfPathB);
  });

  it("an offer-less re-INVITE is answered by the PF with its unchanged offer", async () => {
    const s = await fx.server();
    const a = await fx.ua(s, "alice");
    const b = await fx.ua(s, "bob");
    const e = await establish(fx, s, a, b);
    a.sendInDialog(e.aDialog, "INVITE", [["Contact", a.contact()]]);
    const ok = await a.final("INVITE");
    expect(ok.status).toBe(200);
    expect(msrpMediaOf(ok.body)).toMatchObject({ path: e.pfPathA, setup: "passive" });
    expect(b.pending((m) => m.kind === "request" && m.method === "INVITE")).toHaveLength(0);
  });

  it("UPDATE without SDP (a session refresh) passes through with its Session-Expires", async () => {
    const s = await fx.server();
    const a = await fx.ua(s, "alice");
    const b = await fx.ua(s, "bob");
    const e = await establish(fx, s, a, b);
    a.sendInDialog(e.aDialog, "UPDATE", [["Session-Expires", "1800;refresher=uac"]]);
    const up = await b.request("UPDATE");
    expect(getHeader(up, "Session-Expires")).toBe("1800;refresher=uac");
    b.respond(up, 200, { headers: [["Session-Expires", "1800;refresher=uac"]] });
    const r = await a.final("UPDATE");
    expect(r.status).toBe(200);
    expect(getHeader(r, "Session-Expires")).toBe("1800;refresher=uac");
  });
});

describe("session timers (RFC 4028)", () => {
  it("the 2xx tells the caller to refresh (Session-Expires with refresher=uac, Require: timer)", async () => {
    const s = await fx.server();
    const a = await fx.ua(s, "alice");
    const b = await fx.ua(s, "bob");
    const invite = a.invite(b.aor, { body: clientOffer(MsrpPeer.planned().path), headers: [["Session-Expires", "600"]] });
    const bi = await b.request("INVITE");
    expect(getHeader(bi, "Session-Expires")).toBe("600");
    expect(getHeader(bi, "Min-SE")).toBe("90");
    b.respond(bi, 200, { toTag: "t", body: clientAnswer(bi.body, MsrpPeer.planned().path) });
    const ok = await a.final("INVITE");
    expect(getHeader(ok, "Session-Expires")).toBe("600;refresher=uac");
    expect(getHeader(ok, "Require")).toBe("timer");
    a.ack2xx(invite, ok);
  });

  it("a session nobody refreshes is ended with BYE on both legs once it expired", async () => {
    const s = await fx.server({ minSessionExpires: 1 });
    const a = await fx.ua(s, "alice");
    const b = await fx.ua(s, "bob");
    const invite = a.invite(b.aor, { body: clientOffer(MsrpPeer.planned().path), headers: [["Session-Expires", "1"]] });
    const bi = await b.request("INVITE");
    b.respond(bi, 200, { toTag: "exp", body: clientAnswer(bi.body, MsrpPeer.planned().path) });
    a.ack2xx(invite, await a.final("INVITE"));
    const byeA = await a.request("BYE", 5000);
    const byeB = await b.request("BYE", 5000);
    expect(getHeader(byeA, "Reason")).toContain("Session expired");
    expect(getTag(byeB, "To")).toBe("exp");
    expect(s.stats().pf.sessionsFailed).toMatchObject({ "session-expired": 1 });
  });
});

describe("2xx and ACK over UDP", () => {
  it("the 200 to a UDP caller is retransmitted until its ACK; without ACK the session ends (64·T1)", async () => {
    const s = await fx.server({ sipT1Ms: 10 });
    const a = await fx.ua(s, "alice", "udp");
    const b = await fx.ua(s, "bob", "udp");
    a.invite(b.aor, { body: clientOffer(MsrpPeer.planned().path) });
    const bi = await b.request("INVITE");
    b.respond(bi, 200, { toTag: "u", body: clientAnswer(bi.body, MsrpPeer.planned().path) });
    const byeA = await a.request("BYE", 5000);
    const oks = a.received.filter((m) => m.kind === "response" && m.status === 200 && cseqMethod(m) === "INVITE");
    expect(oks.length).toBeGreaterThanOrEqual(3);
    expect(getHeader(byeA, "Call-ID")).toBe(getHeader(oks[0]!, "Call-ID"));
    await b.request("BYE");
    expect(s.stats().pf.sessionsFailed).toMatchObject({ "ack-timeout": 1 });
  });

  it("an ACKed 200 over UDP is not retransmitted and the session stays", async () => {
    const s = await fx.server({ sipT1Ms: 10 });
    const a = await fx.ua(s, "alice", "udp");
    const b = await fx.ua(s, "bob", "udp");
    const invite = a.invite(b.aor, { body: clientOffer(MsrpPeer.planned().path) });
    const bi = await b.request("INVITE");
    b.respond(bi, 200, { toTag: "u2", body: clientAnswer(bi.body, MsrpPeer.planned().path) });
    a.ack2xx(invite, await a.final("INVITE"));
    await new Promise((r) => setTimeout(r, 300));
    expect(a.received.filter((m) => m.kind === "response" && m.status === 200 && cseqMethod(m) === "INVITE")).toHaveLength(1);
    expect(a.pending((m) => m.kind === "request" && m.method === "BYE")).toHaveLength(0);
  });
});
