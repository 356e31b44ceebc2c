/** RFC 4475 torture messages (see test/fixtures/sip/rfc4475/README.md). */
import { describe, expect, it } from "vitest";
import {
  getHeader,
  getHeaderValues,
  parseCSeq,
  parseNameAddr,
  parseVia,
} from "../../../src/protocol/sip/headers.js";
import type { SipMessage, SipParseErrorCode } from "../../../src/protocol/sip/message.js";
import { parseSipMessage, SipStreamFramer } from "../../../src/protocol/sip/parser.js";
import { parseSipUri } from "../../../src/protocol/sip/uri.js";
import { fixture, tortureInvalidFixtures, tortureValidFixtures } from "./fixtures.js";

function parseOk(name: string): SipMessage {
  const r = parseSipMessage(fixture(`rfc4475/${name}`));
  if (!r.ok) throw new Error(`${name}: ${r.error.code}: ${r.error.message}`);
  return r.message;
}

describe("RFC 4475 3.1.1 valid messages", () => {
  it("accepts every valid torture message as a datagram and as a string", () => {
    for (const [name, raw] of tortureValidFixtures()) {
      const r = parseSipMessage(raw);
      expect(r.ok ? "ok" : `${r.error.code}: ${r.error.message}`, name).toBe("ok");
      const s = parseSipMessage(raw.toString("utf8"));
      expect(s.ok ? "ok" : s.error.code, name).toBe("ok");
    }
  });

  it("wsinv: unusual whitespace, folding, any-case and compact names", () => {
    const m = parseOk("valid/wsinv.sip");
    if (m.kind !== "request") throw new Error("request expected");
    expect(m.method).toBe("INVITE");
    expect(m.uri).toBe("sip:vivekg@chair-dnrc.example.com;unknownparam");
    const to = parseNameAddr(getHeader(m, "To")!);
    expect(to?.uri).toBe("sip:vivekg@chair-dnrc.example.com");
    expect(to?.params.tag).toBe("1918181833n");
    const from = parseNameAddr(getHeader(m, "From")!);
    expect(from?.displayName).toBe('J Rosenberg \\"');
    expect(from?.uri).toBe("sip:jdrosen@example.com");
    expect(from?.params.tag).toBe("98asjd8");
    expect(getHeader(m, "Max-Forwards")).toBe("0068");
    expect(parseCSeq(getHeader(m, "CSeq")!)).toEqual({ seq: 9, method: "INVITE" });
    expect(getHeader(m, "Subject")).toBe("");
    expect(getHeader(m, "NewFangledHeader")).toBe("newfangled value continued newfangled value");
    expect(getHeader(m, "UnknownHeaderWithUnusualValue")).toBe(";;,,;;,;");
    expect(getHeader(m, "Route")).toBe("<sip:services.example.com;lr;unknownwith=value;unknown-no-value>");
    const vias = getHeaderValues(m, "Via").map(parseVia);
    expect(vias.map((v) => [v?.transport, v?.host, v?.params.branch])).toEqual([
      ["UDP", "192.0.2.2", "390skdjuw"],
      ["TCP", "spindle.example.com", "z9hG4bK9ikj8"],
      ["UDP", "192.168.255.111", "z9hG4bK30239"],
    ]);
    expect(vias.every((v) => v?.protocol === "SIP/2.0")).toBe(true);
    const contact = parseNameAddr(getHeader(m, "Contact")!);
    expect(contact?.displayName).toBe('Quoted string ""');
    expect({ ...contact?.params }).toEqual({ newparam: "newvalue", secondparam: null, q: "0.33" });
    expect(m.body.length).toBe(150);
    expect(m.body.toString("latin1").startsWith("v=0\r\n")).toBe(true);
  });

  it("intmeth: unusual method token, URI user and password, control characters and UTF-8", () => {
    const m = parseOk("valid/intmeth.sip");
    if (m.kind !== "request") throw new Error("request expected");
    expect(m.method).toBe("!interesting-Method0123456789_*+`.%indeed'~");
    const uri = parseSipUri(m.uri);
    expect(uri?.user).toBe("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    expect(uri?.password).toBe("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
    expect(uri?.host).toBe("example.com");
    expect(parseNameAddr(getHeader(m, "To")!)?.displayName).toBe("BEL:\x07 NUL:\x00 DEL:\x7F");
    const from = parseNameAddr(getHeader(m, "From")!);
    expect(from?.displayName).toBe("token1~` token2'+_ token3*%!.-");
    expect(from?.params["fromparam''~+*_!.-%"]).toBe('"работающий"');
    expect(from?.params.tag).toBe("_token~1'+`*%!-.");
    expect(getHeader(m, "Call-ID")).toBe("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
    expect(parseCSeq(getHeader(m, "CSeq")!)).toEqual({ seq: 139122385, method: m.method });
    expect(m.headers.find(([n]) => n.startsWith("extensionHeader"))).toEqual([
      "extensionHeader-!.%*+_`'~",
      "\uFEFF大停電",
    ]);
    expect(parseVia(getHeader(m, "Via")!)?.params.branch).toBe("z9hG4bK-.!%66*_+`'~");
  });

  it("esc01, escnull, esc02: escapes stay raw; % in names and methods is a token character", () => {
    const esc01 = parseOk("valid/esc01.sip");
    expect(esc01.kind === "request" && parseSipUri(esc01.uri)?.user).toBe("sips%3Auser%40example.com");
    expect(getHeader(esc01, "Content-Type")).toBe("application/sdp");
    const contact = parseNameAddr(getHeader(esc01, "Contact")!);
    expect(parseSipUri(contact!.uri)?.params).toEqual({ "%6c%72": null, "n%61me": "v%61lue%25%34%31" });

    const escnull = parseOk("valid/escnull.sip");
    expect(getHeaderValues(escnull, "Contact")).toEqual(["<sip:%00@host5.example.com>", "<sip:%00%00@host5.example.com>"]);
    expect(getHeader(escnull, "Content-Length")).toBe("0");

    const esc02 = parseOk("valid/esc02.sip");
    expect(esc02.kind === "request" && esc02.method).toBe("RE%47IST%45R");
    expect(getHeaderValues(esc02, "Contact")).toHaveLength(2);
    expect(getHeader(esc02, "C%6Fntact")).toBe("<sip:alias2@host2.example.com>");
    expect(parseNameAddr(getHeader(esc02, "To")!)?.displayName).toBe("%Z%45");
  });

  it("lwsdisp, semiuri, transports: display name without LWS, ; in user part, unknown transports", () => {
    expect(parseNameAddr(getHeader(parseOk("valid/lwsdisp.sip"), "From")!)).toMatchObject({
      displayName: "caller",
      uri: "sip:caller@example.com",
    });
    const semi = parseOk("valid/semiuri.sip");
    expect(semi.kind === "request" && parseSipUri(semi.uri)).toMatchObject({ user: "user;par=u%40example.net", host: "example.com" });
    expect(getHeaderValues(semi, "Accept")).toEqual([
      "application/sdp", "application/pkcs7-mime", "multipart/mixed", "multipart/signed", "message/sip", "message/sipfrag",
    ]);
    const t = parseOk("valid/transports.sip");
    expect(getHeaderValues(t, "Via").map((v) => parseVia(v)?.transport)).toEqual(["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);
    expect(getHeader(t, "Call-ID")).toBe("transports.kijh4akdnaqjkwendsasfdj");
  });

  it("longreq: long values and 34 Via lines in every spelling", () => {
    const m = parseOk("valid/longreq.sip");
    const vias = getHeaderValues(m, "Via");
    expect(vias).toHaveLength(34);
    expect(vias.slice(0, 3).map((v) => parseVia(v)?.host)).toEqual(["sip33.example.com", "sip32.example.com", "sip31.example.com"]);
    expect(parseVia(vias[33]!)?.params.received).toBe("192.0.2.5");
    expect(parseNameAddr(getHeader(m, "To")!)?.uri).toMatch(/^sip:user@example.com:6000;unknownparam1=very/);
    expect(parseNameAddr(getHeader(m, "From")!)?.params.tag).toMatch(/^12(982)+424$/);
    expect(m.body.length).toBe(150);
  });

  it("unreason and noreason: UTF-8 and empty reason phrases", () => {
    const u = parseOk("valid/unreason.sip");
    expect(u.kind === "response" && u.reason).toBe("= 2**3 * 5**2 но сто девяносто девять - простое");
    const n = parseOk("valid/noreason.sip");
    expect(n.kind === "response" && [n.status, n.reason]).toEqual([100, ""]);
  });

  it("dblreq: a datagram's trailing octets are discarded, a stream frames them as the next message", () => {
    const raw = fixture("rfc4475/valid/dblreq.sip");
    const m = parseOk("valid/dblreq.sip");
    expect(m.kind === "request" && m.method).toBe("REGISTER");
    expect(m.body.length).toBe(0);
    const frames = new SipStreamFramer().push(raw);
    expect(frames.map((f) => f.ok && f.message.kind === "request" && f.message.method)).toEqual(["REGISTER", "INVITE"]);
  });
});

describe("RFC 4475 3.1.2 invalid messages", () => {
  const expected: Record<string, SipParseErrorCode | "structured"> = {
    "rfc4475/invalid/badinv01.sip": "structured",
    "rfc4475/invalid/clerr.sip": "bad-content-length",
    "rfc4475/invalid/ncl.sip": "bad-content-length",
    "rfc4475/invalid/scalar02.sip": "bad-header",
    "rfc4475/invalid/scalarlg.sip": "bad-header",
    "rfc4475/invalid/quotbal.sip": "structured",
    "rfc4475/invalid/ltgtruri.sip": "bad-start-line",
    "rfc4475/invalid/lwsruri.sip": "bad-start-line",
    "rfc4475/invalid/lwsstart.sip": "bad-start-line",
    "rfc4475/invalid/trws.sip": "bad-start-line",
    "rfc4475/invalid/insuf.sip": "missing-header",
    "rfc4475/invalid/badvers.sip": "bad-start-line",
    "rfc4475/invalid/mismatch01.sip": "bad-header",
    "rfc4475/invalid/mismatch02.sip": "bad-header",
    "rfc4475/invalid/bigcode.sip": "bad-start-line",
    "rfc4475/invalid/regbadct.sip": "structured",
  };

  it("has an expectation for every invalid fixture", () => {
    expect(tortureInvalidFixtures().map(([n]) => n).sort()).toEqual(Object.keys(expected).sort());
  });

  for (const [name, code] of Object.entries(expected)) {
    if (code === "structured") continue;
    it(`${name.split("/").pop()} is rejected with ${code}`, () => {
      const r = parseSipMessage(fixture(name));
      expect(r.ok ? "ok" : r.error.code).toBe(code);
      if (!r.ok) expect(r.error).toBeInstanceOf(Error);
    });
  }

  it("insuf and mismatch01 still give the server enough for a 400 (partial)", () => {
    for (const name of ["insuf", "mismatch01"]) {
      const r = parseSipMessage(fixture(`rfc4475/invalid/${name}.sip`));
      if (r.ok) throw new Error("error expected");
      expect(r.partial?.method).toBeDefined();
      expect(r.partial?.headers?.some(([n]) => n === "Via")).toBe(true);
    }
    const insuf = parseSipMessage(fixture("rfc4475/invalid/insuf.sip"));
    expect(!insuf.ok && insuf.error.message).toBe("missing mandatory headers: From, To, Call-ID");
  });

  it("badinv01, quotbal, regbadct: the codec keeps the raw value, the structured parser rejects it", () => {
    const bad = parseOk("invalid/badinv01.sip");
    expect(parseVia(getHeader(bad, "Via")!)).toBeNull();
    expect(parseNameAddr(getHeader(bad, "Contact")!)).toBeNull();
    const quot = parseOk("invalid/quotbal.sip");
    expect(parseNameAddr(getHeader(quot, "To")!)).toBeNull();
    const regbadct = parseOk("invalid/regbadct.sip");
    expect(parseNameAddr(getHeader(regbadct, "Contact")!)).toBeNull();
  });

  it("on a stream, a bad message with a readable Content-Length is skipped and framing continues", () => {
    const good = fixture("options.sip");
    for (const name of ["lwsstart", "mismatch02", "insuf", "bigcode", "scalar02"]) {
      const frames = new SipStreamFramer().push(Buffer.concat([fixture(`rfc4475/invalid/${name}.sip`), good]));
      const datagram = parseSipMessage(fixture(`rfc4475/invalid/${name}.sip`));
      expect(frames.map((f) => (f.ok ? "ok" : f.fatal ? "fatal" : f.error.code)), name).toEqual([
        datagram.ok ? "ok" : datagram.error.code,
        "ok",
      ]);
    }
  });

  it("on a stream, a negative Content-Length is fatal (the stream cannot be re-synchronised)", () => {
    const frames = new SipStreamFramer().push(fixture("rfc4475/invalid/ncl.sip"));
    expect(frames).toHaveLength(1);
    expect(frames[0]).toMatchObject({ ok: false, fatal: true });
  });
});
