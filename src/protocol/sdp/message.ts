/**
 * The SDP (RFC 8866, formerly RFC 4566) model used for the MSRP offer/answer of CPM sessions.
 *
 * The three lines every description starts with (`v=`, `o=`, `s=`) and each media line (`m=`)
 * are typed, because every user needs them; everything else stays an ordered list of lines, so a
 * description that goes through parse → serialize keeps every line it had, in its order,
 * including line types and attributes this code does not know. Attributes are split into name
 * and value (`a=sendrecv` is a flag: value null; `a=path:` has the empty value).
 */

/** `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`. */
export interface SdpOrigin {
  username: string;
  /** Kept as text: session ids are up to 64-bit numbers, beyond a JS number's exact range. */
  sessionId: string;
  sessionVersion: string;
  netType: string;
  addrType: string;
  address: string;
}

/** `c=<nettype> <addrtype> <connection-address>`. */
export interface SdpConnection {
  netType: string;
  addrType: string;
  address: string;
}

/** `a=<name>` (value null) or `a=<name>:<value>`. */
export interface SdpAttributeLine {
  readonly kind: "attribute";
  name: string;
  value: string | null;
}

/** Any other line: `<type>=<value>` with a one-letter type (c, b, t, r, z, k, i, u, e, p…). */
export interface SdpFieldLine {
  readonly kind: "field";
  type: string;
  value: string;
}

export type SdpLine = SdpAttributeLine | SdpFieldLine;

/** One `m=` section: the typed media line, then its lines in order. */
export interface SdpMedia {
  /** `audio`, `message`, … */
  media: string;
  port: number;
  /** The `/<number of ports>` suffix of the port, when present. */
  portCount?: number;
  /** `TCP/MSRP`, `TCP/TLS/MSRP`, `RTP/AVP`, … (case kept as sent; compare case-insensitively). */
  proto: string;
  /** At least one; `*` for MSRP. */
  formats: string[];
  lines: SdpLine[];
}

export interface SessionDescription {
  /** `v=`: always 0. */
  version: number;
  origin: SdpOrigin;
  /** `s=`: `-` or a space when there is no name (both occur in the wild). */
  sessionName: string;
  /** Session-level lines after `s=` and before the first `m=`, in order. */
  lines: SdpLine[];
  media: SdpMedia[];
}

/** Why text could not be understood as SDP. The codec returns these; it never throws. */
export type SdpParseErrorCode =
  /** No lines at all. */
  | "empty"
  /** A line that is not `<letter>=<value>`. */
  | "bad-line"
  /** The first line is not `v=0`. */
  | "bad-version"
  /** `o=` missing (it must be the second line) or not six fields. */
  | "bad-origin"
  /** `s=` missing (it must be the third line). */
  | "bad-session-name"
  /** `c=` without its three fields. */
  | "bad-connection"
  /** `m=` that is not `<media> <port>[/<n>] <proto> <fmt>…` with a valid port. */
  | "bad-media"
  /** `a=` with an empty or invalid attribute name. */
  | "bad-attribute"
  /** More text than the configured limit. */
  | "too-large";

export class SdpParseError extends Error {
  constructor(
    readonly code: SdpParseErrorCode,
    message: string,
    /** 1-based line number of the offending line, when there is one. */
    readonly line?: number,
  ) {
    super(message);
    this.name = "SdpParseError";
  }
}

export type SdpParseResult = { ok: true; sdp: SessionDescription } | { ok: false; error: SdpParseError };

/** Something that holds lines: the session level or one media section. */
export interface SdpLineHolder {
  lines: SdpLine[];
}
