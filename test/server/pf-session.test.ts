/**
 * The PF as B2BUA for 1-1 CPM sessions, over real sockets: signalling on both legs, MSRP anchored
 * at the PF and relayed chunk by chunk, and closing from either side.
 */
import { describe, expect, it } from "vitest";
import { getHeader, getHeaderLines, getTag } from "../../src/protocol/sip/headers.js";
import { establish, pfFixtures } from "./support/pf-fixtures.js";
import { sdpFromBody } from "../../src/protocol/sdp/body.js";
import { header, MsrpPeer } from "./support/msrp-peer.js";
import { clientOffer, cseqMethod, msrpMediaOf, SESSION_ICSI } from "./support/sip-ua.js";

const fx = pfFixtures();

const CPIM = (text: string) =>
  `From: <sip:alice@cpm.test>\r\nTo: <sip:bob@cpm.test>\r\nDateTime: 2026-01-01T00:00:00Z\r\n\r\nContent-Type: text/plain\r\n\r\n${text}`;

describe("session set-up", () => {
  it("A calls B: B gets the PF's INVITE and offer, A gets 180 and a 200 with the PF's answer, both legs are ACKed", async () => {
    const s = await fx.server();
    const a = await fx.ua(s, "alice");
    const b = await fx.ua(s, "bob");
    const e = await establish(fx, s, a, b);

    // Terminating leg: a new dialog, the caller's asserted identity, CPM headers carried across.
    const bi = e.bInvite;
    expect(bi.uri).toBe(b.contactUri);
    expect(getHeader(bi, "Call-ID")).not.toBe(getHeader(e.invite, "Call-ID"));
    expect(getHeader(bi, "From")).toMatch(/^<sip:alice@cpm\.test>;tag=/);
    expect(getTag(bi, "From")).not.toBe(getTag(e.invite, "From"));
    expect(getHeader(bi, "To")).toBe("<sip:bob@cpm.test>");
    expect(getHeader(bi, "P-Asserted-Identity")).toBe("<sip:alice@cpm.test>");
    expect(getHeader(bi, "P-Asserted-Service")).toBe(SESSION_ICSI);
    for (const h of ["Contribution-ID", "Conversation-ID", "Accept-Contact"]) expect(getHeader(bi, h)).toBe(getHeader(e.invite, h));
    expect(getHeader(bi, "User-Agent")).toBe("CPM-serv/OMA1.0");
    expect(getHeader(bi, "Contact")).toMatch(/^<sip:pf@127\.0\.0\.1:\d+;transport=tcp>;\+g\.3gpp\.icsi-ref=/);
    expect(getHeader(bi, "Contact")).not.toContain("+sip.instance");
    expect(getHeaderLines(bi, "Via")).toHaveLength(1);

    // MSRP is anchored: each client sees a PF path (passive, on the PF's MSRP listener), not the other client's.
    const offerToB = msrpMediaOf(bi.body);
    expect(offerToB.setup).toBe("passive");
    expect(offerToB.pathUris[0]).toMatchObject({ host: "127.0.0.1", port: s.msrpAddress.port });
    expect(offerToB.acceptTypes).toEqual(["message/cpim", "application/im-iscomposing+xml"]);
    const answerToA = msrpMediaOf(e.ok.body);
    expect(answerToA.setup).toBe("passive");
    expect(answerToA.pathUris[0]).toMatchObject({ host: "127.0.0.1", port: s.msrpAddress.port });
    expect(e.pfPathA).not.toEqual(e.pfPathB);

    // The caller heard the ringing, on the PF's dialog (same To-tag as the 200).
    const ringing = a.received.find((m) => m.kind === "response" && m.status === 180);
    expect(ringing && getTag(ringing, "To")).toBe(getTag(e.ok, "To"));
    // The PF ACKed the callee's 200 itself.
    const ack = await b.request("ACK");
    expect(getHeader(ack, "Call-ID")).toBe(getHeader(bi, "Call-ID"));
    expect(getHeader(ack, "CSeq")).toBe("1 ACK");
    expect(getTag(ack, "To")).toBe(e.bTag);

    expect(s.stats().pf).toMatchObject({ sessionsActive: 1, sessionsStarted: 1, sessionsEstablished: 1 });
  });

  it("a CPIM message from A reaches B byte for byte (new tid, B-leg paths, hop-by-hop 200s), and B's reply reaches A", async () => {
    const s = await fx.server();
    const a = await fx.ua(s, "alice");
    const b = await fx.ua(s, "bob");
    const e = await establish(fx, s, a, b);

    const body = CPIM("hello bob");
    const sent = e.aMsrp.sendChunk(e.pfPathA, { body, contentType: "message/cpim", messageId: "msg-a-1" });
    const hop = await e.aMsrp.response(sent.tid);
    expect(hop.status).toBe(200);
    const got = await e.bMsrp.request("SEND");
    expect(got.body.toString()).toBe(body);
    expect(got.tid).not.toBe(sent.tid);
    expect(header(got, "To-Path")).toBe(e.bMsrp.uri);
    expect(header(got, "From-Path")).toBe(e.pfPathB[0]);
    expect(header(got, "Message-ID")).toBe("msg-a-1");
    expect(header(got, "Byte-Range")).toBe(`1-${Buffer.byteLength(body)}/${Buffer.byteLength(body)}`);
    expect(header(got, "Content-Type")).toBe("message/cpim");
    expect(got.flag).toBe("$");
    e.bMsrp.ok(got);

    const reply = e.bMsrp.sendChunk(e.pfPathB, { body: CPIM("hi alice"), contentType: "message/cpim", messageId: "msg-b-1" });
    expect((await e.bMsrp.response(reply.tid)).status).toBe(200);
    const back = await e.aMsrp.request("SEND");
    expect(back.body.toString()).toBe(CPIM("hi alice"));
    expect(header(back, "To-Path")).toBe(e.aMsrp.uri);
    expect(header(back, "From-Path")).toBe(e.pfPathA[0]);
    e.aMsrp.ok(back);

    // The empty binding SENDs were answered at the PF, not passed on: only the two messages were relayed.
    const st = s.stats().pf;
    expect(st.msrpChunksRelayed).toBe(2);
    expect(st.msrpBytesRelayed).toBe(Buffer.byteLength(body) + Buffer.byteLength(CPIM("hi alice")));
  });

  it("a success REPORT asked for by A travels end to end from B back to A", async () => {
    const s = await fx.server();
    const a = await fx.ua(s, "alice");
    const b = await fx.ua(s, "bob");
    const e = await establish(fx, s, a, b);
    const sent = e.aMsrp.sendChunk(e.pfPathA, {
      body: "x",
      contentType: "message/cpim",
      messageId: "msg-rep",
      extra: [["Success-Report", "yes"]],
    });
    await e.aMsrp.response(sent.tid);
    const got = await e.bMsrp.request("SEND");
    expect(header(got, "Success-Report")).toBe("yes");
    e.bMsrp.ok(got);
    e.bMsrp.send({
      kind: "request",
      tid: "report1234",
      method: "REPORT",
      headers: [
        ["To-Path", e.pfPathB[0]!],
        ["From-Path", e.bMsrp.uri],
        ["Message-ID", "msg-rep"],
        ["Byte-Range", "1-1/1"],
        ["Status", "000 200 OK"],
      ],
      body: Buffer.alloc(0),
      flag: "$",
    });
    const report = await e.aMsrp.request("REPORT");
    expect(header(report, "Message-ID")).toBe("msg-rep");
    expect(header(report, "Status")).toBe("000 200 OK");
    expect(header(report, "To-Path")).toBe(e.aMsrp.uri);
    expect(s.stats().pf.msrpReportsRelayed).toBe(1);
  });
});

describe("multipart offers", () => {
  it("an INVITE with SDP and a first CPIM message (multipart/mixed): B gets both parts, with the PF's SDP in place of A's", async () => {
    const s = await fx.server();
    const a = await fx.ua(s, "alice");
    const b = await fx.ua(s, "bob");
    const sdp = clientOffer(MsrpPeer.planned().path);
    const cpim = CPIM("first message");
    const body = `--bnd\r\nContent-Type: application/sdp\r\n\r\n${sdp}\r\n--bnd\r\nContent-Type: message/cpim\r\n\r\n${cpim}\r\n--bnd--\r\n`;
    a.invite(b.aor, { body, contentType: "multipart/mixed;boundary=bnd" });
    const bi = await b.request("INVITE");
    expect(getHeader(bi, "Content-Type")).toBe("multipart/mixed;boundary=bnd");
    const text = bi.body.toString();
    expect(text).toContain(`Content-Type: message/cpim\r\n\r\n${cpim}\r\n--bnd--`);
    const pfSdp = sdpFromBody(text)!;
    expect(msrpMediaOf(pfSdp).pathUris[0]).toMatchObject({ port: s.msrpAddress.port });
    expect(pfSdp).not.toBe(sdp);
  });
});

describe("closing (§7.4.3)", () => {
  it("BYE from A: A gets 200, B gets the PF's BYE, both MSRP legs close at the PF", async () => {
    const s = await fx.server();
    const a = await fx.ua(s, "alice");
    const b = await fx.ua(s, "bob");
    const e = await establish(fx, s, a, b);
    a.sendInDialog(e.aDialog, "BYE");
    expect((await a.final("BYE")).status).toBe(200);
    const bye = await b.request("BYE");
    expect(getHeader(bye, "Call-ID")).toBe(e.bDialog.callId);
    expect(getTag(bye, "To")).toBe(e.bTag);
    expect(bye.uri).toBe(b.contactUri);
    b.respond(bye, 200);
    // The PF forgot the session: a message on either leg now gets 481.
    const late = e.aMsrp.sendChunk(e.pfPathA, { body: "late", contentType: "message/cpim" });
    expect((await e.aMsrp.response(late.tid)).status).toBe(481);
    expect(s.stats().pf).toMatchObject({ sessionsActive: 0, sessionsEnded: 1, msrpSessions: 0 });
  });

  it("BYE from B: B gets 200, A gets the PF's BYE on A's dialog", async () => {
    const s = await fx.server();
    const a = await fx.ua(s, "alice");
    const b = await fx.ua(s, "bob");
    const e = await establish(fx, s, a, b);
    b.sendInDialog(e.bDialog, "BYE");
    expect((await b.final("BYE")).status).toBe(200);
    const bye = await a.request("BYE");
    expect(getHeader(bye, "Call-ID")).toBe(e.aDialog.callId);
    expect(getTag(bye, "From")).toBe(getTag(e.ok, "To"));
    expect(bye.uri).toBe(a.contactUri);
    a.respond(bye, 200);
    expect(s.stats().pf).toMatchObject({ sessionsActive: 0, sessionsEnded: 1 });
  });

  it("a BYE (or any request) for a dialog the PF does not know → 481", async () => {
    const s = await fx.server();
    const a = await fx.ua(s, "alice");
    a.sendInDialog({ callId: "nope", local: "<sip:alice@cpm.test>;tag=x", remote: "<sip:bob@cpm.test>;tag=y", remoteTarget: "sip:bob@cpm.test", cseq: 1 }, "BYE");
    expect((await a.final("BYE")).status).toBe(481);
    a.sendInDialog({ callId: "nope", local: "<sip:alice@cpm.test>;tag=x", remote: "<sip:bob@cpm.test>;tag=y", remoteTarget: "sip:bob@cpm.test", cseq: 2 }, "INFO");
    expect((await a.final("INFO")).status).toBe(481);
  });

  it("INFO inside a session passes through to the other leg and its answer comes back", async () => {
    const s = await fx.server();
    const a = await fx.ua(s, "alice");
    const b = await fx.ua(s, "bob");
    const e = await establish(fx, s, a, b);
    a.sendInDialog(e.aDialog, "INFO", [["Content-Type", "text/plain"]], "ping");
    const info = await b.request("INFO");
    expect(info.body.toString()).toBe("ping");
    expect(getHeader(info, "Call-ID")).toBe(e.bDialog.callId);
    b.respond(info, 200, { headers: [["X-Answer", "pong"]] });
    const r = await a.final("INFO");
    expect(r.status).toBe(200);
    expect(getHeader(r, "X-Answer")).toBe("pong");
    expect(cseqMethod(r)).toBe("INFO");
  });

  it("the far leg answers a pass-through with 481: the PF ends the session on both legs", async () => {
    const s = await fx.server();
    const a = await fx.ua(s, "alice");
    const b = await fx.ua(s, "bob");
    const e = await establish(fx, s, a, b);
    a.sendInDialog(e.aDialog, "INFO", [["Content-Type", "text/plain"]], "ping");
    b.respond(await b.request("INFO"), 481);
    expect((await a.final("INFO")).status).toBe(481);
    await a.request("BYE");
    await b.request("BYE");
    expect(s.stats().pf).toMatchObject({ sessionsActive: 0, sessionsFailed: { "dialog-gone": 1 } });
  });

  it("a client whose MSRP connection drops and who does not re-INVITE: the session ends after the connect timeout", async () => {
    const s = await fx.server({ msrpConnectTimeoutMs: 200 });
    const a = await fx.ua(s, "alice");
    const b = await fx.ua(s, "bob");
    const e = await establish(fx, s, a, b);
    e.bMsrp.destroy();
    const byeA = await a.request("BYE");
    expect(getHeader(byeA, "Reason")).toContain("MSRP");
    await b.request("BYE");
    expect(s.stats().pf).toMatchObject({ sessionsActive: 0, sessionsFailed: { "msrp-connect-timeout": 1 } });
  });
});
