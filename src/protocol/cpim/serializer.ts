/**
 * CPIM serializer and builder (RFC 3862; header order as in the RFC 5438 examples).
 */
import { type CpimAddress, type CpimHeaderList, type CpimMessage, formatCpimAddress } from "./message.js";

export interface SerializeCpimOptions {
  /**
   * true: write Content-Length (added or corrected); false: leave the content headers as they are.
   * Default: correct an existing Content-Length, add none.
   */
  contentLength?: boolean;
}

export function serializeCpim(m: CpimMessage, opts: SerializeCpimOptions = {}): Buffer {
  let text = "";
  for (const [n, v] of m.headers) text += `${n}: ${v}\r\n`;
  text += "\r\n";
  let hasLength = false;
  for (const [n, v] of m.contentHeaders) {
    if (n.toLowerCase() === "content-length") {
      if (opts.contentLength === false) text += `${n}: ${v}\r\n`;
      else if (!hasLength) text += `${n}: ${m.body.length}\r\n`;
      hasLength = true;
      continue;
    }
    text += `${n}: ${v}\r\n`;
  }
  if (opts.contentLength === true && !hasLength) text += `Content-Length: ${m.body.length}\r\n`;
  text += "\r\n";
  return Buffer.concat([Buffer.from(text, "utf8"), m.body]);
}

export const IMDN_NAMESPACE_URN = "urn:ietf:params:imdn";

/** What a sender asks to be notified of (RFC 5438 §6.2). */
export type DispositionRequest = "positive-delivery" | "negative-delivery" | "display" | "processing";

export interface CreateCpimOptions {
  from: CpimAddress | string;
  to: CpimAddress | string | ReadonlyArray<CpimAddress | string>;
  cc?: ReadonlyArray<CpimAddress | string>;
  /** Written as given (a string) or as ISO 8601 UTC (a Date). The codec reads no clock. */
  dateTime?: Date | string;
  subject?: string;
  /** Adds `NS: imdn <urn:ietf:params:imdn>`, `imdn.Message-ID` and, when non-empty, the request. */
  imdn?: { messageId: string; notifications?: readonly DispositionRequest[] };
  /** More message headers, written after the standard ones. */
  headers?: CpimHeaderList;
  contentType: string;
  /** More content headers (Content-Disposition, Content-ID ...), written after Content-Type. */
  contentHeaders?: CpimHeaderList;
  body: Buffer | string;
  /** Write Content-Length (default true: most RCS stacks send it). */
  contentLength?: boolean;
}

export function createCpimMessage(o: CreateCpimOptions): CpimMessage {
  const headers: CpimHeaderList = [["From", formatCpimAddress(o.from)]];
  const tos = Array.isArray(o.to) ? o.to : [o.to as CpimAddress | string];
  for (const t of tos) headers.push(["To", formatCpimAddress(t)]);
  for (const c of o.cc ?? []) headers.push(["cc", formatCpimAddress(c)]);
  if (o.imdn) {
    headers.push(["NS", `imdn <${IMDN_NAMESPACE_URN}>`]);
    headers.push(["imdn.Message-ID", o.imdn.messageId]);
  }
  if (o.dateTime !== undefined) {
    headers.push(["DateTime", typeof o.dateTime === "string" ? o.dateTime : o.dateTime.toISOString()]);
  }
  if (o.subject !== undefined) headers.push(["Subject", o.subject]);
  if (o.imdn?.notifications && o.imdn.notifications.length > 0) {
    headers.push(["imdn.Disposition-Notification", o.imdn.notifications.join(", ")]);
  }
  if (o.headers) headers.push(...o.headers);
  const body = typeof o.body === "string" ? Buffer.from(o.body, "utf8") : o.body;
  const contentHeaders: CpimHeaderList = [["Content-Type", o.contentType], ...(o.contentHeaders ?? [])];
  if (o.contentLength !== false) contentHeaders.push(["Content-Length", String(body.length)]);
  return { headers, contentHeaders, body };
}
