/**
 * The SessionDescriptionHandlerFactory a VirtualClient's UserAgent gets
 * (`sessionDescriptionHandlerFactory` in its options): one MsrpSessionDescriptionHandler per SIP.js
 * Session, all sharing the client's MSRP endpoint and defaults.
 */
import type { Session } from "sip.js/lib/api/session.js";
import type { SessionDescriptionHandlerFactory } from "sip.js/lib/api/session-description-handler-factory.js";
import type { MsrpEndpoint } from "../protocol/msrp/endpoint.js";
import { answerSetup, extractMsrpMedia, intersectMediaTypes, MsrpSdpError, sdpFromBody } from "../protocol/sdp/index.js";
import {
  CPM_ACCEPT_TYPES,
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
 * rejects with `error.sipStatus` (488) itself. `body` may be multipart/mixed. Only the negotiation
 * is checked: no answer is built, no MSRP session is made.
 */
export function checkMsrpOffer(body: string, opts: MsrpDescriptionOptions = {}): MsrpSdpError | undefined {
  // What can make buildMsrpAnswer fail for a valid own path, in its order, without building the
  // answer (the handler builds it again at accept: doing it twice was ~1 % of the client CPU).
  const extracted = extractMsrpMedia(sdpFromBody(body) ?? body, { protos: opts.protos ?? ["TCP/MSRP"] });
  if (!extracted.ok) return extracted.error;
  const offer = extracted.media;
  if (answerSetup(offer.setup, opts.answerSetup) === undefined) {
    return new MsrpSdpError("incompatible-setup", `cannot answer a=setup:${offer.setup}: no side would connect`);
  }
  const ours = opts.acceptTypes ?? CPM_ACCEPT_TYPES;
  if (intersectMediaTypes(ours, offer.acceptTypes).length === 0) {
    return new MsrpSdpError("no-common-type", `no accept-type in common: offered ${offer.acceptTypes.join(" ")}, accepted ${ours.join(" ")}`);
  }
  return undefined;
}
