/**
 * Server transactions (RFC 3261 §17.2), reduced to what a high-rate UAS needs:
 * - a retransmitted request is matched to its transaction and answered with the last response sent
 *   (or dropped while the request is still being processed), never processed twice;
 * - over UDP a completed transaction keeps its response for `udpLifetimeMs` (Timer J, 32 s by RFC);
 *   over TCP the peer never retransmits, so it is dropped on completion (Timer J = 0);
 * - a non-2xx final response to an INVITE over UDP is retransmitted (Timer G: T1 doubling to T2)
 *   until the ACK arrives or the entry expires;
 * - CANCEL finds the INVITE it cancels through `findInvite`.
 *
 * Memory: every completed UDP transaction sits in a FIFO ordered by expiry (all share one lifetime,
 * so completion order is expiry order) and a sweep pops expired ones from the head; no timer per
 * transaction except Timer G for failed UDP INVITEs.
 */
import type { Clock, TimerHandle } from "../../time/clock.js";
import type { Flow } from "../transport/flow.js";

const NS_PER_MS = 1_000_000;

/**
 * proceeding: request received, no final response yet; completed: final response sent;
 * confirmed: INVITE only, the ACK for the non-2xx final response arrived.
 */
export type TransactionState = "proceeding" | "completed" | "confirmed";

export interface ServerTransaction {
  readonly key: string;
  readonly method: string;
  readonly flow: Flow;
  state: TransactionState;
  /** Serialized last response (provisional or final), resent on retransmissions. */
  lastResponse: Buffer | null;
  lastStatus: number;
  expiresAtNs: number;
  retransmitTimer: TimerHandle | null;
  /** Set by a CANCEL of a still-proceeding INVITE; handlers may check it. */
  cancelled: boolean;
  /** What a CANCEL of this (INVITE) transaction does while it is proceeding; the core answers 487. */
  onCancel: (() => void) | null;
}

export interface TransactionTableOptions {
  udpLifetimeMs: number;
  /** RFC 3261 T1 / T2 (ms), for Timer G. */
  t1Ms?: number;
  t2Ms?: number;
}

export class ServerTransactionTable {
  private readonly byKey = new Map<string, ServerTransaction>();
  private readonly expiryQueue: ServerTransaction[] = [];
  private queueHead = 0;
  private sweepTimer: TimerHandle | null = null;
  private readonly t1Ms: number;
  private readonly t2Ms: number;

  constructor(
    private readonly clock: Clock,
    private readonly opts: TransactionTableOptions,
  ) {
    this.t1Ms = opts.t1Ms ?? 500;
    this.t2Ms = opts.t2Ms ?? 4000;
  }

  get size(): number {
    return this.byKey.size;
  }

  get(key: string): ServerTransaction | undefined {
    return this.byKey.get(key);
  }

  /** Start a transaction for a new request. The caller checked `get(key)` first. */
  create(key: string, method: string, flow: Flow): ServerTransaction {
    const tx: ServerTransaction = {
      key,
      method,
      flow,
      state: "proceeding",
      lastResponse: null,
      lastStatus: 0,
      expiresAtNs: 0,
      retransmitTimer: null,
      cancelled: false,
      onCancel: null,
    };
    this.byKey.set(key, tx);
    return tx;
  }

  /**
   * Record a response sent on `tx` (the caller already sent the bytes). Returns false when the
   * transaction already had its final response (a late second answer must not go out).
   */
  recordResponse(tx: ServerTransaction, status: number, bytes: Buffer): boolean {
    if (tx.state !== "proceeding") return false;
    tx.lastStatus = status;
    if (status < 200) {
      tx.lastResponse = bytes;
      return true;
    }
    tx.state = "completed";
    if (tx.flow.transport !== "udp" || this.opts.udpLifetimeMs <= 0) {
      this.byKey.delete(tx.key);
      tx.lastResponse = null;
      return true;
    }
    tx.lastResponse = bytes;
    tx.expiresAtNs = this.clock.nowNs() + this.opts.udpLifetimeMs * NS_PER_MS;
    this.expiryQueue.push(tx);
    if (tx.method === "INVITE" && status >= 300) this.startTimerG(tx, this.t1Ms);
    this.ensureSweep();
    return true;
  }

  /** ACK for a non-2xx final response: stop retransmitting; the entry still absorbs ACK copies. */
  acknowledge(tx: ServerTransaction): void {
    if (tx.state !== "completed") return;
    tx.state = "confirmed";
    tx.retransmitTimer?.cancel();
    tx.retransmitTimer = null;
  }

  /** Drop a transaction that will never be answered (e.g. its handler failed without responding). */
  forget(tx: ServerTransaction): void {
    if (this.byKey.get(tx.key) === tx) this.byKey.delete(tx.key);
    tx.retransmitTimer?.cancel();
    tx.retransmitTimer = null;
  }

  /** Remove expired entries; returns how many went. */
  sweep(): number {
    const now = this.clock.nowNs();
    let removed = 0;
    while (this.queueHead < this.expiryQueue.length) {
      const tx = this.expiryQueue[this.queueHead]!;
      if (tx.expiresAtNs > now) break;
      this.expiryQueue[this.queueHead++] = undefined as unknown as ServerTransaction;
      this.forget(tx);
      tx.lastResponse = null;
      removed++;
    }
    // Compact once the consumed head dominates, so the array does not grow without bound.
    if (this.queueHead > 1024 && this.queueHead * 2 > this.expiryQueue.length) {
      this.expiryQueue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    return removed;
  }

  close(): void {
    this.sweepTimer?.cancel();
    this.sweepTimer = null;
    for (const tx of this.byKey.values()) {
      tx.retransmitTimer?.cancel();
      tx.retransmitTimer = null;
    }
    this.byKey.clear();
    this.expiryQueue.length = 0;
    this.queueHead = 0;
  }

  private startTimerG(tx: ServerTransaction, intervalMs: number): void {
    tx.retransmitTimer = this.clock.after(intervalMs, () => {
      tx.retransmitTimer = null;
      if (tx.state !== "completed" || tx.lastResponse === null || !tx.flow.isOpen) return;
      tx.flow.send(tx.lastResponse);
      this.startTimerG(tx, Math.min(intervalMs * 2, this.t2Ms));
    });
  }

  private ensureSweep(): void {
    if (this.sweepTimer !== null || this.queueHead >= this.expiryQueue.length) return;
    const head = this.expiryQueue[this.queueHead]!;
    // Sweep in batches (at most one timer pending): wake when the head expires, but not more than
    // ~4 times a second under load.
    const waitMs = Math.max(250, (head.expiresAtNs - this.clock.nowNs()) / NS_PER_MS);
    this.sweepTimer = this.clock.after(waitMs, () => {
      this.sweepTimer = null;
      this.sweep();
      this.ensureSweep();
    });
  }
}
