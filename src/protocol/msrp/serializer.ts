/**
 * MSRP serializer (RFC 4975 §7.1): start line, To-Path, From-Path, the other headers in their
 * order, Content-Type last when there is a body section, a blank line, the body, CRLF, end-line.
 *
 * It trusts its input (messages are built by our own code): it does not check that the tid's
 * end-line is absent from the body; `pickTransactionId` in transaction-id.ts does that when the
 * request is made.
 */
import { type ContinuationFlag, getMsrpHeader, type MsrpMessage, type MsrpRequest } from "./message.js";

const CRLF = "\r\n";
const EMPTY = Buffer.alloc(0);

/**
 * The wire form as [head, body, tail] so large bodies can go to `socket.write` / writev without
 * being copied; `body` is the message's own Buffer (empty when there is none).
 */
export function serializeMsrpParts(m: MsrpMessage): [head: Buffer, body: Buffer, tail: Buffer] {
  const body = m.kind === "request" ? m.body : EMPTY;
  const [head, hasBodySection] = headText(m, m.kind === "request" && body.length > 0);
  const flag = m.kind === "request" ? m.flag : "$";
  const tail = `${hasBodySection ? CRLF : ""}-------${m.tid}${flag}${CRLF}`;
  return [Buffer.from(head, "utf8"), body, Buffer.from(tail, "latin1")];
}

/**
 * The head of a request whose body follows separately (a relay streaming a chunk it is still
 * receiving): start line, headers and the blank line, always with a body section. The body goes
 * after it, then `msrpEndLine`.
 */
export function serializeMsrpStreamHead(m: MsrpRequest): Buffer {
  return Buffer.from(headText(m, true)[0], "utf8");
}

const END_LINE_START = Buffer.from(`${CRLF}-------`, "latin1");

/** CRLF and the end-line that close a streamed body. */
export function msrpEndLine(tid: string, flag: ContinuationFlag): Buffer {
  // Written byte by byte (one per chunk and hop): cheaper than a template string and its encoding.
  const out = Buffer.allocUnsafe(END_LINE_START.length + tid.length + 3);
  out.set(END_LINE_START, 0);
  const at = writeAscii(out, END_LINE_START.length, tid);
  if (at < 0) return Buffer.from(`${CRLF}-------${tid}${flag}${CRLF}`, "latin1");
  out[at] = flag.charCodeAt(0);
  out[at + 1] = 0x0d;
  out[at + 2] = 0x0a;
  return out;
}

/** Start line and headers (and the blank line when there is a body section), and whether there is one. */
function headText(m: MsrpMessage, forceBodySection: boolean): [string, boolean] {
  let head =
    m.kind === "request"
      ? `MSRP ${m.tid} ${m.method}${CRLF}`
      : `MSRP ${m.tid} ${String(m.status).padStart(3, "0")}${m.comment !== undefined ? ` ${m.comment}` : ""}${CRLF}`;
  const toPath = getMsrpHeader(m, "To-Path");
  const fromPath = getMsrpHeader(m, "From-Path");
  if (toPath !== undefined) head += `To-Path: ${toPath}${CRLF}`;
  if (fromPath !== undefined) head += `From-Path: ${fromPath}${CRLF}`;
  let contentType: string | undefined;
  for (const [name, value] of m.headers) {
    if (isNamed(name, "To-Path") || isNamed(name, "From-Path")) continue;
    if (isNamed(name, "Content-Type")) {
      contentType ??= value;
      continue;
    }
    head += `${name}: ${value}${CRLF}`;
  }
  const hasBodySection = m.kind === "request" && (forceBodySection || contentType !== undefined);
  if (hasBodySection) {
    if (contentType !== undefined) head += `Content-Type: ${contentType}${CRLF}`;
    head += CRLF;
  }
  return [head, hasBodySection];
}

/** True when `name` is `canonical` in any case; lower-cases only names of the same length. */
function isNamed(name: string, canonical: string): boolean {
  return name === canonical || (name.length === canonical.length && name.toLowerCase() === canonical.toLowerCase());
}

export function serializeMsrp(m: MsrpMessage): Buffer {
  // Responses (a 200 per chunk) and body-less requests: one string, one Buffer.
  if (m.kind === "response" || m.body.length === 0) {
    const [head, hasBodySection] = headText(m, false);
    const flag = m.kind === "request" ? m.flag : "$";
    return Buffer.from(`${head}${hasBodySection ? CRLF : ""}-------${m.tid}${flag}${CRLF}`, "utf8");
  }
  const [head, body, tail] = serializeMsrpParts(m);
  const out = Buffer.allocUnsafe(head.length + body.length + tail.length);
  head.copy(out, 0);
  body.copy(out, head.length);
  tail.copy(out, head.length + body.length);
  return out;
}

/** Stand-ins for the tid and the Byte-Range value while a template is cut out of headText. */
const TID_MARK = "\u0001tid\u0001";
const RANGE_MARK = "\u0001range\u0001";
const MSRP_SP = Buffer.from("MSRP ", "latin1");

/**
 * Writes the ASCII string `s` (a tid, a Byte-Range value: a few dozen characters) at `at` and
 * returns the index after it, or -1 if `s` is not ASCII. A loop beats Buffer#write's call here.
 */
export function writeAscii(out: Buffer, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return -1;
    out[at + i] = c;
  }
  return at + s.length;
}

/**
 * Request heads from a template kept for the last header list, as one connection sends them: the
 * chunks of a message differ only in tid and Byte-Range, so the head is the template's bytes with
 * those two written in, not a string built and encoded again. The other headers are compared by
 * name and value (usually the very same strings chunk after chunk: the chunker keeps them per
 * message, a relay passes on the pairs its framer shares between alike lines). The bytes are the
 * same as headText's (a property test compares them). Any other header list rebuilds the
 * template; a tid or Byte-Range value that is not ASCII takes the plain path.
 */
export class RequestHeadSerializer {
  private method = "";
  private forced = false;
  private names: string[] = [];
  private values: string[] = [];
  /** Index of the Byte-Range pair (its value is per chunk), or -1. */
  private rangeAt = -1;
  /** Bytes between the tid and the Byte-Range value (or to the end without one), and after it. */
  private mid: Buffer | undefined;
  private post: Buffer = EMPTY;
  private bodySection = false;

  /** Whether the head last returned has a body section (so the end-line needs its CRLF). */
  lastHadBodySection = false;

  /** The head of `m`: start line, headers, and the blank line when it has a body section. */
  head(m: MsrpRequest, forceBodySection: boolean): Buffer {
    if (!this.matches(m, forceBodySection)) this.build(m, forceBodySection);
    const mid = this.mid;
    const tid = m.tid;
    const range = this.rangeAt >= 0 ? m.headers[this.rangeAt]![1] : "";
    if (mid !== undefined) {
      const out = Buffer.allocUnsafe(5 + tid.length + mid.length + range.length + this.post.length);
      out.set(MSRP_SP, 0);
      let o = writeAscii(out, 5, tid);
      if (o >= 0) {
        out.set(mid, o);
        o = writeAscii(out, o + mid.length, range);
        if (o >= 0) {
          out.set(this.post, o);
          this.lastHadBodySection = this.bodySection;
          return out;
        }
      }
    }
    // No template, or a tid or Byte-Range value that is not ASCII.
    const [text, hasBodySection] = headText(m, forceBodySection);
    this.lastHadBodySection = hasBodySection;
    return Buffer.from(text, "utf8");
  }

  private matches(m: MsrpRequest, forceBodySection: boolean): boolean {
    const headers = m.headers;
    const names = this.names;
    if (m.method !== this.method || forceBodySection !== this.forced || headers.length !== names.length) return false;
    for (let i = 0; i < headers.length; i++) {
      const h = headers[i]!;
      if (h[0] !== names[i] || (i !== this.rangeAt && h[1] !== this.values[i])) return false;
    }
    return true;
  }

  private build(m: MsrpRequest, forceBodySection: boolean): void {
    this.method = m.method;
    this.forced = forceBodySection;
    this.names = m.headers.map((h) => h[0]);
    this.values = m.headers.map((h) => h[1]);
    this.rangeAt = m.headers.findIndex((h) => h[0] === "Byte-Range");
    const headers = this.rangeAt < 0 ? m.headers : m.headers.map((h, i): readonly [string, string] => (i === this.rangeAt ? [h[0], RANGE_MARK] : h));
    const [text, hasBodySection] = headText({ ...m, tid: TID_MARK, headers }, forceBodySection);
    this.bodySection = hasBodySection;
    this.mid = undefined;
    const start = `MSRP ${TID_MARK}`;
    // A header value holding a mark (a peer's odd bytes) would be cut in the wrong place: no template.
    if (!text.startsWith(start) || text.indexOf(TID_MARK, start.length) >= 0) return;
    const rest = text.slice(start.length);
    if (this.rangeAt < 0) {
      this.mid = Buffer.from(rest, "utf8");
      this.post = EMPTY;
      return;
    }
    const at = rest.indexOf(RANGE_MARK);
    if (at < 0 || rest.indexOf(RANGE_MARK, at + 1) >= 0) return;
    this.mid = Buffer.from(rest.slice(0, at), "utf8");
    this.post = Buffer.from(rest.slice(at + RANGE_MARK.length), "utf8");
  }
}
