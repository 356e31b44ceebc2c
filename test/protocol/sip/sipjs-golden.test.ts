/**
 * Golden test of the SIP.js seam: for real captured traffic (test/fixtures/sipjs/README.md), our
 * codec + conversion yields exactly what SIP.js 0.21.2's own parser yields: method, Request-URI,
 * status, every header in order, every parsed header value (URI raw/normal parts, parameters in
 * order, display names, tags, Via fields, CSeq, challenges) and the body. The comparison keeps
 * class names and property order, so a URI or NameAddrHeader built differently also fails.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Parser } from "sip.js/lib/core/messages/parser.js";
import { parseSipMessage } from "../../../src/protocol/sip/parser.js";
import { toSipJsMessage } from "../../../src/protocol/sip/sipjs-message.js";
import { installSipJsRuntime, stockParse } from "../../../src/protocol/sip/sipjs-runtime.js";

installSipJsRuntime();

const dir = new URL("../../fixtures/sipjs/", import.meta.url).pathname;
const fixtures = readdirSync(dir).filter((f) => f.endsWith(".sip")).sort();
const logger = { error() {}, warn() {}, log() {}, debug() {} } as never;

/** A comparable tree: class name and own keys in order at every level. */
function normalize(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(normalize);
  const ctor = (value as object).constructor?.name ?? "null-prototype";
  return { $class: ctor, $keys: Object.keys(value).map((k) => [k, normalize((value as Record<string, unknown>)[k])]) };
}

describe("golden: our parse equals SIP.js's on captured traffic", () => {
  it("has the fixtures the brief asks for", () => {
    const firstLines = fixtures.map((f) => readFileSync(join(dir, f), "utf8").split("\r\n", 1)[0]!);
    for (const start of ["REGISTER ", "SIP/2.0 401 ", "SIP/2.0 200 ", "INVITE ", "MESSAGE ", "NOTIFY ", "BYE ", "ACK ", "SUBSCRIBE "]) {
      expect(firstLines.some((l) => l.startsWith(start)), start).toBe(true);
    }
    expect(fixtures.length).toBeGreaterThanOrEqual(40);
  });

  it.each(fixtures)("%s", (file) => {
    const bytes = readFileSync(join(dir, file));
    const text = bytes.toString("utf8");
    const stock = stockParse(text, logger);
    expect(stock, "the stock parser accepts the fixture").toBeDefined();

    const parsed = parseSipMessage(bytes);
    if (!parsed.ok) throw parsed.error;
    const stats = { grammarFallbacks: 0 };
    const ours = toSipJsMessage(parsed.message, text, stats);
    expect(ours, "the fast path handles captured traffic").toBeDefined();
    expect(normalize(ours)).toStrictEqual(normalize(stock));

    // The grammar is only needed where a line holds several Vias (SIPp's responses); everything
    // else comes out of the fast path.
    const commaVia = /\r\nVia:[^\r]*,/.test(text.slice(0, text.indexOf("\r\n\r\n")));
    expect(stats.grammarFallbacks).toBe(commaVia ? 1 : 0);

    // Through the installed seam (string in, as SIP.js calls it) the result is the same.
    expect(normalize(Parser.parseMessage(text, logger))).toStrictEqual(normalize(stock));

    // Lazily parsed headers agree too (both sides fall to the grammar for these).
    for (const name of Object.keys(stock!.headers)) {
      stock!.headers[name]!.forEach((_, i) => {
        expect(normalize(ours!.parseHeader(name, i)), `${name}[${i}]`).toStrictEqual(normalize(stock!.parseHeader(name, i)));
      });
    }
  });
});
