/**
 * The SIP.js runtime: the one place where cpm-load adjusts SIP.js (0.21.2, pinned) for load, see
 * ARCHITECTURE.md "SIP.js seam". Install it before any UserAgent is made; installing again only
 * updates the options. What it does:
 *
 * 1. `Parser.parseMessage` (looked up per message by `UserAgent.onTransportMessage`) is replaced by
 *    our codec + sipjs-message.ts, which pre-fills the parsed header values so SIP.js never runs
 *    its peggy grammar on the hot path. A message our transport already parsed is handed over
 *    without parsing it again (`deliverParsed`). Anything the fast path declines goes to the stock
 *    parser, so behaviour never differs from stock SIP.js.
 * 2. Branch ids: SIP.js draws `z9hG4bK` + Math.random()*1e7, which collides at thousands of
 *    transactions per second (server transactions are matched on the branch alone: lost calls and
 *    "Invalid state transition from Terminated to Terminated"). `ClientTransaction.makeId` and the
 *    2xx-ACK path (`InviteClientTransaction.ackResponse`) use a random per-thread prefix + counter.
 * 3. Timers L and M (each keeps a finished INVITE transaction and its session graph for 32 s) are
 *    configurable; default RFC 3261 values.
 * 4. `Grammar.parse` answers the "uuid" rule itself (same result: the input when it is a UUID,
 *    else the grammar decides). Every UserAgent constructor validates its instance id with it, and
 *    the peggy parser re-decodes its whole bytecode on each call: measured, that one check was ~35 %
 *    of the client CPU while 10,000 clients came up (event-loop lag spikes during the ramp).
 *    Likewise "SIP_URI" (UserAgent.makeURI for every INVITE target, ~7 % of the client CPU at
 *    400 sessions/s) and "Name_Addr_Header" (Invitation reads P-Asserted-Identity of every
 *    incoming INVITE with it, ~9 %) by the fast paths of sipjs-message.ts.
 * 5. Header names: the header accessors of IncomingMessage (getHeader, getHeaders, hasHeader,
 *    parseHeader, addHeader, setHeader) and OutgoingRequestMessage.setHeader normalise the name
 *    with `headerize` (lower-case, split, capitalise, an exceptions object) on every call, ~3 % of
 *    the client CPU; the same methods with a bounded cache of headerize's answers.
 * 6. URI.clone (JSON round trips of the parameters and headers, for every URI of every outgoing
 *    request) and URI.escapeUser (a decode, an encode and four regex passes on each toString) take
 *    a direct path when the values are plain (strings / null, a user without characters that
 *    encoding changes), with the same result; anything else goes the stock way.
 * 7. A start-up check: every symbol replaced or used here must still exist with the expected
 *    shape, else a clear Error names it (a SIP.js upgrade must be a deliberate act).
 *
 * Nothing else in SIP.js is patched. Internal members used (not patched) are listed in
 * `checkSipJs()` too: NonInviteClientTransaction.timerF (end a transaction at our request
 * timeout) and Registerer.clearTimers/expires.
 */
import { randomBytes } from "node:crypto";
import { Parser } from "sip.js/lib/core/messages/parser.js";
import { IncomingMessage } from "sip.js/lib/core/messages/incoming-message.js";
import { OutgoingRequestMessage } from "sip.js/lib/core/messages/outgoing-request-message.js";
import { headerize } from "sip.js/lib/core/messages/utils.js";
import { Timers } from "sip.js/lib/core/timers.js";
import { ClientTransaction } from "sip.js/lib/core/transactions/client-transaction.js";
import { InviteClientTransaction } from "sip.js/lib/core/transactions/invite-client-transaction.js";
import { NonInviteClientTransaction } from "sip.js/lib/core/transactions/non-invite-client-transaction.js";
import type { Logger } from "sip.js/lib/core/log/logger.js";
import { Grammar } from "sip.js/lib/grammar/grammar.js";
import { URI } from "sip.js/lib/grammar/uri.js";
import { Registerer } from "sip.js/lib/api/registerer.js";
import { UserAgent } from "sip.js/lib/api/user-agent.js";
import type { SipMessage } from "./message.js";
import { parseSipMessage } from "./parser.js";
import { fastNameAddrHeader, fastSipUri, toSipJsMessage, type ConversionStats, type SipJsIncomingMessage } from "./sipjs-message.js";

export interface SipJsRuntimeOptions {
  /**
   * Timers L and M in ms (RFC 3261 17.2.1 / RFC 6026: how long a completed INVITE transaction
   * absorbs retransmissions). Default 64*T1 = 32 s; 2-5 s keeps memory bounded at thousands of
   * calls per second over TCP.
   */
  timerLMs?: number;
}

/** What the runtime has done, for tests and diagnostics. */
export interface SipJsRuntimeStats extends ConversionStats {
  /** Messages converted by the fast path (handed over or parsed from the string). */
  fastParsed: number;
  /** Of those, messages our transport had parsed already (no second parse). */
  handedOver: number;
  /** Messages left to SIP.js's own parser (declined by the fast path, or unparseable by our codec). */
  stockParsed: number;
  /** Times SIP.js's peggy grammar ran (anywhere in SIP.js, ours included): the cost to avoid. */
  grammarParses: number;
  /** Branch ids generated. */
  branches: number;
  /** Messages SIP.js's own parser threw on (e.g. a response whose CSeq does not parse): dropped. */
  stockParseErrors: number;
  /** Exceptions SIP.js threw while handling one incoming message (see deliverParsed). */
  deliveryErrors: number;
  /** The last of those, for diagnostics. */
  lastDeliveryError: unknown;
}

export const sipJsRuntimeStats: SipJsRuntimeStats = {
  fastParsed: 0,
  handedOver: 0,
  stockParsed: 0,
  grammarFallbacks: 0,
  grammarParses: 0,
  branches: 0,
  stockParseErrors: 0,
  deliveryErrors: 0,
  lastDeliveryError: undefined,
};

type ParseMessage = (data: string, logger: Logger) => SipJsIncomingMessage | undefined;


let installed = false;
let stockParseMessage: ParseMessage | undefined;

// -------------------------------------------------------------------------------------------------
// Start-up check

function fail(symbol: string, what: string): never {
  throw new Error(
    `SIP.js runtime: ${symbol} ${what}; cpm-load is built for sip.js 0.21.2 and this installation differs (reinstall the pinned version or update src/protocol/sip/sipjs-runtime.ts).`,
  );
}

function requireFunction(holder: unknown, name: string, symbol: string, mustContain?: string): void {
  const fn = (holder as Record<string, unknown> | undefined)?.[name];
  if (typeof fn !== "function") fail(symbol, "is missing");
  // Compared without whitespace: transpiling loaders (tsx) reformat dependency code.
  const squash = (text: string) => text.replace(/\s+/g, "");
  if (mustContain !== undefined && !squash(String(fn)).includes(squash(mustContain))) fail(symbol, `no longer contains "${mustContain}"`);
}

/** The SIP.js objects this module replaces or relies on (injectable so the check can be tested). */
export interface SipJsSymbols {
  Parser: unknown;
  UserAgent: unknown;
  IncomingMessage: unknown;
  Grammar: unknown;
  ClientTransaction: unknown;
  InviteClientTransaction: unknown;
  NonInviteClientTransaction: unknown;
  Registerer: unknown;
  Timers: unknown;
  OutgoingRequestMessage: unknown;
  URI: unknown;
}

type GrammarParse = (input: string, startRule: string) => unknown;

const INCOMING_HEADER_METHODS = ["addHeader", "getHeader", "getHeaders", "hasHeader", "parseHeader", "setHeader"] as const;

const proto = (cls: unknown): unknown => (cls as { prototype?: unknown } | undefined)?.prototype;

/** IncomingMessage's header accessors as this SIP.js had them (the patched ones must equal them). */
export const stockIncomingHeaderMethods = Object.fromEntries(
  INCOMING_HEADER_METHODS.map((name) => [name, (IncomingMessage.prototype as unknown as Record<string, unknown>)[name]]),
) as Record<(typeof INCOMING_HEADER_METHODS)[number], (...args: unknown[]) => unknown>;

/**
 * The symbols as this SIP.js installation had them when this module loaded, before any patch
 * (copies of the patched holders keep the stock functions, so the check can run again later).
 */
export const stockSipJsSymbols: SipJsSymbols = {
  Parser: { parseMessage: Parser.parseMessage },
  UserAgent,
  IncomingMessage: { prototype: { ...stockIncomingHeaderMethods } },
  Grammar: { parse: Grammar.parse },
  ClientTransaction: { makeId: (ClientTransaction as unknown as { makeId: unknown }).makeId },
  InviteClientTransaction: { prototype: { ackResponse: InviteClientTransaction.prototype.ackResponse } },
  NonInviteClientTransaction,
  Registerer,
  Timers,
  OutgoingRequestMessage: { prototype: { setHeader: OutgoingRequestMessage.prototype.setHeader } },
  URI: { prototype: { clone: URI.prototype.clone, escapeUser: (URI.prototype as unknown as { escapeUser: unknown }).escapeUser } },
};


/** Throws naming the first symbol that is not what this module expects. */
export function checkSipJs(lib: SipJsSymbols = stockSipJsSymbols): void {
  requireFunction(lib.Parser, "parseMessage", "Core.Parser.parseMessage");
  requireFunction(proto(lib.UserAgent), "onTransportMessage", "UserAgent.onTransportMessage", "Parser.parseMessage(");
  requireFunction(proto(lib.IncomingMessage), "parseHeader", "IncomingMessage.parseHeader", "header.parsed");
  for (const name of INCOMING_HEADER_METHODS) requireFunction(proto(lib.IncomingMessage), name, `IncomingMessage.${name}`, "headerize(name)");
  requireFunction(proto(lib.URI), "clone", "URI.clone", "JSON.parse(JSON.stringify(this.parameters)),JSON.parse(JSON.stringify(this.headers))");
  requireFunction(proto(lib.URI), "escapeUser", "URI.escapeUser", 'encodeURIComponent(decodedUser).replace(/%3A/ig,":").replace(/%2B/ig,"+").replace(/%3F/ig,"?").replace(/%2F/ig,"/")');
  requireFunction(proto(lib.OutgoingRequestMessage), "setHeader", "OutgoingRequestMessage.setHeader", "this.headers[headerize(name)]=valueinstanceofArray?value:[value]");
  requireFunction(lib.Grammar, "parse", "Grammar.parse", "startRule");
  requireFunction(proto(lib.UserAgent), "constructor", "UserAgent constructor", 'Grammar.parse(this._instanceId, "uuid")');
  requireFunction(lib.ClientTransaction, "makeId", "ClientTransaction.makeId", "z9hG4bK");
  requireFunction(proto(lib.InviteClientTransaction), "ackResponse", "InviteClientTransaction.ackResponse", "ackRetransmissionCache.set(toTag, ack)");
  requireFunction(proto(lib.NonInviteClientTransaction), "timerF", "NonInviteClientTransaction.timerF", "onRequestTimeout");
  requireFunction(proto(lib.Registerer), "clearTimers", "Registerer.clearTimers", "registrationTimer");
  requireFunction(proto(lib.Registerer), "generateContactHeader", "Registerer.generateContactHeader", "expires");
  const timers = lib.Timers as Record<string, unknown> | undefined;
  for (const timer of ["T1", "T2", "TIMER_L", "TIMER_M"]) {
    if (typeof timers?.[timer] !== "number") fail(`Core.Timers.${timer}`, "is missing");
  }
  if (Object.isFrozen(timers)) fail("Core.Timers", "is no longer mutable");
}

// -------------------------------------------------------------------------------------------------
// Branch ids

/**
 * RFC 3261 8.1.1.7: unique over space and time. A random prefix per thread (each worker thread has
 * its own module state) plus a counter: never repeats within a thread, and two threads or
 * processes collide only if 64 random bits do.
 */
const branchPrefix = `z9hG4bK${randomBytes(8).toString("hex")}.`;
let branchCounter = 0;

export function nextBranch(): string {
  sipJsRuntimeStats.branches++;
  return branchPrefix + (branchCounter++).toString(36);
}

function makeId(request: OutgoingRequestMessage): string {
  if (request.method === "CANCEL") {
    // As stock: a CANCEL reuses the branch of the INVITE it cancels.
    if (!request.branch) throw new Error("Outgoing CANCEL request without a branch.");
    return request.branch;
  }
  return nextBranch();
}

/** InviteClientTransaction.ackResponse as in 0.21.2, with a unique branch for the ACK to a 2xx. */
function ackResponse(this: InviteClientTransaction, ack: OutgoingRequestMessage): void {
  const self = this as unknown as {
    ackRetransmissionCache: Map<string, OutgoingRequestMessage>;
    send(message: string): Promise<void>;
    logTransportError(error: unknown, message: string): void;
    transport: { protocol: string };
  };
  const toTag = ack.toTag;
  if (!toTag) throw new Error("To tag undefined.");
  ack.setViaHeader(nextBranch(), self.transport.protocol);
  self.ackRetransmissionCache.set(toTag, ack);
  self.send(ack.toString()).catch((error) => {
    self.logTransportError(error, "Failed to send ACK to 2xx response.");
  });
}

// -------------------------------------------------------------------------------------------------
// Parser seam

/** The message our transport is delivering right now (set only for the synchronous hand-over). */
let handOver: { data: string; message: SipMessage } | undefined;

/**
 * Deliver a message our transport already parsed: `deliver` must synchronously call the SIP.js
 * transport's `onMessage(data)`; the replaced parseMessage then converts `message` instead of
 * parsing `data` again.
 */
export function deliverParsed(data: string, message: SipMessage, deliver: () => void): void {
  handOver = { data, message };
  try {
    deliver();
  } catch (error) {
    // One message must not take a worker's thousands of clients down with it: SIP.js throws
    // from deep inside for some inputs and states. Counted, and visible in the stats.
    sipJsRuntimeStats.deliveryErrors++;
    sipJsRuntimeStats.lastDeliveryError = error;
  } finally {
    handOver = undefined;
  }
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const stockGrammarParse = (stockSipJsSymbols.Grammar as { parse: GrammarParse }).parse;

/**
 * Grammar.parse with some start rules answered directly: "uuid" (the rule's action returns the
 * text), "SIP_URI" and "Name_Addr_Header" by the fast paths of sipjs-message.ts (same objects as
 * the grammar's, checked by the differential test; a shape they decline goes to the grammar).
 */
function grammarParse(input: string, startRule: string): unknown {
  switch (startRule) {
    case "uuid":
      if (UUID.test(input)) return input;
      break;
    case "SIP_URI": {
      const uri = fastSipUri(input);
      if (uri !== undefined) return uri;
      break;
    }
    case "Name_Addr_Header": {
      const header = fastNameAddrHeader(input);
      if (header !== undefined) return header;
      break;
    }
  }
  sipJsRuntimeStats.grammarParses++;
  return stockGrammarParse(input, startRule);
}

function parseMessage(data: string, logger: Logger): SipJsIncomingMessage | undefined {
  const pending = handOver;
  let message: SipMessage | undefined;
  let handedOver = false;
  if (pending !== undefined && pending.data === data) {
    handOver = undefined;
    message = pending.message;
    handedOver = true;
  } else {
    const parsed = parseSipMessage(data);
    if (parsed.ok) message = parsed.message;
  }
  if (message !== undefined) {
    const converted = toSipJsMessage(message, data, sipJsRuntimeStats);
    if (converted !== undefined) {
      sipJsRuntimeStats.fastParsed++;
      if (handedOver) sipJsRuntimeStats.handedOver++;
      return converted;
    }
  }
  sipJsRuntimeStats.stockParsed++;
  try {
    return stockParseMessage!(data, logger);
  } catch {
    // The stock parser dereferences a failed CSeq parse in responses; drop such a message as
    // SIP.js drops any other it cannot parse, instead of throwing into the socket handler.
    sipJsRuntimeStats.stockParseErrors++;
    return undefined;
  }
}

/** SIP.js's own parseMessage (for the golden tests and as the fallback). */
export function stockParse(data: string, logger: Logger): SipJsIncomingMessage | undefined {
  return (stockSipJsSymbols.Parser as { parseMessage: ParseMessage }).parseMessage(data, logger);
}

// -------------------------------------------------------------------------------------------------
// Header names

/** Header names seen (from code, and from received messages: hence bounded). */
const HEADERIZE_CACHE_LIMIT = 1024;
const headerized = new Map<string, string>();

/** SIP.js's headerize, remembered. */
export function cachedHeaderize(name: string): string {
  let h = headerized.get(name);
  if (h === undefined) {
    h = headerize(name);
    if (headerized.size >= HEADERIZE_CACHE_LIMIT) headerized.clear();
    headerized.set(name, h);
  }
  return h;
}

type HeaderValue = { raw: string; parsed?: unknown };
interface IncomingHeaders {
  headers: Record<string, HeaderValue[] | undefined>;
}

/** IncomingMessage's header accessors exactly as in 0.21.2, with cachedHeaderize (see 5. above). */
const incomingHeaderMethods = {
  addHeader(this: IncomingHeaders, name: string, value: string): void {
    const header = { raw: value };
    name = cachedHeaderize(name);
    const list = this.headers[name];
    if (list) list.push(header);
    else this.headers[name] = [header];
  },
  getHeader(this: IncomingHeaders, name: string): string | undefined {
    const header = this.headers[cachedHeaderize(name)];
    if (header) {
      if (header[0]) return header[0].raw;
    }
    return undefined;
  },
  getHeaders(this: IncomingHeaders, name: string): string[] {
    const header = this.headers[cachedHeaderize(name)];
    if (!header) return [];
    const result: string[] = [];
    for (const part of header) result.push(part.raw);
    return result;
  },
  hasHeader(this: IncomingHeaders, name: string): boolean {
    return !!this.headers[cachedHeaderize(name)];
  },
  parseHeader(this: IncomingHeaders, name: string, idx = 0): unknown {
    name = cachedHeaderize(name);
    const list = this.headers[name];
    if (!list || idx >= list.length) return undefined;
    const header = list[idx]!;
    if (header.parsed) return header.parsed;
    // As stock: '-' becomes '_' for the grammar rule, and a value that does not parse is removed.
    const parsed = Grammar.parse(header.raw, name.replace(/-/g, "_"));
    if (parsed === -1) {
      list.splice(idx, 1);
      return undefined;
    }
    header.parsed = parsed;
    return parsed;
  },
  setHeader(this: IncomingHeaders, name: string, value: string): void {
    this.headers[cachedHeaderize(name)] = [{ raw: value }];
  },
};

function outgoingSetHeader(this: { headers: Record<string, unknown[]> }, name: string, value: unknown): void {
  this.headers[cachedHeaderize(name)] = value instanceof Array ? value : [value];
}

// -------------------------------------------------------------------------------------------------
// URI

const stockUriClone = URI.prototype.clone;
const stockEscapeUser = (URI.prototype as unknown as { escapeUser: (user: string) => string }).escapeUser;

/** Characters escapeUser returns as they are: encodeURIComponent's unreserved set plus ":+?/". */
const PLAIN_USER = /^[A-Za-z0-9\-_.!~*'()+:?/]*$/;

function escapeUser(this: URI, user: string): string {
  return PLAIN_USER.test(user) ? user : stockEscapeUser.call(this, user);
}

/** URI.clone without the JSON round trips, when those would copy plain values (see 6. above). */
function cloneUri(this: URI): URI {
  const params = this.parameters as Record<string, unknown>;
  for (const k in params) {
    const v = params[k];
    if (v !== null && typeof v !== "string") return stockUriClone.call(this);
  }
  const headers = (this as unknown as { headers: Record<string, unknown> }).headers;
  let headersCopy: Record<string, string[]> | undefined;
  for (const k in headers) {
    const v = headers[k];
    if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) return stockUriClone.call(this);
    (headersCopy ??= {})[k] = v.slice();
  }
  const raw = (this as unknown as { _raw: { scheme: string; user?: string; host: string; port?: number } })._raw;
  // The constructor copies the parameters (setParam each) and the headers (setHeader each).
  return new URI(raw.scheme, raw.user || "", raw.host, raw.port, params as Record<string, string>, headersCopy);
}

// -------------------------------------------------------------------------------------------------
// Install

/**
 * Installs the seam once. Timers L/M change only when `timerLMs` is given (a later call without it,
 * e.g. from a VirtualClient constructor, keeps what the runner set); they start at the RFC value.
 */
export function installSipJsRuntime(opts: SipJsRuntimeOptions = {}): void {
  const timerLMs = opts.timerLMs;
  if (timerLMs !== undefined && (!Number.isFinite(timerLMs) || timerLMs < 0)) {
    throw new RangeError(`timerLMs must be a non-negative number of ms, got ${timerLMs}`);
  }
  if (!installed) {
    checkSipJs();
    stockParseMessage = (stockSipJsSymbols.Parser as { parseMessage: ParseMessage }).parseMessage;
    (Parser as { parseMessage: ParseMessage }).parseMessage = parseMessage;
    (ClientTransaction as unknown as { makeId: typeof makeId }).makeId = makeId;
    (InviteClientTransaction.prototype as unknown as { ackResponse: typeof ackResponse }).ackResponse = ackResponse;
    (Grammar as unknown as { parse: GrammarParse }).parse = grammarParse;
    Object.assign(IncomingMessage.prototype, incomingHeaderMethods);
    (OutgoingRequestMessage.prototype as unknown as { setHeader: typeof outgoingSetHeader }).setHeader = outgoingSetHeader;
    URI.prototype.clone = cloneUri;
    (URI.prototype as unknown as { escapeUser: typeof escapeUser }).escapeUser = escapeUser;
    installed = true;
  }
  if (timerLMs === undefined) return;
  const timers = Timers as { TIMER_L: number; TIMER_M: number };
  timers.TIMER_L = timerLMs;
  timers.TIMER_M = timerLMs;
}

export function isSipJsRuntimeInstalled(): boolean {
  return installed;
}

// -------------------------------------------------------------------------------------------------
// Internal members the clients use (checked above, never patched)

/**
 * End a non-INVITE client transaction now as if Timer F had fired: SIP.js reports a 408 to its
 * user (e.g. the Registerer becomes unregistered and can register again). False when the
 * transaction is not a pending non-INVITE one.
 */
export function expireNonInviteTransaction(transaction: unknown): boolean {
  if (!(transaction instanceof NonInviteClientTransaction)) return false;
  (transaction as unknown as { timerF(): void }).timerF();
  return true;
}

/** Stop a Registerer's refresh and expiry timers without sending anything (hard shutdown). */
export function clearRegistererTimers(registerer: Registerer): void {
  (registerer as unknown as { clearTimers(): void }).clearTimers();
}

/** Change the expires a Registerer asks for in its next REGISTER. */
export function setRegistererExpires(registerer: Registerer, expires: number): void {
  (registerer as unknown as { expires: number }).expires = expires;
}
