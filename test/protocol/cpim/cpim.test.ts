import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type CpimMessage,
  createCpimMessage,
  formatCpimAddress,
  getContentHeader,
  getCpimHeader,
  getCpimHeaders,
  getDispositionRequests,
  getImdnMessageId,
  parseCpim,
  parseCpimAddress,
  serializeCpim,
} from "../../../src/protocol/cpim/index.js";

const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`../../fixtures/msrp/${name}`, import.meta.url)));

function parsed(data: Buffer | string): CpimMessage {
  const r = parseCpim(data);
  if (!r.ok) throw r.error;
  return r.message;
}

describe("CPIM codec", () => {
  it("reads the fixture's headers, content headers and UTF-8 content", () => {
    const m = parsed(fixture("cpim-text.cpim"));
    expect(m.headers).toEqual([
      ["From", "<sip:alice@example.com>"],
      ["To", "<sip:bob@example.com>"],
      ["NS", "imdn <urn:ietf:params:imdn>"],
      ["imdn.Message-ID", "Sk3xP2ad0Q"],
      ["DateTime", "2026-11-25T13:44:33.120Z"],
      ["imdn.Disposition-Notification", "positive-delivery, display"],
    ]);
    expect(getContentHeader(m, "content-type")).toBe("text/plain; charset=utf-8");
    expect(m.body.toString("utf8")).toBe("Hello Bob, are you there? Grüße 👋");
    expect(getImdnMessageId(m)).toBe("Sk3xP2ad0Q");
    expect(getDispositionRequests(m)).toEqual(["positive-delivery", "display"]);
  });

  it("re-serializes the fixtures to identical bytes", () => {
    for (const name of ["cpim-text.cpim", "imdn-delivered.cpim"]) {
      const wire = fixture(name);
      expect(serializeCpim(parsed(wire)).equals(wire), name).toBe(true);
    }
  });

  it("finds namespaced headers through the NS declaration, whatever the prefix", () => {
    const m = parsed(
      "From: <sip:a@x>\r\nTo: <sip:b@x>\r\nNS: MyFeatures <urn:ietf:params:imdn>\r\nMyFeatures.Message-ID: abc\r\n" +
        "MyFeatures.Disposition-Notification: display\r\n\r\nContent-Type: text/plain\r\n\r\nhi",
    );
    expect(getImdnMessageId(m)).toBe("abc");
    expect(getDispositionRequests(m)).toEqual(["display"]);
    expect(getCpimHeader(m, "Message-ID", { urn: "urn:other" })).toBeUndefined();
  });

  it("keeps repeated To and cc headers in order", () => {
    const m = parsed("From: <sip:a@x>\r\nTo: <sip:b@x>\r\nTo: <sip:c@x>\r\ncc: <sip:d@x>\r\n\r\nContent-Type: text/plain\r\n\r\n");
    expect(getCpimHeaders(m, "To")).toEqual(["<sip:b@x>", "<sip:c@x>"]);
    expect(getCpimHeaders(m, "CC")).toEqual(["<sip:d@x>"]);
    expect(m.body.length).toBe(0);
  });

  it("accepts bare LF line ends and folded content headers", () => {
    const m = parsed("From: <sip:a@x>\nTo: <sip:b@x>\n\nContent-Type: text/plain;\n charset=utf-8\n\nbody\r\n");
    expect(getContentHeader(m, "Content-Type")).toBe("text/plain; charset=utf-8");
    expect(m.body.toString()).toBe("body\r\n");
  });

  it("cuts the content to Content-Length and rejects a longer Content-Length", () => {
    const m = parsed("From: <sip:a@x>\r\n\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi\r\n");
    expect(m.body.toString()).toBe("hi");
    const long = parseCpim("From: <sip:a@x>\r\n\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nhi");
    expect(!long.ok && long.error.code).toBe("bad-content-length");
    const bad = parseCpim("From: <sip:a@x>\r\n\r\nContent-Length: -1\r\n\r\nhi");
    expect(!bad.ok && bad.error.code).toBe("bad-content-length");
  });

  it("reports missing blank lines and malformed header lines", () => {
    for (const [text, code] of [
      ["From: <sip:a@x>\r\nTo: <sip:b@x>", "missing-separator"],
      ["From: <sip:a@x>\r\n\r\nContent-Type: text/plain\r\n", "missing-separator"],
      ["From <sip:a@x>\r\n\r\nContent-Type: text/plain\r\n\r\n", "bad-header"],
      ["From: <sip:a@x>\r\n\r\nhello world\r\n\r\n", "bad-header"],
    ] as const) {
      const r = parseCpim(text);
      expect(!r.ok && r.error.code, text).toBe(code);
    }
  });

  it("never throws on random bytes (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const r = parseCpim(Buffer.from(bytes));
        if (!r.ok) expect(["missing-separator", "bad-header", "bad-content-length"]).toContain(r.error.code);
      }),
      { numRuns: 500 },
    );
  });

  it("builds a CPM message with an IMDN request, in the RFC 5438 header order", () => {
    const m = createCpimMessage({
      from: { displayName: "Alice", uri: "sip:alice@example.com" },
      to: "sip:bob@example.com",
      dateTime: new Date(Date.UTC(2026, 10, 25, 13, 44, 33, 120)),
      imdn: { messageId: "Sk3xP2ad0Q", notifications: ["positive-delivery", "display"] },
      contentType: "text/plain; charset=utf-8",
      body: "hi 👋",
    });
    expect(serializeCpim(m).toString("utf8")).toBe(
      "From: Alice <sip:alice@example.com>\r\nTo: <sip:bob@example.com>\r\nNS: imdn <urn:ietf:params:imdn>\r\n" +
        "imdn.Message-ID: Sk3xP2ad0Q\r\nDateTime: 2026-11-25T13:44:33.120Z\r\n" +
        "imdn.Disposition-Notification: positive-delivery, display\r\n\r\n" +
        "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 7\r\n\r\nhi 👋",
    );
  });

  it("corrects or adds Content-Length as asked", () => {
    const m: CpimMessage = {
      headers: [["From", "<sip:a@x>"]],
      contentHeaders: [
        ["Content-Type", "text/plain"],
        ["Content-Length", "99"],
      ],
      body: Buffer.from("abc"),
    };
    expect(serializeCpim(m).toString()).toContain("Content-Length: 3\r\n");
    expect(serializeCpim(m, { contentLength: false }).toString()).toContain("Content-Length: 99\r\n");
    const none = { ...m, contentHeaders: [["Content-Type", "text/plain"]] as Array<[string, string]> };
    expect(serializeCpim(none).toString()).not.toContain("Content-Length");
    expect(serializeCpim(none, { contentLength: true }).toString()).toContain("Content-Length: 3\r\n");
  });

  it("round-trips any message (property)", () => {
    const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,12}(\.[A-Za-z][A-Za-z0-9-]{0,12})?$/);
    const value = fc.string({ unit: "grapheme", maxLength: 30 }).map((s) => s.replace(/[\r\n]/g, " ").trim());
    const headers = fc.array(fc.tuple(name, value), { maxLength: 6 });
    fc.assert(
      fc.property(headers, headers, fc.uint8Array({ maxLength: 200 }), (h, c, body) => {
        const contentHeaders = c.filter(([n]) => n.toLowerCase() !== "content-length");
        const m: CpimMessage = { headers: h, contentHeaders, body: Buffer.from(body) };
        expect(parsed(serializeCpim(m))).toEqual(m);
      }),
      { numRuns: 300 },
    );
  });

  it("parses and formats addresses", () => {
    expect(parseCpimAddress("MR SANDERS <im:piglet@100akerwood.com>")).toEqual({
      displayName: "MR SANDERS",
      uri: "im:piglet@100akerwood.com",
    });
    expect(parseCpimAddress('"Bob \\"B\\"" <sip:bob@x>')).toEqual({ displayName: 'Bob "B"', uri: "sip:bob@x" });
    expect(parseCpimAddress("<sip:anonymous@anonymous.invalid>")).toEqual({ uri: "sip:anonymous@anonymous.invalid" });
    expect(parseCpimAddress("sip:bare@x")).toEqual({ uri: "sip:bare@x" });
    expect(parseCpimAddress("<>")).toBeNull();
    expect(formatCpimAddress({ displayName: 'Bob "B"', uri: "sip:bob@x" })).toBe('"Bob \\"B\\"" <sip:bob@x>');
    expect(formatCpimAddress("sip:bare@x")).toBe("<sip:bare@x>");
  });
});
