/**
 * One CPM 1-1 session of a virtual client (§5.2, §7.4.x): a SIP.js Session (Inviter as caller,
 * Invitation as callee) whose media is the MSRP stream of its MsrpSessionDescriptionHandler.
 *
 * Originating (`originate`): an INVITE with the CPM conventions (PROTOCOL.md): P-Preferred-Service
 * and Accept-Contact with the ICSI (`session`, or `largemsg` for §7.3.2), Contribution-ID and
 * Conversation-ID, `Supported: timer` (a UserAgent option) and Session-Expires; the Contact
 * carries +sip.instance and the ICSI feature tags (VirtualClient sets that up). The outcome says
 * when the 200 came and when the MSRP leg was bound, or why it failed (a counter suffix):
 * `status.<code>`, `timeout` (no final answer within requestTimeoutMs: CANCEL sent),
 * `msrp_connect_timeout` (the leg did not bind in time, or the far end — the PF's MSRP connect
 * timer — ended the session before it did), `msrp_connect_failed`, `msrp_status.<code>`,
 * `transport`, `no_peer`.
 *
 * Messages: `send()` wraps content in CPIM with a cpm-load stamp (message-stamp.ts) and records
 * msrp_send and the message counters; every whole message received records message_delivery
 * (stamp → now), messages.received, and goes to the client's observer. A callee whose AnswerPlan
 * says `echo` sends every chat message back. Control messages (CONTROL_CONTENT_TYPE) are handled
 * here: `bye` makes this end send BYE.
 *
 * Session timers (RFC 4028): when the 200 names us (the caller) as refresher, a re-INVITE with the
 * current SDP goes out at half the interval, so long runs are not ended by the PF's expiry sweep.
 *
 * Receivers of large messages keep no bodies (MsrpSessionOptions.keepBodies false): the stamp is
 * then read from the first chunk as it arrives (the session's request handler is wrapped for
 * that; the MSRP layer has no per-chunk observer for a reassembling session).
 */
import { Inviter } from "sip.js/lib/api/inviter.js";
import type { Session } from "sip.js/lib/api/session.js";
import { SessionState } from "sip.js/lib/api/session-state.js";
import { UserAgent } from "sip.js/lib/api/user-agent.js";
import type { IncomingResponse } from "sip.js/lib/core/messages/incoming-response.js";
import { Counter, Gauge, Latency } from "../metrics/names.js";
import type { MetricsSink } from "../metrics/sink.js";
import { getContentHeader, getCpimHeader, parseCpim } from "../protocol/cpim/index.js";
import { parseByteRange } from "../protocol/msrp/byte-range.js";
import { getMsrpHeader, type MsrpRequest } from "../protocol/msrp/message.js";
import type { MsrpIncomingMessage, MsrpSendResult, MsrpSession } from "../protocol/msrp/session.js";
import { MsrpSessionError } from "../protocol/msrp/session-error.js";
import { randomTransactionId } from "../protocol/msrp/transaction-id.js";
import type { Clock, TimerHandle } from "../time/clock.js";
import {
  buildCpim,
  CONTROL_CONTENT_TYPE,
  type ControlAction,
  controlContent,
  cpimHead,
  type CpimEnvelope,
  type MessageStamp,
  patternStream,
  type PeekedHead,
  peekCpimHead,
  readControl,
  readStamp,
} from "./message-stamp.js";
import { type MsrpSdhCallOptions, MsrpSessionDescriptionHandler } from "./msrp-sdh.js";

export const SESSION_ICSI = "urn:urn-7:3gpp-service.ims.icsi.oma.cpm.session";
export const LARGEMSG_ICSI = "urn:urn-7:3gpp-service.ims.icsi.oma.cpm.largemsg";

export type CpmSessionKind = "chat" | "large";
export type CpmSessionRole = "caller" | "callee";

/** A whole message a client received (for observers: tests, tools). */
export interface ReceivedCpmMessage {
  /** The receiving client's user. */
  user: string;
  kind: CpmSessionKind;
  /** CPIM From, when the body was kept. */
  from: string | undefined;
  contentType: string | undefined;
  /** The CPIM content; empty when the session keeps no bodies (large messages by default). */
  content: Buffer;
  contentBytes: number;
  stamp: MessageStamp | undefined;
  receivedNs: number;
}

/** What a session needs from its client. */
export interface SessionHost {
  readonly user: string;
  /** `sip:user@domain`: CPIM From. */
  readonly aor: string;
  readonly metrics: MetricsSink;
  readonly clock: Clock;
  readonly requestTimeoutMs: number;
  /** Session-Expires of our INVITEs in seconds; 0 = no session timer. */
  readonly sessionExpiresS: number;
  /** Terminating behaviour for chat messages. */
  readonly reply: "none" | "echo";
  readonly onMessage: ((m: ReceivedCpmMessage) => void) | undefined;
  /**
   * True once the client is being disposed (end of run): what fails because of it — sends cut
   * short, INVITEs abandoned — is not counted as a failure.
   */
  readonly stopping: boolean;
  sessionStarted(s: CpmSession): void;
  sessionEnded(s: CpmSession): void;
}

/** Outcome of a procedure that can fail: a counter suffix says why. */
export type Outcome = { ok: true } | { ok: false; failure: string };

export interface OutgoingMessage {
  contentType: string;
  /** Whole content (chat); or `stream` for a large message generated on the fly. */
  content?: Buffer;
  stream?: { size: number; offset: number };
  chunkSize?: number;
  /** The scheduled send time (corrected latencies); default: when it was handed to MSRP. */
  intendedNs?: number;
  imdn?: boolean;
  successReport?: boolean;
  /** Default `yes`; `partial`: only errors are answered, the success REPORT confirms. */
  failureReport?: "yes" | "partial";
}

export interface SendOutcome {
  ok: boolean;
  failure?: string;
  result?: MsrpSendResult;
}

/** Counter suffix for a failed MSRP send (`status.<code>`, `timeout`, `connection_lost`…). */
export function msrpFailure(r: Pick<MsrpSendResult, "status" | "error">): string {
  const e = r.error;
  if (e === undefined) return r.status > 0 ? `status.${r.status}` : "unknown";
  switch (e.code) {
    case "msrp-status":
      return `status.${e.status ?? r.status}`;
    case "msrp-transaction-timeout":
    case "msrp-report-timeout":
      return "timeout";
    default:
      return e.code.replace(/^msrp-/, "").replaceAll("-", "_");
  }
}

/** Counter suffix for an MSRP leg that did not become ready. */
function readyFailure(e: unknown): string {
  if (!(e instanceof MsrpSessionError)) return "terminated";
  switch (e.code) {
    case "msrp-connect-timeout":
      return "msrp_connect_timeout";
    case "msrp-connect-failed":
      return "msrp_connect_failed";
    case "msrp-status":
      return `msrp_status.${e.status ?? 0}`;
    default:
      return e.code.replace(/^msrp-/, "msrp_").replaceAll("-", "_");
  }
}

/** `+g.3gpp.icsi-ref` value form of an ICSI (":" percent-encoded). */
export function encodeIcsi(icsi: string): string {
  return icsi.replaceAll(":", "%3A");
}

/** True when an incoming INVITE asks for the large-message service (§7.3.2). */
export function isLargeMessageRequest(headerValues: readonly string[]): boolean {
  return headerValues.some((v) => v.includes("oma.cpm.largemsg"));
}

// sessions.active is one gauge per worker: every client of the worker shares its MetricsSink.
const activeBySink = new WeakMap<MetricsSink, { n: number }>();
function adjustActive(metrics: MetricsSink, delta: number): void {
  let a = activeBySink.get(metrics);
  if (a === undefined) activeBySink.set(metrics, (a = { n: 0 }));
  a.n = Math.max(0, a.n + delta);
  metrics.gauge(Gauge.activeSessions, a.n);
}

/**
 * A SIP transaction's outcome: the first `finish` settles it (later calls — a response after the
 * timeout, a transport error after a response — are ignored); none within `timeoutMs` is `timeout`
 * (`T` adds only optional fields to Outcome, so the bare timeout failure is one).
 */
function firstOutcome<T extends Outcome>(clock: Clock, timeoutMs: number, start: (finish: (o: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve) => {
    let done = false;
    const finish = (o: T): void => {
      if (done) return;
      done = true;
      timer.cancel();
      resolve(o);
    };
    const timer = clock.after(timeoutMs, () => finish({ ok: false, failure: "timeout" } as T));
    start(finish);
  });
}

/** re-INVITEs repeated at the far end's request (491, 500 + Retry-After): see sendReinvite. */
export const REINVITE_RETRIES = Counter.reinviteRetries;
const MAX_REINVITE_ATTEMPTS = 4;

/**
 * How long to wait before repeating a refused re-INVITE, or undefined when the refusal is final:
 * 491 → RFC 3261 §14.1 (in 10 ms units); 500 with Retry-After → its seconds (RFC 3261 §20.33,
 * the comment and parameters ignored).
 */
export function retryDelayMs(status: number, retryAfter: string | undefined, callIdOwner: boolean, random: () => number = Math.random): number | undefined {
  if (status === 491) return callIdOwner ? 2100 + Math.floor(random() * 191) * 10 : Math.floor(random() * 201) * 10;
  if (status !== 500 || retryAfter === undefined) return undefined;
  const m = /^\s*(\d+)/.exec(retryAfter);
  return m === null ? undefined : Number(m[1]) * 1000;
}

/** Bounded: a sender that never finishes its messages must not grow the table. */
const PEEK_LIMIT = 256;

export class CpmSession {
  sdh: MsrpSessionDescriptionHandler | undefined;
  /** The far end sent BYE. */
  byeReceived = false;
  private readonly host: SessionHost;
  private activeCounted = false;
  private ended = false;
  private endedResolve!: () => void;
  /** Resolves when the SIP session is terminated (or the session was abandoned). */
  readonly ended$: Promise<void>;
  private refreshTimer: TimerHandle | undefined;
  /** Negotiated session interval (s) when we refresh; 0 = no refreshes. */
  private refreshIntervalS = 0;
  private readonly peeked = new Map<string, PeekedHead>();
  /** Whole messages received (control messages excluded), and who waits for a count. */
  receivedCount = 0;
  private countWaiters: Array<{ count: number; resolve: (ok: boolean) => void; timer: TimerHandle }> = [];
  /** Set while an originate() waits: abandoning the session settles it at once. */
  onAbandon: (() => void) | undefined;
  private readonly watched = new WeakSet<MsrpSession>();

  constructor(
    host: SessionHost,
    readonly sip: Session,
    readonly role: CpmSessionRole,
    readonly kind: CpmSessionKind,
    /** The peer's URI (CPIM To). */
    readonly peerUri: string,
    /** SDH options of our offers (kept for refreshes). */
    readonly callOptions: MsrpSdhCallOptions,
    /** False: received messages are tracked to completion without their bytes. */
    readonly keepBodies: boolean,
  ) {
    this.host = host;
    this.ended$ = new Promise<void>((resolve) => (this.endedResolve = resolve));
    sip.delegate = {
      ...sip.delegate,
      onBye: (bye) => {
        this.byeReceived = true;
        void bye.accept().catch(() => undefined);
      },
      onSessionDescriptionHandler: (sdh) => {
        if (sdh instanceof MsrpSessionDescriptionHandler) this.attach(sdh);
      },
    };
    sip.stateChange.addListener((state) => {
      if (state === SessionState.Terminated) this.finish();
    });
    host.sessionStarted(this);
  }

  get isOpen(): boolean {
    return !this.ended && this.sip.state === SessionState.Established;
  }

  get msrpSession(): MsrpSession | undefined {
    return this.sdh?.msrpSession;
  }

  /** The leg bound: counts the session in sessions.active (originated sessions only). */
  markReady(): void {
    if (this.role !== "caller" || this.activeCounted || this.ended) return;
    this.activeCounted = true;
    adjustActive(this.host.metrics, +1);
  }

  /**
   * A 2xx to our INVITE or re-INVITE: (re)arms the session-timer refresh when we are the
   * refresher. A 2xx to a refresh without Session-Expires keeps the interval negotiated before
   * **[choice]**: RFC 4028 would read it as "no expiry", but a PF that still enforces the first
   * interval would then end the session.
   */
  accepted(response: IncomingResponse): void {
    if (this.role !== "caller") return;
    const value = response.message.getHeader("Session-Expires");
    if (value !== undefined) {
      const m = /^\s*(\d+)\s*(?:;(.*))?$/.exec(value);
      const refresher = m ? /refresher\s*=\s*(uac|uas)/i.exec(m[2] ?? "")?.[1]?.toLowerCase() : undefined;
      this.refreshIntervalS = m && refresher !== "uas" ? Number(m[1]) : 0;
    }
    if (this.refreshIntervalS <= 0 || this.ended) return;
    this.refreshTimer?.cancel();
    this.refreshTimer = this.host.clock.after((this.refreshIntervalS * 1000) / 2, () => this.refresh());
  }

  // ---- messages ---------------------------------------------------------------------------

  /** Sends one CPIM message on the current MSRP leg; records msrp_send and the message counters. */
  async send(msg: OutgoingMessage): Promise<SendOutcome> {
    const { metrics, clock } = this.host;
    metrics.count(Counter.msrpSendAttempts);
    const ms = this.msrpSession;
    if (ms === undefined || ms.closed || this.ended) {
      if (!this.host.stopping) metrics.count(`${Counter.msrpSendFailures}.session_closed`);
      return { ok: false, failure: "session_closed" };
    }
    const sentAtNs = clock.nowNs();
    const envelope = this.envelope(msg.contentType, { sentAtNs, ...(msg.intendedNs !== undefined && { intendedNs: msg.intendedNs }) }, msg.imdn);
    let contentBytes: number;
    let result: MsrpSendResult;
    const options = {
      contentType: "message/cpim",
      ...(msg.chunkSize !== undefined && { chunkSize: msg.chunkSize }),
      ...(msg.successReport === true && { successReport: true }),
      ...(msg.failureReport === "partial" && { failureReport: "partial" as const }),
    };
    if (msg.stream !== undefined) {
      contentBytes = msg.stream.size;
      const head = cpimHead(envelope, contentBytes);
      result = await ms.send(patternStream(head, contentBytes, msg.stream.offset, msg.chunkSize ?? ms.chunkSize), { ...options, totalBytes: head.length + contentBytes });
    } else {
      const content = msg.content ?? Buffer.alloc(0);
      contentBytes = content.length;
      result = await ms.send(buildCpim(envelope, content), options);
    }
    if (!result.ok) {
      const failure = msrpFailure(result);
      if (!this.host.stopping) metrics.count(`${Counter.msrpSendFailures}.${failure}`);
      return { ok: false, failure, result };
    }
    const answeredNs = result.answeredUs !== undefined ? result.startNs + result.answeredUs * 1000 : result.endNs;
    const serviceUs = Math.max(0, (answeredNs - result.startNs) / 1000);
    const latencyUs = msg.intendedNs === undefined ? serviceUs : Math.max(0, (answeredNs - msg.intendedNs) / 1000);
    metrics.latency(Latency.msrpSend, latencyUs, serviceUs);
    metrics.count(Counter.msrpSendSuccesses);
    metrics.count(Counter.messagesSent);
    metrics.count(Counter.messageBytesSent, contentBytes);
    return { ok: true, result };
  }

  /**
   * A control request to the other cpm-load end (not counted as a message); the failure is a
   * counter suffix as for messages (`session_closed`, `connection_lost`, `status.<code>`…).
   */
  async sendControl(action: ControlAction): Promise<Outcome> {
    const ms = this.msrpSession;
    if (ms === undefined || ms.closed || this.ended) return { ok: false, failure: "session_closed" };
    const envelope = this.envelope(CONTROL_CONTENT_TYPE, { sentAtNs: this.host.clock.nowNs() }, false);
    const r = await ms.send(buildCpim(envelope, controlContent(action)), { contentType: "message/cpim" });
    return r.ok ? { ok: true } : { ok: false, failure: msrpFailure(r) };
  }

  private envelope(contentType: string, stamp: MessageStamp, imdn: boolean | undefined): CpimEnvelope {
    return {
      from: this.host.aor,
      to: this.peerUri,
      messageId: randomTransactionId(16),
      dateMs: this.host.clock.nowMs(),
      stamp,
      contentType,
      imdn: imdn === true,
    };
  }

  // ---- SIP procedures ----------------------------------------------------------------------

  /** BYE (§7.4.3); resolves with the outcome (`status.<code>`, `timeout`, `transport`, `no_session`). */
  bye(): Promise<Outcome> {
    if (this.sip.state !== SessionState.Established) return Promise.resolve({ ok: false, failure: "no_session" });
    return firstOutcome<Outcome>(this.host.clock, this.host.requestTimeoutMs, (finish) => {
      this.sip
        .bye({
          requestDelegate: {
            onAccept: () => finish({ ok: true }),
            onReject: (r) => finish({ ok: false, failure: `status.${r.message.statusCode ?? 0}` }),
            onRedirect: (r) => finish({ ok: false, failure: `status.${r.message.statusCode ?? 0}` }),
          },
        })
        .catch(() => finish({ ok: false, failure: "transport" }));
    });
  }

  /**
   * re-INVITE (§7.4.4). `renew`: the MSRP connection is dropped first (a TCP failure, as a
   * handset losing its bearer) and the offer names a new MSRP session; success needs the new
   * leg bound. A connection that also carries other sessions is not torn down (they belong to
   * other iterations): only this session's MSRP session is closed, which equally forces a new
   * path **[choice]**.
   */
  async reinvite(renew: boolean): Promise<Outcome> {
    if (this.sip.state !== SessionState.Established) return { ok: false, failure: "no_session" };
    if (renew) await this.dropMsrp();
    const outcome = await this.sendReinvite({ ...this.callOptions, renew });
    if (!outcome.ok || !renew) return outcome;
    const sdh = this.sdh;
    if (sdh === undefined) return { ok: false, failure: "msrp_connect_timeout" };
    try {
      await sdh.ready;
      return { ok: true };
    } catch (e) {
      return { ok: false, failure: this.byeReceived ? "msrp_connect_timeout" : readyFailure(e) };
    }
  }

  /**
   * One re-INVITE transaction, repeated when the far end asks for it: 491 (offers crossed, RFC
   * 3261 §14.1: after 2.1-4 s when we own the Call-ID — we sent the initial INVITE — else 0-2 s)
   * or 500 with Retry-After (§14.2: the far end still works on an earlier INVITE/ACK; wait as
   * long as it says). A repeat is counted in reinvite.retries, not as a failure; it is made only
   * while it fits in requestTimeoutMs from the first send, else the refusal is the outcome.
   */
  private async sendReinvite(options: MsrpSdhCallOptions): Promise<Outcome> {
    const { clock } = this.host;
    const deadlineNs = clock.nowNs() + this.host.requestTimeoutMs * 1e6;
    for (let attempt = 1; ; attempt++) {
      const r = await this.reinviteOnce(options, (deadlineNs - clock.nowNs()) / 1e6);
      if (r.ok || r.retryAfterMs === undefined || attempt >= MAX_REINVITE_ATTEMPTS) return r;
      if (clock.nowNs() + r.retryAfterMs * 1e6 >= deadlineNs || !this.isOpen) return r;
      this.host.metrics.count(REINVITE_RETRIES);
      if (!(await this.sleepWhileOpen(r.retryAfterMs))) return { ok: false, failure: "no_session" };
    }
  }

  private reinviteOnce(options: MsrpSdhCallOptions, timeoutMs: number): Promise<Outcome & { retryAfterMs?: number }> {
    return firstOutcome<Outcome & { retryAfterMs?: number }>(this.host.clock, Math.max(0, timeoutMs), (finish) => {
      this.sip
        .invite({
          sessionDescriptionHandlerOptions: options,
          requestDelegate: {
            onAccept: (r) => {
              this.accepted(r);
              finish(this.sip.state === SessionState.Established ? { ok: true } : { ok: false, failure: "bad_answer" });
            },
            onReject: (r) => {
              const status = r.message.statusCode ?? 0;
              const retryAfterMs = retryDelayMs(status, r.message.getHeader("Retry-After"), this.role === "caller");
              finish({ ok: false, failure: `status.${status}`, ...(retryAfterMs !== undefined && { retryAfterMs }) });
            },
          },
        })
        .catch(() => finish({ ok: false, failure: "glare" }));
    });
  }

  /** Resolves true after `ms`, false as soon as the session ends. */
  private sleepWhileOpen(ms: number): Promise<boolean> {
    if (this.ended) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const timer = this.host.clock.after(ms, () => resolve(this.isOpen));
      void this.ended$.then(() => {
        timer.cancel();
        resolve(false);
      });
    });
  }

  private async dropMsrp(): Promise<void> {
    const ms = this.msrpSession;
    if (ms === undefined || ms.closed) return;
    const closed = new Promise<void>((resolve) => ms.once("close", () => resolve()));
    const conn = ms.connection;
    if (conn !== undefined && !conn.closed && conn.sessions.size === 1 && conn.sessions.get(ms.localSessionId) === ms) {
      conn.socket.destroy();
    } else {
      void ms.close();
    }
    await closed;
  }

  /** Session-timer refresh: a re-INVITE with the current stream; a failed one is retried once later. */
  private refresh(): void {
    this.refreshTimer = undefined;
    if (!this.isOpen) return;
    void this.sendReinvite({ ...this.callOptions, renew: false }).then((o) => {
      if (!o.ok && this.isOpen && this.refreshTimer === undefined) {
        this.refreshTimer = this.host.clock.after(Math.min(30_000, this.host.requestTimeoutMs), () => this.refresh());
      }
    });
  }

  /** Dispose path: no SIP, just local resources (the client's UserAgent is going away). */
  abandon(): void {
    this.sdh?.close();
    this.finish();
    this.onAbandon?.();
  }

  /** Resolves true once `count` messages were received in this session, false after `ms` or at its end. */
  waitReceived(count: number, ms: number): Promise<boolean> {
    if (this.receivedCount >= count) return Promise.resolve(true);
    if (this.ended) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const entry = {
        count,
        resolve,
        timer: this.host.clock.after(ms, () => {
          this.countWaiters = this.countWaiters.filter((w) => w !== entry);
          resolve(false);
        }),
      };
      this.countWaiters.push(entry);
    });
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.refreshTimer?.cancel();
    this.refreshTimer = undefined;
    this.peeked.clear();
    for (const w of this.countWaiters.splice(0)) {
      w.timer.cancel();
      w.resolve(false);
    }
    if (this.activeCounted) adjustActive(this.host.metrics, -1);
    this.activeCounted = false;
    this.host.sessionEnded(this);
    this.endedResolve();
  }

  /** Resolves true when the session ended within `ms`, false otherwise. */
  waitEnded(ms: number): Promise<boolean> {
    if (this.ended) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = this.host.clock.after(ms, () => resolve(false));
      void this.ended$.then(() => {
        timer.cancel();
        resolve(true);
      });
    });
  }

  // ---- receiving ---------------------------------------------------------------------------

  private attach(sdh: MsrpSessionDescriptionHandler): void {
    this.sdh = sdh;
    sdh.delegate = { onMsrpSession: (s) => this.watch(s) };
    const current = sdh.msrpSession;
    if (current !== undefined) this.watch(current);
  }

  private watch(s: MsrpSession): void {
    if (this.watched.has(s)) return;
    this.watched.add(s);
    s.on("message", (m) => this.onIncoming(m));
    if (this.keepBodies) return;
    const handle = s.handleRequest.bind(s);
    s.handleRequest = (req, conn) => {
      if (req.method === "SEND") this.peek(req);
      handle(req, conn);
    };
  }

  private peek(req: MsrpRequest): void {
    if (req.body.length === 0) return;
    const range = parseByteRange(getMsrpHeader(req, "Byte-Range") ?? "1-*/*");
    if (range === null || range.start !== 1) return;
    const id = getMsrpHeader(req, "Message-ID")?.trim();
    if (id === undefined || this.peeked.has(id)) return;
    const head = peekCpimHead(req.body);
    if (head === undefined) return;
    if (this.peeked.size >= PEEK_LIMIT) this.peeked.delete(this.peeked.keys().next().value!);
    this.peeked.set(id, head);
  }

  private onIncoming(m: MsrpIncomingMessage): void {
    const { metrics } = this.host;
    let stamp: MessageStamp | undefined;
    let contentType: string | undefined;
    let content: Buffer = Buffer.alloc(0);
    let contentBytes: number;
    let from: string | undefined;
    if (m.body.length > 0) {
      const parsed = parseCpim(m.body);
      if (!parsed.ok) {
        // Not CPIM (another sender): a message all the same, without a stamp to measure.
        this.countReceived(m.size);
        metrics.count(Counter.messagesUnstamped);
        return;
      }
      contentType = getContentHeader(parsed.message, "Content-Type")?.trim();
      content = parsed.message.body;
      contentBytes = content.length;
      stamp = readStamp(parsed.message);
      from = getCpimHeader(parsed.message, "From");
    } else {
      const head = this.peeked.get(m.messageId);
      this.peeked.delete(m.messageId);
      stamp = head?.stamp;
      contentType = head?.contentType;
      contentBytes = head === undefined ? m.size : Math.max(0, m.size - head.headBytes);
    }
    if (contentType?.toLowerCase().startsWith(CONTROL_CONTENT_TYPE)) {
      if (readControl(content) === "bye") void this.bye();
      return;
    }
    const now = m.receivedNs;
    this.countReceived(contentBytes);
    if (stamp !== undefined) {
      const serviceUs = Math.max(0, (now - stamp.sentAtNs) / 1000);
      const latencyUs = stamp.intendedNs === undefined ? serviceUs : Math.max(0, (now - stamp.intendedNs) / 1000);
      metrics.latency(Latency.messageDelivery, latencyUs, serviceUs);
    } else {
      metrics.count(Counter.messagesUnstamped);
    }
    this.host.onMessage?.({ user: this.host.user, kind: this.kind, from, contentType, content, contentBytes, stamp, receivedNs: now });
    if (this.role === "callee" && this.kind === "chat" && this.host.reply === "echo" && contentType !== undefined) {
      void this.send({ contentType, content });
    }
  }

  private countReceived(bytes: number): void {
    this.host.metrics.count(Counter.messagesReceived);
    this.host.metrics.count(Counter.messageBytesReceived, bytes);
    this.receivedCount++;
    if (this.countWaiters.length === 0) return;
    this.countWaiters = this.countWaiters.filter((w) => {
      if (this.receivedCount < w.count) return true;
      w.timer.cancel();
      w.resolve(true);
      return false;
    });
  }
}

// -------------------------------------------------------------------------------------------------
// Originating

export interface OriginateOptions {
  target: string;
  kind: CpmSessionKind;
  subject?: string;
  callOptions: MsrpSdhCallOptions;
  keepBodies: boolean;
}

export type OriginateResult =
  | { ok: true; session: CpmSession; sentNs: number; okNs: number; readyNs: number }
  | { ok: false; failure: string; sentNs: number; okNs?: number };

/** Sends the INVITE and waits for the 200 and the MSRP leg; see the module comment. */
export function originate(host: SessionHost, ua: UserAgent, opts: OriginateOptions): Promise<OriginateResult> {
  const sentNs = host.clock.nowNs();
  const uri = UserAgent.makeURI(opts.target);
  if (uri === undefined) return Promise.resolve({ ok: false, failure: "no_peer", sentNs });
  const icsi = opts.kind === "large" ? LARGEMSG_ICSI : SESSION_ICSI;
  const extraHeaders = [
    `P-Preferred-Service: ${icsi}`,
    `Accept-Contact: *;+g.3gpp.icsi-ref="${encodeIcsi(icsi)}"`,
    `Contribution-ID: ${randomTransactionId(32)}`,
    `Conversation-ID: ${randomTransactionId(32)}`,
  ];
  if (host.sessionExpiresS > 0) extraHeaders.push(`Session-Expires: ${host.sessionExpiresS}`);
  if (opts.subject !== undefined) extraHeaders.push(`Subject: ${opts.subject}`);
  let inviter: Inviter;
  try {
    inviter = new Inviter(ua, uri, { extraHeaders, sessionDescriptionHandlerOptions: opts.callOptions });
  } catch {
    return Promise.resolve({ ok: false, failure: "no_peer", sentNs });
  }
  const session = new CpmSession(host, inviter, "caller", opts.kind, opts.target, opts.callOptions, opts.keepBodies);
  return new Promise<OriginateResult>((resolve) => {
    let settled = false;
    let answered = false;
    const finish = (r: OriginateResult): void => {
      if (settled) return;
      settled = true;
      session.onAbandon = undefined;
      timer.cancel();
      resolve(r);
    };
    // The client is being disposed: settle now (the caller does not count `aborted` as a failure).
    session.onAbandon = () => fail("aborted");
    const fail = (failure: string, okNs?: number): void => {
      finish(okNs === undefined ? { ok: false, failure, sentNs } : { ok: false, failure, sentNs, okNs });
    };
    const timer = host.clock.after(host.requestTimeoutMs, () => {
      if (answered) return;
      // CANCEL (SIP.js ACKs and BYEs a 200 that crosses it); the session ends by itself.
      inviter.cancel().catch(() => session.abandon());
      fail("timeout");
    });
    inviter
      .invite({
        requestDelegate: {
          onAccept: (response) => {
            if (settled) return;
            answered = true;
            timer.cancel();
            const okNs = host.clock.nowNs();
            if (inviter.state !== SessionState.Established || session.sdh === undefined) {
              fail(session.byeReceived ? "msrp_connect_timeout" : "bad_answer", okNs);
              return;
            }
            session.accepted(response);
            session.sdh.ready.then(
              () => {
                if (!session.isOpen) return fail("msrp_connect_timeout", okNs);
                session.markReady();
                finish({ ok: true, session, sentNs, okNs, readyNs: host.clock.nowNs() });
              },
              (e: unknown) => {
                // The PF ends a session whose legs do not bind (BYE with cause 408): same failure.
                fail(session.byeReceived ? "msrp_connect_timeout" : readyFailure(e), okNs);
                if (session.isOpen) void session.bye();
              },
            );
          },
          onReject: (r) => {
            answered = true;
            fail(`status.${r.message.statusCode ?? 0}`);
          },
          onRedirect: (r) => {
            answered = true;
            fail(`status.${r.message.statusCode ?? 0}`);
          },
        },
      })
      .catch(() => {
        session.abandon();
        fail("transport");
      });
  });
}

