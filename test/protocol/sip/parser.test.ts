import { describe, expect, it } from "vitest";
import { getHeader, getHeaderValues, parseVia } from "../../../src/protocol/sip/headers.js";
import type { SipMessage } from "../../../src/protocol/sip/message.js";
import { parseSipMessage } from "../../../src/protocol/sip/parser.js";
import { serializeSipMessage } from "../../../src/protocol/sip/serializer.js";
import { allFixtures, fixture } from "./fixtures.js";

function parseOk(data: Buffer | string): SipMessage {
  const r = parseSipMessage(data);
  if (!r.ok) throw new Error(`expected a message, got ${r.error.code}: ${r.error.message}`);
  return r.message;
}

describe("parseSipMessage on real captures", () => {
  it("parses a SIP.js REGISTER with canonical names and raw values", () => {
    const m = parseOk(fixture("register-sipjs.sip"));
    expect(m.kind).toBe("request");
    if (m.kind !== "request") return;
    expect(m.method).toBe("REGISTER");
    expect(m.uri).toBe("sip:cpm.example.com");
    expect(m.headers.map(([n]) => n)).toEqual([
      "Via", "Max-Forwards", "To", "From", "Call-ID", "CSeq", "Contact", "Expires", "Allow", "Supported",
      "User-Agent", "Content-Length",
    ]);
    expect(getHeader(m, "call-id")).toBe("aq3rl8jr4m6nte0pg8h3");
    expect(getHeader(m, "i")).toBe("aq3rl8jr4m6nte0pg8h3");
    expect(getHeaderValues(m, "Allow")).toEqual(["ACK", "CANCEL", "INVITE", "MESSAGE", "BYE", "OPTIONS", "INFO", "NOTIFY", "REFER"]);
    expect(m.body.length).toBe(0);
  });

  it("parses a Kamailio 401 and keeps both WWW-Authenticate lines unsplit", () => {
    const m = parseOk(fixture("401-kamailio.sip"));
    expect(m.kind).toBe("response");
    if (m.kind !== "response") return;
    expect(m.status).toBe(401);
    expect(m.reason).toBe("Unauthorized");
    const challenges = getHeaderValues(m, "www-authenticate");
    expect(challenges).toHaveLength(2);
    expect(challenges[0]).toBe('Digest realm="cpm.example.com", nonce="Y2hZcGbXa7ww0fd6N4pqVvMlVXK+Jxg1", qop="auth", algorithm=SHA-256');
    const via = parseVia(getHeader(m, "Via")!);
    expect(via).toMatchObject({ protocol: "SIP/2.0", transport: "TCP", host: "192.0.2.10", port: 50412 });
    expect({ ...via!.params }).toEqual({ branch: "z9hG4bK-524287-1---7a1f7e9d3c1d2e4f", rport: "50412", received: "192.0.2.10" });
  });

  it("parses an INVITE with an SDP body of exactly Content-Length bytes", () => {
    const raw = fixture("invite-sdp.sip");
    const m = parseOk(raw);
    const cl = Number(getHeader(m, "Content-Length"));
    expect(m.body.length).toBe(cl);
    expect(m.body.toString()).toMatch(/^v=0\r\n/);
    expect(m.body.toString()).toMatch(/a=sendrecv\r\n$/);
  });

  it("expands compact forms, unfolds folded lines and splits comma-joined Via", () => {
    const m = parseOk(fixture("compact-folded.sip"));
    expect(getHeader(m, "Subscription-State")).toBe("active; expires=3599");
    expect(getHeaderValues(m, "Via")).toEqual([
      "SIP/2.0/UDP 192.0.2.5;branch=z9hG4bKnashds7",
      "SIP/2.0/UDP 192.0.2.6:5062;branch=z9hG4bKq2",
      "SIP/2.0/TCP [2001:db8::9];branch=z9hG4bKq3;received=2001:db8::9",
    ]);
    expect(m.headers.find(([n]) => n === "X-Custom-Trace")).toEqual(["X-Custom-Trace", "abc"]);
    expect(getHeader(m, "Content-Type")).toBe("application/reginfo+xml");
    expect(getHeader(m, "Event")).toBe("reg");
    expect(getHeader(m, "Contact")).toBe("<sip:registrar.cpm.example.com>");
  });

  it("parses a string the same as the Buffer, with the body counted in UTF-8 bytes", () => {
    const raw = fixture("message-cpim.sip");
    const fromBuffer = parseOk(raw);
    const fromString = parseOk(raw.toString("utf8"));
    expect(fromString).toEqual(fromBuffer);
    expect(fromBuffer.body.toString("utf8")).toContain("Hej då, Bob! ☃");
  });
});

describe("parseSipMessage errors", () => {
  const base = fixture("options.sip").toString("latin1");

  it("reports missing mandatory headers with the partial request", () => {
    const r = parseSipMessage(base.replace(/^Call-ID:.*\r\n/m, ""));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe("missing-header");
    expect(r.error.message).toContain("Call-ID");
    expect(r.partial?.method).toBe("OPTIONS");
    expect(r.partial?.uri).toBe("sip:cpm.example.com");
    expect(r.partial?.headers?.length).toBeGreaterThan(3);
  });

  it("rejects a Content-Length larger than the datagram", () => {
    const r = parseSipMessage(base.replace("Content-Length: 0", "Content-Length: 10"));
    expect(r.ok ? "ok" : r.error.code).toBe("bad-content-length");
  });

  it("rejects bad start lines", () => {
    for (const line of ["OPTIONS sip:a@b SIP/3.0", "OPTIONS  sip:a@b SIP/2.0", "OPTIONS <sip:a@b> SIP/2.0", "SIP/2.0 20 OK", "HELLO"]) {
      const r = parseSipMessage(base.replace(/^.*\r\n/, `${line}\r\n`));
      expect(r.ok ? "ok" : r.error.code, line).toBe("bad-start-line");
    }
  });
});

describe("parseSipMessage details", () => {
  const opt = fixture("options.sip").toString("latin1");

  it("skips CRLFs before the start line and accepts bare-LF line ends", () => {
    expect(parseOk(`\r\n\r\n${opt}`)).toEqual(parseOk(opt));
    const lf = parseOk(opt.replace(/\r\n/g, "\n"));
    expect(lf).toEqual(parseOk(opt));
  });

  it("takes the rest of a datagram as body without Content-Length and discards bytes beyond it", () => {
    const noCl = opt.replace("Content-Length: 0\r\n", "");
    expect(parseOk(`${noCl}hello`).body.toString()).toBe("hello");
    expect(parseOk(opt.replace("Content-Length: 0", "Content-Length: 3") + "abcdef").body.toString()).toBe("abc");
  });

  it("accepts repeated equal Content-Length lines and rejects conflicting or non-numeric ones", () => {
    expect(parseOk(opt.replace("Content-Length: 0", "Content-Length: 0\r\nl: 0")).body.length).toBe(0);
    for (const v of ["Content-Length: 0\r\nl: 2", "Content-Length: abc", "Content-Length: ", "Content-Length: 1 2", "Content-Length: 0x10"]) {
      const r = parseSipMessage(opt.replace("Content-Length: 0", v) + "ab");
      expect(r.ok ? "ok" : r.error.code, v).toBe("bad-content-length");
    }
  });

  it("enforces the header and body size limits", () => {
    expect(parseSipMessage(opt, { maxHeaderBytes: 100 })).toMatchObject({ ok: false, error: { code: "too-large" } });
    const big = opt.replace("Content-Length: 0", "Content-Length: 11") + "x".repeat(11);
    expect(parseSipMessage(big, { maxBodyBytes: 10 })).toMatchObject({ ok: false, error: { code: "too-large" } });
    expect(parseSipMessage(Buffer.from(big), { maxBodyBytes: 11 }).ok).toBe(true);
    expect(parseSipMessage("X".repeat(70_000))).toMatchObject({ ok: false, error: { code: "too-large" } });
  });

  it("reports incomplete input and bad header lines", () => {
    expect(parseSipMessage("")).toMatchObject({ ok: false, error: { code: "incomplete" } });
    expect(parseSipMessage("\r\n\r\n")).toMatchObject({ ok: false, error: { code: "incomplete" } });
    expect(parseSipMessage(opt.slice(0, 60))).toMatchObject({ ok: false, error: { code: "incomplete" } });
    for (const bad of ["No colon here", "Bad Name: x", ": empty name", "Na<me: x"]) {
      const r = parseSipMessage(opt.replace("Max-Forwards: 70", bad));
      expect(r.ok ? "ok" : r.error.code, bad).toBe("bad-header");
      expect(!r.ok && r.partial?.method).toBe("OPTIONS");
    }
    expect(parseSipMessage(opt.replace("CSeq: 42 OPTIONS", "CSeq: 42 OPTIONS\r\nCSeq: 43 OPTIONS")).ok).toBe(false);
  });

  it("reports missing headers in responses too, with their headers as partial", () => {
    const r = parseSipMessage(fixture("401-kamailio.sip").toString("latin1").replace(/^Via:.*\r\n/m, ""));
    expect(r).toMatchObject({ ok: false, error: { code: "missing-header", message: "missing mandatory header: Via" } });
    expect(!r.ok && r.partial?.headers?.length).toBeGreaterThan(3);
  });

  it("accepts a status line without reason phrase and lowercase version, rejects status < 100", () => {
    const res = fixture("401-kamailio.sip").toString("latin1");
    const noReason = parseOk(res.replace("SIP/2.0 401 Unauthorized", "sip/2.0 401"));
    expect(noReason.kind === "response" && [noReason.status, noReason.reason]).toEqual([401, ""]);
    expect(parseSipMessage(res.replace("SIP/2.0 401 Unauthorized", "SIP/2.0 099 Low"))).toMatchObject({ ok: false, error: { code: "bad-start-line" } });
    expect(parseSipMessage(res.replace("SIP/2.0 401 Unauthorized", "SIP/2.0 4011 X"))).toMatchObject({ ok: false, error: { code: "bad-start-line" } });
  });
});

describe("serializeSipMessage", () => {
  it("round-trips every fixture through serialize and parse", () => {
    for (const [name, raw] of allFixtures()) {
      const m = parseOk(raw);
      expect(parseOk(serializeSipMessage(m)), name).toEqual(m);
    }
  });

  it("reproduces canonical captures byte for byte", () => {
    for (const name of ["register-sipjs.sip", "invite-sdp.sip", "401-kamailio.sip", "200-record-route.sip", "options.sip"]) {
      expect(serializeSipMessage(parseOk(fixture(name))).equals(fixture(name)), name).toBe(true);
    }
  });

  it("rewrites Content-Length (compact or not) to the body length, or appends it", () => {
    const m = parseOk(fixture("compact-folded.sip"));
    m.body = Buffer.from("héllo");
    const out = serializeSipMessage(m).toString("utf8");
    expect(out).toContain("\r\nContent-Length: 6\r\n");
    expect(out).not.toContain("\r\nl: ");
    expect(out.endsWith("\r\n\r\nhéllo")).toBe(true);
    const bare = serializeSipMessage({ kind: "response", status: 200, reason: "OK", headers: [["Call-ID", "x"]], body: Buffer.alloc(0) });
    expect(bare.toString()).toBe("SIP/2.0 200 OK\r\nCall-ID: x\r\nContent-Length: 0\r\n\r\n");
  });
});
