import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ALNUM, chars, msrpUriArb, tidArb } from "./arbitraries.js";
import {
  formatMsrpUri,
  type MsrpHeaderList,
  type MsrpMessage,
  parseMsrpMessage,
  serializeMsrp,
  serializeMsrpParts,
  transactionIdOccursIn,
} from "../../../src/protocol/msrp/index.js";

/** Header values as the parser returns them: trimmed, single line, any Unicode. */
const valueArb = fc
  .string({ unit: "grapheme", maxLength: 40 })
  .map((s) => s.replace(/[\r\n]/g, " ").trim());

const extraHeadersArb: fc.Arbitrary<MsrpHeaderList> = fc.array(
  fc.tuple(chars(ALNUM, 1, 10).map((n) => `X-${n}`), valueArb),
  { maxLength: 5 },
);

const requestArb: fc.Arbitrary<MsrpMessage> = fc
  .record({
    tid: tidArb,
    method: chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 1, 10),
    to: fc.array(msrpUriArb, { minLength: 1, maxLength: 3 }),
    from: fc.array(msrpUriArb, { minLength: 1, maxLength: 3 }),
    extra: extraHeadersArb,
    contentType: fc.option(fc.constantFrom("text/plain", "message/cpim", "application/octet-stream"), { nil: undefined }),
    body: fc.uint8Array({ maxLength: 300 }),
    flag: fc.constantFrom("$" as const, "+" as const, "#" as const),
  })
  .map(({ tid, method, to, from, extra, contentType, body, flag }) => {
    const headers: MsrpHeaderList = [
      ["To-Path", to.map(formatMsrpUri).join(" ")],
      ["From-Path", from.map(formatMsrpUri).join(" ")],
      ...extra,
    ];
    if (contentType !== undefined) headers.push(["Content-Type", contentType]);
    return { kind: "request" as const, tid, method, headers, body: Buffer.from(body), flag };
  });

const responseArb: fc.Arbitrary<MsrpMessage> = fc
  .record({
    tid: tidArb,
    status: fc.integer({ min: 0, max: 999 }),
    comment: fc.option(valueArb, { nil: undefined }),
    to: msrpUriArb,
    from: msrpUriArb,
    extra: extraHeadersArb,
  })
  .map(({ tid, status, comment, to, from, extra }) => {
    const m: MsrpMessage = {
      kind: "response",
      tid,
      status,
      headers: [["To-Path", formatMsrpUri(to)], ["From-Path", formatMsrpUri(from)], ...extra],
    };
    if (comment !== undefined) m.comment = comment;
    return m;
  });

function plain(m: MsrpMessage): unknown {
  return m.kind === "request" ? { ...m, body: [...m.body] } : m;
}

describe("MSRP serializer", () => {
  it("writes To-Path, From-Path first and Content-Type last, whatever the header order", () => {
    const wire = serializeMsrp({
      kind: "request",
      tid: "order123",
      method: "SEND",
      headers: [
        ["Content-Type", "text/plain"],
        ["Message-ID", "m1"],
        ["From-Path", "msrp://a:1/s;tcp"],
        ["Byte-Range", "1-2/2"],
        ["To-Path", "msrp://b:2/t;tcp"],
      ],
      body: Buffer.from("hi"),
      flag: "$",
    });
    expect(wire.toString()).toBe(
      "MSRP order123 SEND\r\nTo-Path: msrp://b:2/t;tcp\r\nFrom-Path: msrp://a:1/s;tcp\r\nMessage-ID: m1\r\n" +
        "Byte-Range: 1-2/2\r\nContent-Type: text/plain\r\n\r\nhi\r\n-------order123$\r\n",
    );
  });

  it("writes a body-less request with the end-line right after the headers", () => {
    const wire = serializeMsrp({
      kind: "request",
      tid: "nobody12",
      method: "SEND",
      headers: [
        ["To-Path", "msrp://b:2/t;tcp"],
        ["From-Path", "msrp://a:1/s;tcp"],
      ],
      body: Buffer.alloc(0),
      flag: "$",
    });
    expect(wire.toString()).toBe("MSRP nobody12 SEND\r\nTo-Path: msrp://b:2/t;tcp\r\nFrom-Path: msrp://a:1/s;tcp\r\n-------nobody12$\r\n");
  });

  it("keeps an empty body that has a Content-Type", () => {
    const m: MsrpMessage = {
      kind: "request",
      tid: "emptyct1",
      method: "SEND",
      headers: [
        ["To-Path", "msrp://b:2/t;tcp"],
        ["From-Path", "msrp://a:1/s;tcp"],
        ["Content-Type", "text/plain"],
      ],
      body: Buffer.alloc(0),
      flag: "$",
    };
    const wire = serializeMsrp(m);
    expect(wire.toString()).toContain("Content-Type: text/plain\r\n\r\n\r\n-------emptyct1$\r\n");
    const back = parseMsrpMessage(wire);
    expect(back.ok && plain(back.message)).toEqual(plain(m));
  });

  it("gives the same bytes in parts as in one buffer, with the body not copied", () => {
    const body = Buffer.from("payload");
    const m: MsrpMessage = {
      kind: "request",
      tid: "parts123",
      method: "SEND",
      headers: [
        ["To-Path", "msrp://b:2/t;tcp"],
        ["From-Path", "msrp://a:1/s;tcp"],
        ["Content-Type", "text/plain"],
      ],
      body,
      flag: "+",
    };
    const parts = serializeMsrpParts(m);
    expect(parts[1]).toBe(body);
    expect(Buffer.concat(parts).equals(serializeMsrp(m))).toBe(true);
  });

  it("round-trips any request and response through the parser (property)", () => {
    fc.assert(
      fc.property(fc.oneof(requestArb, responseArb), (m) => {
        fc.pre(m.kind === "response" || !transactionIdOccursIn(m.tid, m.body));
        const back = parseMsrpMessage(serializeMsrp(m));
        if (!back.ok) throw back.error;
        expect(plain(back.message)).toEqual(plain(m));
      }),
      { numRuns: 500 },
    );
  });
});
