/**
 * The session side of one VirtualClient: the SessionDescriptionHandler factory of its UserAgent,
 * its answers to incoming INVITEs (terminating.ts), the session steps of scenario iterations
 * (invite, send, bye, reinvite, largeMessage) and the sessions it holds.
 *
 * Steps and their counters (names.ts):
 * - invite: session.attempts → session.successes | session.failures.<why>; latencies
 *   session_setup (INVITE → 200) and session_ready (INVITE → MSRP leg bound), corrected from the
 *   step's intended start, service from the INVITE. The session becomes the iteration's current
 *   one (ctx.state.session); an earlier one still open is closed first (BYE, not counted).
 * - send: `count` messages at intendedStart + i·intervalMs (absolute, no drift; a late start
 *   sends the overdue ones at once), sizes and payload offsets from the iteration's seeded PRNG;
 *   each message records msrp_send (see CpmSession.send). Messages do not wait for each other.
 * - bye: by caller, a BYE; by callee, a control message asking the peer to send BYE (see
 *   message-stamp.ts), success when it arrived within requestTimeoutMs. bye.attempts / successes /
 *   failures.<why>.
 * - reinvite: re-INVITE, with renewMsrp the MSRP connection is dropped first and the step needs
 *   the new leg bound. reinvite.attempts / successes / failures.<why>.
 * - largeMessage: large-message.ts.
 * A step that needs the current session when there is none fails with `no_session`.
 */
import type { Invitation } from "sip.js/lib/api/invitation.js";
import type { Session } from "sip.js/lib/api/session.js";
import type { SessionDescriptionHandlerFactory } from "sip.js/lib/api/session-description-handler-factory.js";
import type { UserAgent } from "sip.js/lib/api/user-agent.js";
import { Counter, Latency } from "../metrics/names.js";
import type { MetricsSink } from "../metrics/sink.js";
import type { MsrpEndpoint } from "../protocol/msrp/endpoint.js";
import type { AnswerPlan, ByeStepPlan, InviteStepPlan, ReinviteStepPlan, SendStepPlan, StepPlan } from "../scenario/plan.js";
import type { Clock, TimerHandle } from "../time/clock.js";
import { CpmSession, originate, type ReceivedCpmMessage, type SendOutcome } from "./cpm-session.js";
import type { IterationContext } from "./iteration-context.js";
import { runLargeMessage } from "./large-message.js";
import { drawSize, payloadBytes, payloadOffset } from "./message-stamp.js";
import { MsrpSessionDescriptionHandler, type MsrpSdhSessionOptions } from "./msrp-sdh.js";
import { answerInvitation, DEFAULT_ANSWER, type TerminatingHost } from "./terminating.js";

/** Control send failures that the session's end also causes (see `bye`). */
const LOST_WITH_SESSION: ReadonlySet<string> = new Set(["session_closed", "connection_lost"]);

export type SessionStepPlan = InviteStepPlan | SendStepPlan | ByeStepPlan | ReinviteStepPlan | Extract<StepPlan, { kind: "largeMessage" }>;

export function isSessionStep(step: StepPlan): step is SessionStepPlan {
  return step.kind === "invite" || step.kind === "send" || step.kind === "bye" || step.kind === "reinvite" || step.kind === "largeMessage";
}

export interface ClientSessionsOptions {
  user: string;
  domain: string;
  metrics: MetricsSink;
  clock: Clock;
  requestTimeoutMs: number;
  /** The worker's MSRP endpoint; without it the client can neither originate nor answer sessions. */
  msrp: MsrpEndpoint | undefined;
  /** Only sessions of the same group share an MSRP connection (undefined: the whole endpoint). */
  connectionGroup: string | undefined;
  answer: AnswerPlan | undefined;
  random: () => number;
  sessionExpiresS: number;
  msrpConnectTimeoutMs: number;
  msrpTransactionTimeoutMs: number;
  keepLargeMessageBodies: boolean;
  onMessage: ((m: ReceivedCpmMessage) => void) | undefined;
}

export class ClientSessions implements TerminatingHost {
  readonly user: string;
  readonly aor: string;
  readonly metrics: MetricsSink;
  readonly clock: Clock;
  readonly requestTimeoutMs: number;
  readonly sessionExpiresS: number;
  readonly answer: AnswerPlan;
  readonly random: () => number;
  readonly keepLargeMessageBodies: boolean;
  readonly onMessage: ((m: ReceivedCpmMessage) => void) | undefined;
  /** The UserAgent's sessionDescriptionHandlerFactory, when the client has an MSRP endpoint. */
  readonly sdhFactory: SessionDescriptionHandlerFactory | undefined;
  private readonly opts: ClientSessionsOptions;
  private readonly live = new Set<CpmSession>();
  /** The live sessions by their SIP.js session (a Map: a WeakMap entry per session costs the GC more). */
  private readonly bySip = new Map<Session, CpmSession>();
  private readonly waits = new Set<{ timer: TimerHandle; resolve: (ok: boolean) => void }>();
  private disposed = false;

  constructor(
    opts: ClientSessionsOptions,
    private readonly ua: () => UserAgent | undefined,
  ) {
    this.opts = opts;
    this.user = opts.user;
    this.aor = `sip:${opts.user}@${opts.domain}`;
    this.metrics = opts.metrics;
    this.clock = opts.clock;
    this.requestTimeoutMs = opts.requestTimeoutMs;
    this.sessionExpiresS = opts.sessionExpiresS;
    this.answer = opts.answer ?? DEFAULT_ANSWER;
    this.random = opts.random;
    this.keepLargeMessageBodies = opts.keepLargeMessageBodies;
    this.onMessage = opts.onMessage;
    const endpoint = opts.msrp;
    this.sdhFactory =
      endpoint === undefined
        ? undefined
        : (session: Session) => new MsrpSessionDescriptionHandler(endpoint, { originUsername: opts.user }, this.msrpOptions(session));
  }

  get reply(): "none" | "echo" {
    return this.answer.reply;
  }

  get stopping(): boolean {
    return this.disposed;
  }

  get canAnswer(): boolean {
    return this.opts.msrp !== undefined && !this.disposed;
  }

  /** Sessions (both roles) not yet ended. */
  get sessionCount(): number {
    return this.live.size;
  }

  sessionStarted(s: CpmSession): void {
    this.live.add(s);
    this.bySip.set(s.sip, s);
  }

  sessionEnded(s: CpmSession): void {
    this.live.delete(s);
    if (this.bySip.get(s.sip) === s) this.bySip.delete(s.sip);
  }

  onInvite(invitation: Invitation): void {
    answerInvitation(this, invitation);
  }

  async run(step: SessionStepPlan, intendedNs: number, ctx: IterationContext): Promise<boolean> {
    if (this.disposed) return false;
    switch (step.kind) {
      case "invite":
        return this.invite(step, intendedNs, ctx);
      case "send":
        return this.send(step, intendedNs, ctx);
      case "bye":
        return this.bye(step, ctx);
      case "reinvite":
        return this.reinvite(step, ctx);
      case "largeMessage":
        return this.opts.msrp === undefined
          ? this.fail(Counter.largeMessageFailures, "no_msrp", Counter.largeMessageAttempts)
          : runLargeMessage(this, this.ua(), step, intendedNs, ctx);
    }
  }

  /** Closes (BYE, not counted) the session an iteration left open. */
  async endIteration(ctx: IterationContext): Promise<void> {
    const s = ctx.state.session;
    ctx.state.session = undefined;
    if (s instanceof CpmSession && s.isOpen) await s.bye();
  }

  /** The UserAgent is going away: release every session's MSRP side without SIP. */
  abandonAll(): void {
    for (const s of [...this.live]) s.abandon();
  }

  dispose(): void {
    this.disposed = true;
    for (const w of this.waits) {
      w.timer.cancel();
      w.resolve(false);
    }
    this.waits.clear();
    this.abandonAll();
  }

  // ---- steps --------------------------------------------------------------------------------

  /**
   * A session abandoned because its UserAgent went away: not a failure at the end of the run
   * (dispose), a transport failure otherwise (the SIP connection was lost and the client restarted).
   */
  failUnlessStopping(prefix: string, why: string): false {
    if (why !== "aborted") return this.fail(prefix, why);
    return this.disposed ? false : this.fail(prefix, "transport");
  }

  private fail(prefix: string, why: string, attempts?: string): false {
    if (attempts !== undefined) this.metrics.count(attempts);
    this.metrics.count(`${prefix}.${why}`);
    return false;
  }

  private current(ctx: IterationContext): CpmSession | undefined {
    const s = ctx.state.session;
    return s instanceof CpmSession && s.isOpen ? s : undefined;
  }

  private async invite(step: InviteStepPlan, intendedNs: number, ctx: IterationContext): Promise<boolean> {
    const m = this.metrics;
    m.count(Counter.sessionAttempts);
    await this.endIteration(ctx);
    const target = ctx.peerUri(step.to);
    if (target === null) return this.fail(Counter.sessionFailures, "no_peer");
    if (this.opts.msrp === undefined) return this.fail(Counter.sessionFailures, "no_msrp");
    const ua = this.ua();
    if (ua === undefined) return this.fail(Counter.sessionFailures, "transport");
    const r = await originate(this, ua, {
      target,
      kind: "chat",
      ...(step.subject !== undefined && { subject: step.subject }),
      callOptions: {},
      keepBodies: true,
    });
    if (r.okNs !== undefined) {
      m.latency(Latency.sessionSetup, Math.max(0, (r.okNs - intendedNs) / 1000), Math.max(0, (r.okNs - r.sentNs) / 1000));
    }
    if (!r.ok) return this.failUnlessStopping(Counter.sessionFailures, r.failure);
    m.latency(Latency.sessionReady, Math.max(0, (r.readyNs - intendedNs) / 1000), Math.max(0, (r.readyNs - r.sentNs) / 1000));
    m.count(Counter.sessionSuccesses);
    if (this.disposed) {
      r.session.abandon();
      return false;
    }
    ctx.state.session = r.session;
    return true;
  }

  private async send(step: SendStepPlan, intendedNs: number, ctx: IterationContext): Promise<boolean> {
    const s = this.current(ctx);
    if (s === undefined) {
      this.metrics.count(Counter.msrpSendAttempts, step.count);
      this.metrics.count(`${Counter.msrpSendFailures}.no_session`, step.count);
      return false;
    }
    const pending: Promise<SendOutcome>[] = [];
    // With `echo` (the population's answer plan, so the peer's too) the step also waits for the
    // echoes: a BYE right after would otherwise cut the last ones short on the callee's side.
    const echoes = this.answer.reply === "echo" ? s.receivedCount + step.count : 0;
    for (let i = 0; i < step.count; i++) {
      const at = intendedNs + i * step.intervalMs * 1e6;
      if (at > this.clock.nowNs() && !(await this.sleepUntil(at))) return false;
      const size = drawSize(step.size, ctx.random);
      const content = payloadBytes(size, payloadOffset(ctx.random));
      pending.push(s.send({ contentType: step.contentType, content, chunkSize: step.chunkSize, intendedNs: at, imdn: step.imdn }));
    }
    const results = await Promise.all(pending);
    const ok = results.every((r) => r.ok);
    if (ok && echoes > 0) await s.waitReceived(echoes, this.requestTimeoutMs);
    return ok;
  }

  private async bye(step: ByeStepPlan, ctx: IterationContext): Promise<boolean> {
    const m = this.metrics;
    m.count(Counter.byeAttempts);
    const s = this.current(ctx);
    ctx.state.session = undefined;
    if (s === undefined) return this.fail(Counter.byeFailures, "no_session");
    if (step.by === "caller") {
      const o = await s.bye();
      if (!o.ok) return this.fail(Counter.byeFailures, o.failure);
      m.count(Counter.byeSuccesses);
      return true;
    }
    const control = await s.sendControl("bye");
    if (!control.ok && !s.byeReceived && !LOST_WITH_SESSION.has(control.failure)) {
      await s.bye();
      return this.fail(Counter.byeFailures, "control");
    }
    // The callee may have acted on the control request before its 200 reached us: its BYE (SIP)
    // and that 200 (MSRP) travel on different connections, and a BYE that wins ends the session
    // and fails the unanswered send as session_closed (or, when the PF closes the MSRP connection
    // with the session, connection_lost). Then the BYE decides, as for a send that succeeded.
    const ended = await s.waitEnded(this.requestTimeoutMs);
    if (!ended || !s.byeReceived) {
      if (s.isOpen) await s.bye();
      return this.fail(Counter.byeFailures, control.ok ? "timeout" : "control");
    }
    m.count(Counter.byeSuccesses);
    return true;
  }

  private async reinvite(step: ReinviteStepPlan, ctx: IterationContext): Promise<boolean> {
    const m = this.metrics;
    m.count(Counter.reinviteAttempts);
    const s = this.current(ctx);
    if (s === undefined) return this.fail(Counter.reinviteFailures, "no_session");
    const o = await s.reinvite(step.renewMsrp);
    if (!o.ok) return this.fail(Counter.reinviteFailures, o.failure);
    m.count(Counter.reinviteSuccesses);
    return true;
  }

  // ---- helpers ------------------------------------------------------------------------------

  private msrpOptions(session: Session): MsrpSdhSessionOptions {
    const cpm = this.bySip.get(session);
    const o: MsrpSdhSessionOptions = {
      connectTimeoutMs: this.opts.msrpConnectTimeoutMs,
      transactionTimeoutMs: this.opts.msrpTransactionTimeoutMs,
      keepBodies: cpm?.keepBodies ?? true,
    };
    if (this.opts.connectionGroup !== undefined) o.connectionGroup = this.opts.connectionGroup;
    return o;
  }

  private sleepUntil(atNs: number): Promise<boolean> {
    if (this.disposed) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const entry = {
        resolve,
        timer: this.clock.at(atNs, () => {
          this.waits.delete(entry);
          resolve(!this.disposed);
        }),
      };
      this.waits.add(entry);
    });
  }
}
