/**
 * The MSRP SessionDescriptionHandler between two real MSRP endpoints on 127.0.0.1: one handler
 * offers, the other answers (what SIP.js does with them on INVITE / 200 / ACK and re-INVITE), the
 * MSRP leg binds over a real TCP connection, and CPIM messages go both ways. No SIP signalling:
 * the handlers' calls are made in the order SIP.js makes them.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Session } from "sip.js/lib/api/session.js";
import { SessionDescriptionHandlerError } from "sip.js/lib/api/exceptions/session-description-handler.js";
import {
  checkMsrpOffer,
  createMsrpSessionDescriptionHandlerFactory,
  msrpSdhOf,
} from "../../src/client/msrp-sdh-factory.js";
import { type MsrpSdhCallOptions, MsrpSessionDescriptionHandler } from "../../src/client/msrp-sdh.js";
import { createCpimMessage, getCpimHeader, parseCpim, serializeCpim } from "../../src/protocol/cpim/index.js";
import {
  createMsrpEndpoint,
  type MsrpEndpoint,
  type MsrpIncomingMessage,
  type MsrpSession,
  MsrpSessionError,
} from "../../src/protocol/msrp/index.js";
import { extractMsrpMedia, MsrpSdpError, type MsrpMedia } from "../../src/protocol/sdp/index.js";

const endpoints: MsrpEndpoint[] = [];
afterEach(async () => {
  await Promise.all(endpoints.splice(0).map((e) => e.close()));
});

async function endpoint(): Promise<MsrpEndpoint> {
  const e = await createMsrpEndpoint({ host: "127.0.0.1", port: 0 });
  endpoints.push(e);
  return e;
}

/** INVITE with an offer → 200 with the answer → ACK, as SIP.js drives the two handlers. */
async function negotiate(
  offerer: MsrpSessionDescriptionHandler,
  answerer: MsrpSessionDescriptionHandler,
  offerOptions?: MsrpSdhCallOptions,
  answerOptions?: MsrpSdhCallOptions,
): Promise<{ offer: string; answer: string }> {
  const offer = await offerer.getDescription(offerOptions);
  expect(offer.contentType).toBe("application/sdp");
  await answerer.setDescription(offer.body, answerOptions);
  const answer = await answerer.getDescription(answerOptions);
  await offerer.setDescription(answer.body, offerOptions);
  return { offer: offer.body, answer: answer.body };
}

function media(sdp: string): MsrpMedia {
  const r = extractMsrpMedia(sdp);
  if (!r.ok) throw r.error;
  return r.media;
}

function nextMessage(session: MsrpSession): Promise<MsrpIncomingMessage> {
  return new Promise((resolve) => session.once("message", resolve));
}

/** Sends one CPIM text message from `from` to `to` and returns what `to` parsed out of it. */
async function exchange(from: MsrpSessionDescriptionHandler, to: MsrpSessionDescriptionHandler, text: string) {
  const sender = from.msrpSession!;
  const receiver = to.msrpSession!;
  const got = nextMessage(receiver);
  const cpim = createCpimMessage({
    from: "sip:alice@cpm.example",
    to: "sip:bob@cpm.example",
    imdn: { messageId: `id-${text.length}`, notifications: ["positive-delivery"] },
    contentType: "text/plain;charset=UTF-8",
    body: text,
  });
  const sent = await sender.send(serializeCpim(cpim), { contentType: "message/cpim" });
  expect(sent).toMatchObject({ ok: true, status: 200 });
  const m = await got;
  expect(m.contentType).toBe("message/cpim");
  const parsed = parseCpim(m.body);
  if (!parsed.ok) throw parsed.error;
  return parsed.message;
}

function closed(session: MsrpSession): Promise<void> {
  return session.closed ? Promise.resolve() : new Promise((resolve) => session.once("close", () => resolve()));
}

describe("MSRP SDH: offer/answer and the MSRP leg", () => {
  it("the offerer connects (active), the answerer listens (passive), and CPIM flows both ways", async () => {
    const [ea, eb] = [await endpoint(), await endpoint()];
    const alice = new MsrpSessionDescriptionHandler(ea);
    const bob = new MsrpSessionDescriptionHandler(eb);
    const { offer, answer } = await negotiate(alice, bob);

    const o = media(offer);
    expect(o).toMatchObject({ port: 9, setup: "active", direction: "sendrecv", proto: "TCP/MSRP" });
    expect(o.acceptTypes).toEqual(["message/cpim", "application/im-iscomposing+xml"]);
    expect(o.acceptWrappedTypes).toEqual(["text/plain", "message/imdn+xml"]);
    const a = media(answer);
    expect(a).toMatchObject({ port: eb.address.port, setup: "passive", direction: "sendrecv" });
    expect(alice.state).toBe("stable");
    expect(bob.state).toBe("stable");
    // The paths in the SDP are the sessions' own, and each side knows the other's.
    expect(o.path).toEqual(alice.msrpSession!.localPath);
    expect(a.path).toEqual(bob.msrpSession!.localPath);
    expect(alice.remoteMedia!.path).toEqual(a.path);
    expect(bob.remoteMedia!.path).toEqual(o.path);
    expect(alice.msrpSession!.setup).toBe("active");
    expect(bob.msrpSession!.setup).toBe("passive");

    await Promise.all([alice.ready, bob.ready]);
    expect(alice.msrpSession!.isBound && bob.msrpSession!.isBound).toBe(true);
    const atBob = await exchange(alice, bob, "hello bob");
    expect(atBob.body.toString()).toBe("hello bob");
    expect(getCpimHeader(atBob, "From")).toBe("<sip:alice@cpm.example>");
    const atAlice = await exchange(bob, alice, "hello alice, ünïcödé");
    expect(atAlice.body.toString()).toBe("hello alice, ünïcödé");
    alice.close();
    bob.close();
  });

  it("an offer with setup:passive makes the answerer connect", async () => {
    const [ea, eb] = [await endpoint(), await endpoint()];
    const alice = new MsrpSessionDescriptionHandler(ea, { setup: "passive" });
    const bob = new MsrpSessionDescriptionHandler(eb);
    const { offer, answer } = await negotiate(alice, bob);
    expect(media(offer)).toMatchObject({ setup: "passive", port: ea.address.port });
    expect(media(answer)).toMatchObject({ setup: "active", port: 9 });
    await Promise.all([alice.ready, bob.ready]);
    expect(bob.msrpSession!.setup).toBe("active");
    expect((await exchange(alice, bob, "reversed roles")).body.toString()).toBe("reversed roles");
  });

  it("a large-message offer (sendonly, max-size) is answered recvonly and carries a chunked 1 MB message", async () => {
    const [ea, eb] = [await endpoint(), await endpoint()];
    const alice = new MsrpSessionDescriptionHandler(ea, {}, { chunkSize: 16 * 1024 });
    const bob = new MsrpSessionDescriptionHandler(eb);
    const { offer, answer } = await negotiate(alice, bob, { direction: "sendonly", maxSize: 52_428_800, acceptWrappedTypes: ["*"] }, {
      maxSize: 104_857_600,
    });
    expect(media(offer)).toMatchObject({ direction: "sendonly", maxSize: 52_428_800, acceptWrappedTypes: ["*"] });
    expect(media(answer)).toMatchObject({ direction: "recvonly", maxSize: 104_857_600 });
    await alice.ready;
    const body = Buffer.alloc(1024 * 1024, 0x61);
    const got = nextMessage(bob.msrpSession!);
    const cpim = serializeCpim(createCpimMessage({ from: "sip:a@x", to: "sip:b@x", contentType: "application/octet-stream", body }));
    const sent = await alice.msrpSession!.send(cpim, { contentType: "message/cpim" });
    expect(sent).toMatchObject({ ok: true, chunks: Math.ceil(cpim.length / (16 * 1024)) });
    const parsed = parseCpim((await got).body);
    expect(parsed.ok && parsed.message.body.equals(body)).toBe(true);
  });

  it("runs SIP.js description modifiers over the SDP", async () => {
    const [ea, eb] = [await endpoint(), await endpoint()];
    const alice = new MsrpSessionDescriptionHandler(ea);
    const bob = new MsrpSessionDescriptionHandler(eb);
    const addLine = async (d: { type?: string; sdp?: string }) => ({ ...d, sdp: `${d.sdp}a=x-mod:${d.type}\r\n` });
    const offer = await alice.getDescription(undefined, [addLine]);
    expect(offer.body.endsWith("a=x-mod:offer\r\n")).toBe(true);
    await bob.setDescription(offer.body);
    const answer = await bob.getDescription(undefined, [addLine]);
    expect(answer.body.endsWith("a=x-mod:answer\r\n")).toBe(true);
    await alice.setDescription(answer.body);
    await alice.ready;
  });

  it("handles application/sdp and multipart/mixed, and sends no DTMF", async () => {
    const sdh = new MsrpSessionDescriptionHandler(await endpoint());
    expect(sdh.hasDescription("application/sdp")).toBe(true);
    expect(sdh.hasDescription("Application/SDP; charset=utf-8")).toBe(true);
    expect(sdh.hasDescription("multipart/mixed;boundary=x")).toBe(true);
    expect(sdh.hasDescription("message/cpim")).toBe(false);
    expect(sdh.sendDtmf()).toBe(false);
  });

  it("answers an offer inside a multipart/mixed body (SDP + resource list, as group INVITEs carry)", async () => {
    const [ea, eb] = [await endpoint(), await endpoint()];
    const alice = new MsrpSessionDescriptionHandler(ea);
    const bob = new MsrpSessionDescriptionHandler(eb);
    const offer = await alice.getDescription();
    const multipart = [
      "--b1",
      "Content-Type: application/resource-lists+xml",
      "",
      '<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists"/>',
      "--b1",
      "Content-Type: application/sdp",
      "",
      offer.body,
      "--b1--",
      "",
    ].join("\r\n");
    expect(checkMsrpOffer(multipart)).toBeUndefined();
    await bob.setDescription(multipart);
    await alice.setDescription((await bob.getDescription()).body);
    await Promise.all([alice.ready, bob.ready]);
    expect((await exchange(alice, bob, "group-ish")).body.toString()).toBe("group-ish");
  });
});

describe("checkMsrpOffer", () => {
  it("refuses exactly the offers the handler cannot answer, with the same reason", async () => {
    const base = (setup: string, types: string, proto = "TCP/MSRP", extra = "") =>
      `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n${extra}m=message 9 ${proto} *\r\na=accept-types:${types}\r\na=path:msrp://127.0.0.1:9/abc;tcp\r\n${setup === "" ? "" : `a=setup:${setup}\r\n`}`;
    const offers = [
      base("active", "message/cpim"),
      base("passive", "message/cpim"),
      base("actpass", "*"),
      base("holdconn", "message/cpim"),
      base("", "text/plain"),
      base("active", "text/plain message/cpim"),
      base("active", "message/cpim", "TCP/TLS/MSRP"),
      base("active", "message/cpim", "TCP/MSRP", "m=audio 4000 RTP/AVP 0\r\n"),
      "v=0\r\nnot sdp",
      "",
    ];
    for (const setup of [undefined, "active", "passive"] as const) {
      for (const [i, offer] of offers.entries()) {
        const eb = await endpoint();
        const opts = setup === undefined ? {} : { answerSetup: setup };
        const bob = new MsrpSessionDescriptionHandler(eb, opts);
        const error = await bob.setDescription(offer).then(() => bob.getDescription()).then(() => undefined, (e: unknown) => e);
        const checked = checkMsrpOffer(offer, opts);
        expect(checked?.code, `offer ${i}, answerSetup ${setup}`).toBe((error as MsrpSdpError | undefined)?.code);
        bob.close();
      }
    }
  });
});

describe("MSRP SDH: SDP it cannot use (488)", () => {
  it("an offer without an MSRP stream is refused with a typed 488 reason and makes no session", async () => {
    const eb = await endpoint();
    const bob = new MsrpSessionDescriptionHandler(eb);
    const audio = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    const error = await bob.setDescription(audio).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MsrpSdpError);
    expect((error as MsrpSdpError).code).toBe("no-msrp-media");
    expect((error as MsrpSdpError).sipStatus).toBe(488);
    expect(bob.state).toBe("initial");
    expect(eb.stats().sessions).toBe(0);
    // What the terminating client checks before Invitation.accept() (SIP.js would answer 480).
    expect(checkMsrpOffer(audio)?.code).toBe("no-msrp-media");
  });

  it("an offer with no accept-type in common is refused and its session released", async () => {
    const [ea, eb] = [await endpoint(), await endpoint()];
    const alice = new MsrpSessionDescriptionHandler(ea, { acceptTypes: ["text/plain"] });
    const bob = new MsrpSessionDescriptionHandler(eb);
    const offer = await alice.getDescription();
    const error = await bob.setDescription(offer.body).catch((e: unknown) => e);
    expect((error as MsrpSdpError).code).toBe("no-common-type");
    expect(eb.stats().sessions).toBe(0);
    expect(checkMsrpOffer(offer.body)?.code).toBe("no-common-type");
    expect(checkMsrpOffer(offer.body, { acceptTypes: ["text/*"] })).toBeUndefined();
  });

  it("an answer with the wrong setup or without MSRP is refused (SIP.js then ACKs and BYEs 488); rollback releases the offer", async () => {
    const [ea, eb] = [await endpoint(), await endpoint()];
    const alice = new MsrpSessionDescriptionHandler(ea);
    const bob = new MsrpSessionDescriptionHandler(eb, { answerSetup: "active" });
    const offer = await alice.getDescription();
    expect(ea.stats().sessions).toBe(1);
    await bob.setDescription(offer.body);
    // Bob answers an active offer; rewrite his answer's role to active to break it.
    const answer = (await bob.getDescription()).body.replace("a=setup:passive", "a=setup:active");
    const wrongSetup = await alice.setDescription(answer).catch((e: unknown) => e);
    expect((wrongSetup as MsrpSdpError).code).toBe("incompatible-setup");
    const noMsrp = await alice.setDescription("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n").catch((e: unknown) => e);
    expect((noMsrp as MsrpSdpError).code).toBe("no-msrp-media");
    expect(alice.state).toBe("have-local-offer");
    await alice.rollbackDescription();
    expect(alice.state).toBe("initial");
    expect(ea.stats().sessions).toBe(0);
    bob.close();
  });
});

describe("MSRP SDH: re-INVITE (§7.4.4)", () => {
  async function established() {
    const [ea, eb] = [await endpoint(), await endpoint()];
    const alice = new MsrpSessionDescriptionHandler(ea);
    const bob = new MsrpSessionDescriptionHandler(eb);
    const first = await negotiate(alice, bob);
    await Promise.all([alice.ready, bob.ready]);
    return { ea, eb, alice, bob, first };
  }

  it("a refresh re-INVITE keeps both MSRP sessions and their connection", async () => {
    const { alice, bob, first } = await established();
    const [sa, sb] = [alice.msrpSession, bob.msrpSession];
    const seen: unknown[] = [];
    alice.delegate = { onMsrpSession: (s) => seen.push(s) };
    bob.delegate = { onMsrpSession: (s) => seen.push(s) };
    const again = await negotiate(alice, bob);
    expect(alice.msrpSession).toBe(sa);
    expect(bob.msrpSession).toBe(sb);
    expect(seen).toEqual([]);
    expect(media(again.offer).path).toEqual(media(first.offer).path);
    // o= keeps the session id and counts the version up (RFC 3264 §8).
    const [o1, o2] = [first.offer, again.offer].map((s) => s.split("\r\n")[1]!.split(" "));
    expect(o2![1]).toBe(o1![1]);
    expect(Number(o2![2])).toBe(Number(o1![2]) + 1);
    await alice.ready;
    expect((await exchange(alice, bob, "still here")).body.toString()).toBe("still here");
  });

  it("after the TCP connection drops, the offerer's re-INVITE makes new sessions on both sides and the stream works again", async () => {
    const { alice, bob, first } = await established();
    const [oldA, oldB] = [alice.msrpSession!, bob.msrpSession!];
    const replaced: Array<[string, MsrpSession, MsrpSession | undefined]> = [];
    alice.delegate = { onMsrpSession: (s, prev) => replaced.push(["alice", s, prev]) };
    bob.delegate = { onMsrpSession: (s, prev) => replaced.push(["bob", s, prev]) };

    oldA.connection!.socket.destroy();
    await Promise.all([closed(oldA), closed(oldB)]);

    const again = await negotiate(alice, bob);
    expect(media(again.offer).path).not.toEqual(media(first.offer).path);
    expect(media(again.answer).path).not.toEqual(media(first.answer).path);
    expect(alice.msrpSession).not.toBe(oldA);
    expect(bob.msrpSession).not.toBe(oldB);
    expect(replaced.map(([who, s, prev]) => [who, s === (who === "alice" ? alice : bob).msrpSession, prev])).toEqual([
      ["bob", true, oldB],
      ["alice", true, oldA],
    ]);
    await Promise.all([alice.ready, bob.ready]);
    expect((await exchange(alice, bob, "back again")).body.toString()).toBe("back again");
    expect((await exchange(bob, alice, "and back")).body.toString()).toBe("and back");
  });

  it("the answerer may re-INVITE instead: roles swap and the old passive side connects", async () => {
    const { alice, bob } = await established();
    const [oldA, oldB] = [alice.msrpSession!, bob.msrpSession!];
    oldB.connection!.socket.destroy();
    await Promise.all([closed(oldA), closed(oldB)]);
    const again = await negotiate(bob, alice);
    expect(media(again.offer).setup).toBe("active");
    expect(bob.msrpSession!.setup).toBe("active");
    expect(alice.msrpSession!.setup).toBe("passive");
    await Promise.all([alice.ready, bob.ready]);
    expect((await exchange(bob, alice, "from the other side")).body.toString()).toBe("from the other side");
  });

  it("renew: true replaces a working session; a refused re-offer rolls back to the old one", async () => {
    const { alice, bob } = await established();
    const [oldA, oldB] = [alice.msrpSession!, bob.msrpSession!];

    // Refused (e.g. 488 to the re-INVITE): the new session is dropped, the old one goes on.
    const refused = await alice.getDescription({ renew: true } as MsrpSdhCallOptions);
    expect(media(refused.body).path).not.toEqual(oldA.localPath);
    await alice.rollbackDescription();
    expect(alice.state).toBe("stable");
    expect(alice.msrpSession).toBe(oldA);
    expect((await exchange(alice, bob, "old leg")).body.toString()).toBe("old leg");

    await negotiate(alice, bob, { renew: true });
    expect(alice.msrpSession).not.toBe(oldA);
    expect(bob.msrpSession).not.toBe(oldB); // a new remote path makes a new passive session too
    await Promise.all([alice.ready, bob.ready]);
    await Promise.all([closed(oldA), closed(oldB)]);
    expect((await exchange(alice, bob, "new leg")).body.toString()).toBe("new leg");
  });

  it("an incoming re-offer it cannot take leaves the current session in place", async () => {
    const { alice, bob } = await established();
    const sb = bob.msrpSession;
    const error = await bob.setDescription("v=0\r\no=- 1 2 IN IP4 h\r\ns=-\r\nm=audio 4000 RTP/AVP 0\r\n").catch((e: unknown) => e);
    expect((error as MsrpSdpError).code).toBe("no-msrp-media");
    await bob.rollbackDescription(); // SIP.js rolls back before answering 488
    expect(bob.state).toBe("stable");
    expect(bob.msrpSession).toBe(sb);
    expect((await exchange(alice, bob, "unharmed")).body.toString()).toBe("unharmed");
  });
});

describe("MSRP SDH: closing and failures", () => {
  it("close() before the leg is bound rejects ready, closes the session, and later calls reject", async () => {
    const ea = await endpoint();
    const alice = new MsrpSessionDescriptionHandler(ea);
    const ready = alice.ready;
    await alice.getDescription();
    alice.close();
    alice.close();
    await expect(ready).rejects.toBeInstanceOf(SessionDescriptionHandlerError);
    expect(alice.state).toBe("closed");
    expect(ea.stats().sessions).toBe(0);
    await expect(alice.getDescription()).rejects.toBeInstanceOf(SessionDescriptionHandlerError);
    await expect(alice.setDescription("v=0\r\n")).rejects.toBeInstanceOf(SessionDescriptionHandlerError);
  });

  it("close() after the call ends the bound sessions on both ends", async () => {
    const [ea, eb] = [await endpoint(), await endpoint()];
    const alice = new MsrpSessionDescriptionHandler(ea);
    const bob = new MsrpSessionDescriptionHandler(eb);
    await negotiate(alice, bob);
    await Promise.all([alice.ready, bob.ready]);
    const [sa, sb] = [alice.msrpSession!, bob.msrpSession!];
    alice.close();
    bob.close();
    expect(sa.closed && sb.closed).toBe(true);
    expect(ea.stats().sessions + eb.stats().sessions).toBe(0);
  });

  it("a peer that never connects fails ready with msrp-connect-timeout", async () => {
    const [ea, eb] = [await endpoint(), await endpoint()];
    const alice = new MsrpSessionDescriptionHandler(ea);
    const bob = new MsrpSessionDescriptionHandler(eb, {}, { connectTimeoutMs: 50 });
    const offer = await alice.getDescription();
    await bob.setDescription(offer.body);
    await bob.getDescription(); // the answer is never delivered: alice never connects
    const error = await bob.ready.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MsrpSessionError);
    expect((error as MsrpSessionError).code).toBe("msrp-connect-timeout");
    alice.close();
  });

  it("an answer pointing at a closed port fails ready with msrp-connect-failed", async () => {
    const [ea, eb] = [await endpoint(), await endpoint()];
    const alice = new MsrpSessionDescriptionHandler(ea);
    const bob = new MsrpSessionDescriptionHandler(eb);
    const offer = await alice.getDescription();
    await bob.setDescription(offer.body);
    const answer = await bob.getDescription();
    bob.close();
    await eb.close();
    await alice.setDescription(answer.body);
    const error = await alice.ready.catch((e: unknown) => e);
    expect((error as MsrpSessionError).code).toBe("msrp-connect-failed");
  });

  it("out-of-order calls are refused with SessionDescriptionHandlerError", async () => {
    const [ea, eb] = [await endpoint(), await endpoint()];
    const alice = new MsrpSessionDescriptionHandler(ea);
    const bob = new MsrpSessionDescriptionHandler(eb);
    const offer = await alice.getDescription();
    await expect(alice.getDescription()).rejects.toBeInstanceOf(SessionDescriptionHandlerError);
    await bob.setDescription(offer.body);
    await expect(bob.setDescription(offer.body)).rejects.toBeInstanceOf(SessionDescriptionHandlerError);
    alice.close();
    bob.close();
  });
});

describe("MSRP SDH factory", () => {
  it("makes one handler per SIP.js session with the factory defaults and reports each", async () => {
    const [ea, eb] = [await endpoint(), await endpoint()];
    const made: Array<[MsrpSessionDescriptionHandler, unknown]> = [];
    const factory = createMsrpSessionDescriptionHandlerFactory({
      endpoint: ea,
      acceptTypes: ["message/cpim"],
      originUsername: "alice",
      session: { connectionGroup: "client-7" },
      onCreated: (sdh, session) => made.push([sdh, session]),
    });
    const fakeSession = { id: "s1" } as unknown as Session;
    const sdh = factory(fakeSession) as MsrpSessionDescriptionHandler;
    expect(sdh).toBeInstanceOf(MsrpSessionDescriptionHandler);
    expect(made).toEqual([[sdh, fakeSession]]);
    expect(factory(fakeSession)).not.toBe(sdh);

    const bob = new MsrpSessionDescriptionHandler(eb);
    const { offer } = await negotiate(sdh, bob);
    expect(offer).toContain("o=alice ");
    expect(media(offer).acceptTypes).toEqual(["message/cpim"]);
    expect(sdh.msrpSession!.connectionGroup).toBe("client-7");
    await sdh.ready;
    expect(msrpSdhOf({ sessionDescriptionHandler: sdh } as unknown as Session)).toBe(sdh);
    expect(msrpSdhOf({ sessionDescriptionHandler: undefined } as unknown as Session)).toBeUndefined();
  });
});
