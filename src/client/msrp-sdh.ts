/**
 * A SIP.js SessionDescriptionHandler whose media is one MSRP stream (RFC 4975) instead of WebRTC:
 * the SDP offer/answer of a CPM session (`m=message <port> TCP/MSRP *` with path, accept-types,
 * accept-wrapped-types and setup), and the MSRP session it describes.
 *
 * Roles (RFC 6135, PROTOCOL.md "Who connects"): as offerer the client offers `active` and connects
 * to the answer's path once the answer arrives; as answerer it takes the role the offer leaves it
 * (passive for an active offer) and either waits for the peer's binding SEND or connects. The
 * connection is made in the background: setDescription resolves as soon as the SDP is understood,
 * so the ACK is not held back by the TCP connect; `ready` tells when the MSRP leg is bound.
 *
 * Re-INVITEs (§7.4.4): while the current MSRP session is open, a re-offer keeps it (its path,
 * its connection), and so does an incoming re-offer naming the same remote path: session-timer
 * refreshes must not disturb the stream. A closed session (its connection was lost), an incoming
 * offer with a new remote path, or `renew: true` in the options makes a new MSRP session (new
 * session-id, new path) that replaces the old one once the negotiation completes; `ready` then
 * follows the new leg and the delegate hears `onMsrpSession`.
 *
 * State machine (every transition checked): initial → have-local-offer | have-remote-offer →
 * stable → have-local-offer | have-remote-offer → stable …; rollback returns to the state before
 * the pending offer; any state → closed.
 */
import type {
  BodyAndContentType,
  SessionDescriptionHandler,
  SessionDescriptionHandlerModifier,
  SessionDescriptionHandlerOptions,
} from "sip.js/lib/api/session-description-handler.js";
import { SessionDescriptionHandlerError } from "sip.js/lib/api/exceptions/session-description-handler.js";
import type { MsrpEndpoint } from "../protocol/msrp/endpoint.js";
import type { MsrpSession, MsrpSessionOptions } from "../protocol/msrp/session.js";
import {
  answerSetup,
  buildMsrpAnswer,
  buildMsrpOffer,
  extractMsrpMedia,
  intersectMediaTypes,
  isSdpBodyType,
  type MediaDirection,
  type MsrpMedia,
  type MsrpProto,
  MsrpSdpError,
  parseSdp,
  sdpFromBody,
  serializeSdp,
} from "../protocol/sdp/index.js";

/** What one side of the stream states about itself; factory defaults, overridable per call. */
export interface MsrpDescriptionOptions {
  acceptTypes?: readonly string[];
  acceptWrappedTypes?: readonly string[];
  /** Offerer's role; default `active` (CPM clients connect, the PF/CF listen). */
  setup?: "active" | "passive";
  /** Answerer's role when the offer says `actpass`; default `passive`. */
  answerSetup?: "active" | "passive";
  direction?: MediaDirection;
  maxSize?: number;
  /** RFC 5547 attributes (file transfer). */
  fileSelector?: string;
  fileTransferId?: string;
  fileDisposition?: string;
  extraAttributes?: ReadonlyArray<readonly [name: string, value: string | null]>;
  /** `o=` username; default `-`. */
  originUsername?: string;
  /** Transports accepted in an offer; default `TCP/MSRP`. */
  protos?: readonly MsrpProto[];
}

/**
 * Options SIP.js passes through `sessionDescriptionHandlerOptions` (Inviter, Invitation.accept,
 * Session.invite): the description options plus `renew`, which forces a new MSRP session on a
 * re-INVITE (the §7.4.4 recovery after a dropped connection, when the loss is known first here).
 */
export interface MsrpSdhCallOptions extends SessionDescriptionHandlerOptions, MsrpDescriptionOptions {
  renew?: boolean;
}

/** Options of the MSRP sessions the handler makes (endpoint defaults apply underneath). */
export type MsrpSdhSessionOptions = Omit<MsrpSessionOptions, "setup" | "localSessionId" | "remotePath" | "acceptTypes" | "acceptWrappedTypes">;

export interface MsrpSdhDelegate {
  /** A new MSRP session took over (first negotiation, or a replacement after a re-INVITE). */
  onMsrpSession?(session: MsrpSession, previous: MsrpSession | undefined): void;
}

export const CPM_ACCEPT_TYPES: readonly string[] = ["message/cpim", "application/im-iscomposing+xml"];
export const CPM_ACCEPT_WRAPPED_TYPES: readonly string[] = ["text/plain", "message/imdn+xml"];

export type MsrpSdhState = "initial" | "have-local-offer" | "have-remote-offer" | "stable" | "closed";

const TRANSITIONS: Readonly<Record<MsrpSdhState, readonly MsrpSdhState[]>> = {
  initial: ["have-local-offer", "have-remote-offer", "closed"],
  "have-local-offer": ["stable", "initial", "closed"],
  "have-remote-offer": ["stable", "initial", "closed"],
  stable: ["have-local-offer", "have-remote-offer", "closed"],
  closed: [],
};

/** One MSRP session with the peer stream it is (to be) bound to. */
interface Leg {
  session: MsrpSession;
  role: "active" | "passive";
  remote: MsrpMedia;
}

/** A negotiation in progress: the session our SDP names, and whether it was made for it. */
interface Pending {
  session: MsrpSession;
  isNew: boolean;
  role: "active" | "passive";
  /** Offers we received: our answer and the peer's stream. */
  answer?: string;
  remote?: MsrpMedia;
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: Error) => void;
  settled: boolean;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Nobody has to await `ready`: a failed leg must not become an unhandled rejection.
  promise.catch(() => undefined);
  const d: Deferred = {
    promise,
    resolve: () => {
      d.settled = true;
      resolve();
    },
    reject: (e) => {
      d.settled = true;
      reject(e);
    },
    settled: false,
  };
  return d;
}

function samePath(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((u, i) => u === b[i]);
}

export class MsrpSessionDescriptionHandler implements SessionDescriptionHandler {
  delegate: MsrpSdhDelegate | undefined;

  private stateValue: MsrpSdhState = "initial";
  private current: Leg | undefined;
  private pending: Pending | undefined;
  private readyValue = deferred();
  private readonly originId: string;
  private originVersion = 0;

  constructor(
    private readonly endpoint: MsrpEndpoint,
    private readonly defaults: MsrpDescriptionOptions = {},
    private readonly sessionOptions: MsrpSdhSessionOptions = {},
  ) {
    // RFC 8866 §5.2: a numeric id unique enough per session; the version counts our descriptions.
    this.originId = String(Math.floor(Math.random() * 2 ** 40) + 1);
  }

  get state(): MsrpSdhState {
    return this.stateValue;
  }

  /** The MSRP session in use once a negotiation completed, for sending and receiving. */
  get msrpSession(): MsrpSession | undefined {
    return this.current?.session;
  }

  /** The peer's stream as its last SDP described it (path, accept-types, max-size…). */
  get remoteMedia(): MsrpMedia | undefined {
    return this.current?.remote;
  }

  /**
   * Resolves when the current (or, before the first answer, the coming) MSRP leg is bound;
   * rejects with its MsrpSessionError, or when the handler closes first. A replacement leg after
   * a re-INVITE gets a new promise: read `ready` again after `onMsrpSession`.
   */
  get ready(): Promise<void> {
    return this.readyValue.promise;
  }

  /** application/sdp, and multipart/mixed bodies with an SDP part (group INVITEs, RFC 5621). */
  hasDescription(contentType: string): boolean {
    return isSdpBodyType(contentType);
  }

  sendDtmf(): boolean {
    return false;
  }

  async getDescription(options?: SessionDescriptionHandlerOptions, modifiers?: SessionDescriptionHandlerModifier[]): Promise<BodyAndContentType> {
    switch (this.stateValue) {
      case "initial":
      case "stable":
        return this.makeOffer(this.options(options), modifiers);
      case "have-remote-offer":
        return this.giveAnswer(modifiers);
      case "closed":
        throw closedError();
      default:
        throw new SessionDescriptionHandlerError(`getDescription in state ${this.stateValue}`);
    }
  }

  async setDescription(body: string, options?: SessionDescriptionHandlerOptions, modifiers?: SessionDescriptionHandlerModifier[]): Promise<void> {
    const opts = this.options(options);
    // A body that is neither SDP nor multipart with an SDP part fails below as bad-sdp (488).
    const sdp = sdpFromBody(body) ?? body;
    switch (this.stateValue) {
      case "initial":
      case "stable":
        return this.takeOffer(await modify("offer", sdp, modifiers), opts);
      case "have-local-offer":
        return this.takeAnswer(await modify("answer", sdp, modifiers), opts);
      case "closed":
        throw closedError();
      default:
        throw new SessionDescriptionHandlerError(`setDescription in state ${this.stateValue}`);
    }
  }

  /** Drops the pending offer (ours refused, or theirs not answerable): back to the last stable state. */
  async rollbackDescription(): Promise<void> {
    if (this.stateValue !== "have-local-offer" && this.stateValue !== "have-remote-offer") return;
    const p = this.pending;
    this.pending = undefined;
    if (p?.isNew) void p.session.close();
    this.transition(this.current ? "stable" : "initial");
  }

  /** Closes every MSRP session of this handler; `ready` rejects if still pending. Safe twice. */
  close(): void {
    if (this.stateValue === "closed") return;
    this.transition("closed");
    if (this.pending?.isNew) void this.pending.session.close();
    this.pending = undefined;
    if (this.current) void this.current.session.close();
    if (!this.readyValue.settled) this.readyValue.reject(closedError());
  }

  // ---- offerer -------------------------------------------------------------------------

  private async makeOffer(opts: MsrpSdhCallOptions, modifiers?: SessionDescriptionHandlerModifier[]): Promise<BodyAndContentType> {
    const role = opts.setup ?? "active";
    const acceptTypes = opts.acceptTypes ?? CPM_ACCEPT_TYPES;
    const acceptWrappedTypes = opts.acceptWrappedTypes ?? CPM_ACCEPT_WRAPPED_TYPES;
    const cur = this.current;
    const reuse = cur !== undefined && opts.renew !== true && !cur.session.closed && cur.role === role;
    const session = reuse ? cur.session : this.createSession(role, acceptTypes, acceptWrappedTypes);
    const sdp = buildMsrpOffer({ ...this.localOptions(opts, session), acceptTypes, acceptWrappedTypes, setup: role });
    let body: string;
    try {
      body = await modify("offer", serializeSdp(sdp), modifiers);
      if (this.stateValue === "closed") throw closedError();
    } catch (e) {
      if (!reuse) void session.close();
      throw e;
    }
    this.pending = { session, isNew: !reuse, role };
    this.transition("have-local-offer");
    return { body, contentType: "application/sdp" };
  }

  private takeAnswer(sdp: string, opts: MsrpSdhCallOptions): void {
    const p = this.pending!;
    const extracted = extractMsrpMedia(sdp, { protos: opts.protos ?? ["TCP/MSRP"] });
    if (!extracted.ok) throw extracted.error;
    const remote = extracted.media;
    // RFC 6135: our active needs their passive (absent = passive, RFC 4975), and the other way round.
    const theirs = remote.setup ?? "passive";
    const expected = p.role === "active" ? "passive" : "active";
    if (theirs !== expected) {
      throw new MsrpSdpError("incompatible-setup", `we offered a=setup:${p.role}, the answer says a=setup:${remote.setup ?? "(none)"}`);
    }
    const ours = opts.acceptTypes ?? CPM_ACCEPT_TYPES;
    if (intersectMediaTypes(ours, remote.acceptTypes).length === 0) {
      throw new MsrpSdpError("no-common-type", `the answer accepts ${remote.acceptTypes.join(" ")}, we offered ${ours.join(" ")}`);
    }
    this.pending = undefined;
    this.transition("stable");
    this.commit({ session: p.session, role: p.role, remote }, p.isNew);
  }

  // ---- answerer ------------------------------------------------------------------------

  private takeOffer(text: string, opts: MsrpSdhCallOptions): void {
    const protos = opts.protos ?? ["TCP/MSRP"];
    const parsed = parseSdp(text);
    if (!parsed.ok) throw new MsrpSdpError("bad-sdp", `the offer is not valid SDP: ${parsed.error.message}`);
    const sdp = parsed.sdp;
    const extracted = extractMsrpMedia(sdp, { protos });
    if (!extracted.ok) throw extracted.error;
    const remote = extracted.media;
    const role = answerSetup(remote.setup, opts.answerSetup);
    if (role === undefined) throw new MsrpSdpError("incompatible-setup", `cannot answer a=setup:${remote.setup}: no side would connect`);
    const ourTypes = opts.acceptTypes ?? CPM_ACCEPT_TYPES;
    const ourWrapped = opts.acceptWrappedTypes ?? CPM_ACCEPT_WRAPPED_TYPES;
    // The session enforces what the answer will advertise: the intersection (checked again below).
    const acceptTypes = intersectMediaTypes(ourTypes, remote.acceptTypes);
    const cur = this.current;
    const reuse =
      cur !== undefined && opts.renew !== true && !cur.session.closed && cur.role === role && samePath(cur.remote.path, remote.path);
    const session = reuse ? cur.session : this.createSession(role, acceptTypes.length > 0 ? acceptTypes : ourTypes, ourWrapped, remote.path);
    const answered = buildMsrpAnswer(sdp, {
      ...this.localOptions(opts, session),
      acceptTypes: ourTypes,
      acceptWrappedTypes: ourWrapped,
      preferredSetup: role,
      protos,
    });
    if (!answered.ok) {
      if (!reuse) void session.close();
      throw answered.error;
    }
    this.pending = { session, isNew: !reuse, answer: serializeSdp(answered.sdp), remote, role };
    this.transition("have-remote-offer");
  }

  private async giveAnswer(modifiers?: SessionDescriptionHandlerModifier[]): Promise<BodyAndContentType> {
    const p = this.pending!;
    const body = await modify("answer", p.answer!, modifiers);
    if (this.stateValue !== "have-remote-offer" || this.pending !== p) throw closedError();
    this.pending = undefined;
    this.transition("stable");
    this.commit({ session: p.session, role: p.role, remote: p.remote! }, p.isNew);
    return { body, contentType: "application/sdp" };
  }

  // ---- shared --------------------------------------------------------------------------

  private createSession(role: "active" | "passive", acceptTypes: readonly string[], acceptWrappedTypes: readonly string[], remotePath?: readonly string[]): MsrpSession {
    const opts: MsrpSessionOptions = { ...this.sessionOptions, setup: role, acceptTypes, acceptWrappedTypes };
    if (remotePath !== undefined) opts.remotePath = remotePath;
    return this.endpoint.createSession(opts);
  }

  /**
   * Makes `leg` the current one. A new session is bound now (the active side connects, the
   * passive one waits for the peer) and the one it replaces is closed. A kept session facing a
   * new remote path (the peer moved while ours still works) only learns the new path
   * **[choice]**: its connection stays, as a session cannot bind twice.
   */
  private commit(leg: Leg, isNew: boolean): void {
    const previous = this.current;
    this.current = leg;
    if (!isNew) {
      if (previous && !samePath(previous.remote.path, leg.remote.path)) leg.session.setRemotePath(leg.remote.path);
      return;
    }
    if (this.readyValue.settled) this.readyValue = deferred();
    const ready = this.readyValue;
    leg.session.connect(leg.remote.path).then(
      () => {
        if (this.current === leg) ready.resolve();
      },
      (e: unknown) => {
        if (this.current === leg) ready.reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
    const old = previous?.session;
    if (old !== undefined && old !== leg.session) void old.close();
    this.delegate?.onMsrpSession?.(leg.session, old);
  }

  private options(options: SessionDescriptionHandlerOptions | undefined): MsrpSdhCallOptions {
    return options === undefined ? this.defaults : { ...this.defaults, ...(options as MsrpSdhCallOptions) };
  }

  private localOptions(opts: MsrpSdhCallOptions, session: MsrpSession) {
    this.originVersion++;
    return {
      path: session.localPath,
      ...(opts.direction !== undefined && { direction: opts.direction }),
      ...(opts.maxSize !== undefined && { maxSize: opts.maxSize }),
      ...(opts.fileSelector !== undefined && { fileSelector: opts.fileSelector }),
      ...(opts.fileTransferId !== undefined && { fileTransferId: opts.fileTransferId }),
      ...(opts.fileDisposition !== undefined && { fileDisposition: opts.fileDisposition }),
      ...(opts.extraAttributes !== undefined && { extraAttributes: opts.extraAttributes }),
      origin: { username: opts.originUsername ?? "-", sessionId: this.originId, sessionVersion: this.originVersion },
    };
  }

  private transition(to: MsrpSdhState): void {
    if (!TRANSITIONS[this.stateValue].includes(to)) {
      throw new SessionDescriptionHandlerError(`invalid MSRP SDH state transition ${this.stateValue} → ${to}`);
    }
    this.stateValue = to;
  }
}

function closedError(): SessionDescriptionHandlerError {
  return new SessionDescriptionHandlerError("the MSRP session description handler is closed");
}

/** Runs SIP.js description modifiers over the SDP text, in order. */
async function modify(type: "offer" | "answer", sdp: string, modifiers: SessionDescriptionHandlerModifier[] | undefined): Promise<string> {
  if (modifiers === undefined || modifiers.length === 0) return sdp;
  let description: { type: "offer" | "answer"; sdp?: string } = { type, sdp };
  for (const m of modifiers) description = await m(description);
  return description.sdp ?? "";
}
