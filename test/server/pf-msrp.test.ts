/**
 * MSRP anchored at the PF: large messages (§7.3.2) streamed chunk by chunk, chunks that arrive
 * before the other client connected, downstream refusals, and malformed MSRP on the PF's socket.
 */
import { describe, expect, it } from "vitest";
import { createMsrpEndpoint, type MsrpEndpoint } from "../../src/protocol/msrp/endpoint.js";
import type { MsrpIncomingMessage } from "../../src/protocol/msrp/session.js";
import { getHeader } from "../../src/protocol/sip/headers.js";
import { header, MsrpPeer } from "./support/msrp-peer.js";
import { establish, pfFixtures } from "./support/pf-fixtures.js";
import { clientAnswer, clientOffer, LARGEMSG_ICSI, msrpMediaOf } from "./support/sip-ua.js";

const fx = pfFixtures();

async function clientEndpoint(): Promise<MsrpEndpoint> {
  const e = await createMsrpEndpoint({ listen: false });
  fx.defer(() => e.close());
  return e;
}

/** Deterministic pseudo-random bytes: a mismatch is real corruption, not a repeating fill. */
function pseudoRandom(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

describe("large message (§7.3.2)", () => {
  it("a 5 MB CPIM message over a largemsg session reaches B identical, before the PF's BYE", async () => {
    const s = await fx.server();
    const a = await fx.ua(s, "alice");
    const b = await fx.ua(s, "bob");
    const ea = await clientEndpoint();
    const eb = await clientEndpoint();
    const aSession = ea.createSession({ setup: "active" });
    const bSession = eb.createSession({ setup: "active" });

    const invite = a.invite(b.aor, { body: clientOffer(aSession.localPath, { direction: "sendonly" }), icsi: LARGEMSG_ICSI });
    const bi = await b.request("INVITE");
    expect(getHeader(bi, "P-Asserted-Service")).toBe(LARGEMSG_ICSI);
    const toB = msrpMediaOf(bi.body);
    expect(toB.direction).toBe("sendonly");
    b.respond(bi, 200, { toTag: "lm", body: clientAnswer(bi.body, bSession.localPath, "recvonly") });
    const ok = await a.final("INVITE");
    expect(msrpMediaOf(ok.body).direction).toBe("recvonly");
    const aDialog = a.ack2xx(invite, ok);

    await Promise.all([aSession.connect(msrpMediaOf(ok.body).path), bSession.connect(toB.path)]);
    let received: MsrpIncomingMessage | null = null;
    bSession.on("message", (m) => (received = m));

    const body = pseudoRandom(5 * 1024 * 1024);
    const result = await aSession.send(body, { contentType: "message/cpim", chunkSize: 64 * 1024 });
    expect(result).toMatchObject({ ok: true, chunks: 80, bytes: body.length });
    a.sendInDialog(aDialog, "BYE");
    const bye = await b.request("BYE", 10_000);
    // The PF held its BYE until B had answered every chunk it passed on.
    expect(received).not.toBeNull();
    expect(received!.body.equals(body)).toBe(true);
    expect(received!.chunks).toBe(80);
    b.respond(bye, 200);
    expect((await a.final("BYE")).status).toBe(200);
    expect(s.stats().pf).toMatchObject({ msrpChunksRelayed: 80, msrpBytesRelayed: body.length, msrpFailedChunks: 0 });
  });
});

describe("relay", () => {
  it("a message A sends before B connected its leg waits at the PF and is delivered once B binds", async () => {
    const s = await fx.server();
    const a = await fx.ua(s, "alice");
    const b = await fx.ua(s, "bob");
    const aPlan = MsrpPeer.planned();
    const bPlan = MsrpPeer.planned();
    const invite = a.invite(b.aor, { body: clientOffer(aPlan.path) });
    const bi = await b.request("INVITE");
    b.respond(bi, 200, { toTag: "w", body: clientAnswer(bi.body, bPlan.path) });
    const ok = await a.final("INVITE");
    a.ack2xx(invite, ok);
    const pfA = msrpMediaOf(ok.body).path;
    const aMsrp = await fx.msrp(s, aPlan.sessionId);
    await aMsrp.bind(pfA);
    const early = aMsrp.sendChunk(pfA, { body: "early bird", contentType: "message/cpim" });
    expect((await aMsrp.response(early.tid)).status).toBe(200);
    const bMsrp = await fx.msrp(s, bPlan.sessionId);
    await bMsrp.bind(msrpMediaOf(bi.body).path);
    expect((await bMsrp.request("SEND")).body.toString()).toBe("early bird");
  });

  it("B refuses a chunk with 413: A gets a failure REPORT and the rest of that message is refused at the PF", async () => {
    const s = await fx.server();
    const a = await fx.ua(s, "alice");
    const b = await fx.ua(s, "bob");
    const e = await establish(fx, s, a, b);
    const first = e.aMsrp.sendChunk(e.pfPathA, { body: "part1", contentType: "message/cpim", messageId: "big", byteRange: "1-5/10", flag: "+" });
    expect((await e.aMsrp.response(first.tid)).status).toBe(200);
    const atB = await e.bMsrp.request("SEND");
    e.bMsrp.send({ kind: "response", tid: atB.tid, status: 413, comment: "Message Too Large", headers: [["To-Path", e.pfPathB[0]!], ["From-Path", e.bMsrp.uri]] });
    const report = await e.aMsrp.request("REPORT");
    expect(header(report, "Message-ID")).toBe("big");
    expect(header(report, "Status")).toMatch(/^000 413/);
    const second = e.aMsrp.sendChunk(e.pfPathA, { body: "part2", contentType: "message/cpim", messageId: "big", byteRange: "6-10/10" });
    expect((await e.aMsrp.response(second.tid)).status).toBe(413);
    expect(s.stats().pf.msrpFailedChunks).toBe(1);
  });
});

describe("cut-through relay", () => {
  function chunkWire(tid: string, toPath: readonly string[], from: string, body: Buffer): Buffer {
    return Buffer.concat([
      Buffer.from(
        `MSRP ${tid} SEND\r\nTo-Path: ${toPath[0]}\r\nFrom-Path: ${from}\r\nMessage-ID: ${tid}-m\r\n` +
          `Byte-Range: 1-${body.length}/${body.length}\r\nContent-Type: message/cpim\r\n\r\n`,
      ),
      body,
      Buffer.from(`\r\n-------${tid}$\r\n`),
    ]);
  }

  async function waitFor(cond: () => boolean): Promise<void> {
    for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
    expect(cond()).toBe(true);
  }

  it("a chunk still arriving at the PF is passed on to B as it comes; A's 200 follows its end-line", async () => {
    const s = await fx.server();
    const a = await fx.ua(s, "alice");
    const b = await fx.ua(s, "bob");
    const e = await establish(fx, s, a, b);
    const body = pseudoRandom(400_000);
    const wire = chunkWire("cutThruPf1", e.pfPathA, e.aMsrp.uri, body);
    e.aMsrp.sendRaw(wire.subarray(0, 250_000));
    // Bytes of the chunk went on to B before its end-line was even sent.
    await waitFor(() => s.stats().pf.msrpBytesRelayed >= 200_000);
    expect(e.aMsrp.frames.filter((f) => f.ok && f.message.kind === "response" && f.message.tid === "cutThruPf1")).toHaveLength(0);
    e.aMsrp.sendRaw(wire.subarray(250_000));
    const atB = await e.bMsrp.request("SEND");
    expect(atB.body.equals(body)).toBe(true);
    expect(atB.flag).toBe("$");
    expect(atB.tid).not.toBe("cutThruPf1");
    expect(header(atB, "To-Path")).toBe(e.bMsrp.uri);
    expect(header(atB, "From-Path")).toBe(e.pfPathB[0]);
    expect(header(atB, "Message-ID")).toBe("cutThruPf1-m");
    expect(header(atB, "Byte-Range")).toBe(`1-${body.length}/${body.length}`);
    expect((await e.aMsrp.response("cutThruPf1")).status).toBe(200);
    e.bMsrp.ok(atB);
    expect(s.stats().pf).toMatchObject({ msrpChunksRelayed: 1, msrpBytesRelayed: body.length, msrpFailedChunks: 0 });
  });

  it("A's connection dropping mid-chunk ends the chunk at B aborted (#) with the bytes passed on so far", async () => {
    const s = await fx.server();
    const a = await fx.ua(s, "alice");
    const b = await fx.ua(s, "bob");
    const e = await establish(fx, s, a, b);
    const body = pseudoRandom(400_000);
    e.aMsrp.sendRaw(chunkWire("cutThruPf2", e.pfPathA, e.aMsrp.uri, body).subarray(0, 250_000));
    await waitFor(() => s.stats().pf.msrpBytesRelayed >= 200_000);
    e.aMsrp.destroy();
    const atB = await e.bMsrp.request("SEND");
    expect(atB.flag).toBe("#");
    expect(body.subarray(0, atB.body.length).equals(atB.body)).toBe(true);
    expect(atB.body.length).toBe(s.stats().pf.msrpBytesRelayed);
  });
});

describe("malformed MSRP on the PF's socket", () => {
  it("a message with a readable tid gets 400 and the connection goes on; garbage closes only its own connection", async () => {
    const s = await fx.server();
    const a = await fx.ua(s, "alice");
    const b = await fx.ua(s, "bob");
    const e = await establish(fx, s, a, b);

    e.aMsrp.sendRaw(`MSRP badrange1 SEND\r\nTo-Path: ${e.pfPathA[0]}\r\nFrom-Path: ${e.aMsrp.uri}\r\nMessage-ID: m1\r\nByte-Range: oops\r\nContent-Type: text/plain\r\n\r\nhi\r\n-------badrange1$\r\n`);
    const bad = await e.aMsrp.response("badrange1");
    expect(bad.status).toBe(400);

    const intruder = await fx.msrp(s, "intruder");
    intruder.sendRaw("HELLO WORLD\r\n\r\n");
    await intruder.waitClosed();

    // The session on the same PF socket layer carries on in both directions.
    const sent = e.aMsrp.sendChunk(e.pfPathA, { body: "still fine", contentType: "message/cpim" });
    expect((await e.aMsrp.response(sent.tid)).status).toBe(200);
    expect((await e.bMsrp.request("SEND")).body.toString()).toBe("still fine");
    expect(s.stats().pf.msrpBadFrames).toBeGreaterThanOrEqual(2);
  });

  it("a binding SEND for a session the PF does not know → 481, from a path other than the negotiated one → 403", async () => {
    const s = await fx.server();
    const a = await fx.ua(s, "alice");
    const b = await fx.ua(s, "bob");
    const aPlan = MsrpPeer.planned();
    const invite = a.invite(b.aor, { body: clientOffer(aPlan.path) });
    const bi = await b.request("INVITE");
    b.respond(bi, 200, { toTag: "x", body: clientAnswer(bi.body, MsrpPeer.planned().path) });
    const ok = await a.final("INVITE");
    a.ack2xx(invite, ok);
    const stranger = await fx.msrp(s, "stranger1");
    expect((await stranger.bind([`msrp://127.0.0.1:${s.msrpAddress.port}/nosuchsession;tcp`])).status).toBe(481);
    expect((await stranger.bind(msrpMediaOf(ok.body).path)).status).toBe(403);
  });
});
