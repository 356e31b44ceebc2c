/**
 * The SIP.js runtime: what it replaces, that it is idempotent, that it refuses a SIP.js that
 * changed, unique branch ids (also on the ACK path), Timers L/M, and the parser seam.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Parser } from "sip.js/lib/core/messages/parser.js";
import { OutgoingRequestMessage } from "sip.js/lib/core/messages/outgoing-request-message.js";
import { IncomingResponseMessage } from "sip.js/lib/core/messages/incoming-response-message.js";
import { Timers } from "sip.js/lib/core/timers.js";
import { ClientTransaction } from "sip.js/lib/core/transactions/client-transaction.js";
import { InviteClientTransaction } from "sip.js/lib/core/transactions/invite-client-transaction.js";
import { Grammar } from "sip.js/lib/grammar/grammar.js";
import { URI } from "sip.js/lib/grammar/uri.js";
import { parseSipMessage } from "../../../src/protocol/sip/parser.js";
import {
  checkSipJs,
  deliverParsed,
  installSipJsRuntime,
  isSipJsRuntimeInstalled,
  nextBranch,
  sipJsRuntimeStats,
  stockParse,
  stockIncomingHeaderMethods,
  stockSipJsSymbols,
  type SipJsSymbols,
} from "../../../src/protocol/sip/sipjs-runtime.js";
import { IncomingMessage } from "sip.js/lib/core/messages/incoming-message.js";

installSipJsRuntime();

const logger = { error() {}, warn() {}, log() {}, debug() {} } as never;
const makeId = (ClientTransaction as unknown as { makeId(r: unknown): string }).makeId;

const REGISTER_200 = [
  "SIP/2.0 200 OK",
  "Via: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK5f3a.1;rport=50122;received=127.0.0.1",
  'From: <sip:alice@cpm.test>;tag=k3jf8s',
  "To: <sip:alice@cpm.test>;tag=srv",
  "Call-ID: a84b4c76e66710@cpm.test",
  "CSeq: 2 REGISTER",
  'Contact: <sip:alice@127.0.0.1:50122;transport=tcp>;expires=600;+sip.instance="<urn:uuid:00000000-0000-5000-8000-000000000000>"',
  "Content-Length: 0",
  "",
  "",
].join("\r\n");

describe("installSipJsRuntime", () => {
  it("replaces parseMessage, makeId, the 2xx ACK path and Grammar.parse once; installing again only updates timers", () => {
    expect(isSipJsRuntimeInstalled()).toBe(true);
    const parse = Parser.parseMessage;
    const id = makeId;
    const ack = InviteClientTransaction.prototype.ackResponse;
    const grammar = Grammar.parse;
    expect(grammar).not.toBe((stockSipJsSymbols.Grammar as { parse: unknown }).parse);
    expect(parse).not.toBe((stockSipJsSymbols.Parser as { parseMessage: unknown }).parseMessage);
    installSipJsRuntime({ timerLMs: 2000 });
    expect(Parser.parseMessage).toBe(parse);
    expect((ClientTransaction as unknown as { makeId: unknown }).makeId).toBe(id);
    expect(InviteClientTransaction.prototype.ackResponse).toBe(ack);
    expect(Grammar.parse).toBe(grammar);
    expect(Timers.TIMER_L).toBe(2000);
    expect(Timers.TIMER_M).toBe(2000);
    // A call without timerLMs (each VirtualClient makes one) keeps what the runner chose.
    installSipJsRuntime();
    expect(Timers.TIMER_L).toBe(2000);
    expect(Timers.TIMER_M).toBe(2000);
    installSipJsRuntime({ timerLMs: 64 * Timers.T1 });
    expect(Timers.TIMER_L).toBe(32_000);
    expect(Timers.TIMER_M).toBe(32_000);
    expect(() => installSipJsRuntime({ timerLMs: -1 })).toThrow(RangeError);
  });

  it("accepts this SIP.js and names the first symbol that is missing or changed", () => {
    expect(() => checkSipJs()).not.toThrow();
    const broken: Array<[Partial<SipJsSymbols>, string]> = [
      [{ Parser: {} }, "Core.Parser.parseMessage is missing"],
      [{ ClientTransaction: { makeId: () => "z9hG4bK1" } }, ""],
      [{ ClientTransaction: { makeId: () => "x" } }, 'ClientTransaction.makeId no longer contains "z9hG4bK"'],
      [{ InviteClientTransaction: { prototype: {} } }, "InviteClientTransaction.ackResponse is missing"],
      [{ NonInviteClientTransaction: class {} }, "NonInviteClientTransaction.timerF is missing"],
      [{ Timers: { T1: 500, T2: 4000, TIMER_L: 1 } }, "Core.Timers.TIMER_M is missing"],
      [{ Timers: Object.freeze({ T1: 500, T2: 4000, TIMER_L: 1, TIMER_M: 1 }) }, "Core.Timers is no longer mutable"],
      [{ UserAgent: class { onTransportMessage() {} } }, 'UserAgent.onTransportMessage no longer contains "Parser.parseMessage("'],
      [{ Grammar: { parse: () => -1 } }, 'Grammar.parse no longer contains "startRule"'],
    ];
    for (const [patch, message] of broken) {
      const lib = { ...stockSipJsSymbols, ...patch };
      if (message === "") expect(() => checkSipJs(lib)).not.toThrow();
      else expect(() => checkSipJs(lib)).toThrow(`SIP.js runtime: ${message}; cpm-load is built for sip.js 0.21.2`);
    }
  });
});

describe("the uuid rule", () => {
  it("Grammar.parse answers it without the grammar, with the grammar's answer", () => {
    const stockGrammar = (stockSipJsSymbols.Grammar as { parse: (i: string, r: string) => unknown }).parse;
    for (const input of ["e3bb9d01-9137-5d8a-a4cb-101faa18a721", "E3BB9D01-9137-5D8A-A4CB-101FAA18A721", "e3bb9d01-9137-5d8a-a4cb-101faa18a72", "not-a-uuid", "", "e3bb9d01-9137-5d8a-a4cb-101faa18a721x"]) {
      const before = sipJsRuntimeStats.grammarParses;
      expect(Grammar.parse(input, "uuid")).toBe(stockGrammar(input, "uuid"));
      const valid = /^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/i.test(input);
      expect(sipJsRuntimeStats.grammarParses - before).toBe(valid ? 0 : 1);
    }
    // Other rules still run the grammar.
    const before = sipJsRuntimeStats.grammarParses;
    expect(Grammar.parse("<sip:a@h>", "Contact")).not.toBe(-1);
    expect(sipJsRuntimeStats.grammarParses - before).toBe(1);
  });
});

describe("header accessors with remembered header names", () => {
  it("IncomingMessage's accessors and OutgoingRequestMessage.setHeader are replaced and answer as the stock ones", () => {
    const patched = IncomingMessage.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
    for (const name of Object.keys(stockIncomingHeaderMethods)) expect(patched[name]).not.toBe(stockIncomingHeaderMethods[name as never]);
    const names = ["via", "Via", "VIA", "call-id", "Call_ID", "cseq", "CSEQ", "www-authenticate", "min-se", "rack", "rseq", "x-foo_bar", "Content-Type", "contact", "P-Asserted-Identity", "", "-", "a--b"];
    const values = ["SIP/2.0/TCP h;branch=z9hG4bK1", "abc@h", "1 INVITE", 'Digest realm="r"', "90", "1 1 INVITE", "7", "x", "application/sdp", "<sip:a@h>", "<sip:a@h>", "v", "v", "v"];
    // Two messages driven through the same calls, one with the stock methods, one with ours.
    const ours = { headers: {} as Record<string, unknown> };
    const stock = { headers: {} as Record<string, unknown> };
    const call = (method: string, ...args: unknown[]) => {
      const a = patched[method]!.apply(ours, args);
      const b = stockIncomingHeaderMethods[method as never] as (...x: unknown[]) => unknown;
      expect(normalizeParsed(a), `${method}(${args.join(", ")})`).toStrictEqual(normalizeParsed(b.apply(stock, args)));
    };
    names.forEach((n, i) => {
      call("addHeader", n, values[i % values.length]);
      call("addHeader", n.toUpperCase(), "second");
    });
    for (const n of names) {
      call("getHeader", n);
      call("getHeaders", n);
      call("hasHeader", n);
      call("parseHeader", n);
      call("parseHeader", n, 1);
      call("parseHeader", n, 5);
    }
    call("setHeader", "CSeq", "2 BYE");
    call("getHeaders", "cseq");
    call("hasHeader", "never-there");
    expect(JSON.stringify(ours.headers)).toBe(JSON.stringify(stock.headers));
    const out = new OutgoingRequestMessage("INVITE", new URI("sip", "b", "h"), new URI("sip", "a", "h"), new URI("sip", "b", "h"), {});
    out.setHeader("call_id", "x");
    out.setHeader("Record-route", ["r1", "r2"]);
    expect(out.getHeader("Call-ID")).toBe("x");
    expect(out.getHeaders("record-route")).toEqual(["r1", "r2"]);
  });
});

describe("URI.clone and URI.escapeUser", () => {
  const stock = stockSipJsSymbols.URI as { prototype: { clone: (this: URI) => URI; escapeUser: (this: URI, u: string) => string } };
  const userChars = fc.constantFrom(..."aZ09-_.!~*'()+:?/%;&=$, @#é".split(""), "%41", "%3a", "%2B", "%zz");
  const user = fc.array(userChars, { maxLength: 8 }).map((xs) => xs.join(""));
  const value = fc.oneof(fc.constantFrom("tcp", "", "a b", "ä"), fc.constant(null));

  it("escapeUser answers as the stock one (or throws as it does)", () => {
    const uri = new URI("sip", "x", "h");
    const esc = (URI.prototype as unknown as { escapeUser: (u: string) => string }).escapeUser;
    expect(esc).not.toBe(stock.prototype.escapeUser);
    const outcome = (f: () => string) => {
      try {
        return f();
      } catch (e) {
        return `throws ${(e as Error).name}`;
      }
    };
    fc.assert(
      fc.property(user, (u) => {
        expect(outcome(() => esc.call(uri, u))).toBe(outcome(() => stock.prototype.escapeUser.call(uri, u)));
      }),
      { numRuns: 2000, seed: 20261125 },
    );
  });

  it("clone makes the same URI as the stock clone, and a copy that does not share state", () => {
    expect(URI.prototype.clone).not.toBe(stock.prototype.clone);
    fc.assert(
      fc.property(
        fc.constantFrom("sip", "SIP", "sips"),
        fc.oneof(user.filter((u) => !u.includes("%") && u.length > 0), fc.constant(undefined)),
        fc.constantFrom("example.com", "EXAMPLE.org", "127.0.0.1"),
        fc.constantFrom(undefined, 0, 5060),
        fc.dictionary(fc.constantFrom("transport", "lr", "ob", "X", "user"), value, { maxKeys: 3 }),
        fc.dictionary(fc.constantFrom("subject", "Call-ID", "x"), fc.array(fc.constantFrom("a", "b c"), { minLength: 1, maxLength: 2 }), { maxKeys: 2 }),
        (scheme, u, host, port, params, headers) => {
          // fc.dictionary makes null-prototype objects; SIP.js calls hasOwnProperty on them.
          const uri = new URI(scheme, u as string, host, port, { ...params } as Record<string, string>, { ...headers });
          const ours = uri.clone();
          const theirs = stock.prototype.clone.call(uri);
          expect(JSON.stringify(ours)).toBe(JSON.stringify(theirs));
          expect(ours.toString()).toBe(theirs.toString());
          expect(ours.toRaw()).toBe(theirs.toRaw());
          ours.setParam("changed", "1");
          expect(uri.hasParam("changed")).toBe(false);
        },
      ),
      { numRuns: 1000, seed: 20261125 },
    );
    // A value that is not a plain string goes the stock way (the JSON round trip decides).
    const odd = new URI("sip", "a", "h");
    (odd.parameters as Record<string, unknown>).n = 5;
    expect(JSON.stringify(odd.clone())).toBe(JSON.stringify(stock.prototype.clone.call(odd)));
  });
});

/** Parsed header objects compared by content (class instances from two grammar runs differ by identity). */
const normalizeParsed = (v: unknown): unknown => (v !== null && typeof v === "object" ? JSON.parse(JSON.stringify(v)) : v);

describe("branch ids", () => {
  it("100,000 generated are unique, carry the RFC 3261 magic cookie and are tokens", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) seen.add(makeId({ method: i % 2 ? "INVITE" : "MESSAGE" }));
    expect(seen.size).toBe(100_000);
    for (const b of [...seen].slice(0, 1000)) expect(b).toMatch(/^z9hG4bK[0-9a-f]{16}\.[0-9a-z]+$/);
  });

  it("a CANCEL reuses the branch of its INVITE, as in stock SIP.js", () => {
    expect(makeId({ method: "CANCEL", branch: "z9hG4bKinvite" })).toBe("z9hG4bKinvite");
    expect(() => makeId({ method: "CANCEL" })).toThrow("Outgoing CANCEL request without a branch.");
  });

  it("the ACK to a 2xx gets a fresh unique branch and is cached for retransmitted 2xx", async () => {
    const sent: string[] = [];
    const cache = new Map<string, unknown>();
    const fakeTransaction = {
      ackRetransmissionCache: cache,
      transport: { protocol: "UDP" },
      send: (m: string) => {
        sent.push(m);
        return Promise.resolve();
      },
      logTransportError() {},
    };
    const acks: string[] = [];
    for (let i = 0; i < 3; i++) {
      const ack = new OutgoingRequestMessage(
        "ACK",
        new URI("sip", "bob", "127.0.0.1", 5070),
        new URI("sip", "alice", "cpm.test"),
        new URI("sip", "bob", "cpm.test"),
        { toTag: `to${i}`, viaHost: "127.0.0.1", forceRport: true, callId: "c1", cseq: 1 },
      );
      InviteClientTransaction.prototype.ackResponse.call(fakeTransaction as never, ack);
      expect(cache.get(`to${i}`)).toBe(ack);
      acks.push(ack.branch!);
    }
    expect(new Set(acks).size).toBe(3);
    for (const b of acks) expect(b).toMatch(/^z9hG4bK[0-9a-f]{16}\./);
    expect(sent[0]).toMatch(/^ACK sip:bob@127\.0\.0\.1:5070 SIP\/2\.0\r\n/);
    expect(sent[0]).toContain(`Via: SIP/2.0/UDP 127.0.0.1;branch=${acks[0]};rport\r\n`);
  });

  it("nextBranch counts what it made", () => {
    const before = sipJsRuntimeStats.branches;
    nextBranch();
    nextBranch();
    expect(sipJsRuntimeStats.branches - before).toBe(2);
  });
});

describe("the parser seam", () => {
  it("Parser.parseMessage runs our codec and returns what the stock parser returns", () => {
    const before = { ...sipJsRuntimeStats };
    const ours = Parser.parseMessage(REGISTER_200, logger);
    expect(sipJsRuntimeStats.fastParsed - before.fastParsed).toBe(1);
    expect(sipJsRuntimeStats.stockParsed).toBe(before.stockParsed);
    expect(ours).toBeInstanceOf(IncomingResponseMessage);
    expect(ours).toStrictEqual(stockParse(REGISTER_200, logger));
  });

  it("a message the transport parsed already is handed over, not parsed again", () => {
    const parsed = parseSipMessage(REGISTER_200);
    if (!parsed.ok) throw parsed.error;
    // Mark the handed-over object: a re-parse of the text would not have the mark.
    const marked = { ...parsed.message, headers: parsed.message.headers.map(([n, v]) => [n, n === "Call-ID" ? "handed-over" : v] as [string, string]) };
    const before = { ...sipJsRuntimeStats };
    let result: unknown;
    deliverParsed(REGISTER_200, marked, () => {
      result = Parser.parseMessage(REGISTER_200, logger);
    });
    expect((result as IncomingResponseMessage).callId).toBe("handed-over");
    expect(sipJsRuntimeStats.handedOver - before.handedOver).toBe(1);
    // Outside a delivery the text is parsed.
    expect((Parser.parseMessage(REGISTER_200, logger) as IncomingResponseMessage).callId).toBe("a84b4c76e66710@cpm.test");
  });

  it("what the fast path declines (a folded header) goes to the stock parser, with the stock result", () => {
    const folded = REGISTER_200.replace("CSeq: 2 REGISTER", "CSeq: 2\r\n REGISTER");
    const before = { ...sipJsRuntimeStats };
    const ours = Parser.parseMessage(folded, logger);
    expect(sipJsRuntimeStats.stockParsed - before.stockParsed).toBe(1);
    expect(ours).toStrictEqual(stockParse(folded, logger));
  });

  it("a message SIP.js's own parser would throw on is dropped, not thrown into the socket handler", () => {
    const badCSeq = REGISTER_200.replace("CSeq: 2 REGISTER", "CSeq: 2 REGISTERX");
    expect(() => stockParse(badCSeq, logger)).toThrow(TypeError);
    const before = sipJsRuntimeStats.stockParseErrors;
    expect(Parser.parseMessage(badCSeq, logger)).toBeUndefined();
    expect(sipJsRuntimeStats.stockParseErrors - before).toBe(1);
  });

  it("an exception SIP.js throws while handling a delivered message is counted, not propagated", () => {
    const parsed = parseSipMessage(REGISTER_200);
    if (!parsed.ok) throw parsed.error;
    const before = sipJsRuntimeStats.deliveryErrors;
    expect(() =>
      deliverParsed(REGISTER_200, parsed.message, () => {
        throw new Error("Invalid state transition from Terminated to Terminated");
      }),
    ).not.toThrow();
    expect(sipJsRuntimeStats.deliveryErrors - before).toBe(1);
    expect(String(sipJsRuntimeStats.lastDeliveryError)).toContain("Terminated to Terminated");
  });

  it("garbage is refused the way the stock parser refuses it", () => {
    for (const junk of ["", "hello", "SIP/2.0 200 OK\r\nVia: nonsense\r\n\r\n"]) {
      expect(Parser.parseMessage(junk, logger)).toStrictEqual(stockParse(junk, logger));
    }
  });
});
