import { describe, expect, it } from "vitest";
import { getHeader, getHeaderValues, parseVia } from "../../../src/protocol/sip/headers.js";
import type { SipMessage } from "../../../src/protocol/sip/message.js";
import { parseSipMessage, SipStreamFramer } from "../../../src/protocol/sip/parser.js";
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

describe("SipStreamFramer", () => {
  it("frames every fixture split at every byte boundary into the same messages", () => {
    for (const [name, raw] of allFixtures()) {
      const expected = parseOk(raw);
      for (let cut = 0; cut <= raw.length; cut++) {
        const f = new SipStreamFramer();
        const frames = [...f.push(raw.subarray(0, cut)), ...f.push(raw.subarray(cut))];
        expect(frames.length, `${name} cut ${cut}`).toBe(1);
        const frame = frames[0]!;
        if (!frame.ok) throw new Error(`${name} cut ${cut}: ${frame.error.message}`);
        expect(frame.message).toEqual(expected);
        expect(frame.bytes.equals(raw)).toBe(true);
        expect(f.bufferedBytes).toBe(0);
      }
    }
  });

  it("round-trips every fixture through serialize and parse", () => {
    for (const [, raw] of allFixtures()) {
      const m = parseOk(raw);
      expect(parseOk(serializeSipMessage(m))).toEqual(m);
    }
  });
});
