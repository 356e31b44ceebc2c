/**
 * A flow is the path back to a peer (RFC 5626 §3): a TCP connection, or a UDP source address on the
 * server's socket. Requests carry the flow they arrived on; responses, and later server-initiated
 * requests to a registered contact, are sent on it. One TCP flow may carry many users (shared
 * trunks), so nothing here is per user.
 */
import type { SipTransportName } from "../../config/run-config.js";

export interface RemoteAddress {
  readonly address: string;
  readonly port: number;
}

export interface Flow {
  readonly transport: SipTransportName;
  readonly remote: RemoteAddress;
  /** Send raw SIP bytes; false when the flow is gone (connection closed, socket closed). */
  send(data: Buffer): boolean;
  /** False once a TCP connection closed or the server shut down. UDP flows stay open with the socket. */
  readonly isOpen: boolean;
}
