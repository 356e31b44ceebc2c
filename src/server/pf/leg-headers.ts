/**
 * Which headers the B2BUA carries from one leg to the other.
 *
 * Initial INVITE (originating → terminating leg): the CPM correlation and routing headers are
 * copied (Accept-Contact, Reject-Contact, Contribution-ID, Conversation-ID,
 * InReplyTo-Contribution-ID, Session-Replaces, Subject, Referred-By, Priority, Privacy);
 * P-Preferred-Service becomes P-Asserted-Service and the caller's identity is asserted in
 * P-Asserted-Identity (the PF authorised it). User-Agent, the caller's own P-Asserted-* and every
 * transaction/dialog header are the PF's own.
 *
 * In-dialog pass-through (re-INVITE, UPDATE, INFO, MESSAGE …) and responses: everything is copied
 * except what belongs to one hop or one dialog (Via, Route, Record-Route, From, To, Call-ID, CSeq,
 * Contact, Max-Forwards, Content-Length), credentials and challenges, and the peer's product name.
 */
import { formatParams, type HeaderParams } from "../../protocol/sip/headers.js";
import type { HeaderList } from "../../protocol/sip/message.js";

export const INVITE_COPIED: ReadonlySet<string> = new Set([
  "Accept-Contact",
  "Reject-Contact",
  "Contribution-ID",
  "Conversation-ID",
  "InReplyTo-Contribution-ID",
  "Session-Replaces",
  "Subject",
  "Referred-By",
  "Priority",
  "Privacy",
]);

const NOT_PASSED: ReadonlySet<string> = new Set([
  "via",
  "route",
  "record-route",
  "from",
  "to",
  "call-id",
  "cseq",
  "contact",
  "max-forwards",
  "content-length",
  "authorization",
  "proxy-authorization",
  "www-authenticate",
  "proxy-authenticate",
  "user-agent",
  "server",
  "p-asserted-identity",
  "p-preferred-identity",
]);

/** Headers of `from` to pass to the other leg (bodies and Content-Type are the caller's choice). */
export function passedHeaders(from: HeaderList, withContentType: boolean): HeaderList {
  const out: HeaderList = [];
  for (const h of from) {
    const lower = h[0].toLowerCase();
    if (NOT_PASSED.has(lower)) continue;
    if (!withContentType && lower === "content-type") continue;
    out.push(h);
  }
  return out;
}

/**
 * Contact parameters of a client worth repeating in the PF's own Contact on the other leg: the
 * feature tags (ICSI, IARI, +g.oma.sip-im, isfocus …) that say what the session is, but nothing
 * that identifies the client's device or registration.
 */
export function featureParams(params: HeaderParams): HeaderParams {
  const out: HeaderParams = {};
  for (const k in params) {
    if (k === "+sip.instance" || k === "reg-id" || k === "expires" || k === "q" || k === "pub-gruu" || k === "temp-gruu") continue;
    if (k.startsWith("+") || k === "isfocus" || k === "audio" || k === "video" || k === "text") out[k] = params[k]!;
  }
  return out;
}

/** The PF's Contact on a leg: its own address and the transport of that leg, plus feature tags. */
export function pfContact(host: string, port: number, transport: "tcp" | "udp", features: HeaderParams): string {
  const h = host.includes(":") ? `[${host}]` : host;
  return `<sip:pf@${h}:${port};transport=${transport}>${formatParams(features)}`;
}
