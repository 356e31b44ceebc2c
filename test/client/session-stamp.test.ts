/**
 * The CPIM envelope of cpm-load messages (message-stamp.ts): stamps survive the codec, the head
 * of a streamed message matches the whole-message form, the first-chunk peek reads any prefix that
 * holds the headers (and nothing shorter), payload streams equal their materialised bytes.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  buildCpim,
  CONTROL_CONTENT_TYPE,
  controlContent,
  cpimHead,
  type CpimEnvelope,
  drawSize,
  payloadBytes,
  patternStream,
  payloadPattern,
  peekCpimHead,
  readControl,
  readStamp,
} from "../../src/client/message-stamp.js";
import { seededRandom } from "../../src/client/prng.js";
import { isVouchedFor } from "../../src/protocol/msrp/index.js";
import { getCpimHeader, getImdnMessageId, getDispositionRequests, parseCpim } from "../../src/protocol/cpim/index.js";

const envelope = (over: Partial<CpimEnvelope> = {}): CpimEnvelope => ({
  from: "sip:alice@cpm.test",
  to: "sip:bob@cpm.test",
  messageId: "m-123",
  dateMs: Date.UTC(2026, 0, 2, 3, 4, 5),
  stamp: { sentAtNs: 1_767_323_045_123_456_789, intendedNs: 1_767_323_045_000_000_000 },
  contentType: "text/plain",
  imdn: true,
  ...over,
});

describe("CPIM envelope", () => {
  it("carries From/To/DateTime, the IMDN headers and the cpm-load stamp, which reads back", () => {
    const bytes = buildCpim(envelope(), Buffer.from("hello"));
    const p = parseCpim(bytes);
    if (!p.ok) throw p.error;
    expect(getCpimHeader(p.message, "From")).toBe("<sip:alice@cpm.test>");
    expect(getCpimHeader(p.message, "To")).toBe("<sip:bob@cpm.test>");
    expect(getCpimHeader(p.message, "DateTime")).toBe("2026-01-02T03:04:05.000Z");
    expect(getImdnMessageId(p.message)).toBe("m-123");
    expect(getDispositionRequests(p.message)).toEqual(["positive-delivery"]);
    expect(bytes.toString()).toContain("NS: cpmload <urn:cpm-load:1>\r\n");
    expect(readStamp(p.message)).toEqual(envelope().stamp);
    expect(p.message.body.toString()).toBe("hello");
  });

  it("without IMDN request or intended time, only the Message-ID and Sent-At are written", () => {
    const p = parseCpim(buildCpim(envelope({ imdn: false, stamp: { sentAtNs: 5e17 } }), Buffer.from("x")));
    if (!p.ok) throw p.error;
    expect(getDispositionRequests(p.message)).toEqual([]);
    expect(readStamp(p.message)).toEqual({ sentAtNs: 5e17 });
  });

  it("a message without a stamp (or a malformed one) has none", () => {
    const p = parseCpim("From: <sip:a@x>\r\nNS: cpmload <urn:cpm-load:1>\r\ncpmload.Sent-At: soon\r\n\r\nContent-Type: text/plain\r\n\r\nx");
    if (!p.ok) throw p.error;
    expect(readStamp(p.message)).toBeUndefined();
  });

  it("the streamed head followed by the content is byte for byte the whole message", () => {
    const content = Buffer.from("0123456789".repeat(50));
    expect(Buffer.concat([cpimHead(envelope(), content.length), content]).equals(buildCpim(envelope(), content))).toBe(true);
  });

  it("peekCpimHead reads the stamp from any prefix that holds both header sections, and nothing from a shorter one", () => {
    const content = payloadBytes(3000, 12345);
    const whole = buildCpim(envelope(), content);
    const head = cpimHead(envelope(), content.length);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: whole.length }), (cut) => {
        const peeked = peekCpimHead(whole.subarray(0, cut));
        if (cut < head.length) return peeked === undefined;
        return (
          peeked !== undefined &&
          peeked.headBytes === head.length &&
          peeked.contentType === "text/plain" &&
          peeked.stamp?.sentAtNs === envelope().stamp.sentAtNs
        );
      }),
      { numRuns: 400 },
    );
    for (let cut = 0; cut <= head.length + 2; cut++) {
      expect(peekCpimHead(whole.subarray(0, cut)) === undefined).toBe(cut < head.length);
    }
  });

  it("peekCpimHead and readControl never throw on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const b = Buffer.from(bytes);
        peekCpimHead(b);
        const c = readControl(b);
        return c === undefined || c === "bye";
      }),
    );
  });

  it("control messages: bye round-trips, anything else is not an action", () => {
    expect(readControl(controlContent("bye"))).toBe("bye");
    expect(readControl(Buffer.from('{"action":"dance"}'))).toBeUndefined();
    expect(readControl(Buffer.from("null"))).toBeUndefined();
    expect(CONTROL_CONTENT_TYPE).toBe("application/x-cpm-load-control+json");
  });
});

describe("payloads", () => {
  it("a pattern stream is the head plus payloadBytes, also across the pattern's end", () => {
    const pattern = payloadPattern();
    const head = Buffer.from("HEAD\r\n\r\n");
    for (const [size, offset] of [
      [0, 0],
      [10, 5],
      [300_000, pattern.length - 1000],
      [3 * pattern.length + 7, 99],
    ] as const) {
      const streamed = Buffer.concat([...patternStream(head, size, offset, 65_536)]);
      expect(streamed.equals(Buffer.concat([head, payloadBytes(size, offset)]))).toBe(true);
    }
    expect([...patternStream(Buffer.alloc(0), 200_000, 0, 65_536)].every((p) => p.length <= 65_536)).toBe(true);
  });

  it("a pattern stream comes in pieces of exactly the chunk size, views of the pattern past the head", () => {
    const pattern = payloadPattern();
    const head = Buffer.from("CPIM HEAD\r\n\r\n");
    // Offsets near the pattern's end: the payload wraps around it and is still never copied.
    for (const offset of [0, 12345, pattern.length - 10, pattern.length - 70_000]) {
      const pieces = [...patternStream(head, 300_000, offset, 65_536)];
      expect(pieces.map((p) => p.length)).toEqual([65_536, 65_536, 65_536, 65_536, 300_000 + head.length - 4 * 65_536]);
      expect(pieces[0]!.subarray(0, head.length).equals(head)).toBe(true);
      expect(pieces.slice(1).every((p) => p.buffer === pattern.buffer)).toBe(true);
      expect(Buffer.concat(pieces).equals(Buffer.concat([head, payloadBytes(300_000, offset)]))).toBe(true);
    }
    // Pieces smaller than the head (copies of head bytes, then of head and payload) and larger than
    // the pattern (copies): the same bytes, in pieces of exactly that size.
    for (const pieceBytes of [5, 3 * 1024 * 1024]) {
      const size = pieceBytes === 5 ? 1000 : 5 * 1024 * 1024 + 3;
      const pieces = [...patternStream(head, size, pattern.length - 7, pieceBytes)];
      expect(pieces.slice(0, -1).every((p) => p.length === pieceBytes)).toBe(true);
      expect(Buffer.concat(pieces).equals(Buffer.concat([head, payloadBytes(size, pattern.length - 7)]))).toBe(true);
    }
    // The MSRP sender does not rescan the pattern's views for end-lines: it holds no run of seven hyphens.
    expect(pattern.indexOf("-------")).toBe(-1);
    expect(isVouchedFor(payloadBytes(65_536, 999))).toBe(true);
    expect(isVouchedFor(Buffer.from(payloadBytes(65_536, 999)))).toBe(false);
  });

  it("payload bytes are printable and the same in every call (views of one pattern)", () => {
    const a = payloadBytes(1000, 77);
    expect(a.equals(payloadBytes(1000, 77))).toBe(true);
    expect(/^[A-Za-z0-9 .,-]+$/.test(a.toString("latin1"))).toBe(true);
  });

  it("sizes: fixed as given, uniform within [min, max] inclusive, deterministic per seed", () => {
    expect(drawSize({ kind: "fixed", bytes: 42 }, () => 0.9)).toBe(42);
    const r = seededRandom(9);
    const draws = Array.from({ length: 2000 }, () => drawSize({ kind: "uniform", minBytes: 10, maxBytes: 13 }, r));
    expect(new Set(draws)).toEqual(new Set([10, 11, 12, 13]));
    expect(drawSize({ kind: "uniform", minBytes: 5, maxBytes: 5 }, () => 0.999)).toBe(5);
    const again = seededRandom(9);
    expect(Array.from({ length: 2000 }, () => drawSize({ kind: "uniform", minBytes: 10, maxBytes: 13 }, again))).toEqual(draws);
  });
});
