/**
 * The SIP message model shared by the codec, the embedded server and the SIP.js seam.
 *
 * Headers are kept as an ordered list of [canonical name, raw value] pairs: one entry per header
 * line as it appeared on the wire (compact forms expanded to their full canonical name, folded
 * lines unfolded, values trimmed). A line carrying several comma-joined values stays one entry;
 * `getHeaderValues()` in headers.ts splits it. Keeping raw values makes serialization exact and
 * parsing cheap; structured parsing (URIs, Via, name-addr, CSeq) is done on demand by headers.ts.
 */
export type HeaderList = Array<[name: string, value: string]>;

export interface SipRequest {
  readonly kind: "request";
  method: string;
  /** Request-URI exactly as on the wire. */
  uri: string;
  headers: HeaderList;
  body: Buffer;
}

export interface SipResponse {
  readonly kind: "response";
  status: number;
  reason: string;
  headers: HeaderList;
  body: Buffer;
}

export type SipMessage = SipRequest | SipResponse;

/** Why a message could not be parsed. Codecs return these; they never throw on bad input. */
export type SipParseErrorCode =
  | "bad-start-line"
  | "bad-header"
  | "missing-header"
  | "bad-content-length"
  | "too-large"
  | "incomplete";

export class SipParseError extends Error {
  constructor(
    readonly code: SipParseErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "SipParseError";
  }
}

export type SipParseResult =
  | { ok: true; message: SipMessage }
  | { ok: false; error: SipParseError; /** best-effort partial data for a 400 reply */ partial?: Partial<SipRequest> };
