/**
 * Building a response to a request (RFC 3261 8.2.6): the UAS copies Via (all, in order), From, To,
 * Call-ID and CSeq, adds a To-tag, and for dialog-creating responses copies Record-Route (12.1.1).
 */
import { canonicalHeaderName } from "./headers.js";
import type { HeaderList, SipRequest, SipResponse } from "./message.js";

/** Reason phrases of RFC 3261 21 and the SIP extensions a CPM deployment meets. */
export const REASON_PHRASES: Readonly<Record<number, string>> = {
  100: "Trying",
  180: "Ringing",
  181: "Call Is Being Forwarded",
  182: "Queued",
  183: "Session Progress",
  199: "Early Dialog Terminated",
  200: "OK",
  202: "Accepted",
  204: "No Notification",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Moved Temporarily",
  305: "Use Proxy",
  380: "Alternative Service",
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Conditional Request Failed",
  413: "Request Entity Too Large",
  414: "Request-URI Too Long",
  415: "Unsupported Media Type",
  416: "Unsupported URI Scheme",
  417: "Unknown Resource-Priority",
  420: "Bad Extension",
  421: "Extension Required",
  422: "Session Interval Too Small",
  423: "Interval Too Brief",
  428: "Use Identity Header",
  429: "Provide Referrer Identity",
  430: "Flow Failed",
  433: "Anonymity Disallowed",
  436: "Bad Identity-Info",
  437: "Unsupported Certificate",
  438: "Invalid Identity Header",
  439: "First Hop Lacks Outbound Support",
  440: "Max-Breadth Exceeded",
  469: "Bad Info Package",
  470: "Consent Needed",
  480: "Temporarily Unavailable",
  481: "Call/Transaction Does Not Exist",
  482: "Loop Detected",
  483: "Too Many Hops",
  484: "Address Incomplete",
  485: "Ambiguous",
  486: "Busy Here",
  487: "Request Terminated",
  488: "Not Acceptable Here",
  489: "Bad Event",
  491: "Request Pending",
  493: "Undecipherable",
  494: "Security Agreement Required",
  500: "Server Internal Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Server Time-out",
  505: "Version Not Supported",
  513: "Message Too Large",
  555: "Push Notification Service Not Supported",
  580: "Precondition Failure",
  600: "Busy Everywhere",
  603: "Decline",
  604: "Does Not Exist Anywhere",
  606: "Not Acceptable",
  607: "Unwanted",
  608: "Rejected",
};

/** The standard reason phrase for a status, or a generic one for its class. */
export function reasonPhrase(status: number): string {
  const known = REASON_PHRASES[status];
  if (known !== undefined) return known;
  if (status < 200) return "Provisional";
  if (status < 300) return "Success";
  if (status < 400) return "Redirection";
  if (status < 500) return "Client Error";
  if (status < 600) return "Server Error";
  return "Global Failure";
}

export interface CreateResponseOptions {
  /** Added to To as `;tag=` unless the request's To already has a tag (an in-dialog request). */
  toTag?: string;
  /** Appended after the copied headers. */
  headers?: HeaderList;
  body?: Buffer;
  /**
   * Copy Record-Route from the request. Default: for 101-299 responses (those that can create a
   * dialog, RFC 3261 12.1.1); harmless for requests that create none, as Record-Route is absent.
   */
  copyRecordRoute?: boolean;
}

const COPIED = new Set(["Via", "From", "To", "Call-ID", "CSeq"]);

/**
 * A response to `request`. The 4th argument is either options or, as a shorthand, extra headers.
 * Via lines are copied in order, then From, To (with the To-tag), Call-ID, CSeq, Record-Route
 * (see options), then the extra headers. Content-Length is left to the serializer.
 */
export function createResponse(
  request: SipRequest,
  status: number,
  reason?: string,
  extra?: HeaderList | CreateResponseOptions,
): SipResponse {
  const opts: CreateResponseOptions = Array.isArray(extra) ? { headers: extra } : (extra ?? {});
  const headers: HeaderList = [];
  const recordRoutes: HeaderList = [];
  const copyRR = opts.copyRecordRoute ?? (status > 100 && status < 300);
  let to: [string, string] | undefined;
  let from: [string, string] | undefined;
  let callId: [string, string] | undefined;
  let cseq: [string, string] | undefined;
  for (const [rawName, value] of request.headers) {
    const name = COPIED.has(rawName) || rawName === "Record-Route" ? rawName : canonicalHeaderName(rawName);
    switch (name) {
      case "Via":
        headers.push(["Via", value]);
        break;
      case "From":
        from ??= ["From", value];
        break;
      case "To":
        to ??= ["To", value];
        break;
      case "Call-ID":
        callId ??= ["Call-ID", value];
        break;
      case "CSeq":
        cseq ??= ["CSeq", value];
        break;
      case "Record-Route":
        if (copyRR) recordRoutes.push(["Record-Route", value]);
        break;
    }
  }
  if (from) headers.push(from);
  if (to) {
    if (opts.toTag !== undefined && opts.toTag !== "" && !hasTagParam(to[1])) {
      headers.push(["To", `${to[1]};tag=${opts.toTag}`]);
    } else headers.push(to);
  }
  if (callId) headers.push(callId);
  if (cseq) headers.push(cseq);
  for (const rr of recordRoutes) headers.push(rr);
  if (opts.headers) for (const h of opts.headers) headers.push([canonicalHeaderName(h[0]), h[1]]);
  return {
    kind: "response",
    status,
    reason: reason ?? reasonPhrase(status),
    headers,
    body: opts.body ?? Buffer.alloc(0),
  };
}

/** True when a To/From value carries a header-level tag parameter (outside <> and quotes). */
export function hasTagParam(value: string): boolean {
  if (value.indexOf("tag") < 0 && value.indexOf("TAG") < 0 && value.toLowerCase().indexOf("tag") < 0) return false;
  // Header parameters follow the closing '>' of a name-addr, or the URI of a bare addr-spec.
  const gt = value.lastIndexOf(">");
  const params = gt >= 0 ? value.slice(gt + 1) : value.slice(Math.max(0, value.indexOf(";")));
  return /;\s*tag\s*=/i.test(params);
}
