/**
 * Conversion of our SipMessage into the SIP.js IncomingRequestMessage / IncomingResponseMessage
 * that SIP.js's own parser (core/messages/parser.js) would have produced, with the `parsed` value of
 * every header that parser parses eagerly (Via, From, To, Call-ID, CSeq, Contact, Record-Route,
 * Content-Length, Content-Type, Max-Forwards, WWW-/Proxy-Authenticate) already filled in, so that
 * `IncomingMessage.parseHeader()` returns the cached value and never reaches the peggy grammar
 * (the grammar costs ~45 parses per call; see ARCHITECTURE.md "SIP.js seam").
 *
 * The contract is "field for field equal to the stock parser", including its quirks, which the
 * golden and differential tests check (test/protocol/sip/sipjs-*.test.ts). The fast paths below are
 * deliberately strict: they accept only the common shapes whose grammar outcome is certain (no
 * whitespace inside header structure, no escapes in quoted strings, no IPv6, no URI headers, ...).
 * Anything else is handed to the SIP.js grammar for that one header, and a message whose overall
 * shape differs from what the stock parser sees (folded lines, bare LF, odd start line) is declined
 * as a whole (`undefined`) so the caller can run the stock parser. Declining is always safe; a
 * wrong accept is the only bug, so when in doubt a branch declines.
 *
 * Known, intended difference: compact header forms the stock parser does not know (k, o, u, s, e,
 * x, b, y, a, j, d) arrive here expanded by our codec (e.g. "Supported" instead of "K").
 */
import { Grammar } from "sip.js/lib/grammar/grammar.js";
import { NameAddrHeader } from "sip.js/lib/grammar/name-addr-header.js";
import { URI } from "sip.js/lib/grammar/uri.js";
import { IncomingRequestMessage } from "sip.js/lib/core/messages/incoming-request-message.js";
import { IncomingResponseMessage } from "sip.js/lib/core/messages/incoming-response-message.js";
import { headerize } from "sip.js/lib/core/messages/utils.js";
import type { SipMessage } from "./message.js";

export type SipJsIncomingMessage = IncomingRequestMessage | IncomingResponseMessage;

/** Counters the runtime reports (how often a header needed the grammar after all). */
export interface ConversionStats {
  grammarFallbacks: number;
}

type HeaderEntry = { raw: string; parsed?: unknown };
type Params = Record<string, string | undefined>;

// -------------------------------------------------------------------------------------------------
// Character classes (RFC 3261 25.1 as the SIP.js grammar spells them)

const TOKEN = new Uint8Array(128);
const PARAMCHAR = new Uint8Array(128);
const USERINFO = new Uint8Array(128);
const WORD = new Uint8Array(128);
const REASON = new Uint8Array(128);
const DIGIT = new Uint8Array(128);
(() => {
  const set = (t: Uint8Array, chars: string) => {
    for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  };
  const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  const mark = "-_.!~*'()";
  set(TOKEN, alnum + "-.!%*_+`'~");
  // pname/pvalue: param-unreserved / unreserved (escapes are declined, so no "%").
  set(PARAMCHAR, alnum + mark + "[]/:&+$");
  // user ":" password without the user-unreserved ";", "?" and "/" (declined: they make the
  // grammar's greedy user rule run into parameters).
  set(USERINFO, alnum + mark + "%&=+$,:");
  set(WORD, alnum + "-.!%*_+`'~()<>:\\\"/[]?{}");
  // Reason-Phrase: reserved / unreserved / SP / HTAB (escapes declined).
  set(REASON, alnum + mark + ";/?:@&=+$, \t");
  set(DIGIT, "0123456789");
})();

function allIn(table: Uint8Array, s: string, from = 0, to = s.length): boolean {
  if (from >= to) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || table[c] === 0) return false;
  }
  return true;
}

const isToken = (s: string): boolean => allIn(TOKEN, s);

/**
 * s[open] is a DQUOTE: the index of the closing DQUOTE before `to`, or -1 when the quoted string
 * has an escape (declined), a control character or no end.
 */
function closingQuote(s: string, open: number, to: number): number {
  for (let i = open + 1; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) return i;
    if (c === 0x5c || (c < 0x20 && c !== 0x09) || c === 0x7f) return -1;
  }
  return -1;
}
const isDigits = (s: string): boolean => allIn(DIGIT, s);

const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)){3}$/;
// hostname = *( domainlabel "." ) toplabel, domainlabel = [a-zA-Z0-9_-]+, toplabel = ALPHA *[a-zA-Z0-9-]
// (a trailing dot is declined: the grammar's greedy repetition fails on it).
const HOSTNAME = /^(?:[A-Za-z0-9_-]+\.)*[A-Za-z][A-Za-z0-9-]*$/;

function hostType(host: string): "domain" | "IPv4" | undefined {
  if (HOSTNAME.test(host)) return "domain";
  if (IPV4.test(host)) return "IPv4";
  return undefined;
}

/** Methods the grammar spells as literals; a longer token starting with one of them fails there. */
const GRAMMAR_METHODS = ["INVITE", "ACK", "OPTIONS", "BYE", "CANCEL", "REGISTER", "SUBSCRIBE", "PUBLISH", "NOTIFY", "REFER", "UPDATE"];

function isGrammarMethod(m: string): boolean {
  if (!isToken(m)) return false;
  for (const known of GRAMMAR_METHODS) if (m !== known && m.startsWith(known)) return false;
  return true;
}

/** A literal alternative that is a case-insensitive prefix of a longer token makes the grammar fail. */
function hasLiteralPrefix(lower: string, literals: readonly string[]): boolean {
  for (const lit of literals) if (lower !== lit && lower.startsWith(lit)) return true;
  return false;
}

// -------------------------------------------------------------------------------------------------
// URI

/**
 * `scheme ":" [userinfo "@"] host [":" port] *(";" uri-param)` between `from` and `to`.
 * With `withParams` false (addr-spec) the URI must end at `to`. Returns undefined to decline.
 */
function parseUri(s: string, from: number, to: number, withParams: boolean): URI | undefined {
  const colon = s.indexOf(":", from);
  if (colon < 0 || colon >= to) return undefined;
  const scheme = s.slice(from, colon);
  const lowerScheme = scheme.toLowerCase();
  if (lowerScheme !== "sip" && lowerScheme !== "sips") return undefined;
  let i = colon + 1;
  let user: string | undefined;
  const at = s.indexOf("@", i);
  if (at >= 0 && at < to) {
    if (!allIn(USERINFO, s, i, at)) return undefined;
    // user [":" password]: one colon at most, and a non-empty user.
    const colon1 = s.indexOf(":", i);
    if (colon1 === i) return undefined;
    if (colon1 >= 0 && colon1 < at) {
      const colon2 = s.indexOf(":", colon1 + 1);
      if (colon2 >= 0 && colon2 < at) return undefined;
    }
    try {
      user = decodeURIComponent(s.slice(i, at));
    } catch {
      return undefined;
    }
    i = at + 1;
  }
  let hostEnd = i;
  while (hostEnd < to) {
    const c = s.charCodeAt(hostEnd);
    if (c === 0x3a /* : */ || c === 0x3b /* ; */ || c === 0x3f /* ? */) break;
    hostEnd++;
  }
  const host = s.slice(i, hostEnd);
  if (hostType(host) === undefined) return undefined;
  let port: number | undefined;
  i = hostEnd;
  if (i < to && s.charCodeAt(i) === 0x3a) {
    let j = i + 1;
    while (j < to && s.charCodeAt(j) >= 0x30 && s.charCodeAt(j) <= 0x39) j++;
    if (j === i + 1 || j - i - 1 > 5) return undefined;
    port = parseInt(s.slice(i + 1, j), 10);
    i = j;
  }
  let params: Params | undefined;
  if (i < to) {
    if (!withParams) return undefined;
    params = {};
    while (i < to) {
      if (s.charCodeAt(i) !== 0x3b) return undefined; // "?" (URI headers) and anything else: decline
      let j = i + 1;
      while (j < to && s.charCodeAt(j) !== 0x3b) j++;
      if (!addUriParam(params, s.slice(i + 1, j))) return undefined;
      i = j;
    }
  }
  return new URI(scheme, user as string, host, port, params as Record<string, string | null> | undefined);
}

function addUriParam(params: Params, p: string): boolean {
  const eq = p.indexOf("=");
  const name = eq < 0 ? p : p.slice(0, eq);
  if (!allIn(PARAMCHAR, name)) return false;
  const lower = name.toLowerCase();
  if (lower.startsWith("lr")) {
    // lr_param = "lr"i ("=" token)? matches as a prefix of any longer name.
    if (lower !== "lr") return false;
    if (eq >= 0 && !isToken(p.slice(eq + 1))) return false;
    params.lr = undefined;
    return true;
  }
  if (eq < 0) {
    params[lower] = undefined;
    return true;
  }
  const value = p.slice(eq + 1);
  if (!allIn(PARAMCHAR, value)) return false;
  switch (lower) {
    case "transport": {
      const v = value.toLowerCase();
      if (!isToken(value) || hasLiteralPrefix(v, ["udp", "tcp", "sctp", "tls"])) return false;
      params.transport = v;
      return true;
    }
    case "user": {
      const v = value.toLowerCase();
      if (!isToken(value) || hasLiteralPrefix(v, ["phone", "ip"])) return false;
      params.user = v;
      return true;
    }
    case "method":
      if (!isGrammarMethod(value)) return false;
      params.method = value;
      return true;
    case "ttl": // the grammar moves ttl into the header's parameters
    case "maddr": // and maddr overwrites the URI host
      return false;
    default:
      params[lower] = value;
      return true;
  }
}

// -------------------------------------------------------------------------------------------------
// name-addr / addr-spec with header parameters (From, To, Contact, Record-Route)

const enum Kind {
  FromTo,
  Contact,
  Route,
}

/**
 * One name-addr or addr-spec with its parameters, exactly spanning s[from, to) (already trimmed).
 * Returns undefined to decline.
 */
function parseNameAddr(s: string, from: number, to: number, kind: Kind): NameAddrHeader | undefined {
  let displayName: string | undefined;
  let uri: URI | undefined;
  let i: number;
  const first = s.charCodeAt(from);
  let lt = -1;
  if (first === 0x22 /* " */) {
    const close = closingQuote(s, from, to);
    if (close < 0) return undefined;
    displayName = s.slice(from + 1, close);
    lt = close + 1;
    while (lt < to && (s.charCodeAt(lt) === 0x20 || s.charCodeAt(lt) === 0x09)) lt++;
    if (lt >= to || s.charCodeAt(lt) !== 0x3c) return undefined;
  } else if (first === 0x3c /* < */) {
    lt = from;
  } else {
    lt = s.indexOf("<", from);
    if (lt >= to) lt = -1;
    if (lt >= 0) {
      // display-name = token *(LWS token), the grammar keeps the inner whitespace as is.
      const text = s.slice(from, lt).trim();
      if (text.length === 0) return undefined;
      let k = 0;
      while (k < text.length) {
        const start = k;
        while (k < text.length && text.charCodeAt(k) !== 0x20 && text.charCodeAt(k) !== 0x09) k++;
        if (!allIn(TOKEN, text, start, k)) return undefined;
        while (k < text.length && (text.charCodeAt(k) === 0x20 || text.charCodeAt(k) === 0x09)) k++;
      }
      displayName = text;
    }
  }
  if (lt >= 0) {
    const gt = s.indexOf(">", lt + 1);
    if (gt < 0 || gt >= to) return undefined;
    const inner = s.indexOf("<", lt + 1);
    if (inner >= 0 && inner < gt) return undefined;
    uri = parseUri(s, lt + 1, gt, true);
    i = gt + 1;
  } else {
    if (kind === Kind.Route) return undefined; // rec-route is name-addr only
    let end = s.indexOf(";", from);
    if (end < 0 || end > to) end = to;
    // The grammar's userinfo would run through ";" to a later "@"; "?" has no place here.
    const at = s.indexOf("@", end);
    if (at >= 0 && at < to) return undefined;
    const q = s.indexOf("?", from);
    if (q >= 0 && q < to) return undefined;
    uri = parseUri(s, from, end, false);
    i = end;
  }
  if (uri === undefined) return undefined;
  const params: Params = {};
  let tag: string | undefined;
  while (i < to) {
    if (s.charCodeAt(i) !== 0x3b) return undefined;
    i++;
    let nameEnd = i;
    while (nameEnd < to) {
      const c = s.charCodeAt(nameEnd);
      if (c === 0x3d /* = */ || c === 0x3b) break;
      nameEnd++;
    }
    const name = s.slice(i, nameEnd);
    if (!isToken(name)) return undefined;
    const lower = name.toLowerCase();
    let value: string | undefined;
    if (nameEnd < to && s.charCodeAt(nameEnd) === 0x3d) {
      let v = nameEnd + 1;
      let vEnd: number;
      if (v < to && s.charCodeAt(v) === 0x22) {
        const close = closingQuote(s, v, to);
        if (close < 0) return undefined;
        vEnd = close + 1;
        if (vEnd < to && s.charCodeAt(vEnd) !== 0x3b) return undefined;
        value = s.slice(v, vEnd);
      } else {
        vEnd = v;
        while (vEnd < to && s.charCodeAt(vEnd) !== 0x3b) vEnd++;
        value = s.slice(v, vEnd);
        if (!isToken(value)) return undefined;
        v = vEnd;
      }
      i = vEnd;
      const quoted = value.charCodeAt(0) === 0x22;
      if (kind === Kind.FromTo && lower === "tag") {
        if (quoted) return undefined;
        tag = value;
        continue;
      }
      if (kind === Kind.Contact && lower === "q" && value.charCodeAt(0) === 0x30 /* 0 */) {
        if (!/^0(?:\.\d{0,3})?$/.test(value)) return undefined;
        value = String(parseFloat(value));
      } else if (kind === Kind.Contact && lower === "expires" && !quoted && value.charCodeAt(0) >= 0x30 && value.charCodeAt(0) <= 0x39) {
        if (!isDigits(value)) return undefined;
        value = String(parseInt(value, 10));
      }
    } else {
      i = nameEnd;
    }
    params[lower] = value;
  }
  const header = new NameAddrHeader(uri, displayName as string, params as Record<string, string>);
  if (tag) header.setParam("tag", tag);
  return header;
}

/**
 * Contact / Record-Route: comma-separated entries. Returns the raw text and parsed value of each
 * entry (the stock parser stores one header entry per list element), or undefined to decline.
 */
function parseNameAddrList(s: string, kind: Kind): HeaderEntry[] | undefined {
  const out: HeaderEntry[] = [];
  let i = 0;
  const n = s.length;
  while (i < n) {
    const start = i;
    let inQuote = false;
    let inAngle = false;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (inQuote) {
        if (c === 0x22) inQuote = false;
      } else if (c === 0x22) inQuote = true;
      else if (c === 0x3c) inAngle = true;
      else if (c === 0x3e) inAngle = false;
      else if (c === 0x2c /* , */ && !inAngle) break;
      i++;
    }
    if (inQuote || i === start) return undefined;
    const last = s.charCodeAt(i - 1);
    if (last === 0x20 || last === 0x09) return undefined;
    const parsed = parseNameAddr(s, start, i, kind);
    if (parsed === undefined) return undefined;
    out.push({ raw: s.slice(start, i), parsed });
    if (i < n) {
      i++; // the comma
      while (i < n && (s.charCodeAt(i) === 0x20 || s.charCodeAt(i) === 0x09)) i++;
      if (i >= n) return undefined;
    }
  }
  return out.length > 0 ? out : undefined;
}

// -------------------------------------------------------------------------------------------------
// Via

/** The plain object the grammar builds for one via-parm (keys in the grammar's order). */
function parseVia(s: string): Record<string, unknown> | undefined {
  if (s.indexOf(",") >= 0) return undefined; // several via-parms on one line
  const slash1 = s.indexOf("/");
  const slash2 = slash1 < 0 ? -1 : s.indexOf("/", slash1 + 1);
  if (slash2 < 0) return undefined;
  const protocol = s.slice(0, slash1);
  if (!isToken(protocol) || hasLiteralPrefix(protocol.toLowerCase(), ["sip"])) return undefined;
  if (!isToken(s.slice(slash1 + 1, slash2))) return undefined;
  let i = slash2 + 1;
  while (i < s.length && s.charCodeAt(i) !== 0x20 && s.charCodeAt(i) !== 0x09) i++;
  const transport = s.slice(slash2 + 1, i);
  if (!isToken(transport) || hasLiteralPrefix(transport.toLowerCase(), ["udp", "tcp", "tls", "sctp"])) return undefined;
  const lwsStart = i;
  while (i < s.length && (s.charCodeAt(i) === 0x20 || s.charCodeAt(i) === 0x09)) i++;
  if (i === lwsStart) return undefined;
  let hostEnd = i;
  while (hostEnd < s.length && s.charCodeAt(hostEnd) !== 0x3a && s.charCodeAt(hostEnd) !== 0x3b) hostEnd++;
  const host = s.slice(i, hostEnd);
  const type = hostType(host);
  if (type === undefined) return undefined;
  const via: Record<string, unknown> = { protocol, transport, host_type: type, host };
  i = hostEnd;
  if (i < s.length && s.charCodeAt(i) === 0x3a) {
    let j = i + 1;
    while (j < s.length && s.charCodeAt(j) >= 0x30 && s.charCodeAt(j) <= 0x39) j++;
    if (j === i + 1 || j - i - 1 > 5) return undefined;
    via.port = parseInt(s.slice(i + 1, j), 10);
    i = j;
  }
  let params: Params | undefined;
  while (i < s.length) {
    if (s.charCodeAt(i) !== 0x3b) return undefined;
    let j = i + 1;
    while (j < s.length && s.charCodeAt(j) !== 0x3b) j++;
    const p = s.slice(i + 1, j);
    i = j;
    const eq = p.indexOf("=");
    const name = eq < 0 ? p : p.slice(0, eq);
    if (!isToken(name)) return undefined;
    const lower = name.toLowerCase();
    if (eq < 0) {
      if (lower === "branch" || lower === "received" || lower === "ttl" || lower === "maddr") return undefined;
      (params ??= (via.params = {}) as Params)[lower] = undefined;
      continue;
    }
    const value = p.slice(eq + 1);
    switch (lower) {
      case "branch":
        if (!isToken(value)) return undefined;
        via.branch = value;
        break;
      case "received":
        if (!IPV4.test(value)) return undefined;
        via.received = value;
        via.host_type = "IPv4"; // the grammar's IPv4address rule sets it again
        break;
      case "rport":
        if (value.length > 0 && !isDigits(value)) return undefined;
        via.rport = value;
        break;
      case "ttl":
      case "maddr":
        return undefined;
      default:
        if (value.charCodeAt(0) === 0x22) {
          if (closingQuote(value, 0, value.length) !== value.length - 1) return undefined;
        } else if (!isToken(value)) return undefined;
        (params ??= (via.params = {}) as Params)[lower] = value;
    }
  }
  return via;
}

// -------------------------------------------------------------------------------------------------
// Simple headers

const CALL_ID = /^[^@]+(?:@[^@]+)?$/;

function parseCallId(s: string): string | undefined {
  if (!CALL_ID.test(s)) return undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x40 && (c >= 128 || WORD[c] === 0)) return undefined;
  }
  return s;
}

function parseCSeq(s: string): { value: number; method: string } | undefined {
  let i = 0;
  while (i < s.length && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) i++;
  if (i === 0) return undefined;
  let j = i;
  while (j < s.length && (s.charCodeAt(j) === 0x20 || s.charCodeAt(j) === 0x09)) j++;
  if (j === i) return undefined;
  const method = s.slice(j);
  if (!isGrammarMethod(method)) return undefined;
  return { value: parseInt(s.slice(0, i), 10), method };
}

function parseNumber(s: string): number | undefined {
  return isDigits(s) ? parseInt(s, 10) : undefined;
}

/** media-type = type "/" subtype *(SEMI attribute EQUAL value); the grammar returns the text. */
function parseContentType(s: string): string | undefined {
  const slash = s.indexOf("/");
  if (slash <= 0) return undefined;
  const type = s.slice(0, slash);
  if (!isToken(type) || hasLiteralPrefix(type.toLowerCase(), ["text", "image", "audio", "video", "application"])) return undefined;
  let i = slash + 1;
  while (i < s.length && s.charCodeAt(i) < 128 && TOKEN[s.charCodeAt(i)] === 1) i++;
  if (i === slash + 1) return undefined;
  const ws = () => {
    while (i < s.length && (s.charCodeAt(i) === 0x20 || s.charCodeAt(i) === 0x09)) i++;
  };
  for (;;) {
    ws();
    if (i >= s.length) return s;
    if (s.charCodeAt(i) !== 0x3b) return undefined;
    i++;
    ws();
    const a = i;
    while (i < s.length && s.charCodeAt(i) < 128 && TOKEN[s.charCodeAt(i)] === 1) i++;
    if (i === a) return undefined;
    ws();
    if (s.charCodeAt(i) !== 0x3d) return undefined;
    i++;
    ws();
    if (s.charCodeAt(i) === 0x22) {
      const close = closingQuote(s, i, s.length);
      if (close < 0) return undefined;
      i = close + 1;
    } else {
      const v = i;
      while (i < s.length && s.charCodeAt(i) < 128 && TOKEN[s.charCodeAt(i)] === 1) i++;
      if (i === v) return undefined;
    }
  }
}

/** Digest challenge (WWW-Authenticate / Proxy-Authenticate): {realm, nonce, opaque, stale, algorithm, qop}. */
function parseChallenge(s: string): Record<string, unknown> | undefined {
  if (s.length < 7 || s.slice(0, 6).toLowerCase() !== "digest") return undefined;
  let i = 6;
  const lws = i;
  while (i < s.length && (s.charCodeAt(i) === 0x20 || s.charCodeAt(i) === 0x09)) i++;
  if (i === lws) return undefined;
  const out: Record<string, unknown> = {};
  for (;;) {
    const nameStart = i;
    while (i < s.length && s.charCodeAt(i) < 128 && TOKEN[s.charCodeAt(i)] === 1) i++;
    if (i === nameStart || s.charCodeAt(i) !== 0x3d) return undefined;
    const name = s.slice(nameStart, i).toLowerCase();
    i++;
    let value: string;
    let quoted = false;
    if (s.charCodeAt(i) === 0x22) {
      const close = closingQuote(s, i, s.length);
      if (close < 0) return undefined;
      value = s.slice(i + 1, close);
      quoted = true;
      i = close + 1;
    } else {
      const v = i;
      while (i < s.length && s.charCodeAt(i) < 128 && TOKEN[s.charCodeAt(i)] === 1) i++;
      if (i === v) return undefined;
      value = s.slice(v, i);
    }
    switch (name) {
      case "realm":
      case "nonce":
      case "opaque":
        if (!quoted) return undefined;
        out[name] = value;
        break;
      case "domain":
        return undefined;
      case "stale": {
        const v = value.toLowerCase();
        if (quoted || (v !== "true" && v !== "false")) return undefined;
        out.stale = v === "true";
        break;
      }
      case "algorithm": {
        const v = value.toLowerCase();
        if (quoted || hasLiteralPrefix(v, ["md5"])) return undefined;
        out.algorithm = value.toUpperCase();
        break;
      }
      case "qop": {
        if (!quoted) return undefined;
        const list: string[] = (out.qop as string[] | undefined) ?? [];
        for (const q of value.split(",")) {
          const v = q.toLowerCase();
          if (!isToken(q) || (v !== "auth-int" && v.startsWith("auth") && v !== "auth")) return undefined;
          list.push(v);
        }
        out.qop = list;
        break;
      }
      default:
        break; // other auth-params are accepted and ignored by the grammar
    }
    const afterValue = i;
    while (i < s.length && (s.charCodeAt(i) === 0x20 || s.charCodeAt(i) === 0x09)) i++;
    if (i >= s.length) return i === afterValue ? out : undefined;
    if (s.charCodeAt(i) !== 0x2c) return undefined;
    i++;
    while (i < s.length && (s.charCodeAt(i) === 0x20 || s.charCodeAt(i) === 0x09)) i++;
  }
}

// -------------------------------------------------------------------------------------------------
// Message

const headerizeCache = new Map<string, string>();

function headerizeCached(lower: string): string {
  let h = headerizeCache.get(lower);
  if (h === undefined) {
    h = headerize(lower);
    if (headerizeCache.size < 1000) headerizeCache.set(lower, h);
  }
  return h;
}

/** True when the header block is plain CRLF-separated lines (no folding, no bare LF). */
function plainLines(data: string, headerEnd: number): boolean {
  let i = data.indexOf("\n");
  while (i >= 0 && i < headerEnd) {
    if (data.charCodeAt(i - 1) !== 0x0d) return false;
    const next = data.charCodeAt(i + 1);
    if (next === 0x20 || next === 0x09) return false;
    i = data.indexOf("\n", i + 1);
  }
  return true;
}

/**
 * `m` converted to the message SIP.js's parser would build from `data` (the same message as a
 * string), or undefined when it is better left to the stock parser (see the module comment).
 */
export function toSipJsMessage(m: SipMessage, data: string, stats?: ConversionStats): SipJsIncomingMessage | undefined {
  const firstEol = data.indexOf("\r\n");
  const headerEnd = data.indexOf("\r\n\r\n");
  if (firstEol <= 0 || headerEnd < 0) return undefined;
  if (!plainLines(data, headerEnd + 2)) return undefined;

  let message: SipJsIncomingMessage;
  if (m.kind === "request") {
    if (firstEol !== m.method.length + m.uri.length + 9) return undefined;
    if (!data.startsWith(m.method) || data.charCodeAt(m.method.length) !== 0x20) return undefined;
    if (!data.startsWith(m.uri, m.method.length + 1) || !data.startsWith(" SIP/2.0", m.method.length + 1 + m.uri.length)) return undefined;
    if (!isGrammarMethod(m.method)) return undefined;
    const ruri = parseUri(m.uri, 0, m.uri.length, true);
    // In the request line the grammar's method= URI parameter overwrites the request's method.
    if (ruri === undefined || ruri.hasParam("method")) return undefined;
    const req = new IncomingRequestMessage();
    req.method = m.method;
    (req as { ruri?: URI }).ruri = ruri;
    message = req;
  } else {
    if (!data.startsWith("SIP/2.0 ") || firstEol !== 12 + m.reason.length) return undefined;
    if (data.slice(8, 11) !== String(m.status) || data.charCodeAt(11) !== 0x20) return undefined;
    if (!data.startsWith(m.reason, 12)) return undefined;
    for (let i = 0; i < m.reason.length; i++) {
      const c = m.reason.charCodeAt(i);
      if (c < 128 && REASON[c] === 0) return undefined;
    }
    const res = new IncomingResponseMessage();
    (res as { statusCode?: number }).statusCode = m.status;
    (res as { reasonPhrase?: string }).reasonPhrase = m.reason;
    message = res;
  }
  message.data = data;
  const headers = message.headers as Record<string, HeaderEntry[]>;
  const grammar = (value: string, rule: string): unknown => {
    if (stats) stats.grammarFallbacks++;
    const parsed: unknown = Grammar.parse(value, rule);
    return parsed === -1 ? undefined : parsed;
  };
  const add = (name: string, entry: HeaderEntry) => {
    const list = headers[name];
    if (list) list.push(entry);
    else headers[name] = [entry];
  };

  for (const [rawName, value] of m.headers) {
    const lower = rawName.toLowerCase();
    switch (lower) {
      case "via":
      case "v": {
        const first = headers.Via === undefined;
        const entry: HeaderEntry = { raw: value };
        add("Via", entry);
        if (first) {
          const via = parseVia(value) ?? grammar(value, "Via");
          if (via === undefined) return undefined;
          entry.parsed = via;
          (message as { via: unknown }).via = via;
          message.viaBranch = (via as { branch: string }).branch;
        }
        break;
      }
      case "from":
      case "f":
      case "to":
      case "t": {
        const isFrom = lower === "from" || lower === "f";
        const na = (parseNameAddr(value, 0, value.length, Kind.FromTo) ?? grammar(value, isFrom ? "From" : "To")) as NameAddrHeader | undefined;
        if (na === undefined) return undefined;
        if (isFrom) {
          headers.From = [{ raw: value, parsed: na }];
          message.from = na;
          message.fromTag = na.getParam("tag") as string;
        } else {
          headers.To = [{ raw: value, parsed: na }];
          message.to = na;
          message.toTag = na.getParam("tag") as string;
        }
        break;
      }
      case "record-route":
      case "contact":
      case "m": {
        const name = lower === "record-route" ? "Record-Route" : "Contact";
        let entries = parseNameAddrList(value, lower === "record-route" ? Kind.Route : Kind.Contact);
        if (entries === undefined) {
          const list = grammar(value, lower === "record-route" ? "Record_Route" : "Contact");
          if (!Array.isArray(list)) return undefined;
          entries = (list as Array<{ position: number; offset: number; parsed: unknown }>).map((h) => ({
            raw: value.substring(h.position, h.offset),
            parsed: h.parsed,
          }));
        }
        for (const e of entries) add(name, e);
        break;
      }
      case "call-id":
      case "i": {
        const id = parseCallId(value) ?? grammar(value, "Call_ID");
        if (id === undefined) return undefined;
        headers["Call-ID"] = [{ raw: value, parsed: id }];
        message.callId = value;
        break;
      }
      case "content-length":
      case "l": {
        const n = parseNumber(value) ?? grammar(value, "Content_Length");
        if (n === undefined) return undefined;
        headers["Content-Length"] = [{ raw: value, parsed: n }];
        break;
      }
      case "content-type":
      case "c": {
        const ct = parseContentType(value) ?? grammar(value, "Content_Type");
        if (ct === undefined) return undefined;
        headers["Content-Type"] = [{ raw: value, parsed: ct }];
        break;
      }
      case "cseq": {
        const cseq = (parseCSeq(value) ?? grammar(value, "CSeq")) as { value: number; method: string } | undefined;
        if (cseq === undefined) return undefined;
        headers.CSeq = [{ raw: value, parsed: cseq }];
        message.cseq = cseq.value;
        if (message instanceof IncomingResponseMessage) message.method = cseq.method;
        break;
      }
      case "max-forwards": {
        const n = parseNumber(value) ?? grammar(value, "Max_Forwards");
        if (n === undefined) return undefined;
        headers["Max-Forwards"] = [{ raw: value, parsed: n }];
        break;
      }
      case "www-authenticate":
      case "proxy-authenticate": {
        const www = lower === "www-authenticate";
        const ch = parseChallenge(value) ?? grammar(value, www ? "WWW_Authenticate" : "Proxy_Authenticate");
        if (ch === undefined) return undefined;
        headers[www ? "WWW-Authenticate" : "Proxy-Authenticate"] = [{ raw: value, parsed: ch }];
        break;
      }
      case "refer-to":
      case "r": {
        const rt = grammar(value, "Refer_To");
        if (rt === undefined) return undefined;
        headers["Refer-To"] = [{ raw: value, parsed: rt }];
        message.referTo = rt as string;
        break;
      }
      default:
        add(headerizeCached(lower), { raw: value });
    }
  }

  // RFC 3261 18.3 as the stock parser applies it: bytes past Content-Length are discarded.
  const bodyStart = headerEnd + 4;
  const cl = headers["Content-Length"];
  message.body = cl !== undefined ? data.substr(bodyStart, Number(cl[0]!.raw)) : data.substring(bodyStart);
  return message;
}

// -------------------------------------------------------------------------------------------------
// Grammar start rules the runtime answers itself (Grammar.parse; see sipjs-runtime.ts)

/**
 * `Grammar.parse(s, "SIP_URI")` (UserAgent.makeURI, Grammar.URIParse) for the shapes parseUri
 * accepts: the same URI, or undefined to decline (then the grammar decides).
 */
export function fastSipUri(s: string): URI | undefined {
  return parseUri(s, 0, s.length, true);
}

/**
 * `Grammar.parse(s, "Name_Addr_Header")` (Grammar.nameAddrHeaderParse: P-Asserted-Identity of every
 * incoming INVITE, Referred-By…): a name-addr with generic parameters, which is what Record-Route
 * entries are, so the same strict path applies. Surrounding whitespace is declined.
 */
export function fastNameAddrHeader(s: string): NameAddrHeader | undefined {
  const n = s.length;
  if (n === 0) return undefined;
  const first = s.charCodeAt(0);
  const last = s.charCodeAt(n - 1);
  if (first === 0x20 || first === 0x09 || last === 0x20 || last === 0x09) return undefined;
  return parseNameAddr(s, 0, n, Kind.Route);
}
