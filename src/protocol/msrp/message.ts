/**
 * The MSRP (RFC 4975) message model shared by the codec, the session layer and the PF/CF relays.
 *
 * Headers are an ordered list of [canonical name, raw value] pairs, like the SIP model: the
 * list is the truth, typed views (paths, Byte-Range, Status) are parsed on demand by the helpers
 * in this folder. Known header names are canonicalised on parse so lookups by the canonical
 * spelling are exact; `getMsrpHeader` also matches case-insensitively.
 *
 * A request has a body section iff it carries a Content-Type header or a non-empty body; the
 * serializer and the parser agree on that rule so an empty body with a Content-Type survives a
 * round trip, while a body-less request (the binding SEND, REPORT) has no blank line at all.
 */
/**
 * Pairs are read-only (a header is replaced, never edited in place): the framer shares the pair of
 * a line that repeats between the messages it frames.
 */
export type MsrpHeaderList = Array<readonly [name: string, value: string]>;

/** End-line continuation flag: `$` last chunk, `+` more chunks follow, `#` message aborted. */
export type ContinuationFlag = "$" | "+" | "#";

export interface MsrpRequest {
  readonly kind: "request";
  /** Transaction id (4-32 chars of alphanumerics and `.-+%=`, first one alphanumeric). */
  tid: string;
  /** SEND, REPORT, AUTH (RFC 4976) or any other upper-case method. */
  method: string;
  headers: MsrpHeaderList;
  /** Empty Buffer when there is no body. */
  body: Buffer;
  flag: ContinuationFlag;
}

export interface MsrpResponse {
  readonly kind: "response";
  tid: string;
  status: number;
  /** Text after the status code; undefined when the start line has none. */
  comment?: string;
  headers: MsrpHeaderList;
}

export type MsrpMessage = MsrpRequest | MsrpResponse;

/** Why bytes could not be understood as MSRP. The codec returns these; it never throws. */
export type MsrpParseErrorCode =
  /** The start line is not `MSRP <tid> <METHOD>` / `MSRP <tid> <code> [comment]`. */
  | "bad-start-line"
  /** A header line without `name:` or with an invalid value of a known header. */
  | "bad-header"
  /** To-Path or From-Path missing. */
  | "missing-header"
  | "bad-byte-range"
  | "bad-status"
  /** A body (or Content-Type) where RFC 4975 forbids one (responses). */
  | "unexpected-body"
  /** The message (or one chunk) grew past the configured limit without an end-line. */
  | "too-large"
  /** Bytes ended before the end-line (only from the one-shot parser). */
  | "incomplete"
  /** Bytes after the end-line (only from the one-shot parser). */
  | "trailing-data";

export class MsrpParseError extends Error {
  constructor(
    readonly code: MsrpParseErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "MsrpParseError";
  }
}

export type MsrpParseResult = { ok: true; message: MsrpMessage } | { ok: false; error: MsrpParseError };

/** Header names RFC 4975/4976 define, in their canonical spelling. */
const CANONICAL_NAMES: ReadonlyMap<string, string> = new Map(
  [
    "To-Path",
    "From-Path",
    "Message-ID",
    "Byte-Range",
    "Success-Report",
    "Failure-Report",
    "Status",
    "Content-Type",
    "Content-ID",
    "Content-Description",
    "Content-Disposition",
    "Use-Path",
    "Expires",
    "Min-Expires",
    "Max-Expires",
    "WWW-Authenticate",
    "Authorization",
    "Authentication-Info",
  ].map((n) => [n.toLowerCase(), n]),
);

const CANONICAL_SPELLINGS: ReadonlySet<string> = new Set(CANONICAL_NAMES.values());

export function canonicalMsrpHeaderName(name: string): string {
  // The headers of every chunk, compared without hashing a fresh string; the constant returned
  // also makes later comparisons with it cheap.
  switch (name.length) {
    case 6:
      if (name === "Status") return "Status";
      break;
    case 7:
      if (name === "To-Path") return "To-Path";
      break;
    case 9:
      if (name === "From-Path") return "From-Path";
      break;
    case 10:
      if (name === "Message-ID") return "Message-ID";
      if (name === "Byte-Range") return "Byte-Range";
      break;
    case 12:
      if (name === "Content-Type") return "Content-Type";
      break;
    case 14:
      if (name === "Success-Report") return "Success-Report";
      if (name === "Failure-Report") return "Failure-Report";
      break;
  }
  if (CANONICAL_SPELLINGS.has(name)) return name; // the usual case: skip the lower-casing
  return CANONICAL_NAMES.get(name.toLowerCase()) ?? name;
}

/** First value of a header, matched case-insensitively. */
export function getMsrpHeader(m: { headers: MsrpHeaderList }, name: string): string | undefined {
  for (const [n, v] of m.headers) {
    if (n === name) return v;
  }
  // Parsed headers carry canonical names, so this second pass rarely matches (a missing header
  // is the common case here): only names of the same length are compared, without lower-casing
  // (a fresh string per header per lookup, several lookups per chunk). Names outside ASCII (never
  // on the wire, where names are tokens; possible in code) are compared lower-cased, as
  // setMsrpHeader and removeMsrpHeader compare them.
  if (!isAscii(name)) {
    const lower = name.toLowerCase();
    for (const [n, v] of m.headers) {
      if (n.length === lower.length && n.toLowerCase() === lower) return v;
    }
    return undefined;
  }
  for (const [n, v] of m.headers) {
    if (n.length === name.length && sameNameIgnoringCase(n, name)) return v;
  }
  return undefined;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** `a.toLowerCase() === b.toLowerCase()` for `b` ASCII and `a` of its length, without new strings while `a` is ASCII too. */
function sameNameIgnoringCase(a: string, b: string): boolean {
  for (let i = 0; i < a.length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // A non-ASCII character can still lower-case to an ASCII one (U+212A KELVIN SIGN → k).
    if (x > 0x7f) return a.toLowerCase() === b.toLowerCase();
    // ASCII letters differ by 0x20 between cases; anything else must match exactly.
    if ((x | 0x20) !== (y | 0x20) || (x | 0x20) < 97 || (x | 0x20) > 122) return false;
  }
  return true;
}

/** Replaces every header of that name by one entry (appended when absent). */
export function setMsrpHeader(m: { headers: MsrpHeaderList }, name: string, value: string): void {
  const lower = name.toLowerCase();
  const i = m.headers.findIndex(([n]) => n.toLowerCase() === lower);
  if (i < 0) {
    m.headers.push([canonicalMsrpHeaderName(name), value]);
    return;
  }
  m.headers[i] = [m.headers[i]![0], value];
  for (let j = m.headers.length - 1; j > i; j--) {
    if (m.headers[j]![0].toLowerCase() === lower) m.headers.splice(j, 1);
  }
}

export function removeMsrpHeader(m: { headers: MsrpHeaderList }, name: string): void {
  const lower = name.toLowerCase();
  for (let j = m.headers.length - 1; j >= 0; j--) {
    if (m.headers[j]![0].toLowerCase() === lower) m.headers.splice(j, 1);
  }
}

/** Path headers (To-Path, From-Path, Use-Path) hold one or more URIs separated by spaces. */
export function parsePath(value: string | undefined): string[] {
  if (value === undefined) return [];
  // One URI (the usual case between adjacent hops): no split, no filter.
  if (value.length > 0 && value.indexOf(" ") < 0 && value.indexOf("\t") < 0) return [value];
  return value.split(/[ \t]+/).filter((s) => s.length > 0);
}

export function formatPath(uris: string | readonly string[]): string {
  return typeof uris === "string" ? uris : uris.join(" ");
}

export function getToPath(m: { headers: MsrpHeaderList }): string[] {
  return parsePath(getMsrpHeader(m, "To-Path"));
}

export function getFromPath(m: { headers: MsrpHeaderList }): string[] {
  return parsePath(getMsrpHeader(m, "From-Path"));
}

/** Failure-Report (default `yes`): `no` means the receiver sends no response at all. */
export type FailureReport = "yes" | "no" | "partial";

export function getFailureReport(m: { headers: MsrpHeaderList }): FailureReport {
  const v = getMsrpHeader(m, "Failure-Report")?.trim().toLowerCase();
  return v === "no" || v === "partial" ? v : "yes";
}

/** Success-Report (default `no`): `yes` asks the final recipient for a REPORT. */
export function getSuccessReport(m: { headers: MsrpHeaderList }): boolean {
  return getMsrpHeader(m, "Success-Report")?.trim().toLowerCase() === "yes";
}

/** `ident` of RFC 4975: an alphanumeric then 3-31 of alphanumerics and `.-+%=`. */
const IDENT = /^[A-Za-z0-9][A-Za-z0-9.\-+%=]{3,31}$/;

export function isValidTransactionId(tid: string): boolean {
  return IDENT.test(tid);
}

/** Status texts used when a caller gives no comment (RFC 4975 §10 and RFC 4976). */
export const MSRP_STATUS_TEXT: Readonly<Record<number, string>> = {
  200: "OK",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  408: "Request Timeout",
  413: "Message Too Large",
  415: "Unsupported Media Type",
  423: "Interval Out-of-Bounds",
  481: "Session Does Not Exist",
  501: "Not Implemented",
  506: "Session Already Bound",
};
