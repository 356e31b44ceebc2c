/**
 * The MSRP media stream of an SDP offer/answer (RFC 4975 §8, RFC 6135 connection set-up, RFC 6714
 * CEMA, RFC 5547 file transfer attributes): read it out of a description, build an offer, answer
 * an offer. Pure: callers bring the session ids and paths (the SDH draws them).
 *
 * What is not usable (no `m=message … TCP/MSRP` line, a rejected one, no `a=path` or
 * `a=accept-types`, nothing in common) comes back as an MsrpSdpError whose `sipStatus` (488 Not
 * Acceptable Here) is what the answerer puts in its response.
 */
import { type MsrpUri, parseMsrpUri } from "../msrp/uri.js";
import { addAttribute, getAttribute, getConnection, getMediaAttribute, hasAttribute } from "./lines.js";
import { intersectMediaTypes, parseMediaTypeList } from "./media-types.js";
import type { SdpMedia, SessionDescription } from "./message.js";
import { parseSdp } from "./parser.js";

/** RFC 4145/6135 `a=setup` roles. */
export type MsrpSetup = "active" | "passive" | "actpass" | "holdconn";
export type MediaDirection = "sendrecv" | "sendonly" | "recvonly" | "inactive";
export type MsrpProto = "TCP/MSRP" | "TCP/TLS/MSRP";

export const MSRP_PROTOS: readonly MsrpProto[] = ["TCP/MSRP", "TCP/TLS/MSRP"];
/** The IANA MSRP port, used when a path URI names none. */
export const MSRP_DEFAULT_PORT = 2855;
/** RFC 4145 §4.1: an endpoint that only connects out puts the discard port in its m= line. */
export const ACTIVE_DISCARD_PORT = 9;

/** The MSRP stream as one side of an offer/answer describes it. */
export interface MsrpMedia {
  /** Index of the m= section in the description. */
  index: number;
  port: number;
  proto: MsrpProto;
  /** `a=path` URIs as sent: relays first, the endpoint's own URI last; never empty. */
  path: string[];
  /** Parsed `path` (same order). */
  pathUris: MsrpUri[];
  acceptTypes: string[];
  /** Empty when the attribute is absent. */
  acceptWrappedTypes: string[];
  /** Absent `a=setup`: RFC 4975 then has the offerer connect (treat an offer as `active`). */
  setup?: MsrpSetup;
  /** Media level, else session level, else `sendrecv`. */
  direction: MediaDirection;
  maxSize?: number;
  /** RFC 6714 `a=msrp-cema`. */
  cema: boolean;
  /** `c=` address that applies to the stream (media level first). */
  connectionAddress?: string;
  /** RFC 5547 `a=file-selector`, `a=file-transfer-id`, `a=file-disposition`. */
  fileSelector?: string;
  fileTransferId?: string;
  fileDisposition?: string;
}

export type MsrpSdpErrorCode =
  /** The body is not SDP at all. */
  | "bad-sdp"
  /** No `m=message` line with an MSRP proto. */
  | "no-msrp-media"
  /** Every MSRP m= line has port 0 (rejected / disabled). */
  | "media-rejected"
  /** MSRP over a transport this side does not offer (e.g. TLS). */
  | "unsupported-transport"
  | "missing-path"
  /** A path entry is not an MSRP URI, or the last one has no session-id. */
  | "bad-path"
  | "missing-accept-types"
  | "bad-accept-types"
  | "bad-setup"
  | "bad-max-size"
  /** accept-types of offer and answerer have nothing in common. */
  | "no-common-type"
  /** `a=setup:holdconn`: nobody would connect. */
  | "incompatible-setup";

export class MsrpSdpError extends Error {
  /** The SIP status that refuses the offer (RFC 3261 §21.4.26). */
  readonly sipStatus = 488;
  constructor(
    readonly code: MsrpSdpErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "MsrpSdpError";
  }
}

export type MsrpMediaResult = { ok: true; media: MsrpMedia } | { ok: false; error: MsrpSdpError };

const SETUPS: ReadonlySet<string> = new Set(["active", "passive", "actpass", "holdconn"]);
const DIRECTIONS: readonly MediaDirection[] = ["sendrecv", "sendonly", "recvonly", "inactive"];

function fail(code: MsrpSdpErrorCode, message: string): { ok: false; error: MsrpSdpError } {
  return { ok: false, error: new MsrpSdpError(code, message) };
}

function msrpProto(proto: string): MsrpProto | undefined {
  const upper = proto.toUpperCase();
  return MSRP_PROTOS.find((p) => p === upper);
}

function toDescription(input: string | Buffer | SessionDescription): SessionDescription | MsrpSdpError {
  if (typeof input !== "string" && !Buffer.isBuffer(input)) return input;
  const parsed = parseSdp(input);
  return parsed.ok ? parsed.sdp : new MsrpSdpError("bad-sdp", `the body is not valid SDP: ${parsed.error.message}`);
}

function directionOf(sdp: SessionDescription, m: SdpMedia): MediaDirection {
  for (const holder of [m, sdp]) {
    for (const line of holder.lines) {
      if (line.kind !== "attribute" || line.value !== null) continue;
      const d = DIRECTIONS.find((x) => x === line.name.toLowerCase());
      if (d !== undefined) return d;
    }
  }
  return "sendrecv";
}

export interface ExtractMsrpOptions {
  /** Transports this side speaks; an MSRP line over another one is `unsupported-transport`. Default: both. */
  protos?: readonly MsrpProto[];
}

/**
 * The first usable MSRP stream of a description: `m=message <port≠0> TCP/MSRP|TCP/TLS/MSRP …`
 * with a valid `a=path` and `a=accept-types`.
 */
export function extractMsrpMedia(input: string | Buffer | SessionDescription, options: ExtractMsrpOptions = {}): MsrpMediaResult {
  const sdp = toDescription(input);
  if (sdp instanceof MsrpSdpError) return { ok: false, error: sdp };
  const protos = options.protos ?? MSRP_PROTOS;

  let sawMsrp = false;
  let sawLive = false;
  for (let index = 0; index < sdp.media.length; index++) {
    const m = sdp.media[index]!;
    const proto = msrpProto(m.proto);
    if (m.media.toLowerCase() !== "message" || proto === undefined) continue;
    sawMsrp = true;
    if (m.port === 0) continue;
    sawLive = true;
    if (!protos.includes(proto)) continue;
    return readMedia(sdp, m, index, proto);
  }
  if (!sawMsrp) return fail("no-msrp-media", "the SDP has no m=message line with TCP/MSRP or TCP/TLS/MSRP");
  if (!sawLive) return fail("media-rejected", "every MSRP media line of the SDP has port 0");
  return fail("unsupported-transport", `the MSRP media line uses a transport other than ${protos.join(" or ")}`);
}

function readMedia(sdp: SessionDescription, m: SdpMedia, index: number, proto: MsrpProto): MsrpMediaResult {
  const pathText = getAttribute(m, "path");
  if (pathText === undefined || pathText === null || pathText.trim() === "") {
    return fail("missing-path", `MSRP media line ${index + 1} has no a=path`);
  }
  const path = pathText.split(/[ \t]+/).filter((p) => p.length > 0);
  const pathUris: MsrpUri[] = [];
  for (const p of path) {
    const uri = parseMsrpUri(p);
    if (uri === null) return fail("bad-path", `a=path entry is not an MSRP URI: ${JSON.stringify(p.slice(0, 120))}`);
    pathUris.push(uri);
  }
  if (pathUris[pathUris.length - 1]!.sessionId === undefined) {
    return fail("bad-path", "the last a=path URI (the endpoint's own) has no session-id");
  }

  const acceptText = getAttribute(m, "accept-types");
  if (acceptText === undefined || acceptText === null || acceptText.trim() === "") {
    return fail("missing-accept-types", `MSRP media line ${index + 1} has no a=accept-types`);
  }
  const acceptTypes = parseMediaTypeList(acceptText);
  if (acceptTypes === null) return fail("bad-accept-types", `a=accept-types is not a list of media types: ${JSON.stringify(acceptText.slice(0, 120))}`);
  const wrappedText = getAttribute(m, "accept-wrapped-types");
  const acceptWrappedTypes = typeof wrappedText === "string" ? parseMediaTypeList(wrappedText) : [];
  if (acceptWrappedTypes === null) {
    return fail("bad-accept-types", `a=accept-wrapped-types is not a list of media types: ${JSON.stringify(String(wrappedText).slice(0, 120))}`);
  }

  const media: MsrpMedia = {
    index,
    port: m.port,
    proto,
    path,
    pathUris,
    acceptTypes,
    acceptWrappedTypes,
    direction: directionOf(sdp, m),
    cema: hasAttribute(m, "msrp-cema"),
  };

  const setup = getMediaAttribute(sdp, m, "setup");
  if (setup !== undefined) {
    const s = (setup ?? "").trim().toLowerCase();
    if (!SETUPS.has(s)) return fail("bad-setup", `a=setup must be active, passive, actpass or holdconn, not ${JSON.stringify(setup)}`);
    media.setup = s as MsrpSetup;
  }
  const maxSize = getAttribute(m, "max-size");
  if (maxSize !== undefined) {
    const t = (maxSize ?? "").trim();
    if (!/^\d{1,15}$/.test(t)) return fail("bad-max-size", `a=max-size must be a number of bytes, not ${JSON.stringify(maxSize)}`);
    media.maxSize = Number(t);
  }
  const address = getConnection(sdp, m)?.address;
  if (address !== undefined) media.connectionAddress = address;
  for (const [attr, key] of [
    ["file-selector", "fileSelector"],
    ["file-transfer-id", "fileTransferId"],
    ["file-disposition", "fileDisposition"],
  ] as const) {
    const v = getAttribute(m, attr);
    if (typeof v === "string") media[key] = v;
  }
  return { ok: true, media };
}

/** Where the active side connects: the first path URI, or with CEMA the c=/m= address (RFC 6714 §4). */
export function msrpConnectTarget(media: MsrpMedia): { host: string; port: number; tls: boolean } {
  const first = media.pathUris[0]!;
  const tls = media.proto === "TCP/TLS/MSRP" || first.scheme === "msrps";
  if (media.cema && media.connectionAddress !== undefined && media.port !== ACTIVE_DISCARD_PORT) {
    return { host: media.connectionAddress, port: media.port, tls };
  }
  return { host: first.host, port: first.port ?? MSRP_DEFAULT_PORT, tls };
}

/** Who opens the TCP connection after an offer/answer: this side when its role is `active`. */
export function isActiveRole(localSetup: MsrpSetup | undefined, localIsOfferer: boolean): boolean {
  if (localSetup === undefined) return localIsOfferer; // RFC 4975 §5.4 default: the offerer connects
  return localSetup === "active";
}

// ---- building ---------------------------------------------------------------------------

/** What one side says about its own end of the stream. */
export interface MsrpLocalOptions {
  /** Relays first (their Use-Path), the endpoint's own MSRP URI last. */
  path: readonly string[];
  acceptTypes: readonly string[];
  acceptWrappedTypes?: readonly string[];
  /** Default `sendrecv` (an answer narrows it to what the offer allows). */
  direction?: MediaDirection;
  maxSize?: number;
  /** Offer (or, in an answer, accept) RFC 6714 CEMA. */
  cema?: boolean;
  fileSelector?: string;
  fileTransferId?: string;
  fileDisposition?: string;
  /** Further media-level attributes, appended in order. */
  extraAttributes?: ReadonlyArray<readonly [name: string, value: string | null]>;
  /** `o=` fields; the username defaults to `-`. */
  origin: { username?: string; sessionId: string; sessionVersion: string | number };
  /** `c=`/`o=` address; default: the host of the own (last) path URI. */
  address?: string;
  /** m= port; default: 9 when this side is active (RFC 4145), else the own path URI's port. */
  port?: number;
  /** Default `-`. */
  sessionName?: string;
}

export interface MsrpOfferOptions extends MsrpLocalOptions {
  /** Default `active`: CPM clients connect, the PF/CF listen (PROTOCOL.md). */
  setup?: MsrpSetup;
}

export interface MsrpAnswerOptions extends MsrpLocalOptions {
  /** The role taken when the offer says `actpass` (or `passive` forces active anyway). Default `passive`. */
  preferredSetup?: "active" | "passive";
  /** Transports this side speaks. Default `TCP/MSRP` only. */
  protos?: readonly MsrpProto[];
}

function addrType(address: string): string {
  return address.includes(":") ? "IP6" : "IP4";
}

function ownUri(path: readonly string[]): MsrpUri | null {
  const last = path[path.length - 1];
  return last === undefined ? null : parseMsrpUri(last);
}

function buildDescription(opts: MsrpLocalOptions, setup: MsrpSetup, direction: MediaDirection, acceptTypes: readonly string[], acceptWrappedTypes: readonly string[], cema: boolean): SessionDescription {
  const own = ownUri(opts.path);
  const address = opts.address ?? own?.host ?? "127.0.0.1";
  const proto: MsrpProto = own?.scheme === "msrps" ? "TCP/TLS/MSRP" : "TCP/MSRP";
  const port = opts.port ?? (setup === "active" ? ACTIVE_DISCARD_PORT : (own?.port ?? MSRP_DEFAULT_PORT));
  const media: SdpMedia = { media: "message", port, proto, formats: ["*"], lines: [] };
  addAttribute(media, "accept-types", acceptTypes.join(" "));
  if (acceptWrappedTypes.length > 0) addAttribute(media, "accept-wrapped-types", acceptWrappedTypes.join(" "));
  addAttribute(media, "path", opts.path.join(" "));
  addAttribute(media, "setup", setup);
  if (opts.fileSelector !== undefined) addAttribute(media, "file-selector", opts.fileSelector);
  if (opts.fileTransferId !== undefined) addAttribute(media, "file-transfer-id", opts.fileTransferId);
  if (opts.fileDisposition !== undefined) addAttribute(media, "file-disposition", opts.fileDisposition);
  addAttribute(media, direction);
  if (opts.maxSize !== undefined) addAttribute(media, "max-size", String(opts.maxSize));
  if (cema) addAttribute(media, "msrp-cema");
  for (const [name, value] of opts.extraAttributes ?? []) addAttribute(media, name, value);
  return {
    version: 0,
    origin: {
      username: opts.origin.username ?? "-",
      sessionId: opts.origin.sessionId,
      sessionVersion: String(opts.origin.sessionVersion),
      netType: "IN",
      addrType: addrType(address),
      address,
    },
    sessionName: opts.sessionName ?? "-",
    lines: [
      { kind: "field", type: "c", value: `IN ${addrType(address)} ${address}` },
      { kind: "field", type: "t", value: "0 0" },
    ],
    media: [media],
  };
}

/** An offer with one `m=message <port> TCP/MSRP *` stream. */
export function buildMsrpOffer(opts: MsrpOfferOptions): SessionDescription {
  return buildDescription(opts, opts.setup ?? "active", opts.direction ?? "sendrecv", opts.acceptTypes, opts.acceptWrappedTypes ?? [], opts.cema === true);
}

/** RFC 3264 §6.1: what the answerer may do given the offered direction and its own wish. */
export function answerDirection(offered: MediaDirection, wanted: MediaDirection): MediaDirection {
  const canSend = (wanted === "sendrecv" || wanted === "sendonly") && (offered === "sendrecv" || offered === "recvonly");
  const canRecv = (wanted === "sendrecv" || wanted === "recvonly") && (offered === "sendrecv" || offered === "sendonly");
  if (canSend && canRecv) return "sendrecv";
  if (canSend) return "sendonly";
  if (canRecv) return "recvonly";
  return "inactive";
}

/** RFC 6135 §4.1 / RFC 4145 §4.1: the answerer's role for the offered one. */
export function answerSetup(offered: MsrpSetup | undefined, preferred: "active" | "passive" = "passive"): "active" | "passive" | undefined {
  switch (offered) {
    case undefined: // RFC 4975: the offerer connects
    case "active":
      return "passive";
    case "passive":
      return "active";
    case "actpass":
      return preferred;
    default:
      return undefined;
  }
}

export type MsrpAnswerResult =
  | { ok: true; sdp: SessionDescription; offer: MsrpMedia; answer: MsrpMedia }
  | { ok: false; error: MsrpSdpError };

/**
 * The answer to an MSRP offer: the same number of m= lines (RFC 3264 §6), the chosen MSRP stream
 * answered, every other one rejected with port 0; setup per RFC 6135; accept-types the
 * intersection of both sides (none → `no-common-type`); direction narrowed to the offer's.
 */
export function buildMsrpAnswer(offerInput: string | Buffer | SessionDescription, opts: MsrpAnswerOptions): MsrpAnswerResult {
  const offerSdp = toDescription(offerInput);
  if (offerSdp instanceof MsrpSdpError) return { ok: false, error: offerSdp };
  const extracted = extractMsrpMedia(offerSdp, { protos: opts.protos ?? ["TCP/MSRP"] });
  if (!extracted.ok) return extracted;
  const offer = extracted.media;

  const setup = answerSetup(offer.setup, opts.preferredSetup);
  if (setup === undefined) return fail("incompatible-setup", `cannot answer a=setup:${offer.setup}: no side would connect`);
  const acceptTypes = intersectMediaTypes(opts.acceptTypes, offer.acceptTypes);
  if (acceptTypes.length === 0) {
    return fail("no-common-type", `no accept-type in common: offered ${offer.acceptTypes.join(" ")}, accepted ${opts.acceptTypes.join(" ")}`);
  }
  const ourWrapped = opts.acceptWrappedTypes ?? [];
  const acceptWrappedTypes = offer.acceptWrappedTypes.length > 0 ? intersectMediaTypes(ourWrapped, offer.acceptWrappedTypes) : [...ourWrapped];
  const direction = answerDirection(offer.direction, opts.direction ?? "sendrecv");

  const built = buildDescription(opts, setup, direction, acceptTypes, acceptWrappedTypes, offer.cema && opts.cema === true);
  const ours = built.media[0]!;
  built.media = offerSdp.media.map((m, i) =>
    i === offer.index ? ours : { media: m.media, port: 0, proto: m.proto, formats: [...m.formats], lines: [] },
  );
  const answer = extractMsrpMedia(built);
  if (!answer.ok) return answer; // only when the caller's own path is not a valid MSRP path
  return { ok: true, sdp: built, offer, answer: answer.media };
}
