import { describe, expect, it } from "vitest";
import {
  addHeader,
  canonicalHeaderName,
  compactHeaderName,
  formatNameAddr,
  formatVia,
  getBranch,
  getCallId,
  getCSeq,
  getHeader,
  getHeaderLines,
  getHeaderValues,
  getTag,
  parseCSeq,
  parseNameAddr,
  parseVia,
  removeHeader,
  setHeader,
  splitHeaderList,
} from "../../../src/protocol/sip/headers.js";
import type { HeaderList } from "../../../src/protocol/sip/message.js";

const msg = (headers: HeaderList) => ({ headers });

describe("canonicalHeaderName", () => {
  it("expands compact forms and spells well-known names as the RFCs do", () => {
    const cases: Array<[string, string]> = [
      ["i", "Call-ID"], ["I", "Call-ID"], ["call-id", "Call-ID"], ["CALL-ID", "Call-ID"], ["Call-Id", "Call-ID"],
      ["m", "Contact"], ["e", "Content-Encoding"], ["l", "Content-Length"], ["c", "Content-Type"], ["f", "From"],
      ["s", "Subject"], ["k", "Supported"], ["t", "To"], ["v", "Via"], ["o", "Event"], ["u", "Allow-Events"],
      ["r", "Refer-To"], ["b", "Referred-By"], ["x", "Session-Expires"], ["y", "Identity"], ["a", "Accept-Contact"],
      ["cseq", "CSeq"], ["www-authenticate", "WWW-Authenticate"], ["content-length", "Content-Length"],
      ["record-route", "Record-Route"], ["p-asserted-identity", "P-Asserted-Identity"], ["rseq", "RSeq"],
      ["contribution-id", "Contribution-ID"], ["mime-version", "MIME-Version"], ["sip-etag", "SIP-ETag"],
    ];
    for (const [wire, canonical] of cases) expect(canonicalHeaderName(wire), wire).toBe(canonical);
  });

  it("keeps unknown names as written", () => {
    expect(canonicalHeaderName("X-Custom-Trace")).toBe("X-Custom-Trace");
    expect(canonicalHeaderName("x-custom-trace")).toBe("x-custom-trace");
    expect(canonicalHeaderName("Z")).toBe("Z");
  });

  it("gives compact letters back", () => {
    expect(compactHeaderName("call-id")).toBe("i");
    expect(compactHeaderName("CSeq")).toBeUndefined();
  });
});

describe("header lookup and edit", () => {
  const m = msg([
    ["Via", "SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP b.example.com;branch=z9hG4bK2"],
    ["Via", "SIP/2.0/UDP [2001:db8::1]:5070;branch=z9hG4bK3;rport=5070;received=2001:db8::1"],
    ["From", '"Smith, John" <sip:john@example.com>;tag=f1'],
    ["To", "<sip:bob@example.com>"],
    ["Call-ID", "c1@example.com"],
    ["CSeq", "42 INVITE"],
    ["Contact", '"A, B" <sip:a@h;x=1,2>;expires=60, <sip:c@h>;+sip.instance="<urn:uuid:1,2>", sip:d@h;q=0.5'],
    ["WWW-Authenticate", 'Digest realm="r", nonce="n", qop="auth,auth-int"'],
    ["Date", "Sat, 13 Nov 2010 23:29:00 GMT"],
    ["X-Unknown", "a, b"],
  ]);

  it("finds the first value by any spelling, compact form included", () => {
    expect(getHeader(m, "via")).toBe("SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP b.example.com;branch=z9hG4bK2");
    expect(getHeader(m, "i")).toBe("c1@example.com");
    expect(getHeader(m, "x-unknown")).toBe("a, b");
    expect(getHeader(m, "Route")).toBeUndefined();
    expect(getCallId(m)).toBe("c1@example.com");
  });

  it("splits comma-joined list headers outside quotes and <>, never auth headers or dates", () => {
    expect(getHeaderValues(m, "Via")).toHaveLength(3);
    expect(getHeaderValues(m, "m")).toEqual([
      '"A, B" <sip:a@h;x=1,2>;expires=60',
      '<sip:c@h>;+sip.instance="<urn:uuid:1,2>"',
      "sip:d@h;q=0.5",
    ]);
    expect(getHeaderValues(m, "WWW-Authenticate")).toEqual(['Digest realm="r", nonce="n", qop="auth,auth-int"']);
    expect(getHeaderValues(m, "Date")).toEqual(["Sat, 13 Nov 2010 23:29:00 GMT"]);
    expect(getHeaderValues(m, "From")).toEqual(['"Smith, John" <sip:john@example.com>;tag=f1']);
    expect(getHeaderValues(m, "X-Unknown")).toEqual(["a", "b"]);
    expect(getHeaderLines(m, "Via")).toHaveLength(2);
  });

  it("splitHeaderList handles escaped quotes and drops empty elements", () => {
    expect(splitHeaderList('"a \\", b" <sip:x>, , <sip:y>')).toEqual(['"a \\", b" <sip:x>', "<sip:y>"]);
    expect(splitHeaderList("  ")).toEqual([]);
  });

  it("reads branch, tags and CSeq", () => {
    expect(getBranch(m)).toBe("z9hG4bK1");
    expect(getTag(m, "From")).toBe("f1");
    expect(getTag(m, "To")).toBeUndefined();
    expect(getCSeq(m)).toEqual({ seq: 42, method: "INVITE" });
    expect(getBranch(msg([]))).toBeUndefined();
  });

  it("setHeader replaces in place and drops duplicates; addHeader appends or prepends; removeHeader counts", () => {
    const e = msg([
      ["Via", "v1"],
      ["Contact", "c1"],
      ["contact", "c2"],
      ["Max-Forwards", "70"],
    ]);
    setHeader(e, "m", "c3");
    expect(e.headers).toEqual([["Via", "v1"], ["Contact", "c3"], ["Max-Forwards", "70"]]);
    setHeader(e, "expires", "60");
    expect(e.headers.at(-1)).toEqual(["Expires", "60"]);
    addHeader(e, "v", "v0", { first: true });
    expect(e.headers.slice(0, 2)).toEqual([["Via", "v0"], ["Via", "v1"]]);
    addHeader(e, "Route", "<sip:r;lr>", { first: true });
    expect(e.headers[0]).toEqual(["Route", "<sip:r;lr>"]);
    addHeader(e, "x-a", "1");
    expect(e.headers.at(-1)).toEqual(["x-a", "1"]);
    expect(removeHeader(e, "VIA")).toBe(2);
    expect(removeHeader(e, "Via")).toBe(0);
    expect(getHeader(e, "X-A")).toBe("1");
  });
});

describe("parseNameAddr", () => {
  it("parses quoted display names, URIs with parameters and header parameters", () => {
    const na = parseNameAddr('"Display \\"Q\\"" <sip:a@b;x=y;lr>;tag=1;expires=60;+sip.instance="<urn:uuid:abc>"');
    expect(na?.displayName).toBe('Display "Q"');
    expect(na?.uri).toBe("sip:a@b;x=y;lr");
    expect({ ...na?.params }).toEqual({ tag: "1", expires: "60", "+sip.instance": '"<urn:uuid:abc>"' });
  });

  it("parses <uri> without display name and token display names", () => {
    expect(parseNameAddr("<sip:a@b>")).toEqual({ uri: "sip:a@b", params: {} });
    expect(parseNameAddr("Bob Smith <sips:bob@b:5061>;TAG=Xy")).toMatchObject({
      displayName: "Bob Smith",
      uri: "sips:bob@b:5061",
      params: { tag: "Xy" },
    });
  });

  it("gives a bare addr-spec's ;parameters to the header (RFC 3261 20.10)", () => {
    const na = parseNameAddr("sip:a@b;tag=1;flag");
    expect(na?.uri).toBe("sip:a@b");
    expect({ ...na?.params }).toEqual({ tag: "1", flag: null });
    expect(parseNameAddr("tel:+12015550123;tag=9")?.uri).toBe("tel:+12015550123");
  });

  it("parses Contact: *", () => {
    expect(parseNameAddr(" * ")?.uri).toBe("*");
  });

  it("returns null for malformed values", () => {
    for (const bad of ["", '"unterminated <sip:a@b>', "<sip:a@b", "<>", "noscheme", '"x" sip:a@b', "<sip:a@b>;=1", "<sip:a@b> junk", "sip:a b@c"]) {
      expect(parseNameAddr(bad), bad).toBeNull();
    }
  });

  it("formats back to a value that parses the same", () => {
    const v = '"A \\"B\\"" <sip:a@b;lr>;tag=x;ob';
    const na = parseNameAddr(v)!;
    expect(parseNameAddr(formatNameAddr(na))).toEqual(na);
  });
});

describe("parseVia", () => {
  it("parses transport, host, port, branch, rport and received", () => {
    const v = parseVia("SIP/2.0/TCP host.example.com:5061;branch=z9hG4bK776;rport;received=192.0.2.1");
    expect(v).toMatchObject({ protocol: "SIP/2.0", transport: "TCP", host: "host.example.com", port: 5061 });
    expect({ ...v?.params }).toEqual({ branch: "z9hG4bK776", rport: null, received: "192.0.2.1" });
  });

  it("parses IPv6 references and lowercase transports", () => {
    const v = parseVia("SIP/2.0/udp [2001:db8::9]:5070;branch=z9hG4bK1;received=[2001:db8::9];rport=5070");
    expect(v).toMatchObject({ transport: "UDP", host: "[2001:db8::9]", port: 5070 });
    expect(v?.params.received).toBe("[2001:db8::9]");
    expect(v?.params.rport).toBe("5070");
    expect(parseVia("SIP/2.0/WSS [::1];branch=z9hG4bKx")?.port).toBeUndefined();
  });

  it("tolerates LWS around / : ; and =", () => {
    const v = parseVia("SIP / 2.0 / TLS  h.example.com : 5061 ; branch = z9hG4bK1 ; maddr=224.2.0.1");
    expect(v).toMatchObject({ transport: "TLS", host: "h.example.com", port: 5061 });
    expect(v?.params.branch).toBe("z9hG4bK1");
  });

  it("returns null for malformed values", () => {
    for (const bad of ["", "SIP/2.0", "SIP/2.0/UDP", "SIP/2.0/UDP host:99999", "SIP/2.0/UDP [::1", "SIP/2.0/UDP h;;", "SIP/2.0/UDP h junk", "SIP 2.0/UDP h"]) {
      expect(parseVia(bad), bad).toBeNull();
    }
  });

  it("formats back to a value that parses the same", () => {
    const v = parseVia("SIP/2.0/TCP [::1]:5060;branch=z9hG4bK9;rport=1;received=::1")!;
    expect(parseVia(formatVia(v))).toEqual(v);
  });
});

describe("parseCSeq", () => {
  it("parses number and method, rejects out-of-range or malformed values", () => {
    expect(parseCSeq("1 INVITE")).toEqual({ seq: 1, method: "INVITE" });
    expect(parseCSeq(" 0009   ACK ")).toEqual({ seq: 9, method: "ACK" });
    expect(parseCSeq("2147483647 BYE")).toEqual({ seq: 2147483647, method: "BYE" });
    for (const bad of ["2147483648 BYE", "INVITE", "1", "1INVITE", "-1 INVITE", "1 INVITE extra", "99999999999 A"]) {
      expect(parseCSeq(bad), bad).toBeNull();
    }
  });
});
