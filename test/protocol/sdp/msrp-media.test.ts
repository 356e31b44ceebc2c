import { describe, expect, it } from "vitest";
import {
  acceptsMediaType,
  answerDirection,
  answerSetup,
  buildMsrpAnswer,
  buildMsrpOffer,
  extractMsrpMedia,
  getAttribute,
  intersectMediaTypes,
  isActiveRole,
  type MediaDirection,
  mediaTypeCovers,
  type MsrpAnswerOptions,
  type MsrpMedia,
  type MsrpSdpErrorCode,
  msrpConnectTarget,
  parseMediaTypeList,
  parseSdp,
  serializeSdp,
} from "../../../src/protocol/sdp/index.js";
import {
  AUDIO_AND_MSRP_OFFER,
  AUDIO_ONLY_OFFER,
  CPM_LARGE_MESSAGE_OFFER,
  crlf,
  RCS_CHAT_ANSWER_ACTPASS,
  RCS_CHAT_OFFER,
  RFC4975_ANSWER,
  RFC4975_OFFER,
  RFC4976_RELAY_OFFER,
  RFC5547_FILE_OFFER,
  RFC6135_ACTIVE_OFFER,
  RFC6714_CEMA_OFFER,
} from "./fixtures.js";

function media(text: string | Buffer): MsrpMedia {
  const r = extractMsrpMedia(text);
  if (!r.ok) throw new Error(`unexpected error: ${r.error.code} ${r.error.message}`);
  return r.media;
}

function extractError(text: string, protos?: Array<"TCP/MSRP" | "TCP/TLS/MSRP">): { code: MsrpSdpErrorCode; sipStatus: number } {
  const r = extractMsrpMedia(text, protos ? { protos } : {});
  if (r.ok) throw new Error("expected an error");
  return { code: r.error.code, sipStatus: r.error.sipStatus };
}

const HEAD = ["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0"];
const PATH = "a=path:msrp://127.0.0.1:5000/abc123;tcp";
const msrpSdp = (...mediaLines: string[]): string => crlf(...HEAD, "m=message 9 TCP/MSRP *", ...mediaLines);

describe("extractMsrpMedia on real-world bodies", () => {
  it("reads the RFC 4975 offer: no setup (offerer connects), sendrecv by default", () => {
    expect(media(RFC4975_OFFER)).toEqual({
      index: 0,
      port: 7654,
      proto: "TCP/MSRP",
      path: ["msrp://alice.example.com:7654/jshA7weztas;tcp"],
      pathUris: [{ scheme: "msrp", host: "alice.example.com", port: 7654, sessionId: "jshA7weztas", transport: "tcp", params: {} }],
      acceptTypes: ["text/plain"],
      acceptWrappedTypes: [],
      direction: "sendrecv",
      cema: false,
      connectionAddress: "alice.example.com",
    });
    expect(media(RFC4975_ANSWER).path).toEqual(["msrp://bob.example.com:8888/9di4eae923wzd;tcp"]);
  });

  it("reads an RCS chat offer: discard port 9, setup active, wrapped types", () => {
    const m = media(RCS_CHAT_OFFER);
    expect(m.port).toBe(9);
    expect(m.setup).toBe("active");
    expect(m.direction).toBe("sendrecv");
    expect(m.acceptTypes).toEqual(["message/cpim", "application/im-iscomposing+xml"]);
    expect(m.acceptWrappedTypes).toEqual(["text/plain", "message/imdn+xml", "application/vnd.gsma.rcspushlocation+xml"]);
    // The path, not the m= port, says where the endpoint is.
    expect(msrpConnectTarget(m)).toEqual({ host: "10.20.30.40", port: 7777, tls: false });
  });

  it("reads a network answer with actpass", () => {
    const m = media(RCS_CHAT_ANSWER_ACTPASS);
    expect(m.setup).toBe("actpass");
    expect(m.acceptWrappedTypes).toContain("application/vnd.gsma.rcs-ft-http+xml");
  });

  it("reads a relay path over TLS: relay first, the endpoint last; the connection goes to the relay", () => {
    const m = media(RFC4976_RELAY_OFFER);
    expect(m.proto).toBe("TCP/TLS/MSRP");
    expect(m.path).toEqual(["msrps://a.example.com:9000/kjfjan;tcp", "msrps://alicepc.example.com:7777/iau39soe2843z;tcp"]);
    expect(msrpConnectTarget(m)).toEqual({ host: "a.example.com", port: 9000, tls: true });
    expect(extractError(RFC4976_RELAY_OFFER, ["TCP/MSRP"]).code).toBe("unsupported-transport");
  });

  it("reads setup:active (RFC 6135) and CEMA (RFC 6714), whose connection goes to c=/m=", () => {
    expect(media(RFC6135_ACTIVE_OFFER).setup).toBe("active");
    const cema = media(RFC6714_CEMA_OFFER);
    expect(cema.cema).toBe(true);
    expect(cema.setup).toBe("passive");
    expect(msrpConnectTarget(cema)).toEqual({ host: "192.0.2.1", port: 7394, tls: false });
  });

  it("reads the large-message offer: sendonly and max-size", () => {
    const m = media(CPM_LARGE_MESSAGE_OFFER);
    expect(m.direction).toBe("sendonly");
    expect(m.maxSize).toBe(52_428_800);
  });

  it("reads RFC 5547 file-transfer attributes", () => {
    const m = media(RFC5547_FILE_OFFER);
    expect(m.direction).toBe("sendonly");
    expect(m.acceptWrappedTypes).toEqual(["*"]);
    expect(m.fileSelector).toBe('name:"My cool picture.jpg" type:image/jpeg size:32349 hash:sha-1:72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E');
    expect(m.fileTransferId).toBe("vBnG916bdberum2fFEABR1FR3ExZMUrd");
    expect(m.fileDisposition).toBe("attachment");
  });

  it("finds the MSRP stream after an audio line and inherits a session-level direction", () => {
    const m = media(AUDIO_AND_MSRP_OFFER);
    expect(m.index).toBe(1);
    expect(m.direction).toBe("sendrecv");
    expect(media(crlf(...HEAD, "a=recvonly", "m=message 9 TCP/MSRP *", "a=accept-types:*", PATH)).direction).toBe("recvonly");
    expect(media(msrpSdp("a=accept-types:*", PATH, "a=inactive")).direction).toBe("inactive");
  });

  it("accepts a setup value in any case and a session-level setup", () => {
    expect(media(msrpSdp("a=accept-types:*", PATH, "a=setup:ACTIVE")).setup).toBe("active");
    expect(media(crlf(...HEAD, "a=setup:passive", "m=message 9 TCP/MSRP *", "a=accept-types:*", PATH)).setup).toBe("passive");
  });

  it("skips a rejected MSRP line (port 0) for a later live one", () => {
    const text = crlf(...HEAD, "m=message 0 TCP/MSRP *", "m=message 9 TCP/MSRP *", "a=accept-types:*", PATH);
    expect(media(text).index).toBe(1);
  });
});

describe("extractMsrpMedia refuses unusable SDP with a typed reason and 488", () => {
  it.each<[string, string, MsrpSdpErrorCode]>([
    ["not SDP", "INVITE sip:bob@example.com SIP/2.0\r\n", "bad-sdp"],
    ["audio only", AUDIO_ONLY_OFFER, "no-msrp-media"],
    ["m=message over RTP", crlf(...HEAD, "m=message 9 RTP/AVP 0"), "no-msrp-media"],
    ["MSRP line with port 0", crlf(...HEAD, "m=message 0 TCP/MSRP *", "a=accept-types:*", PATH), "media-rejected"],
    ["no path", msrpSdp("a=accept-types:*"), "missing-path"],
    ["path as a flag", msrpSdp("a=accept-types:*", "a=path"), "missing-path"],
    ["path not an MSRP URI", msrpSdp("a=accept-types:*", "a=path:sip:bob@example.com"), "bad-path"],
    ["path without a session-id", msrpSdp("a=accept-types:*", "a=path:msrp://127.0.0.1:5000;tcp"), "bad-path"],
    ["path without transport", msrpSdp("a=accept-types:*", "a=path:msrp://127.0.0.1:5000/abc"), "bad-path"],
    ["no accept-types", msrpSdp(PATH), "missing-accept-types"],
    ["empty accept-types", msrpSdp("a=accept-types: ", PATH), "missing-accept-types"],
    ["accept-types not media types", msrpSdp("a=accept-types:cpim", PATH), "bad-accept-types"],
    ["accept-wrapped-types not media types", msrpSdp("a=accept-types:*", "a=accept-wrapped-types:text", PATH), "bad-accept-types"],
    ["unknown setup", msrpSdp("a=accept-types:*", PATH, "a=setup:both"), "bad-setup"],
    ["setup as a flag", msrpSdp("a=accept-types:*", PATH, "a=setup"), "bad-setup"],
    ["max-size not a number", msrpSdp("a=accept-types:*", PATH, "a=max-size:big"), "bad-max-size"],
  ])("%s → %s", (_name, text, code) => {
    expect(extractError(text)).toEqual({ code, sipStatus: 488 });
  });
});

describe("media-type lists", () => {
  it("match wildcards, ignore case and parameters", () => {
    expect(mediaTypeCovers("*", "message/cpim")).toBe(true);
    expect(mediaTypeCovers("text/*", "TEXT/plain; charset=utf-8")).toBe(true);
    expect(mediaTypeCovers("text/*", "message/cpim")).toBe(false);
    expect(mediaTypeCovers("text/*", "*")).toBe(false);
    expect(mediaTypeCovers("Message/CPIM", "message/cpim")).toBe(true);
    expect(acceptsMediaType(["message/cpim", "application/im-iscomposing+xml"], "application/im-iscomposing+xml")).toBe(true);
    expect(acceptsMediaType(["message/cpim"], "text/plain")).toBe(false);
  });

  it("intersect to the narrower entry, in our order, without duplicates", () => {
    expect(intersectMediaTypes(["message/cpim", "application/im-iscomposing+xml"], ["*"])).toEqual([
      "message/cpim",
      "application/im-iscomposing+xml",
    ]);
    expect(intersectMediaTypes(["*"], ["message/cpim", "text/plain"])).toEqual(["message/cpim", "text/plain"]);
    expect(intersectMediaTypes(["text/*", "message/cpim"], ["text/plain", "text/html", "image/png"])).toEqual(["text/plain", "text/html"]);
    expect(intersectMediaTypes(["message/cpim", "*"], ["message/cpim"])).toEqual(["message/cpim"]);
    expect(intersectMediaTypes(["message/cpim"], ["text/plain"])).toEqual([]);
  });

  it("parse lists split by spaces and refuse non-types", () => {
    expect(parseMediaTypeList("message/cpim  text/plain;charset=utf-8 *")).toEqual(["message/cpim", "text/plain;charset=utf-8", "*"]);
    expect(parseMediaTypeList("message")).toBeNull();
  });
});

const ORIGIN = { sessionId: "4711", sessionVersion: 1 };
const CPM_TYPES = ["message/cpim", "application/im-iscomposing+xml"];
const CPM_WRAPPED = ["text/plain", "message/imdn+xml"];

describe("buildMsrpOffer", () => {
  it("writes a CPM chat offer: active, discard port 9, c= and o= from the own path URI", () => {
    const sdp = buildMsrpOffer({
      path: ["msrp://127.0.0.1:40312/jshA7weztas;tcp"],
      acceptTypes: CPM_TYPES,
      acceptWrappedTypes: CPM_WRAPPED,
      origin: { username: "alice", ...ORIGIN },
    });
    expect(serializeSdp(sdp)).toBe(
      crlf(
        "v=0",
        "o=alice 4711 1 IN IP4 127.0.0.1",
        "s=-",
        "c=IN IP4 127.0.0.1",
        "t=0 0",
        "m=message 9 TCP/MSRP *",
        "a=accept-types:message/cpim application/im-iscomposing+xml",
        "a=accept-wrapped-types:text/plain message/imdn+xml",
        "a=path:msrp://127.0.0.1:40312/jshA7weztas;tcp",
        "a=setup:active",
        "a=sendrecv",
      ),
    );
  });

  it("writes every optional attribute and reads back the same stream", () => {
    const sdp = buildMsrpOffer({
      path: ["msrp://relay.example.net:2855/r1;tcp", "msrp://[::1]:41000/lm4x9q2;tcp"],
      acceptTypes: ["message/cpim"],
      setup: "passive",
      direction: "sendonly",
      maxSize: 52_428_800,
      cema: true,
      fileSelector: "name:\"a.bin\" size:10",
      fileTransferId: "ft1",
      fileDisposition: "attachment",
      extraAttributes: [["x-cpm", "1"], ["x-flag", null]],
      origin: ORIGIN,
      sessionName: "chat",
    });
    const text = serializeSdp(sdp);
    expect(text).toContain("c=IN IP6 ::1\r\n");
    expect(text).toContain("m=message 41000 TCP/MSRP *\r\n"); // passive: the listening port
    expect(text).toContain("a=x-cpm:1\r\na=x-flag\r\n");
    const m = media(text);
    expect(m).toMatchObject({
      port: 41000,
      setup: "passive",
      direction: "sendonly",
      maxSize: 52_428_800,
      cema: true,
      fileSelector: 'name:"a.bin" size:10',
      fileTransferId: "ft1",
      fileDisposition: "attachment",
      acceptWrappedTypes: [],
      connectionAddress: "::1",
    });
    expect(m.path).toHaveLength(2);
  });

  it("takes TCP/TLS/MSRP from an msrps path and honours explicit address and port", () => {
    const sdp = buildMsrpOffer({ path: ["msrps://h.example.com:7777/s1;tcp"], acceptTypes: ["*"], origin: ORIGIN, address: "192.0.2.9", port: 7777 });
    expect(sdp.media[0]!.proto).toBe("TCP/TLS/MSRP");
    expect(sdp.media[0]!.port).toBe(7777);
    expect(sdp.origin.address).toBe("192.0.2.9");
  });
});

const ANSWER: MsrpAnswerOptions = {
  path: ["msrp://127.0.0.1:2855/pf9x8y;tcp"],
  acceptTypes: CPM_TYPES,
  acceptWrappedTypes: CPM_WRAPPED,
  origin: { username: "pf", ...ORIGIN },
};

function answer(offer: string, opts: Partial<MsrpAnswerOptions> = {}) {
  const r = buildMsrpAnswer(offer, { ...ANSWER, ...opts });
  if (!r.ok) throw new Error(`unexpected error: ${r.error.code} ${r.error.message}`);
  return r;
}

describe("buildMsrpAnswer", () => {
  it("answers an RCS chat offer passive on the listening port, with the common types", () => {
    const r = answer(RCS_CHAT_OFFER);
    expect(serializeSdp(r.sdp)).toBe(
      crlf(
        "v=0",
        "o=pf 4711 1 IN IP4 127.0.0.1",
        "s=-",
        "c=IN IP4 127.0.0.1",
        "t=0 0",
        "m=message 2855 TCP/MSRP *",
        "a=accept-types:message/cpim application/im-iscomposing+xml",
        "a=accept-wrapped-types:text/plain message/imdn+xml",
        "a=path:msrp://127.0.0.1:2855/pf9x8y;tcp",
        "a=setup:passive",
        "a=sendrecv",
      ),
    );
    expect(r.offer.setup).toBe("active");
    expect(r.answer.setup).toBe("passive");
    expect(isActiveRole(r.answer.setup, false)).toBe(false);
    expect(isActiveRole(r.offer.setup, true)).toBe(true);
  });

  it.each<[string | undefined, "active" | "passive" | undefined, "active" | "passive"]>([
    ["active", undefined, "passive"],
    ["passive", undefined, "active"],
    ["actpass", undefined, "passive"],
    ["actpass", "active", "active"],
    [undefined, undefined, "passive"],
  ])("offer setup %s (preference %s) → answer %s", (offered, preferred, expected) => {
    const text = offered === undefined ? msrpSdp("a=accept-types:*", PATH) : msrpSdp("a=accept-types:*", PATH, `a=setup:${offered}`);
    const r = answer(text, preferred === undefined ? {} : { preferredSetup: preferred });
    expect(r.answer.setup).toBe(expected);
    expect(r.sdp.media[0]!.port).toBe(expected === "active" ? 9 : 2855);
  });

  it("refuses holdconn and reports no common type — both 488", () => {
    const hold = buildMsrpAnswer(msrpSdp("a=accept-types:*", PATH, "a=setup:holdconn"), ANSWER);
    expect(hold.ok ? null : [hold.error.code, hold.error.sipStatus]).toEqual(["incompatible-setup", 488]);
    const none = buildMsrpAnswer(RFC4975_OFFER, ANSWER); // text/plain only vs message/cpim
    expect(none.ok ? null : [none.error.code, none.error.sipStatus]).toEqual(["no-common-type", 488]);
  });

  it("passes through every extraction error of the offer (488 path)", () => {
    for (const [text, code] of [
      [AUDIO_ONLY_OFFER, "no-msrp-media"],
      ["garbage", "bad-sdp"],
      [msrpSdp(PATH), "missing-accept-types"],
      [RFC4976_RELAY_OFFER, "unsupported-transport"], // TLS is not offered by default
    ] as const) {
      const r = buildMsrpAnswer(text, ANSWER);
      expect(r.ok ? null : [r.error.code, r.error.sipStatus]).toEqual([code, 488]);
    }
    expect(buildMsrpAnswer(RFC4976_RELAY_OFFER, { ...ANSWER, protos: ["TCP/MSRP", "TCP/TLS/MSRP"] }).ok).toBe(true);
  });

  it("keeps every offered m= line, rejecting the others with port 0 (RFC 3264 §6)", () => {
    const r = answer(AUDIO_AND_MSRP_OFFER);
    expect(r.sdp.media.map((m) => [m.media, m.port, m.proto, m.formats, m.lines.length])).toEqual([
      ["audio", 0, "RTP/AVP", ["0", "8", "101"], 0],
      ["message", 2855, "TCP/MSRP", ["*"], 5],
    ]);
    expect(r.answer.index).toBe(1);
  });

  it.each<[MediaDirection, MediaDirection | undefined, MediaDirection]>([
    ["sendrecv", undefined, "sendrecv"],
    ["sendonly", undefined, "recvonly"],
    ["recvonly", undefined, "sendonly"],
    ["inactive", undefined, "inactive"],
    ["sendrecv", "recvonly", "recvonly"],
    ["sendonly", "sendonly", "inactive"],
  ])("offered %s, wanted %s → %s", (offered, wanted, expected) => {
    const r = answer(msrpSdp("a=accept-types:*", PATH, `a=${offered}`), wanted === undefined ? {} : { direction: wanted });
    expect(r.answer.direction).toBe(expected);
    expect(answerDirection(offered, wanted ?? "sendrecv")).toBe(expected);
  });

  it("answers the large-message offer recvonly and states its own max-size", () => {
    const r = answer(CPM_LARGE_MESSAGE_OFFER, { maxSize: 104_857_600, acceptWrappedTypes: ["*"] });
    expect(r.answer.direction).toBe("recvonly");
    expect(r.answer.maxSize).toBe(104_857_600);
    expect(r.answer.acceptTypes).toEqual(["message/cpim"]);
    expect(r.answer.acceptWrappedTypes).toEqual(["text/plain", "image/jpeg", "application/octet-stream"]);
  });

  it("accepts CEMA only when both offer it", () => {
    expect(answer(crlf(...HEAD, "m=message 9 TCP/MSRP *", "a=accept-types:*", PATH, "a=msrp-cema"), { cema: true }).answer.cema).toBe(true);
    expect(answer(crlf(...HEAD, "m=message 9 TCP/MSRP *", "a=accept-types:*", PATH, "a=msrp-cema")).answer.cema).toBe(false);
    expect(answer(msrpSdp("a=accept-types:*", PATH), { cema: true }).answer.cema).toBe(false);
  });

  it("answers with our wrapped types when the offer lists none, and omits an empty intersection", () => {
    expect(answer(msrpSdp("a=accept-types:message/cpim", PATH)).answer.acceptWrappedTypes).toEqual(CPM_WRAPPED);
    const r = answer(msrpSdp("a=accept-types:message/cpim", "a=accept-wrapped-types:image/png", PATH));
    expect(r.answer.acceptWrappedTypes).toEqual([]);
    expect(getAttribute(r.sdp.media[0]!, "accept-wrapped-types")).toBeUndefined();
  });

  it("takes an already parsed offer and a Buffer", () => {
    const parsed = parseSdp(RCS_CHAT_OFFER);
    if (!parsed.ok) throw new Error("fixture");
    expect(buildMsrpAnswer(parsed.sdp, ANSWER).ok).toBe(true);
    expect(buildMsrpAnswer(Buffer.from(RCS_CHAT_OFFER), ANSWER).ok).toBe(true);
  });

  it("answerSetup covers every role", () => {
    expect(answerSetup("holdconn")).toBeUndefined();
    expect(answerSetup("actpass", "active")).toBe("active");
  });
});
