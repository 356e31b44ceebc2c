/** Property tests (fast-check): framing survives any split, parsing is total, serialize round-trips. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseNameAddr, parseVia, getHeaderValues, parseCSeq } from "../../../src/protocol/sip/headers.js";
import type { HeaderList, SipMessage } from "../../../src/protocol/sip/message.js";
import { parseSipMessage, type SipFrame, SipStreamFramer } from "../../../src/protocol/sip/parser.js";
import { serializeSipMessage } from "../../../src/protocol/sip/serializer.js";
import { parseDigestChallenge, parseDigestCredentials } from "../../../src/protocol/sip/digest.js";
import { parseSipUri } from "../../../src/protocol/sip/uri.js";
import { allFixtures, tortureInvalidFixtures } from "./fixtures.js";
import { cutAt } from "../../support/cut-at.js";

const fixtures = allFixtures();
const invalid = tortureInvalidFixtures();

function summary(frames: SipFrame[]): string[] {
  return frames.map((f) => (f.ok ? `ok:${f.bytes.toString("base64")}` : `err:${f.error.code}:${f.fatal}`));
}

describe("framing properties", () => {
  it("a stream of fixtures (with keep-alives between) frames the same however it is chunked", () => {
    const pieces = fc.array(fc.oneof(fc.constantFrom(...fixtures.map(([, b]) => b)), fc.constant(Buffer.from("\r\n\r\n"))), {
      minLength: 1,
      maxLength: 6,
    });
    fc.assert(
      fc.property(pieces, fc.array(fc.nat(), { maxLength: 30 }), (parts, cuts) => {
        const stream = Buffer.concat(parts);
        const expected = summary(new SipStreamFramer().push(stream));
        const f = new SipStreamFramer();
        const got: SipFrame[] = [];
        for (const chunk of cutAt(stream, cuts)) got.push(...f.push(chunk));
        expect(summary(got)).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it("invalid torture messages on a stream give the same frames however they are chunked", () => {
    fc.assert(
      fc.property(fc.constantFrom(...invalid.map(([, b]) => b)), fc.array(fc.nat(), { maxLength: 10 }), (raw, cuts) => {
        const expected = summary(new SipStreamFramer().push(raw));
        const f = new SipStreamFramer();
        const got: SipFrame[] = [];
        for (const chunk of cutAt(raw, cuts)) got.push(...f.push(chunk));
        expect(summary(got)).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });
});

describe("totality: garbage never throws", () => {
  const structured = (m: SipMessage) => {
    for (const v of getHeaderValues(m, "Via")) parseVia(v);
    for (const n of ["From", "To", "Contact", "Route", "Record-Route"]) for (const v of getHeaderValues(m, n)) parseNameAddr(v);
    for (const v of getHeaderValues(m, "CSeq")) parseCSeq(v);
    for (const v of getHeaderValues(m, "WWW-Authenticate")) parseDigestChallenge(v);
    if (m.kind === "request") parseSipUri(m.uri);
  };

  it("parseSipMessage and the framer return results for arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const buf = Buffer.from(bytes);
        const r = parseSipMessage(buf);
        expect(typeof r.ok).toBe("boolean");
        if (r.ok) structured(r.message);
        const frames = new SipStreamFramer().push(buf);
        expect(Array.isArray(frames)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it("parseSipMessage returns results for arbitrary strings and SIP-looking line soup", () => {
    const line = fc.oneof(
      fc.constantFrom("INVITE sip:a@b SIP/2.0", "SIP/2.0 200 OK", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "f: <sip:a@b>;tag=1",
        "t: sip:b@c", "i: x", "CSeq: 1 INVITE", "l: 3", "Content-Length: 99999999999999999", " folded", "", ":", "m: *", "\t"),
      fc.string({ maxLength: 40 }),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), fc.constantFrom("\r\n", "\n", "\r"), (lines, eol) => {
        const text = lines.join(eol);
        for (const input of [text, `${text}\r\n\r\nabc`]) {
          const r = parseSipMessage(input);
          expect(typeof r.ok).toBe("boolean");
          if (r.ok) structured(r.message);
          new SipStreamFramer().push(Buffer.from(input));
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("mutated fixtures (bytes flipped, cut short) never throw, on datagrams or streams", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...fixtures.map(([, b]) => b)),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.nat(),
        (raw, edits, cut) => {
          const m = Buffer.from(raw);
          for (const [at, byte] of edits) m[at % m.length] = byte;
          const data = m.subarray(0, m.length - (cut % 20));
          const r = parseSipMessage(data);
          if (r.ok) structured(r.message);
          const f = new SipStreamFramer();
          f.push(data.subarray(0, data.length >> 1));
          f.push(data.subarray(data.length >> 1));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("the structured parsers return null or a value for arbitrary strings", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        parseNameAddr(s);
        parseVia(s);
        parseCSeq(s);
        parseSipUri(s);
        parseSipUri(`sip:${s}`);
        parseDigestChallenge(`Digest ${s}`);
        parseDigestCredentials(`Digest ${s}`);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("serialize round trip", () => {
  const token = fc.stringMatching(/^[A-Za-z0-9\-.!%*_+`'~]{1,12}$/);
  const value = fc.stringMatching(/^[!-~]([ -~]{0,30}[!-~])?$/);

  it("parse(serialize(m)) equals m for generated requests and responses", () => {
    const extra = fc.array(fc.tuple(fc.constantFrom("X-A", "Subject", "Contact", "Route", "P-Asserted-Identity", "Supported"), value), { maxLength: 5 });
    const msg = fc.record({
      request: fc.boolean(),
      method: token,
      status: fc.integer({ min: 100, max: 699 }),
      reason: fc.stringMatching(/^[ -~]{0,20}$/),
      extra,
      body: fc.uint8Array({ maxLength: 200 }),
    });
    fc.assert(
      fc.property(msg, (g) => {
        const headers: HeaderList = [
          ["Via", "SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK1"],
          ["From", "<sip:a@example.com>;tag=1"],
          ["To", "<sip:b@example.com>"],
          ["Call-ID", "c@h"],
          ["CSeq", `1 ${g.request ? g.method : "INVITE"}`],
          ...g.extra,
        ];
        const body = Buffer.from(g.body);
        const m: SipMessage = g.request
          ? { kind: "request", method: g.method, uri: "sip:b@example.com", headers, body }
          : { kind: "response", status: g.status, reason: g.reason.trim() === g.reason ? g.reason : "R", headers, body };
        const r = parseSipMessage(serializeSipMessage(m));
        if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
        expect(r.message).toEqual({ ...m, headers: [...headers, ["Content-Length", String(body.length)]] });
        // And over a stream, byte by byte is not needed: one chunk per half.
        const wire = serializeSipMessage(m);
        const f = new SipStreamFramer();
        const frames = [...f.push(wire.subarray(0, wire.length >> 1)), ...f.push(wire.subarray(wire.length >> 1))];
        expect(frames.length === 1 && frames[0]!.ok && frames[0]!.message).toEqual(r.message);
      }),
      { numRuns: 500 },
    );
  });
});
