import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ALNUM, chars, msrpUriArb, tidArb } from "./arbitraries.js";
import {
  formatMsrpUri,
  type MsrpHeaderList,
  type MsrpMessage,
  type MsrpRequest,
  parseMsrpMessage,
  RequestHeadSerializer,
  serializeMsrp,
  serializeMsrpParts,
  serializeMsrpStreamHead,
  msrpEndLine,
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

describe("request heads from a template (RequestHeadSerializer)", () => {
  const A = "msrp://127.0.0.1:40312/jshA7weztas;tcp";
  const B = "msrp://127.0.0.1:2855/kjhd37s2s20w2a;tcp";
  /** Header lists a connection might send, several alike (the same message's chunks), some odd. */
  const lists: Array<Array<[string, string]>> = [
    [["To-Path", B], ["From-Path", A], ["Message-ID", "m1"], ["Byte-Range", "?"], ["Content-Type", "message/cpim"]],
    [["To-Path", B], ["From-Path", A], ["Message-ID", "m1"], ["Success-Report", "yes"], ["Byte-Range", "?"], ["Content-Type", "message/cpim"]],
    [["To-Path", B], ["From-Path", A], ["Message-ID", "m2"], ["Byte-Range", "?"], ["Content-Type", "message/cpim"]],
    [["From-Path", A], ["Content-Type", "text/plain"], ["To-Path", B], ["Byte-Range", "?"], ["Message-ID", "m3"]],
    [["To-Path", B], ["From-Path", A], ["Message-ID", "m4"], ["Byte-Range", "?"], ["Byte-Range", "1-2/3"], ["content-type", "text/plain"]],
    [["To-Path", B], ["From-Path", A], ["Message-ID", "m5"]],
    [["To-Path", B], ["From-Path", A], ["Message-ID", "m6"], ["Byte-Range", "?"], ["Content-Disposition", "attachment; filename=\"d\u00e9j\u00e0.txt\""], ["Content-Type", "text/plain"]],
    [["To-Path", B], ["From-Path", A], ["Message-ID", "\u0001tid\u0001"], ["Byte-Range", "?"], ["Content-Type", "text/plain"]],
    [["To-Path", B], ["From-Path", A], ["Message-ID", "m7"], ["Byte-Range", "?"], ["X-Mark", "\u0001range\u0001"], ["Content-Type", "text/plain"]],
  ];
  const request = fc.record({
    list: fc.nat(lists.length - 1),
    tid: fc.oneof(tidArb, fc.constant("t\u00e9d12345")),
    method: fc.constantFrom("SEND", "SEND", "REPORT"),
    start: fc.nat(1_000_000),
    range: fc.constantFrom("plain", "star", "odd"),
    forced: fc.boolean(),
  });

  it("gives exactly the plain serializer's bytes for any run of requests (property)", () => {
    fc.assert(
      fc.property(fc.array(request, { minLength: 1, maxLength: 25 }), (run) => {
        const heads = new RequestHeadSerializer();
        for (const r of run) {
          const value = r.range === "plain" ? `${r.start + 1}-${r.start + 65536}/209715200` : r.range === "star" ? `${r.start + 1}-*/*` : "1-\u00b2/3";
          const headers = lists[r.list]!.map(([n, v]): [string, string] => [n, v === "?" ? value : v]);
          const m: MsrpRequest = { kind: "request", tid: r.tid, method: r.method, headers, body: Buffer.alloc(0), flag: "$" };
          const head = heads.head(m, r.forced);
          if (r.forced) {
            expect(head.toString("latin1")).toBe(serializeMsrpStreamHead(m).toString("latin1"));
            expect(heads.lastHadBodySection).toBe(true);
          } else {
            const whole = Buffer.concat([head, Buffer.from(`${heads.lastHadBodySection ? "\r\n" : ""}-------${r.tid}$\r\n`, "utf8")]);
            expect(whole.toString("latin1")).toBe(serializeMsrp(m).toString("latin1"));
          }
        }
      }),
      { numRuns: 400 },
    );
  });
});

describe("msrpEndLine", () => {
  it("is CRLF, seven hyphens, the tid, the flag and CRLF for any tid and flag (property)", () => {
    fc.assert(
      fc.property(fc.oneof(tidArb, fc.string({ unit: "binary", maxLength: 32 })), fc.constantFrom("$" as const, "+" as const, "#" as const), (tid, flag) => {
        expect(msrpEndLine(tid, flag).toString("latin1")).toBe(Buffer.from(`\r\n-------${tid}${flag}\r\n`, "latin1").toString("latin1"));
      }),
    );
  });
});
