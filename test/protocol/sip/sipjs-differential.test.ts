/**
 * Differential property test of the SIP.js seam: header values built from valid, odd and broken
 * pieces (case, whitespace, quoting, grammar-literal prefixes like "transport=udpx", ttl/maddr,
 * IPv6, escapes...) must convert to exactly what SIP.js's parser makes of them, or be declined
 * (then the stock parser runs). A conversion that differs from stock, or accepts what stock
 * rejects, fails.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseSipMessage } from "../../../src/protocol/sip/parser.js";
import { fastNameAddrHeader, fastSipUri, toSipJsMessage } from "../../../src/protocol/sip/sipjs-message.js";
import { installSipJsRuntime, stockParse, stockSipJsSymbols } from "../../../src/protocol/sip/sipjs-runtime.js";

installSipJsRuntime();

const logger = { error() {}, warn() {}, log() {}, debug() {} } as never;

/** A comparable tree: class name and own keys in order at every level (as in the golden test). */
function normalize(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(normalize);
  const ctor = (value as object).constructor?.name ?? "null-prototype";
  return { $class: ctor, $keys: Object.keys(value).map((k) => [k, normalize((value as Record<string, unknown>)[k])]) };
}

const pick = <T>(...xs: T[]) => fc.constantFrom(...xs);
/** Mostly well-formed pieces, sometimes odd ones (weights keep the properties from being vacuous). */
const mix = <T>(valid: T[], odd: T[]): fc.Arbitrary<T> => fc.oneof({ arbitrary: fc.constantFrom(...valid), weight: 6 }, { arbitrary: fc.constantFrom(...odd), weight: 1 });

const scheme = mix(["sip", "SIP", "sips"], ["tel"]);
const user = mix(["", "alice", "al%69ce", "a:pw", "+4930123", "u.s_e-r!~*'()&=+$,"], ["a;b", "%C3", "a:b:c"]);
const host = mix(["example.com", "EXAMPLE.org", "127.0.0.1", "10.0.0.1", "h", "a_b.c"], ["[::1]", "exa_mple", "example.com.", "1abc", "256.1.1.1", "01.2.3.4"]);
const port = mix(["", ":5060", ":0"], [":65536", ":", ":123456"]);
const uriParam = mix(
  [";transport=TCP", ";transport=ws", ";lr", ";lr=on", ";user=phone", ";user=dialstring", ";method=MESSAGE", ";x=Y", ";X", ";ob", ";a=b:c"],
  [";transport=udpx", ";lrx", ";user=ipx", ";method=INVITEX", ";maddr=1.2.3.4", ";ttl=3", ";foo=%41", ";=x", ";x=", "?subject=hi"],
);
const uri = fc.tuple(scheme, user, host, port, fc.array(uriParam, { maxLength: 3 })).map(([s, u, h, p, ps]) => `${s}:${u ? `${u}@` : ""}${h}${p}${ps.join("")}`);
const displayName = mix(["", '"Alice" ', '"Alice Smith"', '"" ', '"A, B" ', "Alice ", "Alice  Smith ", '"caf\u00e9" '], ['"A \\"q\\"" ', "Ali:ce ", "sip "]);
const headerParam = mix(
  [
    ";tag=abc",
    ";tag",
    ";Tag=X",
    ";q=0.5",
    ";q=1",
    ";q=1.000",
    ";Q=0",
    ";expires=60",
    ";EXPIRES=007",
    ";expires=abc",
    ';+sip.instance="<urn:uuid:00000000-0000-5000-8000-000000000000>"',
    ";z=1.2.3.4",
    ";reg-id=1",
    ';q="0.5"',
  ],
  [";tag=a:b", ';tag="q"', ";q=0.5555", ";q=01", ";expires=3600s", ';x="a\\"b"', ";y=", ";w=[::1]", " ;s=1", "; s=1", ";s =1"],
);
const nameAddrOf = (angled: fc.Arbitrary<boolean>) =>
  fc
    .tuple(displayName, angled, uri, fc.array(headerParam, { maxLength: 3 }), mix([""], [" "]))
    .map(([d, angle, u, ps, trailing]) => (angle || d ? `${d}<${u}>${trailing}` : u) + ps.join(""));
const nameAddr = nameAddrOf(fc.boolean());
const listOf = (item: fc.Arbitrary<string>) => fc.array(item, { minLength: 1, maxLength: 3 }).chain((xs) => mix([", ", ","], [" , "]).map((sep) => xs.join(sep)));
const contactList = listOf(nameAddr);
// rec-route = name-addr: the angle brackets are not optional there.
const routeList = listOf(nameAddrOf(mix([true], [false])));

const viaValue = fc
  .tuple(
    mix(["SIP/2.0/", "sip/2.0/"], ["SIPX/2.0/", "SIP / 2.0 /"]),
    mix(["UDP", "tcp", "TLS", "WS", "SCTP"], ["UDPX"]),
    mix([" "], ["  ", "\t"]),
    host,
    port,
    fc.array(
      mix(
        [";branch=z9hG4bKx", ";BRANCH=Y", ";rport", ";rport=5060", ";rport=", ";received=1.2.3.4", ";x", ";y=z", ';q="quoted"'],
        [";branch", ";rport=abc", ";received=::1", ";received=foo", ";maddr=1.2.3.4", ";ttl=5", " ;s=1"],
      ),
      { maxLength: 4 },
    ),
    mix([""], [", SIP/2.0/UDP b;branch=z9hG4bK2"]),
  )
  .map(([p, t, sp, h, po, ps, more]) => `${p}${t}${sp}${h}${po}${ps.join("")}${more}`);

const cseq = mix(["1 INVITE", "01 REGISTER", "1  MESSAGE", "1\tBYE", "1 PRACK", "1 register"], ["1 INVITEX", "4294967296 OPTIONS"]);
const contentType = mix(
  ["application/sdp", "application/sdp ; charset=utf-8", "message/cpim", 'multipart/mixed;boundary="abc"', "text/plain;charset=UTF-8"],
  ["textx/plain", "abc", "application / sdp", "application/sdp;x", 'text/plain;a="b\\"c"'],
);
const challenge = fc
  .array(
    mix(
      ['realm="cpm.test"', 'nonce="n0nce+/="', "algorithm=MD5", "algorithm=md5", "algorithm=SHA-256", 'qop="auth"', 'qop="auth,auth-int"', 'opaque="o"', "stale=TRUE", "stale=false", "foo=bar", 'foo="b a r"'],
      ["algorithm=MD5-sess", 'algorithm="MD5"', 'qop="authx"', "qop=auth", "stale=truex", 'domain="sip:cpm.test"', "realm=cpm", 'realm = "spaced"'],
    ),
    { minLength: 1, maxLength: 5 },
  )
  .chain((ps) => fc.tuple(mix(["Digest ", "digest "], ["Digest  ", "Basic "]), mix([", ", ","], [" , "])).map(([d, sep]) => d + ps.join(sep)));
const callId = mix(["abc@host", "a-b.c!%*_+`'~@h[x]", "x"], ["abc def", "a@b@c"]);

function message(kind: "request" | "response", headers: Array<[string, string]>): string {
  const start = kind === "request" ? "INVITE sip:bob@cpm.test SIP/2.0" : "SIP/2.0 200 OK";
  const all: Array<[string, string]> = [
    ["Via", "SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKbase;rport"],
    ["From", "<sip:alice@cpm.test>;tag=f"],
    ["To", "<sip:bob@cpm.test>"],
    ["Call-ID", "base@cpm.test"],
    ["CSeq", "1 INVITE"],
    ["Max-Forwards", "70"],
  ];
  for (const [name, value] of headers) {
    const i = all.findIndex(([n]) => n === name);
    if (i >= 0 && name !== "Contact" && name !== "Record-Route") all[i] = [name, value];
    else all.push([name, value]);
  }
  return [start, ...all.map(([n, v]) => `${n}: ${v}`), "Content-Length: 0", "", ""].join("\r\n");
}

/** Conversions compared with stock (not declined), and of those the ones done without the grammar. */
let compared = 0;
let fast = 0;
/** Why inputs were not compared (reported when a property turns vacuous). */
let skipped: Record<string, number> = {};
const skip = (why: string) => {
  skipped[why] = (skipped[why] ?? 0) + 1;
};

function check(text: string): void {
  // SIP.js's parser throws on some malformed input (a response whose CSeq does not parse).
  let stock: ReturnType<typeof stockParse>;
  try {
    stock = stockParse(text, logger);
  } catch {
    stock = undefined;
  }
  const parsed = parseSipMessage(text);
  if (!parsed.ok) return skip(`codec: ${parsed.error.message}`); // never handed over; the seam uses the stock parser
  const stats = { grammarFallbacks: 0 };
  const ours = toSipJsMessage(parsed.message, text, stats);
  if (ours === undefined) return skip(stock === undefined ? "stock rejects too" : "declined"); // the stock parser runs
  expect(stock, `stock parser rejects, ours accepts:\n${text}`).toBeDefined();
  expect(normalize(ours), text).toStrictEqual(normalize(stock));
  compared++;
  if (stats.grammarFallbacks === 0) fast++;
}

describe("differential: converted header values equal SIP.js's parse, or are declined", () => {
  const run = (arb: fc.Arbitrary<string>) => {
    const numRuns = Number(process.env.SIPJS_DIFF_RUNS ?? 400);
    compared = 0;
    fast = 0;
    skipped = {};
    fc.assert(
      fc.property(arb, (text) => check(text)),
      // A fixed seed keeps CI reproducible (the share of declined inputs varies by seed: ~20–30 %
      // of From/To pairs are compared); SIPJS_DIFF_SEED explores other seeds locally.
      { numRuns, seed: Number(process.env.SIPJS_DIFF_SEED ?? 20261125) },
    );
    // Many generated values are odd on purpose and get declined; a good share must not be.
    expect(compared, JSON.stringify(skipped, null, 1)).toBeGreaterThan(numRuns / 6);
    expect(fast).toBeGreaterThan(numRuns / 20);
  };

  it("From / To", () => run(fc.tuple(nameAddr, nameAddr).map(([f, t]) => message("request", [["From", f], ["To", t]]))));
  it("Contact lists", () => run(fc.tuple(contactList, pick<"request" | "response">("request", "response")).map(([c, k]) => message(k, [["Contact", c]]))));
  it("Record-Route lists", () => run(fc.tuple(routeList, pick<"request" | "response">("request", "response")).map(([rr, k]) => message(k, [["Record-Route", rr]]))));
  it("Via", () => run(fc.tuple(viaValue, pick<"request" | "response">("request", "response")).map(([v, k]) => message(k, [["Via", v]]))));
  it("Request-URI", () => run(uri.map((u) => message("request", []).replace("sip:bob@cpm.test SIP/2.0", `${u} SIP/2.0`))));
  it("CSeq, Call-ID, Content-Type", () =>
    run(fc.tuple(cseq, callId, contentType).map(([c, i, t]) => message("response", [["CSeq", c], ["Call-ID", i], ["Content-Type", t]]))));
  it("WWW-Authenticate and Proxy-Authenticate", () =>
    run(fc.tuple(challenge, challenge).map(([w, p]) => message("response", [["WWW-Authenticate", w], ["Proxy-Authenticate", p]]).replace("200 OK", "401 Unauthorized"))));
});

describe("differential: grammar start rules the runtime answers (SIP_URI, Name_Addr_Header) equal the grammar, or are declined", () => {
  const stockGrammar = (stockSipJsSymbols.Grammar as { parse: (input: string, rule: string) => unknown }).parse;
  const run = (arb: fc.Arbitrary<string>, rule: string, ours: (s: string) => unknown) => {
    const numRuns = Number(process.env.SIPJS_DIFF_RUNS ?? 400);
    let accepted = 0;
    fc.assert(
      fc.property(arb, (text) => {
        const fastValue = ours(text);
        if (fastValue === undefined) return;
        const stock = stockGrammar(text, rule);
        expect(stock, `the grammar rejects, ours accepts: ${text}`).not.toBe(-1);
        expect(normalize(fastValue), text).toStrictEqual(normalize(stock));
        accepted++;
      }),
      { numRuns, seed: Number(process.env.SIPJS_DIFF_SEED ?? 20261125) },
    );
    expect(accepted).toBeGreaterThan(numRuns / 6);
  };
  const spaced = (arb: fc.Arbitrary<string>) => fc.tuple(mix([""], [" ", "\t"]), arb, mix([""], [" "])).map(([a, x, b]) => a + x + b);

  it("SIP_URI (UserAgent.makeURI)", () => run(spaced(uri), "SIP_URI", fastSipUri));
  it("Name_Addr_Header (P-Asserted-Identity)", () => run(spaced(nameAddrOf(mix([true], [false]))), "Name_Addr_Header", fastNameAddrHeader));
});
