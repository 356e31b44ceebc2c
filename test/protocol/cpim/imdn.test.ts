import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  buildImdnXml,
  type CpimMessage,
  createCpimMessage,
  createImdnNotification,
  getContentHeader,
  getCpimHeader,
  getCpimHeaders,
  getImdnMessageId,
  type ImdnNotification,
  isImdn,
  parseCpim,
  parseImdnXml,
  parseXml,
} from "../../../src/protocol/cpim/index.js";

const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`../../fixtures/msrp/${name}`, import.meta.url)));

function parsed(data: Buffer): CpimMessage {
  const r = parseCpim(data);
  if (!r.ok) throw r.error;
  return r.message;
}

describe("IMDN", () => {
  it("reads the delivered notification of the fixture", () => {
    const m = parsed(fixture("imdn-delivered.cpim"));
    expect(isImdn(m)).toBe(true);
    expect(getContentHeader(m, "Content-Disposition")).toBe("notification");
    expect(getImdnMessageId(m)).toBe("d834jied93rf");
    const r = parseImdnXml(m.body);
    expect(r).toEqual({
      ok: true,
      notification: {
        kind: "delivery",
        status: "delivered",
        messageId: "Sk3xP2ad0Q",
        datetime: "2026-11-25T13:44:33.120Z",
        recipientUri: "sip:bob@example.com",
        originalRecipientUri: "sip:bob@example.com",
      },
    });
  });

  it("reads a prefixed document with a comment and entities", () => {
    const r = parseImdnXml(fixture("imdn-displayed-prefixed.xml"));
    expect(r).toEqual({
      ok: true,
      notification: { kind: "display", status: "displayed", messageId: "a&b<c", datetime: "2026-11-25T13:45:00Z" },
    });
  });

  it("answers the fixture's message with the fixture's notification", () => {
    const original = parsed(fixture("cpim-text.cpim"));
    const answer = createImdnNotification({
      original,
      disposition: { kind: "delivery", status: "delivered" },
      messageId: "d834jied93rf",
      dateTime: "2026-11-25T13:44:34.500Z",
    })!;
    expect(getCpimHeader(answer, "From")).toBe("<sip:bob@example.com>");
    expect(getCpimHeader(answer, "To")).toBe("<sip:alice@example.com>");
    const expected = parsed(fixture("imdn-delivered.cpim"));
    expect(answer.headers).toEqual(expected.headers);
    // The fixture also names an original-recipient-uri, so only the lengths differ.
    const noLength = (h: Array<[string, string]>) => h.filter(([n]) => n !== "Content-Length");
    expect(noLength(answer.contentHeaders)).toEqual(noLength(expected.contentHeaders));
    expect(getContentHeader(answer, "Content-Length")).toBe(String(answer.body.length));
    const r = parseImdnXml(answer.body);
    const want = parseImdnXml(expected.body);
    expect(r.ok && want.ok && { ...r.notification, originalRecipientUri: "sip:bob@example.com" }).toEqual(
      want.ok && want.notification,
    );
  });

  it("routes the notification along imdn.IMDN-Record-Route and names imdn.Original-To", () => {
    const original = createCpimMessage({
      from: "sip:alice@example.com",
      to: "sip:bob@example.com",
      dateTime: "2026-01-01T00:00:00Z",
      imdn: { messageId: "orig1", notifications: ["display"] },
      headers: [
        ["imdn.IMDN-Record-Route", "<sip:cf@example.com>"],
        ["imdn.Original-To", "<sip:group@example.com>"],
      ],
      contentType: "text/plain",
      body: "x",
    });
    const answer = createImdnNotification({
      original,
      disposition: { kind: "display", status: "displayed" },
      messageId: "n1",
      dateTime: new Date(Date.UTC(2026, 0, 1, 0, 0, 5)),
    })!;
    expect(getCpimHeader(answer, "To")).toBe("<sip:cf@example.com>");
    expect(getCpimHeaders(answer, "imdn.IMDN-Route")).toEqual(["<sip:cf@example.com>"]);
    const r = parseImdnXml(answer.body);
    expect(r.ok && r.notification).toEqual({
      kind: "display",
      status: "displayed",
      messageId: "orig1",
      datetime: "2026-01-01T00:00:00Z",
      recipientUri: "sip:bob@example.com",
      originalRecipientUri: "sip:group@example.com",
    });
    expect(createImdnNotification({ original: { headers: [] }, disposition: { kind: "delivery", status: "failed" }, messageId: "x", dateTime: "t" })).toBeUndefined();
  });

  it("round-trips every allowed disposition with text that needs escaping (property)", () => {
    const disposition = fc.constantFrom<ImdnNotification["kind"] extends string ? Pick<ImdnNotification, "kind" | "status"> : never>(
      { kind: "delivery", status: "delivered" },
      { kind: "delivery", status: "failed" },
      { kind: "delivery", status: "forbidden" },
      { kind: "delivery", status: "error" },
      { kind: "display", status: "displayed" },
      { kind: "display", status: "forbidden" },
      { kind: "display", status: "error" },
      { kind: "processing", status: "processed" },
      { kind: "processing", status: "stored" },
      { kind: "processing", status: "error" },
    );
    const text = fc.string({ unit: "grapheme", minLength: 1, maxLength: 30 }).filter((s) => s.trim() === s && s.length > 0 && !/[\x00-\x1f]/.test(s));
    fc.assert(
      fc.property(disposition, text, text, fc.option(text, { nil: undefined }), fc.option(text, { nil: undefined }), (d, id, dt, uri, subject) => {
        const n = { ...d, messageId: id, datetime: dt } as ImdnNotification;
        if (uri !== undefined) n.recipientUri = uri;
        if (subject !== undefined) n.subject = subject;
        expect(parseImdnXml(buildImdnXml(n))).toEqual({ ok: true, notification: n });
      }),
      { numRuns: 300 },
    );
  });

  it("rejects documents that are not IMDNs", () => {
    const cases = [
      "",
      "<imdn/>",
      '<imdn xmlns="urn:ietf:params:xml:ns:imdn"><datetime>x</datetime><delivery-notification><status><delivered/></status></delivery-notification></imdn>',
      '<imdn xmlns="urn:ietf:params:xml:ns:imdn"><message-id>m</message-id></imdn>',
      '<imdn xmlns="urn:ietf:params:xml:ns:imdn"><message-id>m</message-id><display-notification><status><delivered/></status></display-notification></imdn>',
      '<!DOCTYPE x [<!ENTITY a "b">]><imdn xmlns="urn:ietf:params:xml:ns:imdn"/>',
      '<imdn xmlns="urn:ietf:params:xml:ns:imdn"><message-id>&bogus;</message-id></imdn>',
    ];
    for (const c of cases) expect(parseImdnXml(c).ok, c).toBe(false);
  });
});

describe("xml-lite", () => {
  it("resolves default and prefixed namespaces with scoping", () => {
    const r = parseXml('<a xmlns="urn:1" xmlns:p="urn:2"><p:b><c/></p:b><d xmlns="urn:3"><e/></d></a>');
    if (!r.ok) throw new Error(r.error);
    const [b, d] = r.root.children;
    expect([r.root.ns, b!.ns, b!.children[0]!.ns, d!.ns, d!.children[0]!.ns]).toEqual(["urn:1", "urn:2", "urn:1", "urn:3", "urn:3"]);
  });

  it("decodes entities, character references and CDATA", () => {
    const r = parseXml("<a x='1 &amp; 2'>&lt;&#65;&#x42;<![CDATA[<raw&>]]></a>");
    expect(r.ok && [r.root.attrs.x, r.root.text]).toEqual(["1 & 2", "<AB<raw&>"]);
  });

  it("refuses malformed documents", () => {
    for (const bad of ["<a>", "<a></b>", "<a/><b/>", "text<a/>", "<a x=1/>", "<p:a/>", "<a>&#0;</a>", "<a x='1' x='2'/>", "<!-- x"]) {
      expect(parseXml(bad).ok, bad).toBe(false);
    }
  });

  it("bounds nesting depth and never throws on random input (property)", () => {
    expect(parseXml("<a>".repeat(100) + "</a>".repeat(100)).ok).toBe(false);
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        parseXml(s);
        parseImdnXml(s);
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.array(fc.constantFrom("<a>", "</a>", "<b/>", "&amp;", "x", "<![CDATA[", "]]>", "<!--", "-->", '<c d="e">', "</c>"), { maxLength: 30 }), (parts) => {
        parseXml(parts.join(""));
      }),
      { numRuns: 1000 },
    );
  });
});
