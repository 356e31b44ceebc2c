/**
 * Header access and structured parsing of the header values the load tester and the embedded
 * server look at (name-addr, Via, CSeq). Messages keep raw values (see message.ts); everything here
 * is done on demand, is pure, and returns null instead of throwing on malformed values.
 *
 * Header names: compact forms (RFC 3261 7.3.3 and the IANA registry) expand to their full name,
 * well-known names are spelled as in the RFCs ("Call-ID", "CSeq", "WWW-Authenticate"), names we do
 * not know are kept as written on the wire and compared case-insensitively.
 */
import type { HeaderList, SipMessage } from "./message.js";

const CANONICAL_NAMES = [
  "Accept",
  "Accept-Contact",
  "Accept-Encoding",
  "Accept-Language",
  "Accept-Resource-Priority",
  "Alert-Info",
  "Allow",
  "Allow-Events",
  "Answer-Mode",
  "Authentication-Info",
  "Authorization",
  "Call-ID",
  "Call-Info",
  "Contact",
  "Content-Disposition",
  "Content-Encoding",
  "Content-ID",
  "Content-Language",
  "Content-Length",
  "Content-Transfer-Encoding",
  "Content-Type",
  "Contribution-ID",
  "Conversation-ID",
  "CSeq",
  "Date",
  "Error-Info",
  "Event",
  "Expires",
  "Feature-Caps",
  "Flow-Timer",
  "From",
  "Geolocation",
  "History-Info",
  "Identity",
  "Identity-Info",
  "In-Reply-To",
  "InReplyTo-Contribution-ID",
  "Info-Package",
  "Join",
  "Max-Breadth",
  "Max-Forwards",
  "MIME-Version",
  "Min-Expires",
  "Min-SE",
  "Organization",
  "P-Access-Network-Info",
  "P-Asserted-Identity",
  "P-Associated-URI",
  "P-Called-Party-ID",
  "P-Charging-Function-Addresses",
  "P-Charging-Vector",
  "P-Early-Media",
  "P-Preferred-Identity",
  "P-Preferred-Service",
  "P-Asserted-Service",
  "P-Served-User",
  "P-Visited-Network-ID",
  "Path",
  "Priority",
  "Priv-Answer-Mode",
  "Privacy",
  "Proxy-Authenticate",
  "Proxy-Authorization",
  "Proxy-Require",
  "RAck",
  "Reason",
  "Record-Route",
  "Recv-Info",
  "Refer-Sub",
  "Refer-To",
  "Referred-By",
  "Reject-Contact",
  "Replaces",
  "Reply-To",
  "Request-Disposition",
  "Require",
  "Resource-Priority",
  "Retry-After",
  "Route",
  "RSeq",
  "Security-Client",
  "Security-Server",
  "Security-Verify",
  "Server",
  "Service-Route",
  "Session-Expires",
  "Session-Replaces",
  "SIP-ETag",
  "SIP-If-Match",
  "Subject",
  "Subscription-State",
  "Supported",
  "Suppress-If-Match",
  "Target-Dialog",
  "Timestamp",
  "To",
  "Unsupported",
  "User-Agent",
  "User-to-User",
  "Via",
  "Warning",
  "WWW-Authenticate",
] as const;

/** RFC 3261 7.3.3 plus the compact forms registered later (RFC 3515, 3841, 3891, 4028, 4474, 6665). */
const COMPACT_FORMS: Record<string, string> = {
  a: "Accept-Contact",
  b: "Referred-By",
  c: "Content-Type",
  d: "Request-Disposition",
  e: "Content-Encoding",
  f: "From",
  i: "Call-ID",
  j: "Reject-Contact",
  k: "Supported",
  l: "Content-Length",
  m: "Contact",
  n: "Identity-Info",
  o: "Event",
  r: "Refer-To",
  s: "Subject",
  t: "To",
  u: "Allow-Events",
  v: "Via",
  x: "Session-Expires",
  y: "Identity",
};

/**
 * Every spelling we resolve without lowercasing: the canonical form itself, its all-lowercase form
 * and both cases of the compact letter. The parser tries the name as written first, so the common
 * case (a well-known name in its usual spelling) costs one Map lookup and no allocation.
 */
const LOOKUP = new Map<string, string>();
for (const name of CANONICAL_NAMES) {
  LOOKUP.set(name, name);
  LOOKUP.set(name.toLowerCase(), name);
}
for (const [letter, name] of Object.entries(COMPACT_FORMS)) {
  LOOKUP.set(letter, name);
  LOOKUP.set(letter.toUpperCase(), name);
}

/**
 * The canonical spelling of a header name: compact forms expanded, well-known names in their RFC
 * case, unknown names returned unchanged (callers compare unknown names case-insensitively).
 */
export function canonicalHeaderName(name: string): string {
  const hit = LOOKUP.get(name);
  if (hit !== undefined) return hit;
  return LOOKUP.get(name.toLowerCase()) ?? name;
}

/**
 * Known names bucketed by length and lowercased first letter, so the parser can resolve a name
 * straight from the header text: no substring, no hashing, and the canonical string it returns
 * is shared by every message.
 */
const BUCKETS: Array<Array<Array<[canonical: string, lower: string]>>> = [];
const COMPACT_BY_CODE: Array<string | undefined> = [];
for (const name of CANONICAL_NAMES) {
  const lower = name.toLowerCase();
  const byLetter = (BUCKETS[lower.length] ??= []);
  (byLetter[lower.charCodeAt(0)] ??= []).push([name, lower]);
}
for (const [letter, name] of Object.entries(COMPACT_FORMS)) {
  COMPACT_BY_CODE[letter.charCodeAt(0)] = name;
  COMPACT_BY_CODE[letter.toUpperCase().charCodeAt(0)] = name;
}

/**
 * @internal The canonical name of the header name text.slice(start, end) when it is a known name
 * (any case) or compact form; undefined otherwise.
 */
export function knownHeaderNameAt(text: string, start: number, end: number): string | undefined {
  const len = end - start;
  let c0 = text.charCodeAt(start);
  if (len === 1) return COMPACT_BY_CODE[c0];
  if (c0 >= 65 && c0 <= 90) c0 += 32;
  const candidates = BUCKETS[len]?.[c0];
  if (candidates === undefined) return undefined;
  for (let k = 0; k < candidates.length; k++) {
    const [canonical, lower] = candidates[k]!;
    let i = 1;
    for (; i < len; i++) {
      const c = text.charCodeAt(start + i);
      const l = lower.charCodeAt(i);
      if (c !== l && !(c >= 65 && c <= 90 && c + 32 === l)) break;
    }
    if (i === len) return canonical;
  }
  return undefined;
}

/** True when the (canonical or any-case) name is one we know; used by tests and the SIP.js seam. */
export function isKnownHeaderName(name: string): boolean {
  return LOOKUP.has(name) || LOOKUP.has(name.toLowerCase());
}

/** The compact letter for a canonical name, for senders that want short messages (UDP MTU). */
export function compactHeaderName(name: string): string | undefined {
  const canonical = canonicalHeaderName(name);
  for (const [letter, full] of Object.entries(COMPACT_FORMS)) if (full === canonical) return letter;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Lookup and edit

/** Compares a stored header name with a canonical one: identical for known names, else any case. */
function sameName(stored: string, canonical: string, lower: string): boolean {
  return stored === canonical || (stored.length === lower.length && stored.toLowerCase() === lower);
}

/** The first value of a header (the whole line, not split at commas), or undefined. */
export function getHeader(m: { headers: HeaderList }, name: string): string | undefined {
  const canonical = canonicalHeaderName(name);
  const headers = m.headers;
  for (let i = 0; i < headers.length; i++) if (headers[i]![0] === canonical) return headers[i]![1];
  const lower = canonical.toLowerCase();
  for (let i = 0; i < headers.length; i++) if (sameName(headers[i]![0], canonical, lower)) return headers[i]![1];
  return undefined;
}

/** Every line of a header, unsplit, in wire order. */
export function getHeaderLines(m: { headers: HeaderList }, name: string): string[] {
  const canonical = canonicalHeaderName(name);
  const lower = canonical.toLowerCase();
  const out: string[] = [];
  for (const [n, v] of m.headers) if (sameName(n, canonical, lower)) out.push(v);
  return out;
}

/**
 * Headers whose values contain commas that do not separate list elements (auth parameters, dates,
 * free text) or that are single-valued by definition: never split.
 */
const NEVER_SPLIT = new Set([
  "WWW-Authenticate",
  "Authorization",
  "Proxy-Authenticate",
  "Proxy-Authorization",
  "Authentication-Info",
  "Date",
  "Retry-After",
  "Subject",
  "User-Agent",
  "Server",
  "Organization",
  "Call-ID",
  "CSeq",
  "Content-Length",
  "Content-Type",
  "Content-Disposition",
  "Max-Forwards",
  "Expires",
  "Min-Expires",
  "Timestamp",
  "MIME-Version",
  "Priority",
  "From",
  "To",
  "Refer-To",
  "Referred-By",
  "Replaces",
  "Event",
  "Subscription-State",
  "Session-Expires",
  "Min-SE",
  "Identity",
  "Contribution-ID",
  "Conversation-ID",
  "InReplyTo-Contribution-ID",
  "Content-ID",
  "SIP-ETag",
  "SIP-If-Match",
  "RAck",
  "RSeq",
]);

/** True when getHeaderValues() splits lines of this header at top-level commas. */
export function isCommaListHeader(name: string): boolean {
  return !NEVER_SPLIT.has(canonicalHeaderName(name));
}

/**
 * Splits a comma-joined header line into its elements. Commas inside quoted strings (with
 * backslash escapes) and inside <...> are not separators. Elements are trimmed; empty ones dropped.
 */
export function splitHeaderList(value: string): string[] {
  if (value.indexOf(",") < 0) {
    const t = value.trim();
    return t.length > 0 ? [t] : [];
  }
  const out: string[] = [];
  let start = 0;
  let inQuotes = false;
  let angle = false;
  const n = value.length;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (inQuotes) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inQuotes = false;
    } else if (angle) {
      if (c === 62 /* > */) angle = false;
    } else if (c === 34) inQuotes = true;
    else if (c === 60 /* < */) angle = true;
    else if (c === 44 /* , */) {
      const t = value.slice(start, i).trim();
      if (t.length > 0) out.push(t);
      start = i + 1;
    }
  }
  const t = value.slice(start).trim();
  if (t.length > 0) out.push(t);
  return out;
}

/**
 * All values of a header in wire order. Lines of list headers (Via, Contact, Route, Record-Route,
 * Allow, Supported, ...) are split at top-level commas; headers in the never-split list (auth
 * headers, Date, free text, single-valued headers) are returned one value per line.
 */
export function getHeaderValues(m: { headers: HeaderList }, name: string): string[] {
  const canonical = canonicalHeaderName(name);
  const lower = canonical.toLowerCase();
  const split = !NEVER_SPLIT.has(canonical);
  const out: string[] = [];
  for (const [n, v] of m.headers) {
    if (!sameName(n, canonical, lower)) continue;
    if (split) for (const part of splitHeaderList(v)) out.push(part);
    else out.push(v);
  }
  return out;
}

/** True when the message has at least one line of the header. */
export function hasHeader(m: { headers: HeaderList }, name: string): boolean {
  return getHeader(m, name) !== undefined;
}

/**
 * Sets a header to exactly one line: the first existing line is replaced in place (keeping the
 * header's position), further lines of the same header are removed; appended when absent.
 */
export function setHeader(m: { headers: HeaderList }, name: string, value: string): void {
  const canonical = canonicalHeaderName(name);
  const lower = canonical.toLowerCase();
  const headers = m.headers;
  let found = false;
  for (let i = 0; i < headers.length; i++) {
    if (!sameName(headers[i]![0], canonical, lower)) continue;
    if (!found) {
      headers[i] = [canonical, value];
      found = true;
    } else {
      headers.splice(i, 1);
      i--;
    }
  }
  if (!found) headers.push([canonical, value]);
}

/**
 * Adds a header line. By default it is appended; `{ first: true }` puts it before every existing
 * line of the same header (a proxy adding its Via, a UAC adding a Route) or at the top when none.
 */
export function addHeader(
  m: { headers: HeaderList },
  name: string,
  value: string,
  opts?: { first?: boolean },
): void {
  const canonical = canonicalHeaderName(name);
  if (opts?.first) {
    const lower = canonical.toLowerCase();
    const idx = m.headers.findIndex(([n]) => sameName(n, canonical, lower));
    m.headers.splice(idx < 0 ? 0 : idx, 0, [canonical, value]);
  } else {
    m.headers.push([canonical, value]);
  }
}

/** Removes every line of a header; returns how many were removed. */
export function removeHeader(m: { headers: HeaderList }, name: string): number {
  const canonical = canonicalHeaderName(name);
  const lower = canonical.toLowerCase();
  const before = m.headers.length;
  let w = 0;
  const headers = m.headers;
  for (let r = 0; r < headers.length; r++) {
    const h = headers[r]!;
    if (!sameName(h[0], canonical, lower)) headers[w++] = h;
  }
  headers.length = w;
  return before - w;
}

// ---------------------------------------------------------------------------------------------
// Structured values

export type HeaderParams = Record<string, string | null>;

export interface NameAddr {
  /** Display name without the quotes, escapes resolved; absent when none was given. */
  displayName?: string;
  /** The URI as written (without <>); "*" for `Contact: *`. */
  uri: string;
  /**
   * Header parameters (tag, expires, q, +sip.instance, ...): names lowercased, values raw (a quoted
   * value keeps its quotes), null for a parameter without a value.
   */
  params: HeaderParams;
}

export interface Via {
  /** "SIP/2.0" (whitespace around the slashes removed). */
  protocol: string;
  /** Uppercased: "UDP", "TCP", "TLS", "WS", "WSS", "SCTP", ... */
  transport: string;
  /** As written; an IPv6 reference keeps its brackets ("[::1]"). */
  host: string;
  port?: number;
  /** branch, rport (null when empty), received, maddr, ttl, ...: names lowercased, values raw. */
  params: HeaderParams;
}

export interface CSeq {
  seq: number;
  method: string;
}

function isWs(c: number): boolean {
  return c === 32 || c === 9 || c === 13 || c === 10;
}

function skipWs(s: string, i: number, n: number): number {
  while (i < n && isWs(s.charCodeAt(i))) i++;
  return i;
}

/** RFC 3261 token characters (alphanum and -.!%*_+`'~). */
const TOKEN = new Uint8Array(128);
for (let c = 48; c <= 57; c++) TOKEN[c] = 1;
for (let c = 65; c <= 90; c++) TOKEN[c] = 1;
for (let c = 97; c <= 122; c++) TOKEN[c] = 1;
for (const ch of "-.!%*_+`'~") TOKEN[ch.charCodeAt(0)] = 1;

/** @internal token-character test, shared with the parser. */
export function isTokenChar(c: number): boolean {
  return c < 128 && TOKEN[c] === 1;
}

/** Index after a quoted string starting at `i` (which holds the opening quote), or -1 if unterminated. */
function skipQuoted(s: string, i: number, n: number): number {
  for (let j = i + 1; j < n; j++) {
    const c = s.charCodeAt(j);
    if (c === 92) j++;
    else if (c === 34) return j + 1;
  }
  return -1;
}

/**
 * Parses `;name[=value]` parameters from `i` to `n` (LWS allowed around ; and =). Returns null when
 * anything but parameters is found.
 */
export function parseParams(s: string, i: number, n: number = s.length): HeaderParams | null {
  const params: HeaderParams = Object.create(null) as HeaderParams;
  for (;;) {
    i = skipWs(s, i, n);
    if (i >= n) return params;
    if (s.charCodeAt(i) !== 59 /* ; */) return null;
    i = skipWs(s, i + 1, n);
    const nameStart = i;
    while (i < n && isTokenChar(s.charCodeAt(i))) i++;
    if (i === nameStart) return null;
    const name = s.slice(nameStart, i).toLowerCase();
    i = skipWs(s, i, n);
    if (i < n && s.charCodeAt(i) === 61 /* = */) {
      i = skipWs(s, i + 1, n);
      const valueStart = i;
      if (i < n && s.charCodeAt(i) === 34) {
        i = skipQuoted(s, i, n);
        if (i < 0) return null;
      } else {
        // Token, or an IPv6 reference ([::1]) / host in received= and maddr=.
        while (i < n) {
          const c = s.charCodeAt(i);
          if (c === 59 || isWs(c) || c === 44 || c === 34) break;
          i++;
        }
      }
      if (i === valueStart) return null;
      params[name] = s.slice(valueStart, i);
    } else {
      params[name] = null;
    }
  }
}

/** Formats parameters back to `;name=value;flag` (values written as stored). */
export function formatParams(params: HeaderParams): string {
  let out = "";
  for (const k in params) {
    const v = params[k];
    out += v === null || v === undefined ? `;${k}` : `;${k}=${v}`;
  }
  return out;
}

/**
 * Parses one name-addr or addr-spec value (From, To, Contact, Route, Refer-To, P-Asserted-Identity
 * elements): `"Display" <sip:a@b;x=y>;tag=1`, `Display <sip:...>`, `<sip:...>`, a bare addr-spec
 * `sip:a@b;tag=1` (whose `;` parameters belong to the header, RFC 3261 20.10), or `*`.
 * Null when malformed.
 */
export function parseNameAddr(value: string): NameAddr | null {
  const n = value.length;
  let i = skipWs(value, 0, n);
  if (i >= n) return null;
  let c = value.charCodeAt(i);
  if (c === 42 /* * */) {
    if (skipWs(value, i + 1, n) !== n) return null;
    return { uri: "*", params: Object.create(null) as HeaderParams };
  }
  let displayName: string | undefined;
  let lt = -1;
  if (c === 34) {
    const end = skipQuoted(value, i, n);
    if (end < 0) return null;
    const raw = value.slice(i + 1, end - 1);
    displayName = raw.indexOf("\\") < 0 ? raw : raw.replace(/\\(.)/gs, "$1");
    i = skipWs(value, end, n);
    if (i >= n || value.charCodeAt(i) !== 60) return null;
    lt = i;
  } else {
    // A token display name cannot contain ; or ", so the first of < ; " tells the two forms apart.
    for (let j = i; j < n; j++) {
      c = value.charCodeAt(j);
      if (c === 60) {
        lt = j;
        break;
      }
      if (c === 59 || c === 34) break;
    }
    if (lt > i) {
      const d = value.slice(i, lt).trim();
      if (d.length > 0) displayName = d;
    }
  }
  let uri: string;
  if (lt >= 0) {
    const gt = value.indexOf(">", lt + 1);
    if (gt < 0) return null;
    uri = value.slice(lt + 1, gt).trim();
    i = gt + 1;
  } else {
    let end = value.indexOf(";", i);
    if (end < 0) end = n;
    uri = value.slice(i, end).trim();
    i = end;
    // A bare addr-spec cannot hold spaces, commas or angle brackets, and a URI with headers ("?")
    // must be enclosed in <> (RFC 3261 20; RFC 4475 3.1.2.13 regbadct).
    for (let j = 0; j < uri.length; j++) {
      const u = uri.charCodeAt(j);
      if (isWs(u) || u === 44 || u === 62 || u === 63) return null;
    }
  }
  if (uri.length === 0 || uri.indexOf(":") <= 0) return null;
  const params = parseParams(value, i, n);
  if (params === null) return null;
  return displayName === undefined ? { uri, params } : { displayName, uri, params };
}

/** Formats a name-addr, always with <> (safe for URIs with parameters). */
export function formatNameAddr(na: NameAddr): string {
  let out = "";
  if (na.displayName !== undefined && na.displayName.length > 0) {
    out = `"${na.displayName.replace(/(["\\])/g, "\\$1")}" `;
  }
  out += na.uri === "*" ? "*" : `<${na.uri}>`;
  return out + formatParams(na.params);
}

/**
 * Parses one Via value: `SIP/2.0/TCP host:port;branch=z9hG4bK..;rport;received=1.2.3.4`, with LWS
 * allowed around "/" and ":" (RFC 4475 wsinv) and IPv6 references (`[::1]:5060`). Null when malformed.
 */
export function parseVia(value: string): Via | null {
  const n = value.length;
  let i = skipWs(value, 0, n);
  const parts: string[] = [];
  for (let k = 0; k < 3; k++) {
    const start = i;
    while (i < n && isTokenChar(value.charCodeAt(i))) i++;
    if (i === start) return null;
    parts.push(value.slice(start, i));
    i = skipWs(value, i, n);
    if (k < 2) {
      if (i >= n || value.charCodeAt(i) !== 47 /* / */) return null;
      i = skipWs(value, i + 1, n);
    }
  }
  if (i >= n) return null;
  const hostStart = i;
  if (value.charCodeAt(i) === 91 /* [ */) {
    const close = value.indexOf("]", i);
    if (close < 0) return null;
    for (let j = i + 1; j < close; j++) {
      const c = value.charCodeAt(j);
      if (!(isHex(c) || c === 58 || c === 46)) return null;
    }
    i = close + 1;
  } else {
    while (i < n) {
      const c = value.charCodeAt(i);
      if (!(isAlnum(c) || c === 45 || c === 46 || c === 95)) break;
      i++;
    }
  }
  if (i === hostStart) return null;
  const host = value.slice(hostStart, i);
  i = skipWs(value, i, n);
  let port: number | undefined;
  if (i < n && value.charCodeAt(i) === 58 /* : */) {
    i = skipWs(value, i + 1, n);
    const p = readPort(value, i, n);
    if (p === null) return null;
    port = p.port;
    i = p.end;
  }
  const params = parseParams(value, i, n);
  if (params === null) return null;
  const via: Via = {
    protocol: `${parts[0]!.toUpperCase()}/${parts[1]}`,
    transport: parts[2]!.toUpperCase(),
    host,
    params,
  };
  if (port !== undefined) via.port = port;
  return via;
}

/** Formats a Via value. */
export function formatVia(via: Via): string {
  const port = via.port === undefined ? "" : `:${via.port}`;
  return `${via.protocol}/${via.transport} ${via.host}${port}${formatParams(via.params)}`;
}

/** @internal reads 1-5 digits of a port number (0-65535). */
export function readPort(s: string, i: number, n: number): { port: number; end: number } | null {
  let v = 0;
  const start = i;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) break;
    v = v * 10 + (c - 48);
    i++;
    if (i - start > 5) return null;
  }
  if (i === start || v > 65535) return null;
  return { port: v, end: i };
}

function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** Largest CSeq number RFC 3261 8.1.1.5 allows (2**31 - 1). */
export const MAX_CSEQ = 2 ** 31 - 1;

/** Parses `CSeq: 4711 INVITE` (LWS, including folded whitespace, between the parts). */
export function parseCSeq(value: string): CSeq | null {
  const n = value.length;
  let i = skipWs(value, 0, n);
  const start = i;
  let seq = 0;
  while (i < n) {
    const c = value.charCodeAt(i);
    if (c < 48 || c > 57) break;
    seq = seq * 10 + (c - 48);
    i++;
  }
  if (i === start || i - start > 10 || seq > MAX_CSEQ) return null;
  const ws = i;
  i = skipWs(value, i, n);
  if (i === ws) return null;
  const mStart = i;
  while (i < n && isTokenChar(value.charCodeAt(i))) i++;
  if (i === mStart || skipWs(value, i, n) !== n) return null;
  return { seq, method: value.slice(mStart, i) };
}

/** The top Via's branch parameter, or undefined. */
export function getBranch(m: { headers: HeaderList }): string | undefined {
  const top = getHeader(m, "Via");
  if (top === undefined) return undefined;
  const first = top.indexOf(",") < 0 ? top : splitHeaderList(top)[0];
  if (first === undefined) return undefined;
  const via = parseVia(first);
  const b = via?.params.branch;
  return b === null || b === undefined ? undefined : b;
}

/** The Call-ID, or undefined. */
export function getCallId(m: { headers: HeaderList }): string | undefined {
  return getHeader(m, "Call-ID");
}

/** The tag parameter of From or To, or undefined. */
export function getTag(m: { headers: HeaderList }, name: "From" | "To"): string | undefined {
  const v = getHeader(m, name);
  if (v === undefined) return undefined;
  const t = parseNameAddr(v)?.params.tag;
  return t === null || t === undefined ? undefined : t;
}

/** The parsed CSeq, or undefined when absent or malformed. */
export function getCSeq(m: SipMessage | { headers: HeaderList }): CSeq | undefined {
  const v = getHeader(m, "CSeq");
  return v === undefined ? undefined : (parseCSeq(v) ?? undefined);
}
