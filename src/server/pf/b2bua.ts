/**
 * The Participating Function as a back-to-back user agent for 1-1 CPM sessions (PROTOCOL.md §5.2,
 * §7.3.2, §7.4.x). Each session has two SIP dialogs — leg A with the caller (originating), leg B
 * with the callee's contact (terminating) — and two MSRP sessions anchored at the PF (msrp-anchor.ts).
 *
 * Initial INVITE (out of dialog) to sip:B@domain, in this order:
 *   malformed From/To                 → 400
 *   auth on, caller not authorised    → 401 (see `authorizeCaller`)
 *   Request-URI not sip:/sips:        → 416; tel: → 404 (no number translation here)
 *   no live contact of B              → 404 when B never registered (and is not a configured
 *                                       user), else 480 (offline; the deferred store comes later)
 *   SDP without usable MSRP media     → 488 with a Warning naming the problem
 *   Session-Expires below Min-SE      → 422 with Min-SE
 *   otherwise                         → 100 Trying, then one INVITE per live contact (parallel
 *                                       forking, each fork its own Call-ID and From-tag, sent over
 *                                       the flow the contact registered on), the PF's own SDP offer.
 * Callee answers: 180/181/182/183 are relayed to the caller once each (without bodies). The first
 * 2xx wins: the PF ACKs it at once, CANCELs the other forks, answers the caller 200 with its own
 * SDP answer, and absorbs the caller's ACK. A later 2xx from another fork is ACKed and BYEd. When
 * every fork failed, the caller gets the best final response (RFC 3261 §16.7: a 6xx wins, else the
 * lowest class, a real answer before a synthesized timeout; 503 becomes 500, 401/407 become 403
 * since the caller cannot answer the callee's challenge). No answer at all: 408 (Timer B); ringing
 * past the no-answer bound: CANCEL and 408. A contact whose flow is gone: 480.
 *
 * CANCEL from the caller before the final response: 200 (core), 487 to the INVITE, CANCEL to every
 * pending fork. BYE from either leg: 200, then — once the MSRP chunks already passed on were
 * answered (so a large message's tail is not overtaken by the BYE) — BYE on the other leg and both
 * MSRP sessions closed. BYE for an unknown dialog: 481. An early BYE from the caller acts as CANCEL.
 *
 * re-INVITE / UPDATE from either leg: passed to the other leg with the SDP re-anchored: the offer
 * names the PF's path on the far leg, the answer the PF's path on the near leg. A client that
 * offers a new MSRP path (it lost its connection and made a new MSRP session, §7.4.4), or whose
 * leg at the PF is gone, gets a fresh PF session on that leg (new path); it replaces the old one
 * when the far leg answers 2xx. An offer while another offer is in progress → 491; an unusable
 * offer → 488; the far leg's refusal is passed back (488, 491 …), and 408/481 end the session.
 * An offer-less re-INVITE (a bare refresh) is answered by the PF itself with its current SDP.
 * Other in-dialog requests (INFO, MESSAGE, OPTIONS …) pass through unchanged.
 *
 * Timeouts: a session whose clients do not both bind their MSRP legs within `msrpConnectTimeoutMs`
 * after the 200 (or after losing a leg) is ended with BYE on both legs (cause
 * msrp-connect-timeout). Over UDP, the 2xx to the caller is retransmitted until its ACK (T1
 * doubling to T2); no ACK within 64·T1 ends the session (RFC 3261 §13.3.1.4). Session timers: see
 * session-timer.ts.
 */
import { getHeader, getHeaderLines, getTag, parseNameAddr, formatNameAddr, type NameAddr } from "../../protocol/sip/headers.js";
import type { HeaderList, SipRequest, SipResponse } from "../../protocol/sip/message.js";
import { reasonPhrase } from "../../protocol/sip/response.js";
import { addressOfRecord, parseSipUri, type SipUri } from "../../protocol/sip/uri.js";
import type { MsrpEndpoint } from "../../protocol/msrp/endpoint.js";
import type { MsrpMedia } from "../../protocol/sdp/msrp-media.js";
import type { Clock, TimerHandle } from "../../time/clock.js";
import type { DigestAuthenticator } from "../auth/digest-authenticator.js";
import { SERVER_HEADER } from "../core/response-sender.js";
import type { IncomingRequest } from "../core/incoming-request.js";
import type { BindingStore, ContactBinding } from "../registrar/binding-store.js";
import { type DeadlineHandle, DeadlineQueue } from "../timers/deadline-queue.js";
import type { ClientTransaction, ClientTransactions, ClientTransactionUser } from "../transaction/client-transactions.js";
import type { Flow } from "../transport/flow.js";
import { featureParams, INVITE_COPIED, passedHeaders, pfContact } from "./leg-headers.js";
import { MsrpAnchor, type LegIndex } from "./msrp-anchor.js";
import { PfCounters } from "./pf-stats.js";
import { buildCurrentOffer, buildFarOffer, buildNearAnswer, type Offer, readAnswer, readOffer, samePath, type SdpOrigin, wrapLikeOffer } from "./sdp-rewrite.js";
import { hasOptionTag, parseMinSe, parseSessionExpires, type SessionExpires } from "./session-timer.js";

const NS_PER_MS = 1_000_000;
const EMPTY: Buffer = Buffer.alloc(0);
const SDP: [string, string] = ["Content-Type", "application/sdp"];
const USER_AGENT: [string, string] = ["User-Agent", SERVER_HEADER];
const RELAYED_PROVISIONALS = new Set([180, 181, 182, 183]);

export interface PfOptions {
  /** The PF's SIP address (Via, Contact). */
  host: string;
  port: number;
  msrpConnectTimeoutMs: number;
  minSessionExpires: number;
  t1Ms: number;
  t2Ms: number;
  /** Users the server knows without a registration (explicit auth users): 480 rather than 404. */
  knownUsers: ReadonlySet<string>;
}

export interface PfDeps {
  clock: Clock;
  txs: ClientTransactions;
  bindings: BindingStore;
  auth: DigestAuthenticator | null;
  msrp: MsrpEndpoint;
  /** Unique tags (shared with the response sender so no two dialogs of the server share one). */
  newTag: () => string;
  /** The server's Allow value. */
  allow: () => string;
}

type SessionState = "calling" | "established" | "ending" | "ended";

/** One SIP dialog of a session, seen from the PF. */
interface Leg {
  readonly session: PfSession;
  readonly side: LegIndex;
  readonly callId: string;
  readonly localTag: string;
  /** From of our requests on this leg (with our tag). */
  readonly local: string;
  /** To of our requests (with the peer's tag once known). */
  remote: string;
  remoteTag: string | null;
  remoteTarget: string;
  routeSet: string[];
  localCseq: number;
  remoteCseq: number;
  flow: Flow;
  /** Our Contact on this leg. */
  contact: string;
  /** UDP only: our 2xx to an INVITE from this leg, retransmitted until its ACK. */
  okRetransmit: OkRetransmit | null;
}

interface OkRetransmit {
  req: IncomingRequest;
  cseq: number;
  intervalMs: number;
  giveUpNs: number;
  timer: TimerHandle | null;
}

interface Fork {
  readonly leg: Leg;
  readonly inviteCseq: number;
  tx: ClientTransaction | null;
  done: boolean;
  /** The 2xx of this fork was seen (retransmissions are ACKed again). */
  answered: boolean;
}

interface Candidate {
  status: number;
  reason: string;
  headers: HeaderList;
}

/** An offer/answer in progress between the legs (glare guard). */
interface Modification {
  from: Leg;
  to: Leg;
  req: IncomingRequest;
  offer: Offer | null;
  tx: ClientTransaction | null;
}

class PfSession {
  state: SessionState = "calling";
  b: Leg | null = null;
  readonly forks: Fork[] = [];
  invite: IncomingRequest | null;
  best: Candidate | null = null;
  readonly relayed = new Set<number>();
  /** The latest MSRP description each client gave (its offer or answer). */
  readonly media: [MsrpMedia | null, MsrpMedia | null];
  readonly origins: [SdpOrigin, SdpOrigin];
  modification: Modification | null = null;
  /** Negotiated RFC 4028 interval (s), 0 = no session timer; and when it runs out. */
  sessionExpiresS = 0;
  expiresAtNs = 0;
  /** The pending MSRP connect deadline, settled as soon as both clients are bound. */
  msrpDeadline: DeadlineHandle | null = null;
  a!: Leg;

  constructor(
    invite: IncomingRequest,
    readonly offer: Offer,
    readonly timer: SessionExpires | null,
    readonly callerSupportsTimer: boolean,
    readonly anchor: MsrpAnchor,
    originBase: string,
  ) {
    this.invite = invite;
    this.media = [offer.media, null];
    this.origins = [
      { sessionId: `${originBase}1`, version: 1 },
      { sessionId: `${originBase}2`, version: 1 },
    ];
  }
}

export class ParticipatingFunction {
  readonly counters = new PfCounters();
  /** Every live leg by our local tag (the To-tag of requests the peers send us). */
  private readonly dialogs = new Map<string, Leg>();
  private readonly active = new Set<PfSession>();
  private readonly timed = new Set<PfSession>();
  private readonly msrpDeadlines: DeadlineQueue<PfSession>;
  private expirySweep: TimerHandle | null = null;
  private readonly callIdPrefix = `${Math.random().toString(36).slice(2, 10)}-`;
  private callIdCounter = 0;
  private originCounter = Math.floor(Math.random() * 1e6);
  private closed = false;

  constructor(
    private readonly opts: PfOptions,
    private readonly deps: PfDeps,
  ) {
    this.msrpDeadlines = new DeadlineQueue(deps.clock, opts.msrpConnectTimeoutMs, (s) => this.checkMsrpBound(s));
  }

  /** Sessions in set-up or established (for stats and leak checks). */
  get activeSessions(): number {
    return this.active.size;
  }

  get dialogCount(): number {
    return this.dialogs.size;
  }

  close(): void {
    this.closed = true;
    this.msrpDeadlines.close();
    this.expirySweep?.cancel();
    this.expirySweep = null;
    for (const s of this.active) {
      s.anchor.close();
      for (const leg of [s.a, s.b]) leg?.okRetransmit?.timer?.cancel();
    }
    this.active.clear();
    this.timed.clear();
    this.dialogs.clear();
  }

  // ---- initial INVITE ----------------------------------------------------------------------------

  onInvite(req: IncomingRequest): void {
    const m = req.message;
    const fromValue = getHeader(m, "From");
    const toValue = getHeader(m, "To");
    const from = fromValue === undefined ? null : parseNameAddr(fromValue);
    const fromUri = from === null ? null : parseSipUri(from.uri);
    const to = toValue === undefined ? null : parseNameAddr(toValue);
    if (from === null || fromUri === null || to === null || !from.params.tag) {
      req.respond(400, "Bad Request", [warning("From or To is missing or malformed, or From has no tag")]);
      return;
    }
    if (!this.authorizeCaller(req, fromUri)) return;

    const ruri = parseSipUri(m.uri);
    if (ruri === null) {
      req.respond(416, "Unsupported URI Scheme");
      return;
    }
    if (ruri.scheme === "tel" || ruri.user === undefined) {
      this.reject(req, 404, "not-found");
      return;
    }
    const aor = addressOfRecord(ruri);
    const targets = this.deps.bindings.lookup(aor).filter((b) => b.flow.isOpen);
    if (targets.length === 0) {
      const known = this.deps.bindings.everRegistered(aor) || this.opts.knownUsers.has(ruri.user);
      if (known) this.reject(req, 480, "unavailable");
      else this.reject(req, 404, "not-found");
      return;
    }

    const offer = readOffer(getHeader(m, "Content-Type"), m.body);
    if (!offer.ok) {
      this.reject(req, 488, "bad-sdp", [warning(offer.reason)]);
      return;
    }
    const timer = parseSessionExpires(getHeader(m, "Session-Expires"));
    if (timer !== null && timer.deltaS < this.opts.minSessionExpires) {
      req.respond(422, "Session Interval Too Small", [["Min-SE", String(this.opts.minSessionExpires)]]);
      return;
    }

    // 100 Trying stops the caller's INVITE retransmissions: only UDP has any (RFC 3261 §17.1.1.2);
    // over TCP the 180/200 follow soon enough and one message less per session counts at load.
    if (req.flow.transport === "udp") req.respond(100, "Trying");
    const anchor = new MsrpAnchor(this.deps.msrp, this.counters.relay, {
      onLegLost: (leg) => this.onMsrpLegLost(session, leg),
      onBound: () => this.settleMsrpDeadline(session),
    });
    const callerTimer = hasOptionTag(getHeaderLines(m, "Supported"), "timer") || timer !== null;
    const session: PfSession = new PfSession(req, offer, timer, callerTimer, anchor, String(this.originCounter++));
    const callerContact = parseNameAddr(getHeader(m, "Contact") ?? "");
    session.a = {
      session,
      side: 0,
      callId: req.callId,
      localTag: req.toTag,
      local: `${toValue};tag=${req.toTag}`,
      remote: fromValue!,
      remoteTag: from.params.tag,
      remoteTarget: callerContact?.uri ?? from.uri,
      routeSet: getHeaderLines(m, "Record-Route"),
      localCseq: 0,
      remoteCseq: req.cseq,
      flow: req.flow,
      contact: "",
      okRetransmit: null,
    };
    anchor.setRemotePath(0, offer.media.path);
    this.dialogs.set(session.a.localTag, session.a);
    this.active.add(session);
    this.counters.sessionsStarted++;
    this.counters.sessionsActive = this.active.size;
    req.transaction.onCancel = () => {
      req.respondNow(487, "Request Terminated");
      if (session.state === "calling") {
        this.abandonSetup(session, "cancelled");
      } else if (session.state === "established") {
        // The CANCEL overtook our 200 while an injected response delay held it: the caller got
        // 487, so the callee's leg goes.
        session.state = "ending";
        this.sendBye(session.b!, null);
        this.finish(session, "cancelled");
      }
    };

    const far = wrapLikeOffer(offer, buildFarOffer(offer.media, anchor.path(1), session.origins[1]));
    const features = callerContact === null ? {} : featureParams(callerContact.params);
    const maxForwards = Number(getHeader(m, "Max-Forwards") ?? "70");
    const common = this.inviteHeaders(m, from, timer, Number.isFinite(maxForwards) ? maxForwards - 1 : 69, far.contentType);
    for (const binding of targets) this.fork(session, binding, from, toValue!, common, features, far.body);
  }

  /**
   * RFC 3261 §22.1: the PF terminates the caller's INVITE as a UAS, so it challenges with 401
   * (WWW-Authenticate), as a registrar does — 407 is for proxies. Like an IMS P-CSCF, a request
   * that arrives on the flow its sender registered over (the same TCP connection, or the same UDP
   * source address) is trusted without a new challenge: the registration authenticated that flow,
   * and challenging every INVITE would double each session's set-up. Anything else must carry
   * valid credentials of the From user.
   */
  private authorizeCaller(req: IncomingRequest, fromUri: SipUri): boolean {
    const auth = this.deps.auth;
    if (auth === null) return true;
    if (getHeader(req.message, "Authorization") === undefined && fromUri.scheme !== "tel") {
      const own = this.deps.bindings.lookup(addressOfRecord(fromUri));
      for (const b of own) if (sameFlow(b.flow, req.flow)) return true;
    }
    return auth.authorize(req, fromUri.user ?? "");
  }

  private reject(req: IncomingRequest, status: number, cause: string, headers?: HeaderList): void {
    this.counters.fail(cause);
    req.respond(status, reasonPhrase(status), headers);
  }

  /** Headers every fork's INVITE shares (everything but the dialog identifiers and Route). */
  private inviteHeaders(m: SipRequest, from: NameAddr, timer: SessionExpires | null, maxForwards: number, contentType: string): HeaderList {
    const headers: HeaderList = [["Max-Forwards", String(Math.max(0, maxForwards))]];
    const identity: NameAddr = { uri: from.uri, params: {} };
    if (from.displayName !== undefined) identity.displayName = from.displayName;
    headers.push(["P-Asserted-Identity", formatNameAddr(identity)]);
    for (const [name, value] of m.headers) {
      if (INVITE_COPIED.has(name)) headers.push([name, value]);
      else if (name === "P-Preferred-Service") headers.push(["P-Asserted-Service", value]);
    }
    headers.push(["Supported", "timer"]);
    if (timer !== null) {
      headers.push(["Session-Expires", String(timer.deltaS)]);
      const minSe = Math.max(this.opts.minSessionExpires, parseMinSe(getHeader(m, "Min-SE")) ?? 0);
      headers.push(["Min-SE", String(minSe)]);
    }
    headers.push(["Allow", this.deps.allow()], USER_AGENT, ["Content-Type", contentType]);
    return headers;
  }

  private fork(
    session: PfSession,
    binding: ContactBinding,
    from: NameAddr,
    toValue: string,
    common: HeaderList,
    features: ReturnType<typeof featureParams>,
    body: Buffer,
  ): void {
    const localTag = this.deps.newTag();
    const localFrom: NameAddr = { uri: from.uri, params: { tag: localTag } };
    if (from.displayName !== undefined) localFrom.displayName = from.displayName;
    const leg: Leg = {
      session,
      side: 1,
      callId: `${this.callIdPrefix}${(this.callIdCounter++).toString(36)}@${this.opts.host}`,
      localTag,
      local: formatNameAddr(localFrom),
      remote: toValue,
      remoteTag: null,
      remoteTarget: binding.uri,
      // RFC 3327: requests to a contact registered through proxies follow its Path.
      routeSet: [...binding.path],
      localCseq: 1,
      remoteCseq: 0,
      flow: binding.flow,
      contact: pfContact(this.opts.host, this.opts.port, binding.flow.transport, features),
      okRetransmit: null,
    };
    const headers: HeaderList = [];
    for (const r of leg.routeSet) headers.push(["Route", r]);
    headers.push(["From", leg.local], ["To", leg.remote], ["Call-ID", leg.callId], ["CSeq", "1 INVITE"], ["Contact", leg.contact]);
    for (const h of common) headers.push(h);
    const f: Fork = { leg, inviteCseq: 1, tx: null, done: false, answered: false };
    session.forks.push(f);
    const request: SipRequest = { kind: "request", method: "INVITE", uri: binding.uri, headers, body };
    f.tx = this.deps.txs.send(request, binding.flow, this.forkUser(f));
  }

  private forkUser(f: Fork): ClientTransactionUser {
    return {
      onResponse: (_tx, res) => this.onForkResponse(f, res),
      onFailure: (_tx, reason) => {
        if (f.done) return;
        f.done = true;
        // A contact whose flow is gone cannot be reached now (480); silence is a timeout (408).
        const status = reason === "timeout" ? 408 : 480;
        this.consider(f.leg.session, { status, reason: reasonPhrase(status), headers: [] });
        this.forksSettled(f.leg.session);
      },
    };
  }

  private onForkResponse(f: Fork, res: SipResponse): void {
    const s = f.leg.session;
    const status = res.status;
    if (status < 200) {
      if (status === 100 || f.done) return;
      f.leg.remoteTag ??= getTag(res, "To") ?? null;
      if (s.state === "calling" && s.invite !== null && RELAYED_PROVISIONALS.has(status) && !s.relayed.has(status)) {
        s.relayed.add(status);
        s.invite.respond(status, res.reason, [["Contact", this.callerContact(s, res)]]);
      }
      return;
    }
    if (status < 300) {
      this.onFork2xx(f, res);
      return;
    }
    if (f.done) return;
    f.done = true;
    const headers: HeaderList = [];
    for (const name of ["Warning", "Retry-After", "Reason"]) {
      for (const v of getHeaderLines(res, name)) headers.push([name, v]);
    }
    this.consider(s, { status, reason: res.reason, headers });
    if (status >= 600) this.cancelForks(s);
    this.forksSettled(s);
  }

  private onFork2xx(f: Fork, res: SipResponse): void {
    const leg = f.leg;
    const s = leg.session;
    if (f.answered) {
      this.sendAck(leg, f.inviteCseq); // a retransmitted 2xx: our ACK was lost
      return;
    }
    // A fork that already failed (timed out, CANCELled) cannot win any more.
    const late = f.done;
    f.answered = true;
    f.done = true;
    const to = getHeader(res, "To");
    if (to !== undefined) leg.remote = to;
    leg.remoteTag = getTag(res, "To") ?? null;
    const contact = parseNameAddr(getHeader(res, "Contact") ?? "");
    if (contact !== null) leg.remoteTarget = contact.uri;
    leg.routeSet = getHeaderLines(res, "Record-Route").reverse();
    this.sendAck(leg, f.inviteCseq);

    if (late || s.state !== "calling" || s.b !== null) {
      // Another fork won, or the caller gave up: this dialog is not wanted (RFC 3261 §13.2.2.4).
      this.sendBye(leg, null);
      this.forksSettled(s);
      return;
    }
    s.b = leg;
    this.dialogs.set(leg.localTag, leg);
    this.cancelForks(s);
    const answer = readAnswer(getHeader(res, "Content-Type"), res.body);
    if (!answer.ok) {
      this.failEstablishing(s, answer.reason);
      return;
    }
    s.media[1] = answer.media;
    s.anchor.setRemotePath(1, answer.media.path);
    const near = buildNearAnswer(s.offer.sdp, answer.media, s.anchor.path(0), s.origins[0]);
    if (!near.ok) {
      this.failEstablishing(s, near.reason);
      return;
    }
    const invite = s.invite!;
    s.invite = null;
    s.a.contact = this.callerContact(s, res);
    const headers: HeaderList = [["Contact", s.a.contact]];
    this.negotiateTimer(s, res, headers);
    headers.push(["Allow", this.deps.allow()], SDP);
    s.state = "established";
    this.counters.sessionsEstablished++;
    invite.respond(200, "OK", headers, near.body);
    this.watchOk(s.a, invite);
    this.watchMsrp(s);
  }

  /** The callee answered 200 with SDP the PF cannot use: end its leg, 488 to the caller. */
  private failEstablishing(s: PfSession, reason: string): void {
    this.sendBye(s.b!, null);
    const invite = s.invite;
    s.invite = null;
    invite?.respond(488, "Not Acceptable Here", [warning(`the callee's answer: ${reason}`)]);
    this.finish(s, "bad-answer");
  }

  /** The PF's Contact towards the caller, with the feature tags of the callee's Contact. */
  private callerContact(s: PfSession, res: SipResponse): string {
    const c = parseNameAddr(getHeader(res, "Contact") ?? "");
    return pfContact(this.opts.host, this.opts.port, s.a.flow.transport, c === null ? {} : featureParams(c.params));
  }

  /** RFC 4028 in the 2xx to the caller (see session-timer.ts). */
  private negotiateTimer(s: PfSession, res: SipResponse, headers: HeaderList): void {
    if (!s.callerSupportsTimer) return;
    const fromCallee = parseSessionExpires(getHeader(res, "Session-Expires"));
    const interval = fromCallee?.deltaS ?? s.timer?.deltaS;
    if (interval === undefined) return;
    const refresher = s.timer?.refresher ?? "uac";
    headers.push(["Session-Expires", `${interval};refresher=${refresher}`]);
    if (refresher === "uac") headers.push(["Require", "timer"]);
    s.sessionExpiresS = interval;
    this.refreshTimer(s);
    this.timed.add(s);
    this.ensureExpirySweep();
  }

  /** RFC 3261 §16.7 step 6, adapted to a B2BUA (see the module comment). */
  private consider(s: PfSession, c: Candidate): void {
    const best = s.best;
    if (best === null || better(c, best)) s.best = c;
  }

  /** Every fork has its final answer: answer the caller if nobody won; forget a dead session. */
  private forksSettled(s: PfSession): void {
    for (const f of s.forks) if (!f.done) return;
    if (s.state === "calling") {
      const best = s.best ?? { status: 480, reason: "Temporarily Unavailable", headers: [] };
      let status = best.status;
      let reason = best.reason;
      if (status === 503) [status, reason] = [500, "Server Internal Error"];
      else if (status === 401 || status === 407) [status, reason] = [403, "Forbidden"];
      const invite = s.invite;
      s.invite = null;
      invite?.respond(status, reason, best.headers);
      this.finish(s, status === 408 ? "timeout" : `rejected.${status}`);
      return;
    }
    if (s.state === "ended") this.forgetForks(s);
  }

  private cancelForks(s: PfSession): void {
    for (const f of s.forks) if (!f.done && f.tx !== null) this.deps.txs.cancel(f.tx);
  }

  /** The caller cancelled (CANCEL, or BYE on the early dialog): 487 was sent by the caller. */
  private abandonSetup(s: PfSession, cause: string): void {
    if (s.state !== "calling") return;
    s.invite = null;
    this.cancelForks(s);
    this.finish(s, cause);
  }

  // ---- in-dialog requests ------------------------------------------------------------------------

  /** Requests with a To-tag (the core's dialog handler). */
  onInDialog(req: IncomingRequest): void {
    const tag = getTag(req.message, "To");
    const leg = tag === undefined ? undefined : this.dialogs.get(tag);
    if (leg === undefined || leg.callId !== req.callId) {
      req.respond(481, "Call/Transaction Does Not Exist");
      return;
    }
    if (req.cseq < leg.remoteCseq) {
      req.respond(500, "Server Internal Error", [warning("CSeq lower than a previous request of this dialog")]);
      return;
    }
    leg.remoteCseq = req.cseq;
    switch (req.method) {
      case "BYE":
        this.onBye(leg, req);
        return;
      case "INVITE":
      case "UPDATE":
        this.onModify(leg, req);
        return;
      default:
        this.passThrough(leg, req);
    }
  }

  /** ACKs for 2xx (the core's ACK handler): absorbed, they only stop our 2xx retransmissions. */
  onAck(ack: SipRequest, _flow: Flow): void {
    const tag = getTag(ack, "To");
    const leg = tag === undefined ? undefined : this.dialogs.get(tag);
    if (leg === undefined || leg.okRetransmit === null) return;
    const cseq = Number.parseInt(getHeader(ack, "CSeq") ?? "", 10);
    if (cseq !== leg.okRetransmit.cseq) return;
    leg.okRetransmit.timer?.cancel();
    leg.okRetransmit = null;
  }

  private onBye(leg: Leg, req: IncomingRequest): void {
    const s = leg.session;
    req.respond(200, "OK");
    if (s.state === "calling") {
      if (leg.side === 0 && s.invite !== null) {
        s.invite.respondNow(487, "Request Terminated");
        this.abandonSetup(s, "cancelled");
      }
      return;
    }
    if (s.state !== "established") return;
    this.counters.sessionsEnded++;
    s.state = "ending";
    const other = leg.side === 0 ? s.b! : s.a;
    const m = s.modification;
    if (m !== null && m.from !== leg) {
      // The BYE crossed an offer still in work from the other leg: that request cannot succeed.
      m.req.respond(481, "Call/Transaction Does Not Exist");
    }
    if (m?.tx) this.deps.txs.cancel(m.tx);
    s.modification = null;
    // Chunks already passed on should reach the other client before our BYE does.
    void s.anchor
      .whenIdle(this.opts.msrpConnectTimeoutMs, (ms, fn) => this.deps.clock.after(ms, fn))
      .then(() => {
        this.sendBye(other, null);
        this.finish(s, null);
      })
      .catch(() => this.finish(s, null));
  }

  private onModify(x: Leg, req: IncomingRequest): void {
    const s = x.session;
    if (s.state === "calling") {
      req.respond(491, "Request Pending", [["Retry-After", "1"]]);
      return;
    }
    if (s.state !== "established") {
      req.respond(481, "Call/Transaction Does Not Exist");
      return;
    }
    if (s.modification !== null) {
      // RFC 3261 §14.2 / RFC 3311 §5.2: a second offer while one is in progress.
      req.respond(491, "Request Pending", [["Retry-After", "1"]]);
      return;
    }
    const y = x.side === 0 ? s.b! : s.a;
    const m = req.message;
    if (m.body.length === 0) {
      if (req.method === "INVITE") {
        // An offer-less re-INVITE (a refresh): the 2xx must carry an offer; ours is unchanged and
        // the ACK's answer changes nothing (RFC 6337 §5.3).
        const offer = buildCurrentOffer(s.media[y.side]!, s.anchor.path(x.side), s.origins[x.side]);
        const headers: HeaderList = [["Contact", x.contact]];
        this.timerHeaders(s, req, headers);
        headers.push(SDP);
        this.refreshTimer(s);
        req.respond(200, "OK", headers, offer);
        this.watchOk(x, req);
        return;
      }
      this.forwardModify(s, x, y, req, null);
      return;
    }
    const offer = readOffer(getHeader(m, "Content-Type"), m.body);
    if (!offer.ok) {
      req.respond(488, "Not Acceptable Here", [warning(offer.reason)]);
      return;
    }
    const current = s.media[x.side];
    if (!samePath(current?.path, offer.media.path) || !s.anchor.isUsable(x.side)) s.anchor.prepareReplacement(x.side);
    if (!s.anchor.isUsable(y.side)) s.anchor.prepareReplacement(y.side);
    s.anchor.setRemotePath(x.side, offer.media.path);
    this.forwardModify(s, x, y, req, offer);
  }

  private forwardModify(s: PfSession, x: Leg, y: Leg, req: IncomingRequest, offer: Modification["offer"]): void {
    const mod: Modification = { from: x, to: y, req, offer, tx: null };
    s.modification = mod;
    const far = offer === null ? null : wrapLikeOffer(offer, buildFarOffer(offer.media, s.anchor.path(y.side), s.origins[y.side]));
    const body = far === null ? EMPTY : far.body;
    const extra = passedHeaders(req.message.headers, false);
    extra.push(["Contact", y.contact]);
    if (far !== null) extra.push(["Content-Type", far.contentType]);
    const request = this.inDialogRequest(y, req.method, extra, body);
    const cseq = y.localCseq;
    if (req.method === "INVITE") {
      req.transaction.onCancel = () => {
        req.respondNow(487, "Request Terminated");
        if (mod.tx !== null) this.deps.txs.cancel(mod.tx);
      };
    }
    mod.tx = this.deps.txs.send(request, y.flow, {
      onResponse: (_tx, res) => this.onModifyResponse(mod, res, cseq),
      onFailure: () => this.onModifyFailed(mod, 408),
    });
  }

  private onModifyResponse(mod: Modification, res: SipResponse, cseq: number): void {
    const s = mod.from.session;
    const status = res.status;
    if (status < 200) return;
    if (status < 300 && mod.req.method === "INVITE") this.sendAck(mod.to, cseq);
    if (s.modification !== mod) return; // a retransmitted 2xx, or the session moved on
    if (status >= 300) {
      this.onModifyFailed(mod, status, res);
      return;
    }
    s.modification = null;
    const headers = passedHeaders(res.headers, false);
    headers.push(["Contact", mod.from.contact]);
    let body: Buffer = EMPTY;
    if (mod.offer !== null) {
      const answer = readAnswer(getHeader(res, "Content-Type"), res.body);
      const near = answer.ok ? buildNearAnswer(mod.offer.sdp, answer.media, s.anchor.path(mod.from.side), s.origins[mod.from.side]) : answer;
      if (!answer.ok || !near.ok) {
        s.anchor.rollback();
        mod.req.respond(488, "Not Acceptable Here", [warning(`the far end's answer: ${near.ok ? "unusable" : near.reason}`)]);
        return;
      }
      s.media[mod.from.side] = mod.offer.media;
      s.media[mod.to.side] = answer.media;
      s.anchor.setRemotePath(mod.to.side, answer.media.path);
      const reanchored = s.anchor.hasReplacement(0) || s.anchor.hasReplacement(1);
      s.anchor.commit();
      if (reanchored) {
        this.counters.reanchored++;
        this.watchMsrp(s);
      }
      body = near.body;
      headers.push(SDP);
    }
    this.counters.modifications++;
    this.refreshTimer(s);
    mod.req.respond(status, res.reason, headers, body);
    if (mod.req.method === "INVITE") this.watchOk(mod.from, mod.req);
  }

  private onModifyFailed(mod: Modification, status: number, res?: SipResponse): void {
    const s = mod.from.session;
    if (s.modification !== mod) return;
    s.modification = null;
    s.anchor.rollback();
    mod.req.respond(status, res?.reason ?? reasonPhrase(status), res ? passedHeaders(res.headers, false) : undefined);
    // RFC 5057 §5.1: 408/481 to a mid-dialog request mean the far dialog is gone.
    if ((status === 408 || status === 481) && s.state === "established") this.terminate(s, "dialog-gone");
  }

  /** INFO, MESSAGE, OPTIONS, NOTIFY … inside a session: to the other leg and the answer back. */
  private passThrough(x: Leg, req: IncomingRequest): void {
    const s = x.session;
    if (s.state !== "established") {
      req.respond(481, "Call/Transaction Does Not Exist");
      return;
    }
    const y = x.side === 0 ? s.b! : s.a;
    const request = this.inDialogRequest(y, req.method, passedHeaders(req.message.headers, true), req.message.body);
    this.deps.txs.send(request, y.flow, {
      onResponse: (_tx, res) => {
        if (res.status < 200) return;
        req.respond(res.status, res.reason, passedHeaders(res.headers, true), res.body);
        // RFC 5057 §5.1: 481 (and 408) to a mid-dialog request: the far dialog is gone.
        if (res.status === 481 || res.status === 408) this.terminate(s, "dialog-gone");
      },
      onFailure: () => {
        req.respond(408, "Request Timeout");
        this.terminate(s, "dialog-gone");
      },
    });
  }

  // ---- requests we send in a dialog --------------------------------------------------------------

  private inDialogRequest(leg: Leg, method: string, extra: HeaderList, body: Buffer): SipRequest {
    const headers: HeaderList = [["Max-Forwards", "70"]];
    for (const r of leg.routeSet) headers.push(["Route", r]);
    headers.push(["From", leg.local], ["To", leg.remote], ["Call-ID", leg.callId], ["CSeq", `${++leg.localCseq} ${method}`]);
    for (const h of extra) headers.push(h);
    return { kind: "request", method, uri: leg.remoteTarget, headers, body };
  }

  /** ACK for a 2xx (RFC 3261 §13.2.2.4): the INVITE's CSeq number, the dialog's target and route. */
  private sendAck(leg: Leg, cseq: number): void {
    const headers: HeaderList = [["Max-Forwards", "70"]];
    for (const r of leg.routeSet) headers.push(["Route", r]);
    headers.push(["From", leg.local], ["To", leg.remote], ["Call-ID", leg.callId], ["CSeq", `${cseq} ACK`]);
    this.deps.txs.sendAck({ kind: "request", method: "ACK", uri: leg.remoteTarget, headers, body: EMPTY }, leg.flow);
  }

  private sendBye(leg: Leg, reason: string | null): void {
    const extra: HeaderList = reason === null ? [] : [["Reason", reason]];
    extra.push(USER_AGENT);
    this.deps.txs.send(this.inDialogRequest(leg, "BYE", extra, EMPTY), leg.flow, IGNORE);
  }

  /** Session-timer headers of a 2xx to a refresh (the negotiated interval, caller refreshes). */
  private timerHeaders(s: PfSession, req: IncomingRequest, headers: HeaderList): void {
    if (s.sessionExpiresS === 0) return;
    const asked = parseSessionExpires(getHeader(req.message, "Session-Expires"));
    const interval = asked?.deltaS ?? s.sessionExpiresS;
    const refresher = asked?.refresher ?? "uac";
    headers.push(["Session-Expires", `${interval};refresher=${refresher}`]);
  }

  // ---- timers and endings ------------------------------------------------------------------------

  /** Over UDP, retransmit the 2xx to an INVITE until its ACK (RFC 3261 §13.3.1.4). */
  private watchOk(leg: Leg, req: IncomingRequest): void {
    if (leg.flow.transport !== "udp") return;
    leg.okRetransmit?.timer?.cancel();
    const r: OkRetransmit = {
      req,
      cseq: req.cseq,
      intervalMs: this.opts.t1Ms,
      giveUpNs: this.deps.clock.nowNs() + 64 * this.opts.t1Ms * NS_PER_MS,
      timer: null,
    };
    leg.okRetransmit = r;
    const tick = (): void => {
      r.timer = null;
      if (leg.okRetransmit !== r || this.closed) return;
      if (this.deps.clock.nowNs() >= r.giveUpNs) {
        leg.okRetransmit = null;
        if (leg.session.state === "established") this.terminate(leg.session, "ack-timeout");
        return;
      }
      const bytes = r.req.transaction.lastResponse;
      if (bytes !== null && r.req.transaction.lastStatus >= 200) leg.flow.send(bytes);
      r.intervalMs = Math.min(r.intervalMs * 2, this.opts.t2Ms);
      r.timer = this.deps.clock.after(r.intervalMs, () => this.guard(tick));
    };
    r.timer = this.deps.clock.after(r.intervalMs, () => this.guard(tick));
  }

  /** Timer callbacks run here: nothing may throw into the event loop (it would end the server). */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch {
      this.counters.fail("internal-error");
    }
  }

  /** Both clients must bind their MSRP legs within the connect timeout. */
  private watchMsrp(s: PfSession): void {
    if (s.anchor.isBound(0) && s.anchor.isBound(1)) return;
    if (s.msrpDeadline !== null) this.msrpDeadlines.cancel(s.msrpDeadline);
    s.msrpDeadline = this.msrpDeadlines.push(s);
  }

  private settleMsrpDeadline(s: PfSession): void {
    if (s.msrpDeadline === null) return;
    this.msrpDeadlines.cancel(s.msrpDeadline);
    s.msrpDeadline = null;
  }

  private checkMsrpBound(s: PfSession): void {
    s.msrpDeadline = null;
    if (s.state !== "established") return;
    if (s.anchor.isBound(0) && s.anchor.isBound(1)) return;
    // A leg replaced by a re-INVITE a moment ago gets its own full deadline.
    this.terminate(s, "msrp-connect-timeout", 'SIP;cause=408;text="MSRP connection not established"');
  }

  private onMsrpLegLost(s: PfSession, _leg: LegIndex): void {
    // The client may recover with a re-INVITE and a new path (§7.4.4); if it does not within the
    // connect timeout, the session ends.
    if (s.state === "established") this.watchMsrp(s);
  }

  private refreshTimer(s: PfSession): void {
    if (s.sessionExpiresS > 0) s.expiresAtNs = this.deps.clock.nowNs() + s.sessionExpiresS * 1000 * NS_PER_MS;
  }

  private ensureExpirySweep(): void {
    if (this.expirySweep !== null || this.timed.size === 0 || this.closed) return;
    this.expirySweep = this.deps.clock.after(1000, () => {
      this.expirySweep = null;
      const now = this.deps.clock.nowNs();
      for (const s of this.timed) {
        if (s.state !== "established") this.timed.delete(s);
        else if (s.expiresAtNs <= now) this.guard(() => this.terminate(s, "session-expired", 'SIP;cause=408;text="Session expired"'));
      }
      this.ensureExpirySweep();
    });
  }

  /** The PF ends an established session itself: BYE on both legs. */
  private terminate(s: PfSession, cause: string, reason: string | null = null): void {
    if (s.state !== "established") return;
    s.state = "ending";
    const m = s.modification;
    s.modification = null;
    if (m !== null) {
      if (m.tx !== null) this.deps.txs.cancel(m.tx);
      m.req.respond(500, "Server Internal Error");
    }
    this.sendBye(s.a, reason);
    this.sendBye(s.b!, reason);
    this.finish(s, cause);
  }

  /** Release everything the session holds; `cause` null = a normal end (BYE). */
  private finish(s: PfSession, cause: string | null): void {
    if (s.state === "ended") return;
    s.state = "ended";
    if (cause !== null) this.counters.fail(cause);
    this.settleMsrpDeadline(s);
    s.anchor.close();
    this.active.delete(s);
    this.timed.delete(s);
    this.counters.sessionsActive = this.active.size;
    for (const leg of [s.a, s.b]) {
      if (leg === null) continue;
      if (this.dialogs.get(leg.localTag) === leg) this.dialogs.delete(leg.localTag);
      leg.okRetransmit?.timer?.cancel();
      leg.okRetransmit = null;
    }
    this.forgetForks(s);
  }

  private forgetForks(s: PfSession): void {
    for (const f of s.forks) if (!f.done) return;
    s.forks.length = 0;
  }
}

const IGNORE: ClientTransactionUser = { onResponse() {}, onFailure() {} };

function warning(text: string): [string, string] {
  return ["Warning", `399 cpm-serv "${text.replace(/["\\\r\n]/g, " ").slice(0, 200)}"`];
}

/** Same flow: the same TCP connection, or the same UDP source address and port. */
function sameFlow(a: Flow, b: Flow): boolean {
  if (a === b) return true;
  return a.transport === "udp" && b.transport === "udp" && a.remote.address === b.remote.address && a.remote.port === b.remote.port;
}

/** True when `c` should replace `best` as the response for the caller (RFC 3261 §16.7). */
function better(c: Candidate, best: Candidate): boolean {
  const cs = c.status;
  const bs = best.status;
  if (bs >= 600) return false;
  if (cs >= 600) return true;
  const cc = Math.floor(cs / 100);
  const bc = Math.floor(bs / 100);
  if (cc !== bc) return cc < bc;
  // Within a class a real answer beats a synthesized timeout.
  return bs === 408 && cs !== 408;
}
