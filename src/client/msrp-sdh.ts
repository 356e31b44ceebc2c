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
 * Re-INVITEs (§7.4.4): an offer or answer that names the same remote path, while the current MSRP
 * session still works, changes nothing (session-timer refreshes must not disturb the stream). A new
 * remote path, a session whose connection was lost, or `renew: true` in the options makes a new
 * MSRP session (new session-id, new path) that replaces the old one once the negotiation completes;
 * `ready` then follows the new leg and the delegate hears `onMsrpSession`.
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
import {
  answerSetup,
  buildMsrpAnswer,
  buildMsrpOffer,
  extractMsrpMedia,
  intersectMediaTypes,
  type MediaDirection,
  type MsrpMedia,
  type MsrpProto,
  MsrpSdpError,
  serializeSdp,
} from "../protocol/sdp/index.js";

/** The MSRP session the handler drives. src/protocol/msrp's MsrpSession is adapted to this. */
export interface MsrpSessionLike {
  /** What goes into our `a=path`: relays first (Use-Path), our own MSRP URI last. */
  readonly localPath: readonly string[];
  /**
   * Binds the session to the peer described by `remote`: the active side connects (or reuses a
   * connection) and sends the binding SEND; the passive side waits for the peer's. Rejects when
   * that fails or times out. Called once per session.
   */
  connect(remote: MsrpMedia, role: "active" | "passive"): Promise<void>;
  /** False once the session or its connection failed or closed: a re-INVITE then makes a new one. */
  readonly usable: boolean;
  /** Ends the session (idempotent); a pending connect() rejects. */
  close(): void;
}

/** Makes sessions with fresh session-ids (src/protocol/msrp's MsrpEndpoint, adapted). */
export interface MsrpEndpointLike<S extends MsrpSessionLike = MsrpSessionLike> {
  createSession(role: "active" | "passive"): S;
}

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

export interface MsrpSdhDelegate<S extends MsrpSessionLike> {
  /** A new MSRP session took over (first negotiation or a replacement after a re-INVITE). */
  onMsrpSession?(session: S, previous: S | undefined): void;
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

/** One MSRP session with the peer it is (to be) bound to. */
interface Leg<S> {
  session: S;
  role: "active" | "passive";
  remote: MsrpMedia;
}

/** A negotiation in progress: the session our SDP names, and whether it was made for it. */
interface Pending<S> {
  session: S;
  isNew: boolean;
  /** Offers we made: our role. */
  setup?: "active" | "passive";
  /** Offers we received: our answer, the peer's stream and our role. */
  answer?: string;
  remote?: MsrpMedia;
  role?: "active" | "passive";
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

export class MsrpSessionDescriptionHandler<S extends MsrpSessionLike = MsrpSessionLike> implements SessionDescriptionHandler {
  delegate: MsrpSdhDelegate<S> | undefined;

  private stateValue: MsrpSdhState = "initial";
  private current: Leg<S> | undefined;
  private pending: Pending<S> | undefined;
  private readyValue = deferred();
  private readonly originId: string;
  private originVersion = 0;

  constructor(
    private readonly endpoint: MsrpEndpointLike<S>,
    private readonly defaults: MsrpDescriptionOptions = {},
  ) {
    // RFC 8866 §5.2: a numeric id unique enough per session; the version counts our descriptions.
    this.originId = String(Math.floor(Math.random() * 2 ** 40) + 1);
  }

  get state(): MsrpSdhState {
    return this.stateValue;
  }

  /** The MSRP session in use (after the first negotiation completed), for sending and receiving. */
  get msrpSession(): S | undefined {
    return this.current?.session;
  }

  /** The peer's stream as its last SDP described it (path, accept-types, max-size…). */
  get remoteMedia(): MsrpMedia | undefined {
    return this.current?.remote;
  }

  /**
   * Resolves when the current (or, before the first answer, the coming) MSRP leg is bound;
   * rejects with the connect error, or when the handler closes first. A replacement leg after a
   * re-INVITE gets a new promise: read `ready` again after `onMsrpSession`.
   */
  get ready(): Promise<void> {
    return this.readyValue.promise;
  }

  hasDescription(contentType: string): boolean {
    const semi = contentType.indexOf(";");
    return (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase() === "application/sdp";
  }

  sendDtmf(): boolean {
    return false;
  }

  async getDescription(options?: SessionDescriptionHandlerOptions, modifiers?: SessionDescriptionHandlerModifier[]): Promise<BodyAndContentType> {
    const opts = this.options(options);
    switch (this.stateValue) {
      case "initial":
      case "stable":
        return this.makeOffer(opts, modifiers);
      case "have-remote-offer":
        return this.giveAnswer(modifiers);
      case "closed":
        throw closedError();
      default:
        throw new SessionDescriptionHandlerError(`getDescription in state ${this.stateValue}`);
    }
  }

  async setDescription(sdp: string, options?: SessionDescriptionHandlerOptions, modifiers?: SessionDescriptionHandlerModifier[]): Promise<void> {
    const opts = this.options(options);
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
    if (p?.isNew) p.session.close();
    this.transition(this.current ? "stable" : "initial");
  }

  /** Closes every MSRP session of this handler; `ready` rejects if still pending. Safe twice. */
  close(): void {
    if (this.stateValue === "closed") return;
    this.transition("closed");
    if (this.pending?.isNew) this.pending.session.close();
    this.pending = undefined;
    this.current?.session.close();
    if (!this.readyValue.settled) this.readyValue.reject(closedError());
  }

  // ---- offerer -------------------------------------------------------------------------

  private async makeOffer(opts: MsrpSdhCallOptions, modifiers?: SessionDescriptionHandlerModifier[]): Promise<BodyAndContentType> {
    const setup = opts.setup ?? "active";
    const cur = this.current;
    const reuse = cur !== undefined && opts.renew !== true && cur.session.usable && cur.role === setup;
    const session = reuse ? cur.session : this.endpoint.createSession(setup);
    const sdp = buildMsrpOffer({
      ...this.localOptions(opts, session),
      acceptTypes: opts.acceptTypes ?? CPM_ACCEPT_TYPES,
      acceptWrappedTypes: opts.acceptWrappedTypes ?? CPM_ACCEPT_WRAPPED_TYPES,
      setup,
    });
    let body: string;
    try {
      body = await modify("offer", serializeSdp(sdp), modifiers);
    } catch (e) {
      if (!reuse) session.close();
      throw e;
    }
    if (this.stateValue === "closed") {
      if (!reuse) session.close();
      throw closedError();
    }
    this.pending = { session, isNew: !reuse, setup };
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
    const expected = p.setup === "active" ? "passive" : "active";
    if (theirs !== expected) {
      throw new MsrpSdpError("incompatible-setup", `we offered a=setup:${p.setup}, the answer says a=setup:${remote.setup ?? "(none)"}`);
    }
    const ours = opts.acceptTypes ?? CPM_ACCEPT_TYPES;
    if (intersectMediaTypes(ours, remote.acceptTypes).length === 0) {
      throw new MsrpSdpError("no-common-type", `the answer accepts ${remote.acceptTypes.join(" ")}, we offered ${ours.join(" ")}`);
    }
    this.pending = undefined;
    this.transition("stable");
    this.commit({ session: p.session, role: p.setup!, remote }, p.isNew);
  }

  // ---- answerer ------------------------------------------------------------------------

  private takeOffer(sdp: string, opts: MsrpSdhCallOptions): void {
    const protos = opts.protos ?? ["TCP/MSRP"];
    const extracted = extractMsrpMedia(sdp, { protos });
    if (!extracted.ok) throw extracted.error;
    const remote = extracted.media;
    const role = answerSetup(remote.setup, opts.answerSetup);
    if (role === undefined) throw new MsrpSdpError("incompatible-setup", `cannot answer a=setup:${remote.setup}: no side would connect`);
    const cur = this.current;
    const reuse =
      cur !== undefined && opts.renew !== true && cur.session.usable && cur.role === role && samePath(cur.remote.path, remote.path);
    const session = reuse ? cur.session : this.endpoint.createSession(role);
    const answered = buildMsrpAnswer(sdp, {
      ...this.localOptions(opts, session),
      acceptTypes: opts.acceptTypes ?? CPM_ACCEPT_TYPES,
      acceptWrappedTypes: opts.acceptWrappedTypes ?? CPM_ACCEPT_WRAPPED_TYPES,
      preferredSetup: role,
      protos,
    });
    if (!answered.ok) {
      if (!reuse) session.close();
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
    this.commit({ session: p.session, role: p.role!, remote: p.remote! }, p.isNew);
    return { body, contentType: "application/sdp" };
  }

  // ---- shared --------------------------------------------------------------------------

  /**
   * Makes `leg` the current one. A new session (or a known one facing a new remote path) is
   * bound now; the session it replaces is closed.
   */
  private commit(leg: Leg<S>, isNew: boolean): void {
    const previous = this.current;
    const rebind = isNew || previous === undefined || !samePath(previous.remote.path, leg.remote.path);
    this.current = leg;
    if (!rebind) return;
    if (this.readyValue.settled) this.readyValue = deferred();
    const ready = this.readyValue;
    leg.session.connect(leg.remote, leg.role).then(
      () => {
        if (this.current === leg) ready.resolve();
      },
      (e: unknown) => {
        if (this.current === leg) ready.reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
    const old = previous?.session;
    if (old !== undefined && old !== leg.session) old.close();
    this.delegate?.onMsrpSession?.(leg.session, old !== leg.session ? old : undefined);
  }

  private options(options: SessionDescriptionHandlerOptions | undefined): MsrpSdhCallOptions {
    return options === undefined ? this.defaults : { ...this.defaults, ...(options as MsrpSdhCallOptions) };
  }

  private localOptions(opts: MsrpSdhCallOptions, session: S) {
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
