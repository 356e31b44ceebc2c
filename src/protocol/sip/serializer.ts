/**
 * SIP message serializer: message model to wire bytes. Content-Length always matches the body, so
 * messages survive stream framing; other headers are written exactly as stored.
 */
import type { SipMessage } from "./message.js";

/**
 * The wire form of a message. Content-Length is set to the body's byte length: an existing
 * Content-Length line (any spelling, incl. compact `l`) is rewritten in place and further ones
 * dropped; when absent it is appended after the other headers.
 */
export function serializeSipMessage(m: SipMessage): Buffer {
  let head =
    m.kind === "request" ? `${m.method} ${m.uri} SIP/2.0\r\n` : `SIP/2.0 ${m.status} ${m.reason}\r\n`;
  const body = m.body;
  const bodyLength = body === undefined ? 0 : body.length;
  let wroteLength = false;
  const headers = m.headers;
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i]!;
    if (isContentLength(name)) {
      if (!wroteLength) head += `Content-Length: ${bodyLength}\r\n`;
      wroteLength = true;
      continue;
    }
    head += `${name}: ${value}\r\n`;
  }
  if (!wroteLength) head += `Content-Length: ${bodyLength}\r\n`;
  head += "\r\n";
  const headBytes = Buffer.byteLength(head);
  const out = Buffer.allocUnsafe(headBytes + bodyLength);
  out.write(head, 0, headBytes, "utf8");
  if (bodyLength > 0) body.copy(out, headBytes);
  return out;
}

function isContentLength(name: string): boolean {
  return name === "Content-Length" || name === "l" || name === "L" || (name.length === 14 && name.toLowerCase() === "content-length");
}

/** The wire form as a string (for SIP.js transports, which send strings). */
export function serializeSipMessageToString(m: SipMessage): string {
  return serializeSipMessage(m).toString("utf8");
}
