/**
 * The SessionDescriptionHandlerFactory a VirtualClient's UserAgent gets
 * (`sessionDescriptionHandlerFactory` in its options): one MsrpSessionDescriptionHandler per SIP.js
 * Session, all sharing the client's MSRP endpoint and defaults.
 */
import type { Session } from "sip.js/lib/api/session.js";
import type { SessionDescriptionHandlerFactory } from "sip.js/lib/api/session-description-handler-factory.js";
import type { MsrpEndpoint } from "../protocol/msrp/endpoint.js";
import { buildMsrpAnswer, type MsrpSdpError, sdpFromBody } from "../protocol/sdp/index.js";
import {
  CPM_ACCEPT_TYPES,
  CPM_ACCEPT_WRAPPED_TYPES,
  type MsrpDescriptionOptions,
  MsrpSessionDescriptionHandler,
  type MsrpSdhSessionOptions,
} from "./msrp-sdh.js";

export interface MsrpSdhFactoryOptions extends MsrpDescriptionOptions {
  endpoint: MsrpEndpoint;
  /** Options of every MSRP session made (timeouts, chunk size, connectionGroup per client…). */
  session?: MsrpSdhSessionOptions;
  /** Called for every handler made, with the SIP.js session it serves (to attach a delegate). */
  onCreated?: (sdh: MsrpSessionDescriptionHandler, session: Session) => void;
}

export function createMsrpSessionDescriptionHandlerFactory(opts: MsrpSdhFactoryOptions): SessionDescriptionHandlerFactory {
  const { endpoint, session: sessionOptions, onCreated, ...defaults } = opts;
  return (session: Session) => {
    const sdh = new MsrpSessionDescriptionHandler(endpoint, defaults, sessionOptions);
    onCreated?.(sdh, session);
    return sdh;
  };
}

/** The handler of a SIP.js session, when it is an MSRP one. */
export function msrpSdhOf(session: Session): MsrpSessionDescriptionHandler | undefined {
  const sdh = session.sessionDescriptionHandler;
  return sdh instanceof MsrpSessionDescriptionHandler ? sdh : undefined;
}

/**
 * Why an incoming INVITE's offer cannot be answered, or undefined when it can. SIP.js answers an
 * SDH failure inside Invitation.accept() with 480, so the terminating client checks first and
 * rejects with `error.sipStatus` (488) itself. `body` may be multipart/mixed. Only the negotiation is checked (with a
 * placeholder path): no MSRP session is made.
 */
export function checkMsrpOffer(body: string, opts: MsrpDescriptionOptions = {}): MsrpSdpError | undefined {
  const r = buildMsrpAnswer(sdpFromBody(body) ?? body, {
    path: ["msrp://127.0.0.1:9/check;tcp"],
    acceptTypes: opts.acceptTypes ?? CPM_ACCEPT_TYPES,
    acceptWrappedTypes: opts.acceptWrappedTypes ?? CPM_ACCEPT_WRAPPED_TYPES,
    protos: opts.protos ?? ["TCP/MSRP"],
    ...(opts.answerSetup !== undefined && { preferredSetup: opts.answerSetup }),
    origin: { sessionId: "0", sessionVersion: 0 },
  });
  return r.ok ? undefined : r.error;
}
