/**
 * Client transactions for requests the server sends itself (RFC 3261 §17.1, RFC 6026): the PF's
 * INVITE, ACK, CANCEL, BYE, UPDATE … towards a registered contact, over the flow that contact
 * registered on (a client's own TCP connection, a shared trunk, or its UDP source address).
 *
 * - The layer puts our Via on top (`branch` = magic cookie + per-run prefix + counter: unique
 *   without random bytes per request) and matches responses by branch + CSeq method.
 * - UDP: requests are retransmitted (INVITE Timer A: T1 doubling until a response; others Timer E:
 *   T1 doubling to T2, T2 after a provisional). TCP: never retransmitted.
 * - Timeouts: no final response within `inviteTimeoutMs` (Timer B) / `nonInviteTimeoutMs`
 *   (Timer F), both 64·T1 by default → `onFailure(tx, "timeout")`. An INVITE that got a
 *   provisional waits `provisionalTimeoutMs` for its final answer (the TU's Timer C, RFC 3261
 *   §16.6 step 11: a proxy-like no-answer bound, 180 s by default); then it is CANCELled, the
 *   same failure is reported, and its final answer (487, or a 2xx that crossed the CANCEL) still
 *   reaches the user so it can be ACKed.
 * - A non-2xx final response to an INVITE is ACKed here (same branch, To with the response's tag);
 *   2xx responses go to the user, who ACKs them end to end (a separate transaction, §13.2.2.4).
 * - UDP INVITE transactions linger after their final response (Timer D for non-2xx, Timer M for
 *   2xx, both `udpLingerMs`) so retransmitted finals are re-ACKed (non-2xx) or handed to the user
 *   again (2xx: the user re-sends its ACK). Everything else is forgotten at its final response;
 *   a late response then simply matches nothing and is dropped.
 * - CANCEL (§9.1) is sent only once the INVITE has a provisional response; asked earlier, it is
 *   sent when the first provisional arrives (and not at all if a final response comes first).
 *
 * One timer per live transaction at most (the next retransmission or the deadline, whichever comes
 * first); lingering transactions share one timer through a DeadlineQueue.
 */
import { randomBytes } from "node:crypto";
import { getHeader, getHeaderLines, parseCSeq } from "../../protocol/sip/headers.js";
import type { HeaderList, SipRequest, SipResponse } from "../../protocol/sip/message.js";
import { serializeSipMessage } from "../../protocol/sip/serializer.js";
import type { Clock, TimerHandle } from "../../time/clock.js";
import { DeadlineQueue } from "../timers/deadline-queue.js";
import type { Flow } from "../transport/flow.js";

const NS_PER_MS = 1_000_000;

export type ClientTransactionState = "calling" | "proceeding" | "completed" | "accepted" | "terminated";

export type ClientFailure = "timeout" | "transport";

export interface ClientTransactionUser {
  /** Provisional and final responses; for an INVITE also every 2xx retransmission (ACK again). */
  onResponse(tx: ClientTransaction, response: SipResponse): void;
  /** No final response in time, or the flow was gone when sending. Called at most once. */
  onFailure(tx: ClientTransaction, reason: ClientFailure): void;
}

export interface ClientTransactionOptions {
  /** Host and port written in our Via (where UDP responses come back: the server's SIP port). */
  viaHost: string;
  viaPort: number;
  t1Ms?: number;
  t2Ms?: number;
  inviteTimeoutMs?: number;
  nonInviteTimeoutMs?: number;
  provisionalTimeoutMs?: number;
  udpLingerMs?: number;
}

export interface ClientTransactionCounters {
  requestsSent: Record<string, number>;
  responsesReceived: Record<string, number>;
  retransmissionsSent: number;
  timeouts: number;
  /** User callbacks that threw from a timer (counted, never rethrown). */
  userErrors: number;
}

export class ClientTransaction {
  state: ClientTransactionState = "calling";
  /** Status of the last response received (0: none yet). */
  lastStatus = 0;
  /** @internal */ bytes: Buffer;
  /** @internal */ timer: TimerHandle | null = null;
  /** @internal */ nextRetransmitNs = 0;
  /** @internal */ intervalMs = 0;
  /** @internal */ deadlineNs = 0;
  /** @internal */ cancelWanted = false;
  /** @internal */ cancelSent = false;
  /** @internal */ failed = false;

  constructor(
    readonly key: string,
    readonly branch: string,
    readonly method: string,
    readonly cseq: number,
    /** The request as sent, our Via on top. */
    readonly request: SipRequest,
    readonly flow: Flow,
    readonly user: ClientTransactionUser,
  ) {
    this.bytes = serializeSipMessage(request);
  }

  /** True until a final response (or a failure) ended the transaction for its user. */
  get isPending(): boolean {
    return this.state === "calling" || this.state === "proceeding";
  }
}

const NOOP_USER: ClientTransactionUser = { onResponse() {}, onFailure() {} };

export class ClientTransactions {
  private readonly byKey = new Map<string, ClientTransaction>();
  private readonly branchPrefix = `z9hG4bK${randomBytes(5).toString("hex")}`;
  private branchCounter = 0;
  private readonly t1Ms: number;
  private readonly t2Ms: number;
  private readonly inviteTimeoutMs: number;
  private readonly nonInviteTimeoutMs: number;
  private readonly provisionalTimeoutMs: number;
  private readonly linger: DeadlineQueue<ClientTransaction>;
  private closed = false;
  readonly counters: ClientTransactionCounters = {
    requestsSent: Object.create(null) as Record<string, number>,
    responsesReceived: Object.create(null) as Record<string, number>,
    retransmissionsSent: 0,
    timeouts: 0,
    userErrors: 0,
  };

  constructor(
    private readonly clock: Clock,
    private readonly opts: ClientTransactionOptions,
  ) {
    this.t1Ms = opts.t1Ms ?? 500;
    this.t2Ms = opts.t2Ms ?? 4000;
    this.inviteTimeoutMs = opts.inviteTimeoutMs ?? 64 * this.t1Ms;
    this.nonInviteTimeoutMs = opts.nonInviteTimeoutMs ?? 64 * this.t1Ms;
    this.provisionalTimeoutMs = opts.provisionalTimeoutMs ?? 180_000;
    this.linger = new DeadlineQueue(clock, opts.udpLingerMs ?? 64 * this.t1Ms, (tx) => this.forget(tx));
  }

  /** Live and lingering transactions (for tests and leak checks). */
  get size(): number {
    return this.byKey.size;
  }

  /** The Via value our requests carry for this transport with a fresh branch. */
  private via(transport: Flow["transport"], branch: string): string {
    return `SIP/2.0/${transport === "udp" ? "UDP" : "TCP"} ${this.opts.viaHost}:${this.opts.viaPort};branch=${branch};rport`;
  }

  newBranch(): string {
    return `${this.branchPrefix}${(this.branchCounter++).toString(36)}`;
  }

  /**
   * Send `request` (without Via: ours is added on top) over `flow` as a new client transaction.
   * ACK is not a transaction: use `sendAck`. Failures are reported asynchronously, never from here.
   */
  send(request: SipRequest, flow: Flow, user: ClientTransactionUser, branch = this.newBranch()): ClientTransaction {
    request.headers.unshift(["Via", this.via(flow.transport, branch)]);
    const cseq = parseCSeq(getHeader(request, "CSeq") ?? "")?.seq ?? 0;
    const key = `${branch}|${request.method}`;
    const tx = new ClientTransaction(key, branch, request.method, cseq, request, flow, user);
    this.count(request.method);
    if (this.closed || !flow.send(tx.bytes)) {
      tx.state = "terminated";
      this.fail(tx, "transport", true);
      return tx;
    }
    this.byKey.set(key, tx);
    const now = this.clock.nowNs();
    tx.deadlineNs = now + (request.method === "INVITE" ? this.inviteTimeoutMs : this.nonInviteTimeoutMs) * NS_PER_MS;
    if (flow.transport === "udp") {
      tx.intervalMs = this.t1Ms;
      tx.nextRetransmitNs = now + this.t1Ms * NS_PER_MS;
    }
    this.schedule(tx);
    return tx;
  }

  /** An ACK for a 2xx (its own branch, no transaction, never retransmitted by itself). */
  sendAck(ack: SipRequest, flow: Flow): boolean {
    ack.headers.unshift(["Via", this.via(flow.transport, this.newBranch())]);
    this.count("ACK");
    return !this.closed && flow.send(serializeSipMessage(ack));
  }

  /** Ask to CANCEL a pending INVITE (§9.1). No effect once it has its final response. */
  cancel(tx: ClientTransaction): void {
    if (tx.method !== "INVITE" || !tx.isPending || tx.cancelWanted) return;
    tx.cancelWanted = true;
    if (tx.state === "proceeding") this.sendCancel(tx);
  }

  /** A response arrived on some flow: true when it belonged to one of our transactions. */
  onResponse(response: SipResponse): boolean {
    const branch = topBranchOf(response);
    if (branch === undefined) return false;
    const cseq = parseCSeq(getHeader(response, "CSeq") ?? "");
    if (cseq === null) return false;
    const tx = this.byKey.get(`${branch}|${cseq.method}`);
    if (tx === undefined) return false;
    const status = response.status;
    this.counters.responsesReceived[status] = (this.counters.responsesReceived[status] ?? 0) + 1;
    switch (tx.state) {
      case "calling":
      case "proceeding":
        break;
      case "completed":
        // A retransmitted non-2xx final (our ACK got lost): ACK again, the user heard it already.
        if (status >= 300) this.sendNon2xxAck(tx, response);
        return true;
      case "accepted":
        if (status >= 200 && status < 300) tx.user.onResponse(tx, response);
        return true;
      case "terminated":
        return true;
    }
    tx.lastStatus = status;
    if (status < 200) {
      if (tx.state === "calling") {
        tx.state = "proceeding";
        if (tx.method === "INVITE") {
          // Timer A stops; the INVITE now waits for its final answer up to the no-answer bound.
          tx.nextRetransmitNs = 0;
          tx.deadlineNs = this.clock.nowNs() + this.provisionalTimeoutMs * NS_PER_MS;
          this.schedule(tx);
          if (tx.cancelWanted && !tx.cancelSent) this.sendCancel(tx);
        } else if (tx.flow.transport === "udp") {
          // Timer E continues at T2 in the proceeding state (§17.1.2.2).
          tx.intervalMs = this.t2Ms;
        }
      }
      if (!tx.failed) tx.user.onResponse(tx, response);
      return true;
    }
    // Final responses reach the user even after a timeout was reported: a 2xx must still be
    // ACKed (and the dialog ended) by the user, whatever it decided in between.
    this.stopTimer(tx);
    if (tx.method === "INVITE") {
      if (status >= 300) this.sendNon2xxAck(tx, response);
      tx.state = status >= 300 ? "completed" : "accepted";
      if (tx.flow.transport === "udp") this.linger.push(tx);
      else this.forget(tx);
    } else {
      tx.state = "terminated";
      this.forget(tx);
    }
    tx.user.onResponse(tx, response);
    return true;
  }

  close(): void {
    this.closed = true;
    for (const tx of this.byKey.values()) {
      this.stopTimer(tx);
      tx.failed = true;
    }
    this.byKey.clear();
    this.linger.close();
  }

  private count(method: string): void {
    this.counters.requestsSent[method] = (this.counters.requestsSent[method] ?? 0) + 1;
  }

  private sendCancel(tx: ClientTransaction): void {
    tx.cancelSent = true;
    const invite = tx.request;
    const headers: HeaderList = [["Via", getHeader(invite, "Via")!], ["Max-Forwards", "70"]];
    for (const name of ["From", "To", "Call-ID"]) headers.push([name, getHeader(invite, name) ?? ""]);
    headers.push(["CSeq", `${tx.cseq} CANCEL`]);
    for (const route of getHeaderLines(invite, "Route")) headers.push(["Route", route]);
    const cancel: SipRequest = { kind: "request", method: "CANCEL", uri: invite.uri, headers, body: EMPTY };
    // The CANCEL shares the INVITE's branch (its own transaction: keyed by method). Built with the
    // Via already in place, so it bypasses send()'s Via insertion.
    const key = `${tx.branch}|CANCEL`;
    const ctx = new ClientTransaction(key, tx.branch, "CANCEL", tx.cseq, cancel, tx.flow, NOOP_USER);
    this.count("CANCEL");
    if (this.closed || !tx.flow.send(ctx.bytes)) return;
    this.byKey.set(key, ctx);
    const now = this.clock.nowNs();
    ctx.deadlineNs = now + this.nonInviteTimeoutMs * NS_PER_MS;
    if (tx.flow.transport === "udp") {
      ctx.intervalMs = this.t1Ms;
      ctx.nextRetransmitNs = now + this.t1Ms * NS_PER_MS;
    }
    this.schedule(ctx);
  }

  /** §17.1.1.3: same Request-URI, Call-ID, From, CSeq number, Via and Route; To from the response. */
  private sendNon2xxAck(tx: ClientTransaction, response: SipResponse): void {
    const invite = tx.request;
    const headers: HeaderList = [["Via", getHeader(invite, "Via")!], ["Max-Forwards", "70"]];
    headers.push(["From", getHeader(invite, "From") ?? ""]);
    headers.push(["To", getHeader(response, "To") ?? getHeader(invite, "To") ?? ""]);
    headers.push(["Call-ID", getHeader(invite, "Call-ID") ?? ""]);
    headers.push(["CSeq", `${tx.cseq} ACK`]);
    for (const route of getHeaderLines(invite, "Route")) headers.push(["Route", route]);
    const ack: SipRequest = { kind: "request", method: "ACK", uri: invite.uri, headers, body: EMPTY };
    this.count("ACK");
    if (!this.closed) tx.flow.send(serializeSipMessage(ack));
  }

  /** Arm the one timer for the earlier of the next retransmission and the deadline. */
  private schedule(tx: ClientTransaction): void {
    this.stopTimer(tx);
    const at = tx.nextRetransmitNs > 0 && tx.nextRetransmitNs < tx.deadlineNs ? tx.nextRetransmitNs : tx.deadlineNs;
    tx.timer = this.clock.at(at, () => {
      tx.timer = null;
      this.onTimer(tx);
    });
  }

  private onTimer(tx: ClientTransaction): void {
    if (!tx.isPending) return;
    const now = this.clock.nowNs();
    if (now >= tx.deadlineNs) {
      this.counters.timeouts++;
      if (tx.method === "INVITE" && tx.state === "proceeding" && !tx.failed) {
        // The no-answer bound: CANCEL the ringing INVITE and keep the transaction until its final
        // answer (487, or a 2xx that crossed the CANCEL) or one more Timer F, so it is ACKed.
        if (!tx.cancelSent) this.sendCancel(tx);
        tx.deadlineNs = now + this.nonInviteTimeoutMs * NS_PER_MS;
        this.schedule(tx);
        this.fail(tx, "timeout", false);
        return;
      }
      tx.state = "terminated";
      this.forget(tx);
      this.fail(tx, "timeout", false);
      return;
    }
    if (tx.nextRetransmitNs > 0 && now >= tx.nextRetransmitNs) {
      if (!tx.flow.send(tx.bytes)) {
        tx.state = "terminated";
        this.forget(tx);
        this.fail(tx, "transport", false);
        return;
      }
      this.counters.retransmissionsSent++;
      // INVITE: Timer A doubles without bound; others: Timer E doubles up to T2.
      tx.intervalMs = tx.method === "INVITE" ? tx.intervalMs * 2 : Math.min(tx.intervalMs * 2, this.t2Ms);
      tx.nextRetransmitNs = now + tx.intervalMs * NS_PER_MS;
    }
    this.schedule(tx);
  }

  private fail(tx: ClientTransaction, reason: ClientFailure, async: boolean): void {
    if (tx.failed) return;
    tx.failed = true;
    if (async) this.clock.after(0, () => this.notifyFailure(tx, reason));
    else this.notifyFailure(tx, reason);
  }

  /** Failures are reported from timers: a user callback that throws must not end the server. */
  private notifyFailure(tx: ClientTransaction, reason: ClientFailure): void {
    try {
      tx.user.onFailure(tx, reason);
    } catch {
      this.counters.userErrors++;
    }
  }

  private stopTimer(tx: ClientTransaction): void {
    tx.timer?.cancel();
    tx.timer = null;
  }

  private forget(tx: ClientTransaction): void {
    if (this.byKey.get(tx.key) === tx) this.byKey.delete(tx.key);
  }
}

const EMPTY = Buffer.alloc(0);

/** The branch of the top Via (responses carry our Via on top). */
function topBranchOf(m: SipResponse): string | undefined {
  const via = getHeader(m, "Via");
  if (via === undefined) return undefined;
  const i = via.indexOf("branch=");
  if (i < 0) return undefined;
  let j = i + 7;
  while (j < via.length) {
    const c = via.charCodeAt(j);
    if (c === 0x3b || c === 0x2c || c === 0x20 || c === 0x09) break;
    j++;
  }
  return via.slice(i + 7, j);
}
