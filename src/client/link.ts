/**
 * The contract between a virtual client and the connection layer. A client never touches sockets:
 * the ConnectionProvider gives it a ClientLink (its own socket in the per-client model, a share of
 * a worker's connections in the shared model) and delivers the client's incoming messages to its
 * LinkEndpoint, each message parsed exactly once.
 */
import type { SipTransportName } from "../config/run-config.js";
import type { ConnectionModel } from "../config/run-config.js";
import type { SipMessage } from "../protocol/sip/message.js";

/** Receives what the connection layer routes to one client. */
export interface LinkEndpoint {
  /** One incoming message for this client: parsed (`message`) and as text (`data`, for SIP.js). */
  onMessage(message: SipMessage, data: string): void;
  /** The connection under the link failed or was closed by the peer (never called after release). */
  onClosed(error: Error): void;
}

/** A client's view of its SIP connection. */
export interface ClientLink {
  /** Via sent-protocol transport: "TCP" or "UDP". */
  readonly protocol: "TCP" | "UDP";
  /** Local address of the connection: the Via sent-by host and the Contact host. */
  readonly localAddress: string;
  /** Local port of the connection: the Contact port. */
  readonly localPort: number;
  /** True once the connection under the link is gone (or the link was released). */
  readonly closed: boolean;
  /** Send one SIP message. Throws nothing: returns false when the connection is gone. */
  send(data: string): boolean;
  /**
   * The transaction sent with this branch is over without an answer (the client gave up on it):
   * stop retransmitting it (UDP) and stop routing its responses (shared model).
   */
  forget(branch: string, method: string): void;
  /** Stop using the link (per-client model: closes the socket). Safe twice. */
  release(): Promise<void>;
}

/** Identifies a client to the connection layer (the shared model routes incoming requests by it). */
export interface LinkOwner {
  /** Global client index (shared model: the client's connection is index mod N). */
  index: number;
  /** User part of the client's Contact URI: incoming requests carry it in their Request-URI. */
  contactUser: string;
  /** AOR user, used when a request's Request-URI user is not a known contact user. */
  aorUser: string;
}

export interface ConnectionProvider {
  readonly model: ConnectionModel;
  readonly transport: SipTransportName;
  readonly target: { host: string; port: number };
  /**
   * The client's link. Per-client model: opens its socket (rejects with a TransportError when that
   * fails). Shared model: assigns one of the open connections.
   */
  attach(owner: LinkOwner, endpoint: LinkEndpoint): Promise<ClientLink>;
  /** Closes every connection and link. Safe twice. */
  close(): Promise<void>;
}

/** A socket could not be opened or failed: counted as a transport failure by the client. */
export class TransportError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
    this.name = "TransportError";
  }
}
