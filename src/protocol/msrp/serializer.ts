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

/** CRLF and the end-line that close a streamed body. */
export function msrpEndLine(tid: string, flag: ContinuationFlag): Buffer {
  return Buffer.from(`${CRLF}-------${tid}${flag}${CRLF}`, "latin1");
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
