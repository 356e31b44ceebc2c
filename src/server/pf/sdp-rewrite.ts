/**
 * The SDP side of anchoring MSRP at the PF (PROTOCOL.md §5.2: the PF is an MSRP endpoint on each
 * leg). Every offer the PF receives is answered by the PF itself with its own path for that leg;
 * every offer it sends names its own path for the other leg. What the two clients negotiate
 * end to end (accept-types, wrapped types, direction, max-size, file-transfer attributes) is
 * carried across: the offer towards the far leg repeats the near offer's capabilities, and the
 * answer to the near leg is built from the far leg's answer.
 *
 * Connection roles (RFC 6135): the PF is `passive` on BOTH legs, so the client always connects.
 * The originating client offers `active` (or `actpass`, answered `passive`); towards the
 * terminating client the PF is the offerer and offers `a=setup:passive` — not `actpass`, which a
 * client may answer `passive` (the SIP.js SDH does by default), leaving nobody to connect. A
 * passive PF never opens connections to clients (they may sit behind NAT, and a listening-only
 * PF needs no connection pool), so an offer of `passive` or `holdconn` cannot be served: 488.
 */
import { isSdpBodyType, sdpFromBody } from "../../protocol/sdp/body.js";
import { parseSdp } from "../../protocol/sdp/parser.js";
import { serializeSdp } from "../../protocol/sdp/serializer.js";
import type { SessionDescription } from "../../protocol/sdp/message.js";
import { buildMsrpAnswer, buildMsrpOffer, extractMsrpMedia, type MsrpMedia, type MsrpProto } from "../../protocol/sdp/msrp-media.js";

/** The PF speaks MSRP over TCP only (no TLS listener). */
const PROTOS: readonly MsrpProto[] = ["TCP/MSRP"];

/**
 * A usable offer. `multipart` is set when the SDP came inside a multipart/mixed body (RFC 5621:
 * e.g. an RCS INVITE carrying the first CPIM message): the other parts travel on with the PF's
 * SDP put in place of the client's.
 */
export interface Offer {
  sdp: SessionDescription;
  media: MsrpMedia;
  multipart?: { contentType: string; text: string; sdpStart: number; sdpEnd: number };
}

export type OfferResult = ({ ok: true } & Offer) | { ok: false; reason: string };

/** Identity of the PF's own SDP on one leg: `o=` session id and a version bumped per description. */
export interface SdpOrigin {
  sessionId: string;
  version: number;
}

/** Reads an MSRP offer (INVITE, re-INVITE or UPDATE body) the PF can answer as the passive side. */
export function readOffer(contentType: string | undefined, body: Buffer): OfferResult {
  if (body.length === 0) return { ok: false, reason: "the request carries no SDP offer" };
  if (contentType !== undefined && !isSdpBodyType(contentType)) {
    return { ok: false, reason: `the body is ${contentType.split(";")[0]!.trim()}, not application/sdp` };
  }
  let sdpBody: Buffer | string = body;
  let multipart: Offer["multipart"];
  if (contentType !== undefined && /^\s*multipart\//i.test(contentType)) {
    const text = body.toString("utf8");
    const sdpText = sdpFromBody(text);
    if (sdpText === null) return { ok: false, reason: "the multipart body has no application/sdp part" };
    const sdpStart = text.indexOf(sdpText);
    multipart = { contentType, text, sdpStart, sdpEnd: sdpStart + sdpText.length };
    sdpBody = sdpText;
  }
  const parsed = parseSdp(sdpBody);
  if (!parsed.ok) return { ok: false, reason: `the SDP is not valid: ${parsed.error.message}` };
  const extracted = extractMsrpMedia(parsed.sdp, { protos: PROTOS });
  if (!extracted.ok) return { ok: false, reason: extracted.error.message };
  const setup = extracted.media.setup;
  if (setup === "passive" || setup === "holdconn") {
    return { ok: false, reason: `a=setup:${setup} is not served: the PF only listens (offer active or actpass)` };
  }
  const out: OfferResult = { ok: true, sdp: parsed.sdp, media: extracted.media };
  if (multipart !== undefined) out.multipart = multipart;
  return out;
}

/** The body (and its Content-Type) that carries the PF's SDP where the client's offer had its own. */
export function wrapLikeOffer(offer: Offer, sdp: Buffer): { contentType: string; body: Buffer } {
  const m = offer.multipart;
  if (m === undefined) return { contentType: "application/sdp", body: sdp };
  return { contentType: m.contentType, body: Buffer.from(m.text.slice(0, m.sdpStart) + sdp.toString("utf8") + m.text.slice(m.sdpEnd)) };
}

/** Reads the MSRP answer of a leg to the PF's passive offer: it must take the active role. */
export function readAnswer(contentType: string | undefined, body: Buffer): { ok: true; media: MsrpMedia } | { ok: false; reason: string } {
  if (body.length === 0) return { ok: false, reason: "the answer carries no SDP" };
  if (contentType !== undefined && !/^\s*application\/sdp\s*(;|$)/i.test(contentType)) {
    return { ok: false, reason: `the answer body is ${contentType.split(";")[0]!.trim()}, not application/sdp` };
  }
  const extracted = extractMsrpMedia(body, { protos: PROTOS });
  if (!extracted.ok) return { ok: false, reason: extracted.error.message };
  const setup = extracted.media.setup;
  if (setup !== undefined && setup !== "active") {
    return { ok: false, reason: `the answer says a=setup:${setup} to a passive offer: nobody would connect` };
  }
  return { ok: true, media: extracted.media };
}

function fileAttributes(m: MsrpMedia): { fileSelector?: string; fileTransferId?: string; fileDisposition?: string } {
  const out: { fileSelector?: string; fileTransferId?: string; fileDisposition?: string } = {};
  if (m.fileSelector !== undefined) out.fileSelector = m.fileSelector;
  if (m.fileTransferId !== undefined) out.fileTransferId = m.fileTransferId;
  if (m.fileDisposition !== undefined) out.fileDisposition = m.fileDisposition;
  return out;
}

/** The PF's offer on the far leg, with the near offer's capabilities and the PF's path for that leg. */
export function buildFarOffer(near: MsrpMedia, pfPath: readonly string[], origin: SdpOrigin): Buffer {
  const sdp = buildMsrpOffer({
    path: pfPath,
    acceptTypes: near.acceptTypes,
    acceptWrappedTypes: near.acceptWrappedTypes,
    setup: "passive",
    direction: near.direction,
    ...(near.maxSize !== undefined && { maxSize: near.maxSize }),
    ...fileAttributes(near),
    origin: { sessionId: origin.sessionId, sessionVersion: origin.version++ },
  });
  return Buffer.from(serializeSdp(sdp));
}

/**
 * The PF's answer to the near offer, from the far leg's answer: its types, wrapped types,
 * direction and max-size, with the PF's path for the near leg (setup passive).
 */
export function buildNearAnswer(
  nearOffer: SessionDescription,
  far: MsrpMedia,
  pfPath: readonly string[],
  origin: SdpOrigin,
): { ok: true; body: Buffer } | { ok: false; reason: string } {
  const built = buildMsrpAnswer(nearOffer, {
    path: pfPath,
    acceptTypes: far.acceptTypes,
    acceptWrappedTypes: far.acceptWrappedTypes,
    direction: far.direction,
    preferredSetup: "passive",
    protos: PROTOS,
    ...(far.maxSize !== undefined && { maxSize: far.maxSize }),
    ...fileAttributes(far),
    origin: { sessionId: origin.sessionId, sessionVersion: origin.version++ },
  });
  if (!built.ok) return { ok: false, reason: built.error.message };
  return { ok: true, body: Buffer.from(serializeSdp(built.sdp)) };
}

/**
 * The PF's own description of a leg as an offer (an offer-less re-INVITE is answered with it,
 * RFC 3261 §14.2 / RFC 6337 §5.3: the 2xx carries an offer, here the unchanged one).
 */
export function buildCurrentOffer(current: MsrpMedia, pfPath: readonly string[], origin: SdpOrigin): Buffer {
  return buildFarOffer(current, pfPath, origin);
}

/** True when two path lists name the same URIs (the client kept its MSRP session). */
export function samePath(a: readonly string[] | undefined, b: readonly string[]): boolean {
  if (a === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
