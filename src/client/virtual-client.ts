/**
 * One virtual CPM user: a SIP.js UserAgent over the client's link (LinkTransport), with a
 * Registerer. It runs scenario steps and reports metric events; it never touches histograms.
 *
 * Registration metrics (names.ts): every REGISTER the client sends (its own and the Registerer's
 * refreshes) counts in `register.attempts` and ends in exactly one of `register.successes`,
 * `register.failures.status.<code>` (final non-2xx after any digest retry), `register.failures.timeout`
 * (no final answer within requestTimeoutMs: SIP.js's transaction is ended then, so the client is
 * not registered and can try again) or `register.failures.transport` (no connection). Successful
 * REGISTERs record the `register` latency: from the intended start when the scenario gave one (no
 * coordinated omission), with the uncorrected service time (REGISTER sent → 2xx) beside it.
 * Unregistration counts in `unregister.*` the same way.
 */
import type { OutgoingRequestDelegate } from "sip.js/lib/core/messages/outgoing-request.js";
import type { IncomingResponse } from "sip.js/lib/core/messages/incoming-response.js";
import type { OutgoingRegisterRequest } from "sip.js/lib/core/messages/methods/register.js";
import { RegistererState } from "sip.js/lib/api/registerer-state.js";
import { UserAgent } from "sip.js/lib/api/user-agent.js";
import type { SessionDescriptionHandlerFactory } from "sip.js/lib/api/session-description-handler-factory.js";
import { URI } from "sip.js/lib/grammar/uri.js";
import { Counter, Latency, failureByStatus, failureByTimeout, failureByTransport } from "../metrics/names.js";
import type { MetricsSink } from "../metrics/sink.js";
import type { MsrpEndpoint } from "../protocol/msrp/endpoint.js";
import type { AnswerPlan, StepPlan } from "../scenario/plan.js";
import {
  clearRegistererTimers,
  expireNonInviteTransaction,
  installSipJsRuntime,
  setRegistererExpires,
} from "../protocol/sip/sipjs-runtime.js";
import type { Clock, TimerHandle } from "../time/clock.js";
import { ClientSessions, isSessionStep } from "./client-sessions.js";
import type { ReceivedCpmMessage } from "./cpm-session.js";
import { type IterationContext, standaloneIterationContext } from "./iteration-context.js";
import { clientSeed, seededRandom } from "./prng.js";
import { CpmRegisterer } from "./cpm-registerer.js";
import { CPM_USER_AGENT, cpmContactParams, instanceUuid } from "./identity.js";
import type { ClientLink, ConnectionProvider, LinkEndpoint } from "./link.js";
import { LinkTransport } from "./link-transport.js";

export interface VirtualClientOptions {
  /** Global client index (connection assignment in the shared model, instance id). */
  index: number;
  user: string;
  password: string;
  domain: string;
  connections: ConnectionProvider;
  metrics: MetricsSink;
  clock: Clock;
  /** A request without a final answer within this is a timeout failure. */
  requestTimeoutMs: number;
  /** Requested registration lifetime (s). */
  registerExpires: number;
  /** Refresh when this fraction of the granted lifetime has passed (0.5 to 0.99). */
  refreshFraction: number;
  /** Run seed: makes the Contact's +sip.instance stable per (seed, index). Default 0. */
  seed?: number;
  /**
   * The worker's MSRP endpoint (shared by all its clients; the runner creates it). Without it
   * the client can neither originate nor answer CPM sessions (incoming INVITEs get 480).
   * Connection reuse: in the per-client connection model each client's MSRP sessions share
   * connections only among themselves; in the shared model all of the worker's sessions do.
   */
  msrp?: MsrpEndpoint;
  /** Terminating-user behaviour (population.answer). Default: accept at once, no reply. */
  answer?: AnswerPlan;
  /** Session-Expires of originated sessions in seconds (the client refreshes); 0 = none. Default 1800. */
  sessionExpiresS?: number;
  /** An MSRP leg that is not bound this long after the SDP answer fails the session. Default requestTimeoutMs. */
  msrpConnectTimeoutMs?: number;
  /** Per-chunk MSRP transaction timeout. Default requestTimeoutMs. */
  msrpTransactionTimeoutMs?: number;
  /** Keep the bytes of received large messages (tests); by default only their arrival is tracked. */
  keepLargeMessageBodies?: boolean;
  /** Observer of every whole message the client receives (tests, tools). */
  onMessage?: (m: ReceivedCpmMessage) => void;
}

type AttemptKind = "register" | "refresh" | "unregister";

interface Attempt {
  kind: AttemptKind;
  intendedNs: number | undefined;
  sentNs: number;
  timer: TimerHandle | undefined;
  request: OutgoingRegisterRequest | undefined;
  /** Why the attempt is being ended by us, if it is (the 408 SIP.js then reports is not a real one). */
  endedBy: "timeout" | "transport" | undefined;
  settled: boolean;
  resolve: (ok: boolean) => void;
}

/** A client without an MSRP endpoint has no media for sessions (its INVITE answers say 480 first). */
const unsupportedSessions: SessionDescriptionHandlerFactory = () => {
  throw new Error("This client has no MSRP endpoint: CPM sessions are not available.");
};

export class VirtualClient {
  readonly index: number;
  readonly user: string;
  private readonly opts: VirtualClientOptions;
  private readonly metrics: MetricsSink;
  private readonly clock: Clock;
  private ua: UserAgent | undefined;
  private transport: LinkTransport | undefined;
  private registerer: CpmRegisterer | undefined;
  private link: ClientLink | undefined;
  private linkLost = false;
  private starting: Promise<boolean> | undefined;
  private current: Attempt | undefined;
  private readonly pauses = new Set<{ timer: TimerHandle; resolve: (ok: boolean) => void }>();
  private disposed = false;
  private disposing: Promise<void> | undefined;
  /** Expires of a register step that came before the Registerer existed. */
  private pendingExpires: number | undefined;
  /** Sessions: SDH factory, incoming INVITEs, session steps (client-sessions.ts). */
  private readonly sessions: ClientSessions;
  /** Context for session steps run without one (callers that are not the engine). */
  private fallbackContext: IterationContext | undefined;

  constructor(opts: VirtualClientOptions) {
    installSipJsRuntime();
    this.opts = opts;
    this.index = opts.index;
    this.user = opts.user;
    this.metrics = opts.metrics;
    this.clock = opts.clock;
    const seed = opts.seed ?? 0;
    this.sessions = new ClientSessions(
      {
        user: opts.user,
        domain: opts.domain,
        metrics: opts.metrics,
        clock: opts.clock,
        requestTimeoutMs: opts.requestTimeoutMs,
        msrp: opts.msrp,
        connectionGroup: opts.connections.model === "per-client" ? `client:${opts.index}` : undefined,
        answer: opts.answer,
        random: seededRandom(clientSeed(seed, opts.index, 1)),
        sessionExpiresS: opts.sessionExpiresS ?? 1800,
        msrpConnectTimeoutMs: opts.msrpConnectTimeoutMs ?? opts.requestTimeoutMs,
        msrpTransactionTimeoutMs: opts.msrpTransactionTimeoutMs ?? opts.requestTimeoutMs,
        keepLargeMessageBodies: opts.keepLargeMessageBodies ?? false,
        onMessage: opts.onMessage,
      },
      () => (this.linkLost ? undefined : this.ua),
    );
  }

  /** CPM sessions of this client not yet ended (originated and answered). */
  get activeSessions(): number {
    return this.sessions.sessionCount;
  }

  /** True while the registrar holds a live registration from this client (last REGISTER succeeded). */
  get isRegistered(): boolean {
    return !this.disposed && !this.linkLost && this.registerer?.state === RegistererState.Registered;
  }

  /** Sends REGISTER; true on a 2xx (after any digest retry), false on any failure. */
  register(intendedStartNs?: number): Promise<boolean> {
    if (this.disposed) return Promise.resolve(false);
    this.metrics.count(Counter.registerAttempts);
    // The usual case (a re-register, nothing in flight) sends at once: no awaits, whose promises
    // and resumptions were ~1 KB of the ~35 KB a REGISTER allocated (fewer young-generation GCs).
    if (this.ua !== undefined && !this.linkLost && (this.current === undefined || this.current.settled)) {
      return this.send("register", intendedStartNs);
    }
    return this.registerWhenReady(intendedStartNs);
  }

  /** register() once the user agent is started and no other REGISTER of this client is in flight. */
  private async registerWhenReady(intendedStartNs: number | undefined): Promise<boolean> {
    if (!(await this.ensureStarted())) {
      this.metrics.count(failureByTransport(Counter.registerFailures));
      return false;
    }
    await this.idle();
    if (this.disposed) return false;
    return this.send("register", intendedStartNs);
  }

  /** Sends REGISTER with expires 0; true on a 2xx. Nothing to do (true) when not registered. */
  async unregister(): Promise<boolean> {
    if (this.disposed || this.registerer === undefined) return true;
    await this.idle();
    if (this.disposed || this.linkLost || this.registerer.state !== RegistererState.Registered) return true;
    this.metrics.count(Counter.unregisterAttempts);
    return this.send("unregister", undefined);
  }

  async runStep(step: StepPlan, intendedStartNs: number, ctx?: IterationContext): Promise<boolean> {
    if (isSessionStep(step)) {
      if (this.disposed) return false;
      return this.sessions.run(step, intendedStartNs, ctx ?? (this.fallbackContext ??= standaloneIterationContext()));
    }
    switch (step.kind) {
      case "register":
        if (step.expires !== undefined && this.registerer !== undefined) setRegistererExpires(this.registerer, step.expires);
        if (step.expires !== undefined && this.registerer === undefined) this.pendingExpires = step.expires;
        return this.register(intendedStartNs);
      case "unregister":
        return this.unregister();
      case "pause":
        return this.pause(step.durationMs);
      default:
        return false;
    }
  }

  /** Ends an iteration: closes (BYE) a session its steps left open, without counting a failure. */
  async endIteration(ctx: IterationContext): Promise<void> {
    await this.sessions.endIteration(ctx);
  }

  /** Stops the user agent and releases the connection, without sending anything. Safe twice. */
  dispose(): Promise<void> {
    this.disposing ??= this.doDispose();
    return this.disposing;
  }

  private async doDispose(): Promise<void> {
    this.disposed = true;
    this.sessions.dispose();
    for (const p of this.pauses) {
      p.timer.cancel();
      p.resolve(false);
    }
    this.pauses.clear();
    const attempt = this.current;
    if (attempt !== undefined && !attempt.settled) this.finish(attempt, false);
    await this.starting?.catch(() => false);
    await this.teardown();
  }

  // -----------------------------------------------------------------------------------------------

  private pause(ms: number): Promise<boolean> {
    if (this.disposed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const entry = {
        resolve,
        timer: this.clock.after(ms, () => {
          this.pauses.delete(entry);
          resolve(true);
        }),
      };
      this.pauses.add(entry);
    });
  }

  /** Waits until no REGISTER of this client is in flight (e.g. a refresh). */
  private async idle(): Promise<void> {
    while (this.current !== undefined && !this.current.settled) {
      const attempt = this.current;
      await new Promise<void>((resolve) => {
        const original = attempt.resolve;
        attempt.resolve = (ok) => {
          original(ok);
          resolve();
        };
      });
    }
  }

  private ensureStarted(): Promise<boolean> {
    if (this.ua !== undefined && !this.linkLost) return Promise.resolve(true);
    this.starting ??= this.start().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private async start(): Promise<boolean> {
    if (this.ua !== undefined) await this.teardown(); // the old connection is gone: start afresh
    if (this.disposed) return false;
    const endpoint: LinkEndpoint = {
      onMessage: (message, data) => this.transport?.receive(message, data),
      onClosed: (error) => this.onLinkClosed(error),
    };
    let link: ClientLink;
    try {
      link = await this.opts.connections.attach({ index: this.index, contactUser: this.user, aorUser: this.user }, endpoint);
    } catch {
      return false;
    }
    if (this.disposed) {
      await link.release();
      return false;
    }
    this.link = link;
    this.linkLost = false;
    const seed = this.opts.seed ?? 0;
    const ua = new UserAgent({
      uri: new URI("sip", this.user, this.opts.domain),
      authorizationUsername: this.user,
      authorizationPassword: this.opts.password,
      transportConstructor: LinkTransport,
      transportOptions: { link },
      // SIP.js puts viaHost (no port) in Via and checks responses against it; rport brings them back.
      viaHost: link.localAddress,
      forceRport: true,
      contactName: this.user,
      contactParams: { transport: link.protocol.toLowerCase() },
      instanceId: instanceUuid(this.index, seed),
      userAgentString: CPM_USER_AGENT,
      sessionDescriptionHandlerFactory: this.sessions.sdhFactory ?? unsupportedSessions,
      // RFC 4028: INVITEs say `Supported: timer` (CPM convention); the client refreshes as uac.
      sipExtensionExtraSupported: ["timer"],
      sendInitialProvisionalResponse: false,
      gracefulShutdown: false,
      logLevel: "error",
      logBuiltinEnabled: false,
      logConfiguration: false,
      reconnectionAttempts: 0,
    });
    // A registrar (and later the PF) reaches the client at its real port.
    ua.contact.uri.port = link.localPort;
    // CPM convention: the Contact of INVITEs and their answers carries +sip.instance and the ICSI
    // feature tags, as the REGISTER's does (that one gets them from the Registerer options).
    const contactParams = cpmContactParams(this.index, seed).join(";");
    const contactString = ua.contact.toString.bind(ua.contact);
    ua.contact.toString = (o = {}) => (o.register === true ? contactString(o) : `${contactString(o)};${contactParams}`);
    ua.delegate = { onInvite: (invitation) => this.sessions.onInvite(invitation) };
    this.ua = ua;
    this.transport = ua.transport as LinkTransport;
    const refreshFrequency = Math.min(99, Math.max(50, Math.round(this.opts.refreshFraction * 100)));
    this.registerer = new CpmRegisterer(
      ua,
      {
        expires: this.pendingExpires ?? this.opts.registerExpires,
        refreshFrequency,
        extraContactHeaderParams: cpmContactParams(this.index, seed),
        logConfiguration: false,
      },
      {
        internalRegister: () => this.internalRegister(),
        sent: (options, request) => this.sent(options, request),
      },
    );
    this.pendingExpires = undefined;
    try {
      await ua.start();
    } catch {
      await this.teardown();
      return false;
    }
    return true;
  }

  private async teardown(): Promise<void> {
    const ua = this.ua;
    const link = this.link;
    const registerer = this.registerer;
    this.ua = undefined;
    this.transport = undefined;
    this.registerer = undefined;
    this.link = undefined;
    this.sessions.abandonAll();
    if (registerer !== undefined) {
      registerer.detach();
      clearRegistererTimers(registerer);
    }
    if (ua !== undefined) await ua.stop().catch(() => undefined);
    if (link !== undefined) await link.release();
  }

  private onLinkClosed(error: Error): void {
    if (this.linkLost) return;
    this.linkLost = true;
    this.transport?.linkClosed(error);
    if (this.registerer !== undefined) clearRegistererTimers(this.registerer);
    const attempt = this.current;
    if (attempt !== undefined && !attempt.settled) this.end(attempt, "transport");
  }

  // -----------------------------------------------------------------------------------------------
  // Attempts

  private failurePrefix(kind: AttemptKind): string {
    return kind === "unregister" ? Counter.unregisterFailures : Counter.registerFailures;
  }

  private newAttempt(kind: AttemptKind, intendedNs: number | undefined, resolve: (ok: boolean) => void): Attempt {
    const attempt: Attempt = {
      kind,
      intendedNs,
      sentNs: this.clock.nowNs(),
      timer: undefined,
      request: undefined,
      endedBy: undefined,
      settled: false,
      resolve,
    };
    attempt.timer = this.clock.after(this.opts.requestTimeoutMs, () => this.end(attempt, "timeout"));
    this.current = attempt;
    return attempt;
  }

  private delegateFor(attempt: Attempt): OutgoingRequestDelegate {
    return {
      onAccept: () => this.accepted(attempt),
      onReject: (response) => this.rejected(attempt, response),
      onRedirect: (response) => this.rejected(attempt, response),
    };
  }

  private send(kind: "register" | "unregister", intendedNs: number | undefined): Promise<boolean> {
    const registerer = this.registerer!;
    return new Promise<boolean>((resolve) => {
      const attempt = this.newAttempt(kind, intendedNs, resolve);
      const options = { requestDelegate: this.delegateFor(attempt) };
      let sent: Promise<OutgoingRegisterRequest>;
      try {
        sent = kind === "register" ? registerer.register(options) : registerer.unregister(options);
      } catch {
        this.fail(attempt, failureByTransport(this.failurePrefix(kind)));
        return;
      }
      sent.then(
        (request) => {
          if (kind === "unregister") attempt.request = request;
        },
        () => this.fail(attempt, failureByTransport(this.failurePrefix(kind))),
      );
    });
  }

  /** SIP.js registers by itself: a refresh, or the retry after 423 of the attempt in flight. */
  private internalRegister(): { requestDelegate: OutgoingRequestDelegate } {
    const inFlight = this.current;
    if (inFlight !== undefined && !inFlight.settled && inFlight.kind !== "unregister") {
      return { requestDelegate: this.delegateFor(inFlight) };
    }
    this.metrics.count(Counter.registerAttempts);
    const attempt = this.newAttempt("refresh", undefined, () => {});
    return { requestDelegate: this.delegateFor(attempt) };
  }

  /** Registerer.register sent a REGISTER (explicit, refresh or 423 retry). */
  private sent(options: { requestDelegate?: OutgoingRequestDelegate }, request: OutgoingRegisterRequest): void {
    const attempt = this.current;
    if (attempt !== undefined && !attempt.settled && options.requestDelegate !== undefined) attempt.request = request;
  }

  /** End an attempt from our side (timeout, lost connection): SIP.js's transaction ends as well. */
  private end(attempt: Attempt, why: "timeout" | "transport"): void {
    if (attempt.settled) return;
    attempt.endedBy = why;
    let transaction: unknown;
    try {
      // The request is SIP.js's UserAgentClient; `transaction` is its current (post-digest) one.
      transaction = (attempt.request as { transaction?: unknown } | undefined)?.transaction;
    } catch {
      transaction = undefined;
    }
    const branch = (transaction as { id?: unknown } | undefined)?.id;
    if (typeof branch === "string") this.link?.forget(branch, "REGISTER");
    // Synchronously reports a 408 through rejected() when the transaction was still pending.
    expireNonInviteTransaction(transaction);
    if (!attempt.settled) this.endedFailure(attempt);
  }

  private endedFailure(attempt: Attempt): void {
    const prefix = this.failurePrefix(attempt.kind);
    this.fail(attempt, attempt.endedBy === "timeout" ? failureByTimeout(prefix) : failureByTransport(prefix));
  }

  private accepted(attempt: Attempt): void {
    if (attempt.settled) return;
    const now = this.clock.nowNs();
    if (attempt.kind === "unregister") {
      this.metrics.count(Counter.unregisterSuccesses);
    } else {
      this.metrics.count(Counter.registerSuccesses);
      const serviceUs = (now - attempt.sentNs) / 1000;
      const latencyUs = attempt.intendedNs === undefined ? serviceUs : (now - attempt.intendedNs) / 1000;
      this.metrics.latency(Latency.register, latencyUs, serviceUs);
    }
    this.finish(attempt, true);
  }

  private rejected(attempt: Attempt, response: IncomingResponse): void {
    if (attempt.settled) return;
    if (attempt.endedBy !== undefined) return this.endedFailure(attempt);
    this.fail(attempt, failureByStatus(this.failurePrefix(attempt.kind), response.message.statusCode ?? 0));
  }

  private fail(attempt: Attempt, counter: string): void {
    if (attempt.settled) return;
    this.metrics.count(counter);
    this.finish(attempt, false);
  }

  private finish(attempt: Attempt, ok: boolean): void {
    attempt.settled = true;
    attempt.timer?.cancel();
    if (this.current === attempt) this.current = undefined;
    attempt.resolve(ok);
  }
}
