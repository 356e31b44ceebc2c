/**
 * SIP message parser (RFC 3261 section 7 and 18.3) for datagrams and for TCP byte streams.
 *
 * Pure and total: every input gives a message or a typed SipParseError, never an exception.
 * Speed matters (the load tester parses every message twice, client and server side), so the header
 * block is decoded to a string once and scanned with indexOf/charCodeAt; header values are kept
 * raw (structured parsing is on demand in headers.ts).
 *
 * What is accepted beyond the strict grammar, as robust receivers do (RFC 4475 section 3.1.1):
 * CRLFs before the start line, bare-LF line ends, LWS before the colon, folded lines (unfolded to
 * one space), compact and any-case header names, an empty reason phrase, a case-insensitive
 * "SIP/2.0". Rejected: other SIP versions, malformed start lines, header lines without a colon or
 * with a non-token name, bad or conflicting Content-Length, missing mandatory headers, a CSeq that
 * is malformed, out of range or whose method differs from the request's.
 */
import { isTokenChar, knownHeaderNameAt, MAX_CSEQ } from "./headers.js";
import {
  type HeaderList,
  type SipMessage,
  SipParseError,
  type SipParseErrorCode,
  type SipParseResult,
  type SipRequest,
} from "./message.js";

export const DEFAULT_MAX_HEADER_BYTES = 64 * 1024;
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

export interface SipParseOptions {
  /** Largest header block (start line to blank line) accepted; default 64 KiB. */
  maxHeaderBytes?: number;
  /** Largest body accepted; default 16 MiB. */
  maxBodyBytes?: number;
}

const EMPTY = Buffer.alloc(0);
const CRLFCRLF = Buffer.from("\r\n\r\n", "latin1");
const LFLF = Buffer.from("\n\n", "latin1");

/** Bits for the headers RFC 3261 8.1.1 makes mandatory in every request and response. */
const HAS_VIA = 1;
const HAS_FROM = 2;
const HAS_TO = 4;
const HAS_CALL_ID = 8;
const HAS_CSEQ = 16;
const HAS_ALL = 31;

/** Content-Length states besides a value >= 0. */
const CL_ABSENT = -1;
const CL_INVALID = -2;

/** A parsed header block, before the body is attached. */
interface Head {
  isRequest: boolean;
  method: string;
  uri: string;
  status: number;
  reason: string;
  headers: HeaderList;
  contentLength: number;
  error: SipParseError | null;
}

function fail(code: SipParseErrorCode, message: string): SipParseError {
  return new SipParseError(code, message);
}

/** Shows a short, printable excerpt of bad input in error messages. */
function excerpt(s: string): string {
  const t = s.length > 60 ? `${s.slice(0, 60)}...` : s;
  return JSON.stringify(t);
}

function isVersion(s: string, start: number, end: number): boolean {
  if (end - start !== 7) return false;
  // Fast path for the exact spelling, else compare case-insensitively (RFC 3261 7.1).
  if (s.startsWith("SIP/2.0", start)) return true;
  return s.slice(start, end).toUpperCase() === "SIP/2.0";
}

/**
 * Parses the start line and header lines of `text` (the header block without the blank line).
 * Never throws. Errors are recorded in `head.error` while parsing continues as far as it can, so a
 * stream framer still learns the Content-Length and a server still gets headers for its 400.
 */
function parseHead(text: string): Head {
  const head: Head = {
    isRequest: true,
    method: "",
    uri: "",
    status: 0,
    reason: "",
    headers: [],
    contentLength: CL_ABSENT,
    error: null,
  };
  const len = text.length;

  // Start line.
  let nl = text.indexOf("\n");
  let lineEnd = nl < 0 ? len : nl;
  let contentEnd = lineEnd > 0 && text.charCodeAt(lineEnd - 1) === 13 ? lineEnd - 1 : lineEnd;
  parseStartLine(text, contentEnd, head);

  let seen = 0;
  let cseqValue: string | undefined;
  const headers = head.headers;
  let pos = lineEnd + 1;
  while (pos < len) {
    nl = text.indexOf("\n", pos);
    lineEnd = nl < 0 ? len : nl;
    contentEnd = lineEnd > pos && text.charCodeAt(lineEnd - 1) === 13 ? lineEnd - 1 : lineEnd;
    const lineStart = pos;
    const first = text.charCodeAt(pos);
    if (first === 32 || first === 9) {
      // A continuation line before any header has nothing to continue.
      if (headers.length === 0) {
        head.error ??= fail("bad-header", "header block starts with a continuation line");
      }
      pos = lineEnd + 1;
      continue;
    }
    const colon = text.indexOf(":", pos);
    if (colon < 0 || colon > contentEnd) {
      head.error ??= fail("bad-header", `header line without a colon: ${excerpt(text.slice(pos, contentEnd))}`);
      pos = lineEnd + 1;
      continue;
    }
    let nameEnd = colon;
    while (nameEnd > pos && isSpace(text.charCodeAt(nameEnd - 1))) nameEnd--;
    // Known names resolve straight from the text; anything else must be a token.
    const known = nameEnd > pos ? knownHeaderNameAt(text, pos, nameEnd) : undefined;
    let validName = known !== undefined || nameEnd > pos;
    for (let i = pos; known === undefined && validName && i < nameEnd; i++) validName = isTokenChar(text.charCodeAt(i));
    let vs = colon + 1;
    while (vs < contentEnd && isSpace(text.charCodeAt(vs))) vs++;
    let ve = contentEnd;
    while (ve > vs && isSpace(text.charCodeAt(ve - 1))) ve--;
    let value = text.slice(vs, ve);
    pos = lineEnd + 1;
    // Folded lines (RFC 3261 7.3.1): each continuation is joined with a single space.
    while (pos < len) {
      const c = text.charCodeAt(pos);
      if (c !== 32 && c !== 9) break;
      nl = text.indexOf("\n", pos);
      lineEnd = nl < 0 ? len : nl;
      contentEnd = text.charCodeAt(lineEnd - 1) === 13 ? lineEnd - 1 : lineEnd;
      let cs = pos;
      while (cs < contentEnd && isSpace(text.charCodeAt(cs))) cs++;
      let ce = contentEnd;
      while (ce > cs && isSpace(text.charCodeAt(ce - 1))) ce--;
      if (ce > cs) value = value.length === 0 ? text.slice(cs, ce) : `${value} ${text.slice(cs, ce)}`;
      pos = lineEnd + 1;
    }
    if (!validName) {
      head.error ??= fail("bad-header", `bad header name: ${excerpt(text.slice(lineStart, nameEnd))}`);
      continue;
    }
    const name = known ?? text.slice(lineStart, nameEnd);
    headers.push([name, value]);
    switch (name) {
      case "Via":
        seen |= HAS_VIA;
        break;
      case "From":
        seen |= HAS_FROM;
        break;
      case "To":
        seen |= HAS_TO;
        break;
      case "Call-ID":
        seen |= HAS_CALL_ID;
        break;
      case "CSeq":
        if (seen & HAS_CSEQ) head.error ??= fail("bad-header", "more than one CSeq header");
        seen |= HAS_CSEQ;
        cseqValue = value;
        break;
      case "Content-Length": {
        const n = parseContentLength(value);
        if (head.contentLength === CL_ABSENT) head.contentLength = n;
        else if (head.contentLength !== n) head.contentLength = CL_INVALID;
        break;
      }
    }
  }

  if (head.error !== null) return head;
  if (seen !== HAS_ALL) {
    const missing: string[] = [];
    if (!(seen & HAS_VIA)) missing.push("Via");
    if (!(seen & HAS_FROM)) missing.push("From");
    if (!(seen & HAS_TO)) missing.push("To");
    if (!(seen & HAS_CALL_ID)) missing.push("Call-ID");
    if (!(seen & HAS_CSEQ)) missing.push("CSeq");
    head.error = fail("missing-header", `missing mandatory header${missing.length > 1 ? "s" : ""}: ${missing.join(", ")}`);
    return head;
  }
  const cseqError = checkCSeq(cseqValue!, head);
  if (cseqError !== null) head.error = cseqError;
  return head;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9;
}

function parseStartLine(text: string, end: number, head: Head): void {
  if (end === 0) {
    head.error = fail("bad-start-line", "empty start line");
    return;
  }
  const sp1 = text.indexOf(" ");
  if (sp1 < 0 || sp1 >= end) {
    head.error = fail("bad-start-line", `start line has no spaces: ${excerpt(text.slice(0, end))}`);
    return;
  }
  if (text.charCodeAt(0) === 83 /* S */ || text.charCodeAt(0) === 115 /* s */) {
    if (sp1 === 7 && isVersion(text, 0, 7)) {
      head.isRequest = false;
      // Status-Line: SIP/2.0 SP 3DIGIT SP Reason-Phrase (an empty or missing reason is tolerated).
      const s = sp1 + 1;
      const after = s + 3;
      if (
        after > end ||
        (after < end && text.charCodeAt(after) !== 32) ||
        !isDigit(text.charCodeAt(s)) ||
        !isDigit(text.charCodeAt(s + 1)) ||
        !isDigit(text.charCodeAt(s + 2))
      ) {
        head.error = fail("bad-start-line", `bad status code in ${excerpt(text.slice(0, end))}`);
        return;
      }
      const status =
        (text.charCodeAt(s) - 48) * 100 + (text.charCodeAt(s + 1) - 48) * 10 + (text.charCodeAt(s + 2) - 48);
      if (status < 100) {
        head.error = fail("bad-start-line", `status code ${status} is below 100`);
        return;
      }
      head.status = status;
      head.reason = after < end ? text.slice(after + 1, end) : "";
      return;
    }
    if (text.slice(0, 4).toUpperCase() === "SIP/") {
      head.isRequest = false;
      head.error = fail("bad-start-line", `unsupported SIP version in ${excerpt(text.slice(0, end))}`);
      return;
    }
  }
  // Request-Line: Method SP Request-URI SP SIP-Version, single spaces, nothing after the version.
  for (let i = 0; i < sp1; i++) {
    if (!isTokenChar(text.charCodeAt(i))) {
      head.error = fail("bad-start-line", `bad method in ${excerpt(text.slice(0, end))}`);
      return;
    }
  }
  head.method = text.slice(0, sp1);
  const sp2 = text.indexOf(" ", sp1 + 1);
  if (sp2 < 0 || sp2 >= end) {
    head.error = fail("bad-start-line", `request line needs method, URI and version: ${excerpt(text.slice(0, end))}`);
    return;
  }
  const uri = text.slice(sp1 + 1, sp2);
  // The URI needs a scheme (so "<sip:...>" and empty URIs from doubled spaces are rejected) and no
  // whitespace (LWS inside the URI shows up as extra spaces on the line).
  const colon = uri.indexOf(":");
  if (colon <= 0 || !isAlpha(uri.charCodeAt(0)) || uri.indexOf("\t") >= 0) {
    head.error = fail("bad-start-line", `bad Request-URI ${excerpt(uri)}`);
    return;
  }
  head.uri = uri;
  if (!isVersion(text, sp2 + 1, end)) {
    const version = text.slice(sp2 + 1, end);
    head.error = fail(
      "bad-start-line",
      version.indexOf(" ") >= 0
        ? `extra spaces in request line ${excerpt(text.slice(0, end))}`
        : `unsupported SIP version ${excerpt(version)}`,
    );
  }
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isAlpha(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** Digits only; more than 15 digits is reported as an impossible size (it exceeds every limit). */
function parseContentLength(v: string): number {
  const n = v.length;
  if (n === 0 || n > 15) return n === 0 ? CL_INVALID : allDigits(v) ? Number.MAX_SAFE_INTEGER : CL_INVALID;
  let x = 0;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c < 48 || c > 57) return CL_INVALID;
    x = x * 10 + (c - 48);
  }
  return x;
}

function allDigits(v: string): boolean {
  for (let i = 0; i < v.length; i++) if (!isDigit(v.charCodeAt(i))) return false;
  return true;
}

/** CSeq: 1..10 digits within 2**31-1, LWS, a method token equal to the request's (RFC 3261 8.1.1.5). */
function checkCSeq(v: string, head: Head): SipParseError | null {
  const n = v.length;
  let i = 0;
  let seq = 0;
  while (i < n && isDigit(v.charCodeAt(i))) {
    seq = seq * 10 + (v.charCodeAt(i) - 48);
    i++;
  }
  if (i === 0 || i > 10 || seq > MAX_CSEQ) return fail("bad-header", `bad CSeq number in ${excerpt(v)}`);
  const ws = i;
  while (i < n && isSpace(v.charCodeAt(i))) i++;
  if (i === ws || i === n) return fail("bad-header", `bad CSeq ${excerpt(v)}`);
  const method = v.slice(i);
  for (let j = 0; j < method.length; j++) {
    if (!isTokenChar(method.charCodeAt(j))) return fail("bad-header", `bad CSeq method in ${excerpt(v)}`);
  }
  if (head.isRequest && method !== head.method) {
    return fail("bad-header", `CSeq method ${method} does not match request method ${head.method}`);
  }
  return null;
}

function partialOf(head: Head, body: Buffer): Partial<SipRequest> {
  if (head.isRequest && head.method !== "") {
    const p: Partial<SipRequest> = { kind: "request", method: head.method, headers: head.headers, body };
    if (head.uri !== "") p.uri = head.uri;
    return p;
  }
  return { headers: head.headers, body };
}

function toMessage(head: Head, body: Buffer): SipMessage {
  return head.isRequest
    ? { kind: "request", method: head.method, uri: head.uri, headers: head.headers, body }
    : { kind: "response", status: head.status, reason: head.reason, headers: head.headers, body };
}

/** Skips CR and LF before the start line (RFC 3261 7.5 keep-alive CRLFs). */
function skipLeadingCrlf(data: Buffer | string): number {
  let i = 0;
  if (typeof data === "string") {
    while (i < data.length) {
      const c = data.charCodeAt(i);
      if (c !== 13 && c !== 10) break;
      i++;
    }
  } else {
    while (i < data.length) {
      const c = data[i]!;
      if (c !== 13 && c !== 10) break;
      i++;
    }
  }
  return i;
}

/**
 * Parses one complete message: a UDP datagram, a WebSocket message, or one message cut out of a
 * stream. Accepts a Buffer or a string (SIP.js transports hand strings; the body's Content-Length
 * then counts its UTF-8 bytes).
 *
 * Body (RFC 3261 18.3): exactly Content-Length bytes, extra bytes are discarded; without
 * Content-Length the rest of the data; a Content-Length larger than what is there is
 * 'bad-content-length'. A message without the blank line after the headers is 'incomplete'.
 * On 'missing-header' and 'bad-header' the result carries `partial` (method, URI, headers) so a
 * server can still answer 400.
 */
export function parseSipMessage(data: Buffer | string, opts?: SipParseOptions): SipParseResult {
  try {
    return parseUnsafe(data, opts);
  } catch (e) {
    // Defence in depth: nothing above is meant to throw, but a codec bug must not reach a socket.
    return { ok: false, error: fail("bad-header", `parser failure: ${String(e)}`) };
  }
}

function parseUnsafe(data: Buffer | string, opts: SipParseOptions | undefined): SipParseResult {
  const maxHeader = opts?.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  const maxBody = opts?.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const start = skipLeadingCrlf(data);
  if (start === data.length) return { ok: false, error: fail("incomplete", "no SIP message (empty or only CRLF)") };
  let headEnd: number;
  let sepLen = 4;
  let text: string;
  let rest: Buffer;
  if (typeof data === "string") {
    headEnd = data.indexOf("\r\n\r\n", start);
    if (headEnd < 0) {
      headEnd = data.indexOf("\n\n", start);
      sepLen = 2;
    }
    if (headEnd < 0) return noHeaderEnd(data.length - start, maxHeader);
    text = data.slice(start, headEnd);
    // The limit counts bytes: a UTF-16 unit is 1 to 3 UTF-8 bytes, so measure only when it matters.
    if (text.length > maxHeader || (text.length * 3 > maxHeader && Buffer.byteLength(text) > maxHeader)) {
      return tooLargeHeader(maxHeader);
    }
    const bodyText = data.length > headEnd + sepLen ? data.slice(headEnd + sepLen) : "";
    rest = bodyText.length === 0 ? EMPTY : Buffer.from(bodyText, "utf8");
  } else {
    headEnd = data.indexOf(CRLFCRLF, start);
    if (headEnd < 0) {
      headEnd = data.indexOf(LFLF, start);
      sepLen = 2;
    }
    if (headEnd < 0) return noHeaderEnd(data.length - start, maxHeader);
    if (headEnd - start > maxHeader) return tooLargeHeader(maxHeader);
    text = data.toString("utf8", start, headEnd);
    rest = data.subarray(headEnd + sepLen);
  }
  const head = parseHead(text);
  const cl = head.contentLength;
  let body: Buffer;
  if (cl === CL_ABSENT) body = rest;
  else if (cl === CL_INVALID) {
    return { ok: false, error: fail("bad-content-length", "Content-Length is not a single non-negative integer"), partial: partialOf(head, rest) };
  } else if (cl > maxBody) {
    return { ok: false, error: fail("too-large", `body of ${cl} bytes exceeds the ${maxBody}-byte limit`), partial: partialOf(head, EMPTY) };
  } else if (cl > rest.length) {
    return {
      ok: false,
      error: fail("bad-content-length", `Content-Length ${cl} exceeds the ${rest.length} body bytes received`),
      partial: partialOf(head, rest),
    };
  } else body = cl === rest.length ? rest : rest.subarray(0, cl);
  if (body.length > maxBody) {
    return { ok: false, error: fail("too-large", `body of ${body.length} bytes exceeds the ${maxBody}-byte limit`), partial: partialOf(head, EMPTY) };
  }
  if (head.error !== null) return { ok: false, error: head.error, partial: partialOf(head, body) };
  return { ok: true, message: toMessage(head, body) };
}

function noHeaderEnd(size: number, maxHeader: number): SipParseResult {
  if (size > maxHeader) return tooLargeHeader(maxHeader);
  return { ok: false, error: fail("incomplete", "no blank line after the header block") };
}

function tooLargeHeader(maxHeader: number): SipParseResult {
  return { ok: false, error: fail("too-large", `header block exceeds the ${maxHeader}-byte limit`) };
}

/** True when a datagram is only CRLFs: an RFC 5626 keep-alive (answer a double CRLF with one CRLF). */
export function isKeepAlive(data: Buffer | string): boolean {
  return data.length > 0 && skipLeadingCrlf(data) === data.length;
}

// -------------------------------------------------------------------------------------------------
// Stream framing

/** One result of SipStreamFramer.push(). */
export type SipFrame =
  | {
      ok: true;
      message: SipMessage;
      /** the raw message bytes (header block and body) */
      bytes: Buffer;
      /**
       * The whole message as a string (`bytes` decoded as UTF-8) when the framer decoded it anyway:
       * messages without a body. Saves a caller that needs the text a second decode.
       */
      text?: string;
    }
  | {
      ok: false;
      error: SipParseError;
      /**
       * false: that one message was malformed but its Content-Length was readable, so it was skipped
       * and framing continues (answer 400 when `partial` allows). true: the stream cannot be
       * re-synchronised; close the connection. After a fatal frame the framer ignores all input.
       */
      fatal: boolean;
      partial?: Partial<SipRequest>;
      /** the skipped message's raw bytes (non-fatal errors only) */
      bytes?: Buffer;
    };

export interface SipFramerOptions extends SipParseOptions {
  /**
   * Called (synchronously, from push) for RFC 5626 keep-alives between messages: "ping" for a double
   * CRLF (a server answers with a single CRLF), "pong" for a single CRLF. A ping split across two
   * reads is reported as "pong" then "ping", so a ping is never missed.
   */
  onKeepAlive?: (kind: "ping" | "pong") => void;
}

/** Initial capacity of the framer's own buffer, grown by doubling. */
const MIN_CAPACITY = 4096;

interface PendingHead {
  head: Head;
  headBytes: number;
  contentLength: number;
  /** The whole message decoded, when it has no body. */
  text: string | undefined;
}

/**
 * Incremental framing of a SIP byte stream (TCP, TLS) by Content-Length (RFC 3261 18.3, which makes
 * Content-Length mandatory on streams). Survives any split of the input; chunks are appended to one
 * growable buffer (amortised O(n), never a concat per chunk), the blank-line search resumes where
 * it stopped, and a complete message inside a single chunk is parsed without copying — so a
 * frame's `bytes` and `message.body` may be views of the pushed chunk (Buffer.from() them to keep
 * a small body for long without retaining the whole socket read). Messages on a stream need CRLF
 * line ends (the blank line is found as CRLFCRLF; bare LF is accepted only by parseSipMessage).
 */
export class SipStreamFramer {
  private readonly maxHeader: number;
  private readonly maxBody: number;
  private readonly onKeepAlive: ((kind: "ping" | "pong") => void) | undefined;
  /** Bytes in [start, end) are pending. `owned` is false while buf is the caller's chunk. */
  private buf: Buffer = EMPTY;
  private owned = false;
  private start = 0;
  private end = 0;
  /** Where the next search for the blank line begins (absolute index into buf). */
  private scanFrom = 0;
  private pending: PendingHead | null = null;
  private failed = false;
  /** The last push ended right after a single CRLF reported as a pong. */
  private pongAtEnd = false;
  /** The current message's start line has not been scanned for binary bytes yet. */
  private startLineUnchecked = true;
  /** How many bytes after `start` checkStartLine() has already scanned. */
  private startLineChecked = 0;

  constructor(opts?: SipFramerOptions) {
    this.maxHeader = opts?.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
    this.maxBody = opts?.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.onKeepAlive = opts?.onKeepAlive;
  }

  /** Bytes received but not yet emitted as a frame. */
  get bufferedBytes(): number {
    return this.end - this.start;
  }

  push(chunk: Buffer): SipFrame[] {
    const frames: SipFrame[] = [];
    if (this.failed || chunk.length === 0) return frames;
    try {
      this.append(chunk);
      this.drain(frames);
    } catch (e) {
      this.failed = true;
      frames.push({ ok: false, error: fail("bad-header", `framer failure: ${String(e)}`), fatal: true });
    }
    if (this.start === this.end) {
      // Drop references so an idle connection holds no memory.
      this.buf = EMPTY;
      this.owned = false;
      this.start = this.end = this.scanFrom = 0;
    }
    return frames;
  }

  private append(chunk: Buffer): void {
    const pendingBytes = this.end - this.start;
    if (pendingBytes === 0) {
      this.buf = chunk;
      this.owned = false;
      this.start = 0;
      this.end = chunk.length;
      this.scanFrom = 0;
      return;
    }
    const needed = pendingBytes + chunk.length;
    if (this.owned && this.end + chunk.length <= this.buf.length) {
      chunk.copy(this.buf, this.end);
      this.end += chunk.length;
      return;
    }
    if (this.owned && needed <= this.buf.length && this.start >= this.buf.length >>> 1) {
      // Enough room once the consumed front is reclaimed.
      this.buf.copy(this.buf, 0, this.start, this.end);
    } else {
      let cap = Math.max(MIN_CAPACITY, this.owned ? this.buf.length : 0);
      while (cap < needed) cap *= 2;
      const next = Buffer.allocUnsafe(cap);
      this.buf.copy(next, 0, this.start, this.end);
      this.buf = next;
      this.owned = true;
    }
    this.scanFrom -= this.start;
    this.end = pendingBytes;
    this.start = 0;
    chunk.copy(this.buf, this.end);
    this.end += chunk.length;
  }

  private drain(frames: SipFrame[]): void {
    const buf = this.buf;
    while (this.start < this.end) {
      if (this.pending === null) {
        if (!this.skipKeepAlives()) return;
        if (this.startLineUnchecked && !this.checkStartLine()) {
          return this.fatal(frames, "bad-start-line", "binary data where a SIP start line was expected");
        }
        const from = Math.max(this.start, this.scanFrom);
        let idx = buf.indexOf(CRLFCRLF, from);
        // Our buffer holds stale bytes past `end`: a match must lie wholly inside the pending data.
        if (idx + 4 > this.end) idx = -1;
        if (idx < 0) {
          if (this.end - this.start > this.maxHeader) return this.fatal(frames, "too-large", `header block exceeds the ${this.maxHeader}-byte limit`);
          this.scanFrom = Math.max(this.start, this.end - 3);
          return;
        }
        const headBytes = idx + 4 - this.start;
        if (headBytes - 4 > this.maxHeader) return this.fatal(frames, "too-large", `header block exceeds the ${this.maxHeader}-byte limit`);
        // Decoded with the blank line: for a message without a body that is its whole text
        // (frame.text). CR and LF are ASCII, so the head decodes the same either way.
        const text = buf.toString("utf8", this.start, idx + 4);
        const head = parseHead(text.slice(0, text.length - 4));
        const cl = head.contentLength;
        if (cl === CL_ABSENT) return this.fatal(frames, "bad-content-length", "message on a stream has no Content-Length");
        if (cl === CL_INVALID) return this.fatal(frames, "bad-content-length", "Content-Length is not a single non-negative integer");
        if (cl > this.maxBody) return this.fatal(frames, "too-large", `body of ${cl} bytes exceeds the ${this.maxBody}-byte limit`);
        this.pending = { head, headBytes, contentLength: cl, text: cl === 0 ? text : undefined };
      }
      const p = this.pending;
      const total = p.headBytes + p.contentLength;
      if (this.end - this.start < total) return;
      // Our own buffer is reused, so frames get a copy; a caller's chunk is never written to.
      const bytes = this.owned
        ? Buffer.from(buf.subarray(this.start, this.start + total))
        : buf.subarray(this.start, this.start + total);
      const body = p.contentLength === 0 ? EMPTY : bytes.subarray(p.headBytes);
      this.start += total;
      this.scanFrom = this.start;
      this.pending = null;
      this.startLineUnchecked = true;
      this.pongAtEnd = false;
      if (p.head.error !== null) {
        frames.push({ ok: false, error: p.head.error, fatal: false, partial: partialOf(p.head, body), bytes });
      } else {
        const frame: SipFrame = { ok: true, message: toMessage(p.head, body), bytes };
        if (p.text !== undefined) frame.text = p.text;
        frames.push(frame);
      }
    }
  }

  /**
   * Fails fast on binary input (a TLS ClientHello, random bytes) instead of buffering up to the
   * header limit: a start line never holds control characters. Checks the bytes up to the first LF
   * once per message; true while nothing bad has been seen.
   */
  private checkStartLine(): boolean {
    const buf = this.buf;
    const stop = Math.min(this.end, this.start + this.maxHeader);
    // Resume where the previous push stopped, so a slowly arriving line is scanned once.
    for (let i = this.start + this.startLineChecked; i < stop; i++) {
      const c = buf[i]!;
      if (c === 10) {
        this.startLineUnchecked = false;
        this.startLineChecked = 0;
        return true;
      }
      if ((c < 32 && c !== 9 && c !== 13) || c === 127) return false;
    }
    this.startLineChecked = stop - this.start;
    return true;
  }

  /** Consumes CR/LF between messages; false when nothing else is buffered yet. */
  private skipKeepAlives(): boolean {
    const buf = this.buf;
    let i = this.start;
    let lf = 0;
    while (i < this.end) {
      const c = buf[i]!;
      if (c === 10) lf++;
      else if (c !== 13) break;
      i++;
    }
    if (i === this.start) {
      this.pongAtEnd = false;
      return true;
    }
    this.start = i;
    this.scanFrom = Math.max(this.scanFrom, i);
    if (this.onKeepAlive !== undefined && lf > 0) {
      let pings = lf >> 1;
      let pongs = lf & 1;
      // A CRLF reported as a pong at the end of the last read, followed by one more: a split ping.
      if (this.pongAtEnd && pongs === 1) {
        pings++;
        pongs = 0;
      }
      for (let k = 0; k < pings; k++) this.onKeepAlive("ping");
      if (pongs === 1) this.onKeepAlive("pong");
      this.pongAtEnd = pongs === 1 && i === this.end;
    }
    return i < this.end;
  }

  private fatal(frames: SipFrame[], code: SipParseErrorCode, message: string): void {
    this.failed = true;
    frames.push({ ok: false, error: fail(code, message), fatal: true });
    this.buf = EMPTY;
    this.owned = false;
    this.start = this.end = this.scanFrom = 0;
    this.pending = null;
  }
}
