import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  addAttribute,
  getAttribute,
  getAttributes,
  getConnection,
  getField,
  getMediaAttribute,
  hasAttribute,
  parseSdp,
  removeAttribute,
  type SdpLine,
  type SdpMedia,
  type SessionDescription,
  serializeSdp,
  setAttribute,
} from "../../../src/protocol/sdp/index.js";
import { ALL_FIXTURES, AUDIO_AND_MSRP_OFFER, crlf, RCS_CHAT_ANSWER_ACTPASS, RFC4975_OFFER, RFC5547_FILE_OFFER } from "./fixtures.js";

function parsed(text: string | Buffer): SessionDescription {
  const r = parseSdp(text);
  if (!r.ok) throw new Error(`unexpected parse error: ${r.error.code} ${r.error.message}`);
  return r.sdp;
}

function errorOf(text: string | Buffer, maxLength?: number): { code: string; line?: number } {
  const r = parseSdp(text, maxLength === undefined ? {} : { maxLength });
  if (r.ok) throw new Error("expected a parse error");
  expect(r.error).toBeInstanceOf(Error);
  return { code: r.error.code, line: r.error.line };
}

describe("SDP parser on real-world bodies", () => {
  it("reads the RFC 4975 offer: typed v/o/s, session lines and the message media line", () => {
    const sdp = parsed(RFC4975_OFFER);
    expect(sdp.version).toBe(0);
    expect(sdp.origin).toEqual({
      username: "alice",
      sessionId: "2890844557",
      sessionVersion: "2890844559",
      netType: "IN",
      addrType: "IP4",
      address: "alice.example.com",
    });
    expect(sdp.sessionName).toBe(" -");
    expect(sdp.lines).toEqual([
      { kind: "field", type: "c", value: "IN IP4 alice.example.com" },
      { kind: "field", type: "t", value: "0 0" },
    ]);
    expect(sdp.media).toHaveLength(1);
    const m = sdp.media[0]!;
    expect([m.media, m.port, m.proto, m.formats, m.portCount]).toEqual(["message", 7654, "TCP/MSRP", ["*"], undefined]);
    expect(m.lines).toEqual([
      { kind: "attribute", name: "accept-types", value: "text/plain" },
      { kind: "attribute", name: "path", value: "msrp://alice.example.com:7654/jshA7weztas;tcp" },
    ]);
  });

  it("keeps every line of a file-transfer offer in order, field lines inside the media section included", () => {
    const m = parsed(RFC5547_FILE_OFFER).media[0]!;
    expect(m.lines.map((l) => (l.kind === "field" ? `${l.type}=` : `a=${l.name}`))).toEqual([
      "i=",
      "a=sendonly",
      "a=accept-types",
      "a=accept-wrapped-types",
      "a=path",
      "a=file-selector",
      "a=file-transfer-id",
      "a=file-disposition",
      "a=file-date",
      "a=file-icon",
      "a=file-range",
    ]);
    // The value is everything after the first colon, colons and quotes included.
    expect(getAttribute(m, "file-date")).toBe('creation:"Mon, 15 May 2006 15:01:31 +0300"');
    expect(getAttribute(m, "sendonly")).toBeNull();
    expect(getField(m, "i")).toBe("This is my latest picture");
  });

  it("reads several media sections, session-level attributes and a port count", () => {
    const sdp = parsed(AUDIO_AND_MSRP_OFFER);
    expect(sdp.media.map((m) => [m.media, m.port, m.proto, m.formats])).toEqual([
      ["audio", 49170, "RTP/AVP", ["0", "8", "101"]],
      ["message", 9, "TCP/MSRP", ["*"]],
    ]);
    expect(getAttributes(sdp.media[0]!, "rtpmap")).toEqual(["0 PCMU/8000", "101 telephone-event/8000"]);
    expect(getAttribute(sdp, "sendrecv")).toBeNull();
    expect(getMediaAttribute(sdp, sdp.media[1]!, "sendrecv")).toBeNull(); // inherited from the session
    expect(parsed(crlf("v=0", "o=- 1 1 IN IP4 h", "s=-", "m=video 49170/2 RTP/AVP 31")).media[0]!.portCount).toBe(2);
  });

  it("keeps `s= ` with its space and reads the session c= through getConnection", () => {
    const sdp = parsed(RCS_CHAT_ANSWER_ACTPASS);
    expect(sdp.sessionName).toBe(" ");
    expect(getConnection(sdp, sdp.media[0])).toEqual({ netType: "IN", addrType: "IP4", address: "198.51.100.7" });
    const own = parsed(crlf("v=0", "o=- 1 1 IN IP4 h", "s=-", "c=IN IP4 10.0.0.1", "m=message 9 TCP/MSRP *", "c=IN IP6 ::1"));
    expect(getConnection(own, own.media[0])?.address).toBe("::1"); // media level wins
    expect(getConnection(own)?.address).toBe("10.0.0.1");
  });

  it("accepts bare LF line ends, a missing final line end, blank lines and runs of spaces", () => {
    const canonical = parsed(RFC4975_OFFER);
    expect(parsed(RFC4975_OFFER.replaceAll("\r\n", "\n"))).toEqual(canonical);
    expect(parsed(RFC4975_OFFER.trimEnd())).toEqual(canonical);
    expect(parsed(`${RFC4975_OFFER}\r\n\r\n`)).toEqual(canonical);
    expect(parsed(RFC4975_OFFER.replace("m=message 7654 TCP/MSRP *", "m=message  7654 TCP/MSRP  *"))).toEqual(canonical);
    expect(parsed(Buffer.from(RFC4975_OFFER))).toEqual(canonical);
  });

  it("serializes every canonical fixture back to the same bytes", () => {
    for (const [name, text] of ALL_FIXTURES) {
      expect(serializeSdp(parsed(text)), name).toBe(text);
    }
  });
});

describe("SDP parser failures are typed errors with the line number", () => {
  it.each([
    ["no lines", "", "empty", undefined],
    ["only blank lines", "\r\n\r\n", "empty", undefined],
    ["a line without =", crlf("v=0", "o=- 1 1 IN IP4 h", "hello"), "bad-line", 3],
    ["an upper-case type", crlf("V=0"), "bad-line", 1],
    ["space before =", crlf("v =0"), "bad-line", 1],
    ["a NUL in a value", crlf("v=0", "o=- 1 1 IN IP4 h", "s=a\0b"), "bad-line", 3],
    ["a bare CR inside a line", "v=0\r\no=- 1 1 IN IP4 h\r\ns=a\rb\r\n", "bad-line", 3],
    ["v=1", crlf("v=1", "o=- 1 1 IN IP4 h", "s=-"), "bad-version", 1],
    ["o= first", crlf("o=- 1 1 IN IP4 h", "v=0", "s=-"), "bad-version", 1],
    ["o= missing", crlf("v=0", "s=-"), "bad-origin", 2],
    ["o= with five fields", crlf("v=0", "o=- 1 1 IN IP4", "s=-"), "bad-origin", 2],
    ["only v=", crlf("v=0"), "bad-origin", undefined],
    ["s= missing", crlf("v=0", "o=- 1 1 IN IP4 h", "c=IN IP4 h"), "bad-session-name", 3],
    ["c= with two fields", crlf("v=0", "o=- 1 1 IN IP4 h", "s=-", "c=IN IP4"), "bad-connection", 4],
    ["m= without a format", crlf("v=0", "o=- 1 1 IN IP4 h", "s=-", "m=message 9 TCP/MSRP"), "bad-media", 4],
    ["m= port 65536", crlf("v=0", "o=- 1 1 IN IP4 h", "s=-", "m=message 65536 TCP/MSRP *"), "bad-media", 4],
    ["m= port not a number", crlf("v=0", "o=- 1 1 IN IP4 h", "s=-", "m=message x TCP/MSRP *"), "bad-media", 4],
    ["m= port count 0", crlf("v=0", "o=- 1 1 IN IP4 h", "s=-", "m=audio 9/0 RTP/AVP 0"), "bad-media", 4],
    ["m= proto with an empty part", crlf("v=0", "o=- 1 1 IN IP4 h", "s=-", "m=message 9 TCP//MSRP *"), "bad-media", 4],
    ["a= without a name", crlf("v=0", "o=- 1 1 IN IP4 h", "s=-", "a=:x"), "bad-attribute", 4],
    ["a= empty", crlf("v=0", "o=- 1 1 IN IP4 h", "s=-", "a="), "bad-attribute", 4],
    ["a= name with a space", crlf("v=0", "o=- 1 1 IN IP4 h", "s=-", "a=accept types:x"), "bad-attribute", 4],
  ])("%s → %s", (_name, text, code, line) => {
    expect(errorOf(text)).toEqual({ code, line });
  });

  it("refuses a description over the length limit before reading it", () => {
    expect(errorOf(RFC4975_OFFER, 100).code).toBe("too-large");
    expect(parseSdp(RFC4975_OFFER, { maxLength: RFC4975_OFFER.length }).ok).toBe(true);
  });
});

describe("attribute helpers", () => {
  it("get/set/add/remove attributes case-insensitively, keeping positions", () => {
    const m = parsed(RFC4975_OFFER).media[0]!;
    expect(getAttribute(m, "ACCEPT-TYPES")).toBe("text/plain");
    expect(getAttribute(m, "setup")).toBeUndefined();
    expect(hasAttribute(m, "path")).toBe(true);
    addAttribute(m, "accept-types", "message/cpim");
    setAttribute(m, "accept-types", "message/cpim text/plain");
    expect(getAttributes(m, "accept-types")).toEqual(["message/cpim text/plain"]);
    expect(m.lines[0]).toEqual({ kind: "attribute", name: "accept-types", value: "message/cpim text/plain" });
    setAttribute(m, "setup", "active");
    addAttribute(m, "sendrecv");
    expect(m.lines.slice(-2)).toEqual([
      { kind: "attribute", name: "setup", value: "active" },
      { kind: "attribute", name: "sendrecv", value: null },
    ]);
    removeAttribute(m, "Path");
    expect(hasAttribute(m, "path")).toBe(false);
    expect(m.lines).toHaveLength(3);
  });
});

// ---- properties ---------------------------------------------------------------------------

const TOKEN = /^[!#-'*+\-.0-9A-Z^-~]{1,12}$/;
const token = fc.stringMatching(TOKEN);
const word = fc.stringMatching(/^[!-~]{1,12}$/); // no spaces: o= fields
/** A line value: anything but CR, LF and NUL, any Unicode. */
const value = fc.string({ unit: "grapheme", maxLength: 40 }).map((s) => s.replace(/[\r\n\0]/g, ""));

const attributeLine: fc.Arbitrary<SdpLine> = fc.record({
  kind: fc.constant("attribute" as const),
  name: token,
  value: fc.option(value, { nil: null }),
});
// c= must hold three fields and m= starts a section, so those come from their own arbitraries.
const fieldLine: fc.Arbitrary<SdpLine> = fc.oneof(
  fc.record({ kind: fc.constant("field" as const), type: fc.constantFrom("b", "t", "r", "z", "k", "i", "u", "e", "p", "x"), value }),
  fc.record({
    kind: fc.constant("field" as const),
    type: fc.constant("c"),
    value: fc.tuple(word, word, word).map((f) => f.join(" ")),
  }),
);
const lines = fc.array(fc.oneof(attributeLine, fieldLine), { maxLength: 8 });
const media: fc.Arbitrary<SdpMedia> = fc
  .record({
    media: token,
    port: fc.integer({ min: 0, max: 65535 }),
    portCount: fc.option(fc.integer({ min: 1, max: 99999 }), { nil: undefined }),
    proto: fc.array(token.filter((t) => !t.includes("/")), { minLength: 1, maxLength: 3 }).map((p) => p.join("/")),
    formats: fc.array(word, { minLength: 1, maxLength: 4 }),
    lines,
  })
  .map((m) => {
    const { portCount, ...rest } = m;
    return portCount === undefined ? rest : { ...rest, portCount };
  });
const description: fc.Arbitrary<SessionDescription> = fc.record({
  version: fc.constant(0),
  origin: fc.record({ username: word, sessionId: word, sessionVersion: word, netType: word, addrType: word, address: word }),
  sessionName: value,
  lines,
  media: fc.array(media, { maxLength: 4 }),
});

describe("SDP codec properties", () => {
  it("parse ∘ serialize is the identity on models", () => {
    fc.assert(
      fc.property(description, (sdp) => {
        expect(parsed(serializeSdp(sdp))).toEqual(sdp);
      }),
      { numRuns: 500 },
    );
  });

  it("random text and random bytes never throw: a description or a typed error", () => {
    const check = (input: string | Buffer): void => {
      const r = parseSdp(input);
      if (!r.ok) expect(typeof r.error.code).toBe("string");
    };
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 300 }), check), { numRuns: 1000 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => check(Buffer.from(b))), { numRuns: 1000 });
    // Line-shaped noise gets past the line check and into the field parsers.
    const noisyLine = fc.tuple(fc.constantFrom("v", "o", "s", "c", "m", "a", "t"), fc.string({ maxLength: 30 })).map(([t, v]) => `${t}=${v}`);
    fc.assert(
      fc.property(fc.array(noisyLine, { maxLength: 10 }), (ls) => check(crlf("v=0", "o=- 1 1 IN IP4 h", "s=-", ...ls))),
      { numRuns: 1000 },
    );
  });

  it("every fixture cut at every byte, and with any one byte changed, parses or fails with a typed error", () => {
    for (const [, text] of ALL_FIXTURES) {
      const bytes = Buffer.from(text);
      for (let i = 0; i <= bytes.length; i++) {
        const r = parseSdp(bytes.subarray(0, i));
        if (!r.ok) expect(r.error.code).toMatch(/^[a-z-]+$/);
      }
    }
    fc.assert(
      fc.property(fc.constantFrom(...ALL_FIXTURES.map(([, t]) => Buffer.from(t))), fc.nat(), fc.integer({ min: 0, max: 255 }), (bytes, at, byte) => {
        const copy = Buffer.from(bytes);
        copy[at % copy.length] = byte;
        const r = parseSdp(copy);
        if (!r.ok) expect(r.error.code).toMatch(/^[a-z-]+$/);
      }),
      { numRuns: 2000 },
    );
  });
});
