/**
 * One MSRP TCP connection (RFC 4975 §5.4): a socket, the framer that turns its bytes into
 * messages, the table of our transactions waiting for responses, and the sessions bound to it.
 *
 * What belongs here and what does not: this module moves messages and matches responses to
 * transactions by tid; which session a request belongs to (and whether it may bind) is decided by
 * the endpoint, what to answer by the session.
 *
 * Writes: every message written in one turn of the event loop goes out in one writev (the socket
 * is corked at the first write and uncorked on the next tick), so a relay forwarding the chunks of
 * one read, or a burst of small messages, costs one syscall. Large bodies are written as the
 * message's own Buffer, never copied. `write()` returns false once Node holds more than the
 * socket's high-water mark: senders then `await waitDrain()`, which is what keeps a 50 MB message
 * from being buffered in memory at once.
 *
 * Malformed input: a message the framer could not parse but whose tid is readable is answered
 * 400 (createBadRequestResponse) and the connection goes on; bytes that cannot be re-synchronised
 * (no start line, a message over the size limit) close this connection only.
 */
import type { Socket } from "node:net";
import type { Clock, TimerHandle } from "../../time/clock.js";
import { type MsrpFrame, MsrpFramer } from "./framer.js";
import type { MsrpMessage, MsrpRequest, MsrpResponse } from "./message.js";
import { createBadRequestResponse } from "./response.js";
import { serializeMsrp, serializeMsrpParts } from "./serializer.js";
import type { MsrpSession } from "./session.js";

/** Bodies below this size are copied into one Buffer with their headers (one write, no writev entry). */
const COPY_BODY_BELOW = 8 * 1024;
/** After end() (e.g. a fatal framing error) the peer gets this long to take our last bytes before the socket is destroyed. */
const LINGER_MS = 1000;

export type TransactionResult =
  | { kind: "response"; response: MsrpResponse; answeredNs: number }
  /** No response within the transaction timeout. */
  | { kind: "timeout" }
  /** The connection went away before the response. */
  | { kind: "closed"; error?: Error }
  /** cancel() was called (the session closed). */
  | { kind: "cancelled" };

/** One request of ours waiting for its response. */
export class MsrpTransaction {
  /** @internal */ timer: TimerHandle | undefined;
  /** @internal */ done = false;

  constructor(
    readonly tid: string,
    readonly sentNs: number,
    /** @internal */ readonly onResult: (result: TransactionResult, tx: MsrpTransaction) => void,
  ) {}
}

export interface MsrpConnectionHandler {
  /** A request (SEND, REPORT, AUTH, …) arrived: the endpoint routes it to a session. */
  onRequest(conn: MsrpConnection, request: MsrpRequest): void;
  /** The connection is gone; called exactly once, after every transaction was failed. */
  onClose(conn: MsrpConnection, error: Error | undefined): void;
  /** A malformed message (already answered 400 when it could be); for statistics. */
  onBadFrame?(conn: MsrpConnection, frame: MsrpFrame & { ok: false }): void;
}

export interface MsrpConnectionOptions {
  direction: "inbound" | "outbound";
  handler: MsrpConnectionHandler;
  clock: Clock;
  /** Largest message (one chunk) the framer accepts before giving the stream up. */
  maxFrameBytes?: number;
  /** Outgoing connections: the pool key (scheme/host/port, plus the connection group). */
  poolKey?: string;
  /** Byte counters for metrics: called per write and per read. */
  onBytes?: (sent: number, received: number) => void;
}

let nextConnectionId = 1;

export class MsrpConnection {
  readonly id = nextConnectionId++;
  readonly direction: "inbound" | "outbound";
  readonly poolKey: string | undefined;
  /** Sessions bound to this connection, by local session id (the demultiplexing table). */
  readonly sessions = new Map<string, MsrpSession>();
  /**
   * To-Path header values already resolved to a local session id: a connection sees the same few
   * To-Paths over and over, and parsing the URI was a visible cost per small message.
   * @internal
   */
  readonly routeCache = new Map<string, string>();
  bytesSent = 0;
  bytesReceived = 0;
  messagesReceived = 0;
  badFrames = 0;

  private readonly framer: MsrpFramer;
  private readonly handler: MsrpConnectionHandler;
  private readonly clock: Clock;
  private readonly onBytes: ((sent: number, received: number) => void) | undefined;
  private readonly pending = new Map<string, MsrpTransaction>();
  private corked = false;
  private readHolds = 0;
  private drainWaiter: { promise: Promise<void>; resolve: () => void } | undefined;
  private closedFlag = false;
  private closeError: Error | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly socket: Socket,
    opts: MsrpConnectionOptions,
  ) {
    this.direction = opts.direction;
    this.poolKey = opts.poolKey;
    this.handler = opts.handler;
    this.clock = opts.clock;
    this.onBytes = opts.onBytes;
    this.framer = new MsrpFramer(opts.maxFrameBytes !== undefined ? { maxMessageBytes: opts.maxFrameBytes } : {});
    socket.setNoDelay(true);
    socket.on("data", (data: Buffer) => this.onData(data));
    socket.on("drain", () => this.onDrain());
    socket.on("error", (err) => this.finish(err));
    socket.on("close", () => this.finish(undefined));
    // The peer half-closing means it will send nothing more; MSRP has no use for half-open links.
    socket.on("end", () => this.close());
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Peer address, for logs and tests. */
  get remoteAddress(): string {
    return `${this.socket.remoteAddress}:${this.socket.remotePort}`;
  }

  get localPort(): number {
    return this.socket.localPort ?? 0;
  }

  /** True while Node holds more unsent bytes than the high-water mark: wait for drain before writing more. */
  get congested(): boolean {
    return !this.closedFlag && this.socket.writableNeedDrain;
  }

  /** Transactions waiting for responses. */
  get pendingTransactions(): number {
    return this.pending.size;
  }

  /** Queues one message; false when the caller should wait for drain (or the connection is closed). */
  write(m: MsrpMessage): boolean {
    if (this.closedFlag) return false;
    const socket = this.socket;
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      process.nextTick(uncork, this);
    }
    let n: number;
    if (m.kind === "response" || m.body.length < COPY_BODY_BELOW) {
      const bytes = serializeMsrp(m);
      n = bytes.length;
      socket.write(bytes);
    } else {
      const [head, body, tail] = serializeMsrpParts(m);
      n = head.length + body.length + tail.length;
      socket.write(head);
      socket.write(body);
      socket.write(tail);
    }
    this.bytesSent += n;
    this.onBytes?.(n, 0);
    return !socket.writableNeedDrain;
  }

  /** Resolves when the socket drained (or closed: writes then fail fast). */
  waitDrain(): Promise<void> {
    if (this.closedFlag || !this.socket.writableNeedDrain) return Promise.resolve();
    if (!this.drainWaiter) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.drainWaiter = { promise, resolve };
    }
    return this.drainWaiter.promise;
  }

  /**
   * Writes a request and waits for its response for `timeoutMs` (≤ 0: no timer; the caller only
   * expects an answer if one comes). `onResult` is called exactly once, never synchronously.
   */
  request(
    req: MsrpRequest,
    timeoutMs: number,
    onResult: (result: TransactionResult, tx: MsrpTransaction) => void,
  ): MsrpTransaction {
    const tx = new MsrpTransaction(req.tid, this.clock.nowNs(), onResult);
    if (this.closedFlag) {
      tx.done = true;
      const error = this.closeError;
      process.nextTick(() => onResult(error ? { kind: "closed", error } : { kind: "closed" }, tx));
      return tx;
    }
    this.pending.set(req.tid, tx);
    if (timeoutMs > 0) tx.timer = this.clock.after(timeoutMs, () => this.expire(tx));
    this.write(req);
    return tx;
  }

  /** Forgets a transaction (its session closed); its callback gets `cancelled`. */
  cancel(tx: MsrpTransaction): void {
    if (tx.done) return;
    this.settle(tx, { kind: "cancelled" });
  }

  /** Stops reading while a downstream leg is congested (counted: every hold needs a release). */
  holdReading(): void {
    if (this.readHolds++ === 0 && !this.closedFlag) this.socket.pause();
  }

  releaseReading(): void {
    if (this.readHolds === 0) return;
    if (--this.readHolds === 0 && !this.closedFlag) this.socket.resume();
  }

  /** Destroys the socket now; pending transactions fail with `closed`. Safe twice. */
  close(error?: Error): void {
    if (!this.socket.destroyed) this.socket.destroy();
    this.finish(error);
  }

  private onData(data: Buffer): void {
    this.bytesReceived += data.length;
    this.onBytes?.(0, data.length);
    const frames = this.framer.push(data);
    for (const frame of frames) {
      if (this.closedFlag) return;
      if (frame.ok) {
        this.messagesReceived++;
        const m = frame.message;
        if (m.kind === "request") this.handler.onRequest(this, m);
        else this.onResponse(m);
      } else {
        this.onBadFrame(frame);
      }
    }
  }

  private onResponse(response: MsrpResponse): void {
    const tx = this.pending.get(response.tid);
    // Unknown tid: a late answer to a transaction that timed out or was cancelled.
    if (!tx) return;
    this.settle(tx, { kind: "response", response, answeredNs: this.clock.nowNs() });
  }

  private onBadFrame(frame: MsrpFrame & { ok: false }): void {
    this.badFrames++;
    const reply = createBadRequestResponse(frame);
    if (reply) this.write(reply);
    this.handler.onBadFrame?.(this, frame);
    if (frame.fatal) this.closeAfterFlush(frame.error);
  }

  /**
   * Closes gracefully: what was written still reaches the peer, then FIN. The connection counts as
   * closed at once (transactions fail, the handler hears of it); the socket is destroyed when the
   * peer closes its side, or after a short linger. Safe twice.
   */
  end(error?: Error): void {
    if (this.closedFlag) return;
    this.socket.end();
    // A safety net for peers that never close their side, not protocol timing: an unref'd timer.
    this.lingerTimer = setTimeout(() => this.close(error), LINGER_MS);
    this.lingerTimer.unref();
    this.finish(error, false);
  }

  /** Lets a final 400 reach the peer, then closes; reading stops at once (the framer ignores the rest). */
  private closeAfterFlush(error: Error): void {
    this.end(error);
  }

  private expire(tx: MsrpTransaction): void {
    tx.timer = undefined;
    if (!tx.done) this.settle(tx, { kind: "timeout" });
  }

  private settle(tx: MsrpTransaction, result: TransactionResult): void {
    tx.done = true;
    this.pending.delete(tx.tid);
    tx.timer?.cancel();
    tx.timer = undefined;
    tx.onResult(result, tx);
  }

  private onDrain(): void {
    const w = this.drainWaiter;
    if (w && !this.socket.writableNeedDrain) {
      this.drainWaiter = undefined;
      w.resolve();
    }
  }

  /** @internal */
  uncork(): void {
    this.corked = false;
    if (!this.socket.destroyed) this.socket.uncork();
  }

  /**
   * Marks the connection closed: fails every transaction, wakes drain waiters and tells the
   * handler, once. `socketGone` is false while a lingering socket still flushes our last bytes.
   */
  private finish(error: Error | undefined, socketGone = true): void {
    if (socketGone && this.lingerTimer) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
      if (!this.socket.destroyed) this.socket.destroy();
    }
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.closeError = error;
    const failed = [...this.pending.values()];
    this.pending.clear();
    for (const tx of failed) {
      tx.done = true;
      tx.timer?.cancel();
      tx.timer = undefined;
      tx.onResult(error ? { kind: "closed", error } : { kind: "closed" }, tx);
    }
    const w = this.drainWaiter;
    this.drainWaiter = undefined;
    w?.resolve();
    this.handler.onClose(this, error);
  }
}

function uncork(conn: MsrpConnection): void {
  conn.uncork();
}
