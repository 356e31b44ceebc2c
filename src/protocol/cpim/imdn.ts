/**
 * Instant Message Disposition Notification (RFC 5438), as CPM §7.3.6 uses it.
 *
 * Request side: `imdn.Message-ID` and `imdn.Disposition-Notification` in the CPIM headers of the
 * original message. Answer side: a new CPIM message to the original sender (or along its
 * `imdn.IMDN-Record-Route`), with its own `imdn.Message-ID`, `Content-Disposition: notification`
 * and a `message/imdn+xml` body naming the original Message-ID and the disposition.
 */
import {
  type CpimAddress,
  type CpimHeaderList,
  type CpimMessage,
  getContentHeader,
  getCpimHeader,
  getCpimHeaders,
  parseCpimAddress,
} from "./message.js";
import { createCpimMessage, type DispositionRequest, IMDN_NAMESPACE_URN } from "./serializer.js";
import { childElement, escapeXml, parseXml, type XmlElement } from "./xml-lite.js";

export const IMDN_XML_NAMESPACE = "urn:ietf:params:xml:ns:imdn";
export const IMDN_CONTENT_TYPE = "message/imdn+xml";
const IMDN_NS = { urn: IMDN_NAMESPACE_URN, prefix: "imdn" };

/** `imdn.Message-ID` of a CPIM message (whatever prefix its NS header chose). */
export function getImdnMessageId(m: Pick<CpimMessage, "headers">): string | undefined {
  return getCpimHeader(m, "Message-ID", IMDN_NS)?.trim();
}

/** The notifications the sender asked for, lower-cased, in order. */
export function getDispositionRequests(m: Pick<CpimMessage, "headers">): DispositionRequest[] {
  const out: DispositionRequest[] = [];
  for (const v of getCpimHeaders(m, "Disposition-Notification", IMDN_NS)) {
    for (const token of v.split(",")) {
      const t = token.trim().toLowerCase();
      if ((t === "positive-delivery" || t === "negative-delivery" || t === "display" || t === "processing") && !out.includes(t)) {
        out.push(t);
      }
    }
  }
  return out;
}

/** True when the CPIM content is an IMDN (`Content-Disposition: notification` or its type). */
export function isImdn(m: Pick<CpimMessage, "contentHeaders">): boolean {
  const type = getContentHeader(m, "Content-Type")?.split(";")[0]?.trim().toLowerCase();
  return type === IMDN_CONTENT_TYPE;
}

/** The disposition reported, restricted to the statuses RFC 5438 §9 allows for each kind. */
export type ImdnDisposition =
  | { kind: "delivery"; status: "delivered" | "failed" | "forbidden" | "error" }
  | { kind: "display"; status: "displayed" | "forbidden" | "error" }
  | { kind: "processing"; status: "processed" | "stored" | "forbidden" | "error" };

export type ImdnNotification = ImdnDisposition & {
  /** imdn.Message-ID of the message this notification is about. */
  messageId: string;
  /** DateTime of the original message. */
  datetime: string;
  recipientUri?: string;
  originalRecipientUri?: string;
  subject?: string;
};

const STATUSES: Record<ImdnDisposition["kind"], readonly string[]> = {
  delivery: ["delivered", "failed", "forbidden", "error"],
  display: ["displayed", "forbidden", "error"],
  processing: ["processed", "stored", "forbidden", "error"],
};

export function buildImdnXml(n: ImdnNotification): string {
  let xml = `<?xml version="1.0" encoding="UTF-8"?>\r\n<imdn xmlns="${IMDN_XML_NAMESPACE}">\r\n`;
  xml += `  <message-id>${escapeXml(n.messageId)}</message-id>\r\n`;
  xml += `  <datetime>${escapeXml(n.datetime)}</datetime>\r\n`;
  if (n.recipientUri !== undefined) xml += `  <recipient-uri>${escapeXml(n.recipientUri)}</recipient-uri>\r\n`;
  if (n.originalRecipientUri !== undefined) {
    xml += `  <original-recipient-uri>${escapeXml(n.originalRecipientUri)}</original-recipient-uri>\r\n`;
  }
  if (n.subject !== undefined) xml += `  <subject>${escapeXml(n.subject)}</subject>\r\n`;
  xml += `  <${n.kind}-notification>\r\n    <status>\r\n      <${n.status}/>\r\n    </status>\r\n  </${n.kind}-notification>\r\n`;
  xml += "</imdn>\r\n";
  return xml;
}

export type ImdnParseResult = { ok: true; notification: ImdnNotification } | { ok: false; error: string };

/**
 * Reads an IMDN document: message-id, datetime, the optional URIs and subject, and the one
 * notification element with its status. Elements of other namespaces are ignored (RFC 5438
 * allows extensions); a missing message-id or notification, or an unknown status, is an error.
 */
export function parseImdnXml(data: Buffer | string): ImdnParseResult {
  const parsed = parseXml(typeof data === "string" ? data : data.toString("utf8"));
  if (!parsed.ok) return { ok: false, error: `IMDN is not well-formed XML: ${parsed.error} at ${parsed.offset}` };
  const root = parsed.root;
  if (root.local !== "imdn" || root.ns !== IMDN_XML_NAMESPACE) return { ok: false, error: "the root is not an IMDN element" };
  const text = (local: string): string | undefined => childElement(root, local, IMDN_XML_NAMESPACE)?.text.trim();
  const messageId = text("message-id");
  if (!messageId) return { ok: false, error: "IMDN without message-id" };

  let disposition: ImdnDisposition | undefined;
  for (const kind of ["delivery", "display", "processing"] as const) {
    const el = childElement(root, `${kind}-notification`, IMDN_XML_NAMESPACE);
    if (!el) continue;
    const status = childElement(el, "status", IMDN_XML_NAMESPACE);
    const value = status?.children.find((c: XmlElement) => c.ns === IMDN_XML_NAMESPACE && STATUSES[kind].includes(c.local));
    if (!value) return { ok: false, error: `${kind}-notification without a known status` };
    disposition = { kind, status: value.local } as ImdnDisposition;
    break;
  }
  if (!disposition) return { ok: false, error: "IMDN without a notification element" };

  const n: ImdnNotification = { ...disposition, messageId, datetime: text("datetime") ?? "" };
  const recipient = text("recipient-uri");
  if (recipient !== undefined) n.recipientUri = recipient;
  const original = text("original-recipient-uri");
  if (original !== undefined) n.originalRecipientUri = original;
  const subject = childElement(root, "subject", IMDN_XML_NAMESPACE)?.text;
  if (subject !== undefined) n.subject = subject;
  return { ok: true, notification: n };
}

export interface CreateImdnOptions {
  /** The message being answered. */
  original: Pick<CpimMessage, "headers">;
  disposition: ImdnDisposition;
  /** imdn.Message-ID of the notification itself (fresh, chosen by the caller). */
  messageId: string;
  /** DateTime of the notification. The codec reads no clock. */
  dateTime: Date | string;
  /** Our address; defaults to the original's first To. */
  from?: CpimAddress | string;
}

/**
 * The notification answering `original` (RFC 5438 §7.2): To is the first
 * `imdn.IMDN-Record-Route` if the original had one, else its From; its record-route entries
 * become `imdn.IMDN-Route` entries; recipient-uri is us and original-recipient-uri the
 * `imdn.Original-To` if present. Returns undefined when the original has no imdn.Message-ID.
 */
export function createImdnNotification(o: CreateImdnOptions): CpimMessage | undefined {
  const originalId = getImdnMessageId(o.original);
  if (originalId === undefined) return undefined;
  const originalFrom = getCpimHeader(o.original, "From") ?? "";
  const originalTo = getCpimHeader(o.original, "To") ?? "";
  const recordRoute = getCpimHeaders(o.original, "IMDN-Record-Route", IMDN_NS);
  const from = o.from ?? originalTo;
  const fromUri = typeof from === "string" ? (parseCpimAddress(from)?.uri ?? from) : from.uri;
  const originalToHeader = getCpimHeader(o.original, "Original-To", IMDN_NS);

  const notification: ImdnNotification = {
    ...o.disposition,
    messageId: originalId,
    datetime: getCpimHeader(o.original, "DateTime")?.trim() ?? "",
    recipientUri: fromUri,
  };
  if (originalToHeader !== undefined) {
    notification.originalRecipientUri = parseCpimAddress(originalToHeader)?.uri ?? originalToHeader;
  }
  const extra: CpimHeaderList = recordRoute.map((r) => ["imdn.IMDN-Route", r]);
  return createCpimMessage({
    from,
    to: recordRoute[0] ?? originalFrom,
    dateTime: o.dateTime,
    imdn: { messageId: o.messageId },
    headers: extra,
    contentType: IMDN_CONTENT_TYPE,
    contentHeaders: [["Content-Disposition", "notification"]],
    body: buildImdnXml(notification),
  });
}
