/**
 * One MSRP TCP connection (RFC 4975 §5.4): a socket, the framer that turns its bytes into
 * messages, the table of our transactions waiting for responses, and the sessions bound to it.
 *
 * What belongs here and what does not: this module moves messages and matches responses to
 * transactions by tid; which session a request belongs to (and whether it may bind) is decided by
 * the endpoint, what to answer by the session.
 *
 * Writes: every message written in one turn of the event loop goes out in one writev (the socket
 * is corked at the first write and uncorked in the check phase, after the reads of that poll), so a
 * relay forwarding the chunks of several reads, or a burst of small messages, costs one syscall.
 * Large bodies are written as the message's own Buffer, never copied. `write()` returns false once
 * Node holds more than `sendBufferBytes` unsent: senders then `await waitDrain()`, which is what
 * keeps a 50 MB message from being buffered in memory at once. That budget is the connection's,
 * not the socket's high-water mark: Node's 16 KiB default is a quarter of one 64 KiB chunk (a relay
 * would hold its sender after every read), and raising the socket's own mark would also let a
 * paused socket read that much ahead into memory.
 *
 * Cut-through (relays): when the handler takes request heads (`onRequestHead`), the connection
 * frames with MsrpStreamFramer and a SEND still arriving goes to the sink the handler returns,
 * segment by segment; without a sink it is collected and delivered whole as usual. The other way,
 * `openStream` writes a chunk whose body is still arriving elsewhere: head now, body segments as
 * they come, end-line last (chunk-stream.ts keeps its tid out of the body). While such a chunk is
 * open nothing else can go on the wire, so other messages wait in a backlog until the end of the
 * event-loop turn; then the open chunk is interrupted (its piece ends with `+`, RFC 4975 §7.1.1),
 * the backlog goes out, and the chunk continues in a new piece when more of it comes. So a chunk
 * whose sender stalls never holds up the 200s and other sessions' messages on that connection
 * (and no two relayed connections can end up waiting on each other).
 *
 * Malformed input: a message the framer could not parse but whose tid is readable is answered
 * 400 (createBadRequestResponse) and the connection goes on; bytes that cannot be re-synchronised
 * (no start line, a message over the size limit) close this connection only.
 */
import type { Socket } from "node:net";
import type { Clock, TimerHandle } from "../../time/clock.js";
import { type ChunkWireOp, OutboundChunkWriter } from "./chunk-stream.js";
import { type MsrpFrame, MsrpFramer, type MsrpFramerOptions, type MsrpStreamEvent, MsrpStreamFramer } from "./framer.js";
import type { ContinuationFlag, MsrpMessage, MsrpRequest, MsrpResponse } from "./message.js";
import { createBadRequestResponse, createMsrpResponse, HopResponseSerializer } from "./response.js";
import { msrpEndLine, RequestHeadSerializer, serializeMsrp } from "./serializer.js";
import type { MsrpSession } from "./session.js";
import { type BorrowedReads, CopySlabs, isBorrowed, retainRelayRead } from "./socket-reads.js";

/**
 * Requests watched for an error response (Failure-Report partial) per connection. An error comes
 * one round trip after its chunk — a few chunks later even at 1 GB/s — so a few hundred cover it,
 * and a small map stays in the young generation instead of being promoted chunk after chunk.
 */
const ERROR_WATCH_MAX = 256;

/** Default unsent bytes a connection may hold before it counts as congested. */
export const DEFAULT_SEND_BUFFER_BYTES = 1024 * 1024;
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
  /** @internal clock.nowNs() after which it times out; 0 = never. */ deadlineNs = 0;
  /** @internal */ done = false;

  constructor(
    readonly tid: string,
    readonly sentNs: number,
    /** @internal */ readonly onResult: (result: TransactionResult, tx: MsrpTransaction) => void,
  ) {}
}

/** Takes the body of a request as it arrives (cut-through). */
export interface MsrpBodySink {
  /**
   * The next body bytes: views of a socket read, never to modify, and borrowed (socket-reads.ts):
   * valid during this call only, so copy what you keep (ownBytes). A connection's write() and
   * open streams take care of borrowed bytes themselves (a copy, or a hold on a relay read buffer).
   */
  data(bytes: Buffer): void;
  /** The end-line came. */
  end(flag: ContinuationFlag): void;
  /** The request will never end (its connection closed or its framing failed). */
  abort(): void;
  /**
   * True for a sink that writes the bytes on to another connection (a relay): the socket they
   * came from then reads into relay read buffers, so those writes need no copy (socket-reads.ts).
   */
  readonly forwardsBytes?: boolean;
}

export interface MsrpConnectionHandler {
  /** A request (SEND, REPORT, AUTH, …) arrived: the endpoint routes it to a session. */
  onRequest(conn: MsrpConnection, request: MsrpRequest): void;
  /**
   * A request whose body is still arriving (its head: empty body, flag `+`): return a sink to
   * take the body as it comes, or undefined to get the request whole through onRequest. A
   * handler with this method makes the connection frame with MsrpStreamFramer.
   */
  onRequestHead?(conn: MsrpConnection, head: MsrpRequest): MsrpBodySink | undefined;
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
  /** Unsent bytes Node may hold before the connection counts as congested. Default 1 MiB. */
  sendBufferBytes?: number;
  /**
   * The socket reads into the thread's reused buffer (made with `reads.onread`): its bytes come
   * through `reads`, not 'data' events. Without it the socket is read the default way.
   */
  reads?: BorrowedReads;
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

  private readonly framer: MsrpFramer | undefined;
  private readonly streamFramer: MsrpStreamFramer | undefined;
  private readonly reads: BorrowedReads | undefined;
  /** The sink of the request whose body is arriving, or the parts collected for onRequest. */
  private inSink: MsrpBodySink | undefined;
  private inCollect: { head: MsrpRequest; body: BodyCollector } | undefined;
  /** The chunk being written cut-through; other messages wait in `backlog` until the turn ends (see uncork). */
  private outStream: MsrpOutboundStream | undefined;
  private backlog: MsrpMessage[] = [];
  private readonly handler: MsrpConnectionHandler;
  private readonly clock: Clock;
  private readonly onBytes: ((sent: number, received: number) => void) | undefined;
  private readonly sendBufferBytes: number;
  private readonly pending = new Map<string, MsrpTransaction>();
  /**
   * Requests sent with Failure-Report `partial`: no transaction (no 200 comes, and no timer is
   * worth its cost per chunk), but an error response must still reach whoever sent them. Bounded:
   * the oldest are forgotten first (an error answers a chunk soon after it arrives, not thousands
   * of chunks later).
   */
  private readonly errorWatch = new Map<string, (response: MsrpResponse) => void>();
  private corked = false;
  /** The template of this connection's heads of large requests and streamed chunks (made on first use). */
  private heads: RequestHeadSerializer | undefined;
  /** The template of this connection's hop-by-hop responses (made on first use). */
  private responses: HopResponseSerializer | undefined;
  /** Where borrowed body bytes are copied before they are written (made on first use). */
  private copySlabs: CopySlabs | undefined;
  /** Reads that arrived in a reused buffer, the thread's or a relay read buffer (the fast path in use; for tests and stats). */
  borrowedReads = 0;
  private readHolds = 0;
  private drainWaiter: { promise: Promise<void>; resolve: () => void } | undefined;
  private closedFlag = false;
  private closeError: Error | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  /** The one timer for transaction timeouts, due at `sweepAtNs`. */
  private sweepTimer: TimerHandle | undefined;
  private sweepAtNs = Number.POSITIVE_INFINITY;

  constructor(
    readonly socket: Socket,
    opts: MsrpConnectionOptions,
  ) {
    this.direction = opts.direction;
    this.poolKey = opts.poolKey;
    this.handler = opts.handler;
    this.clock = opts.clock;
    this.onBytes = opts.onBytes;
    this.sendBufferBytes = opts.sendBufferBytes ?? DEFAULT_SEND_BUFFER_BYTES;
    const framerOpts: MsrpFramerOptions = { reusedInput: opts.reads !== undefined };
    if (opts.maxFrameBytes !== undefined) framerOpts.maxMessageBytes = opts.maxFrameBytes;
    if (opts.handler.onRequestHead) this.streamFramer = new MsrpStreamFramer(framerOpts);
    else this.framer = new MsrpFramer(framerOpts);
    socket.setNoDelay(true);
    this.reads = opts.reads;
    if (opts.reads) opts.reads.handler = (data) => this.onData(data);
    // With `reads` no 'data' event ever comes; the listener is there should a Node version not
    // honour `onread` on an adopted socket: its bytes then still arrive (the default way).
    socket.on("data", (data: Buffer) => this.onData(data));
    socket.on("drain", () => this.onDrain());
    socket.on("error", (err) => this.finish(err));
    socket.on("close", () => {
      // No read can come any more: a relay read buffer lent to this socket may go back.
      this.reads?.close();
      this.finish(undefined);
    });
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

  /**
   * True while Node holds `sendBufferBytes` or more unsent: wait for drain before writing more.
   * (Also needs the socket's own mark passed, or no 'drain' would come: with the usual marks,
   * holding that much implies it.)
   */
  get congested(): boolean {
    const socket = this.socket;
    return !this.closedFlag && socket.writableNeedDrain && socket.writableLength >= this.sendBufferBytes;
  }

  /** True while a chunk is being written cut-through (openStream until its end). */
  get streaming(): boolean {
    return this.outStream !== undefined;
  }

  /** Transactions waiting for responses. */
  get pendingTransactions(): number {
    return this.pending.size;
  }

  /** True when `tid` names a request of ours still waiting for (or watched for) a response. */
  tidInUse(tid: string): boolean {
    return this.pending.has(tid) || this.errorWatch.has(tid);
  }

  /** Queues one message; false when the caller should wait for drain (or the connection is closed). */
  write(m: MsrpMessage): boolean {
    if (this.closedFlag) return false;
    const socket = this.socket;
    this.corkForTurn();
    if (this.outStream) {
      // Goes out at the end of this turn, around the open chunk (see uncork).
      this.backlog.push(m);
      return !this.congested;
    }
    let n: number;
    if (m.kind === "response" || m.body.length < COPY_BODY_BELOW) {
      const bytes = serializeMsrp(m);
      n = bytes.length;
      socket.write(bytes);
    } else {
      // A large body: written as it is, between its head (from the connection's template: the
      // chunks of one message differ only in tid and Byte-Range) and its end-line.
      const head = (this.heads ??= new RequestHeadSerializer()).head(m, true);
      const body = m.body;
      const tail = msrpEndLine(m.tid, m.flag);
      n = head.length + body.length + tail.length;
      socket.write(head);
      this.writeBody(body);
      socket.write(tail);
    }
    this.bytesSent += n;
    this.onBytes?.(n, 0);
    return !this.congested;
  }

  /**
   * Answers `request` hop by hop (To-Path: its previous hop, From-Path: `fromPath`): the bytes of
   * createMsrpResponse's response, made from a template (HopResponseSerializer), since a
   * connection answers the same sender with the same status chunk after chunk.
   */
  respond(request: Pick<MsrpRequest, "tid" | "headers">, status: number, comment: string | undefined, fromPath: string): void {
    if (this.closedFlag) return;
    if (this.outStream) {
      this.write(createMsrpResponse(request, status, comment, { fromPath }));
      return;
    }
    this.corkForTurn();
    const bytes = (this.responses ??= new HopResponseSerializer()).serialize(request, status, comment, fromPath);
    this.socket.write(bytes);
    this.bytesSent += bytes.length;
    this.onBytes?.(bytes.length, 0);
  }

  /**
   * Opens a chunk to be written cut-through: `head` (this hop's paths and tid) goes out now, the
   * body as the returned stream is fed, the end-line at its end. Undefined when the connection is
   * closed or already carries such a chunk (send that one whole later instead). `onResult` (when
   * a response is expected) gets the chunk's outcome once: its first failure, else its last 200;
   * `timeoutMs` runs per piece from its head. `bodyFramedByTid`: the body comes from a stream framed
   * by `head.tid`, so the first piece is not scanned for its end-line (OutboundChunkWriter).
   */
  openStream(
    head: MsrpRequest,
    timeoutMs: number,
    onResult?: (result: TransactionResult, tx: MsrpTransaction) => void,
    nextTid?: () => string,
    bodyFramedByTid = false,
  ): MsrpOutboundStream | undefined {
    if (this.closedFlag || this.outStream) return undefined;
    const heads = (this.heads ??= new RequestHeadSerializer());
    const stream = new MsrpOutboundStream(this, new OutboundChunkWriter(head, nextTid, bodyFramedByTid, heads), timeoutMs, onResult);
    this.outStream = stream;
    stream.begin();
    return stream;
  }

  /** @internal Writes the pieces of the open stream. */
  writeOps(ops: ChunkWireOp[], stream: MsrpOutboundStream): void {
    if (this.closedFlag) return;
    this.corkForTurn();
    let n = 0;
    for (const op of ops) {
      if (op.op === "head") stream.pieceStarted(op.tid);
      if (op.op === "body") this.writeBody(op.bytes);
      else this.socket.write(op.bytes);
      n += op.bytes.length;
    }
    this.bytesSent += n;
    this.onBytes?.(n, 0);
  }

  /** @internal The open stream wrote its end-line: the backlog goes out now. */
  streamEnded(stream: MsrpOutboundStream): void {
    if (this.outStream !== stream) return;
    this.outStream = undefined;
    this.flushBacklog();
  }

  /**
   * Body bytes go out as they are (no copy of a 50 MB message's chunks), except borrowed ones
   * (a relay passing on what it just read): Node keeps a reference to what it cannot write at
   * once, and the next read overwrites borrowed bytes, so those go out from a copy — unless they
   * are in a relay read buffer, which the write holds until it has left (socket-reads.ts).
   */
  private writeBody(body: Buffer): void {
    const release = retainRelayRead(body);
    if (release !== undefined) {
      this.socket.write(body, release);
      return;
    }
    if (!isBorrowed(body)) {
      this.socket.write(body);
      return;
    }
    this.copySlabs ??= new CopySlabs();
    for (const piece of this.copySlabs.copy(body)) this.socket.write(piece.bytes, piece.release);
  }

  private flushBacklog(): void {
    const backlog = this.backlog;
    this.backlog = [];
    for (const m of backlog) this.write(m);
  }

  /** @internal Registers a transaction without writing (a streamed piece's head). */
  startTransaction(tid: string, timeoutMs: number, onResult: (result: TransactionResult, tx: MsrpTransaction) => void): MsrpTransaction {
    const tx = new MsrpTransaction(tid, this.clock.nowNs(), onResult);
    this.pending.set(tid, tx);
    this.arm(tx, timeoutMs);
    return tx;
  }

  /**
   * Transaction timeouts share one timer per connection, set for the earliest deadline, instead
   * of a timer per transaction: a 50 MB message is 800 transactions, nearly all answered within
   * milliseconds of a 30 s timeout, and setting and clearing a timer for each was a visible cost.
   */
  private arm(tx: MsrpTransaction, timeoutMs: number): void {
    if (timeoutMs <= 0) return;
    tx.deadlineNs = tx.sentNs + timeoutMs * 1e6;
    if (tx.deadlineNs < this.sweepAtNs) this.scheduleSweep(tx.deadlineNs);
  }

  private scheduleSweep(atNs: number): void {
    this.sweepTimer?.cancel();
    this.sweepAtNs = atNs;
    this.sweepTimer = this.clock.after(Math.max(0, (atNs - this.clock.nowNs()) / 1e6), () => this.sweep());
  }

  private cancelSweep(): void {
    this.sweepTimer?.cancel();
    this.sweepTimer = undefined;
    this.sweepAtNs = Number.POSITIVE_INFINITY;
  }

  /** Times out every transaction past its deadline and sets the timer for the next deadline. */
  private sweep(): void {
    this.sweepTimer = undefined;
    this.sweepAtNs = Number.POSITIVE_INFINITY;
    const now = this.clock.nowNs();
    let next = Number.POSITIVE_INFINITY;
    const due: MsrpTransaction[] = [];
    for (const tx of this.pending.values()) {
      if (tx.deadlineNs === 0) continue;
      if (tx.deadlineNs <= now) due.push(tx);
      else if (tx.deadlineNs < next) next = tx.deadlineNs;
    }
    for (const tx of due) if (!tx.done) this.settle(tx, { kind: "timeout" });
    if (next !== Number.POSITIVE_INFINITY && !this.closedFlag && next < this.sweepAtNs) this.scheduleSweep(next);
  }

  private corkForTurn(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    // Uncorked in the check phase, after every read of this poll: the writes of all of them (the
    // chunks passed on, the 200s) go out in one writev instead of one syscall per read.
    setImmediate(uncork, this);
  }

  /** Resolves when the socket drained (or closed: writes then fail fast). */
  waitDrain(): Promise<void> {
    if (!this.congested) return Promise.resolve();
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
    this.arm(tx, timeoutMs);
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
    if (isBorrowed(data)) this.borrowedReads++;
    this.bytesReceived += data.length;
    this.onBytes?.(0, data.length);
    if (this.streamFramer) {
      this.onEvents(this.streamFramer.push(data));
      return;
    }
    const frames = this.framer!.push(data);
    for (const frame of frames) {
      if (this.closedFlag) return;
      this.onFrame(frame);
    }
  }

  private onEvents(events: MsrpStreamEvent[]): void {
    for (const e of events) {
      if (this.closedFlag) return;
      if (!("part" in e)) {
        if (!e.ok) this.abortIncoming();
        this.onFrame(e);
        continue;
      }
      if (e.part === "body") {
        const sink = this.inSink;
        if (sink) {
          if (sink.forwardsBytes === true && this.reads !== undefined) this.reads.relaying = true;
          sink.data(e.data);
        } else {
          this.inCollect?.body.add(e.data);
        }
      } else if (e.part === "head") {
        const sink = this.handler.onRequestHead!(this, e.request);
        if (sink) this.inSink = sink;
        else this.inCollect = { head: e.request, body: new BodyCollector() };
      } else {
        this.messagesReceived++;
        const sink = this.inSink;
        const collected = this.inCollect;
        this.inSink = undefined;
        this.inCollect = undefined;
        if (sink) sink.end(e.flag);
        else if (collected) {
          const h = collected.head;
          this.handler.onRequest(this, { kind: "request", tid: h.tid, method: h.method, headers: h.headers, body: collected.body.take(), flag: e.flag });
        }
      }
    }
  }

  private onFrame(frame: MsrpFrame): void {
    if (frame.ok) {
      this.messagesReceived++;
      const m = frame.message;
      if (m.kind === "request") this.handler.onRequest(this, m);
      else this.onResponse(m);
    } else {
      this.onBadFrame(frame);
    }
  }

  /** The request whose body was arriving will never end. */
  private abortIncoming(): void {
    const sink = this.inSink;
    this.inSink = undefined;
    this.inCollect = undefined;
    sink?.abort();
  }

  /** Calls `onError` if an error response to `tid` (a request sent without a transaction) comes. */
  watchErrors(tid: string, onError: (response: MsrpResponse) => void): void {
    const watch = this.errorWatch;
    watch.set(tid, onError);
    if (watch.size > ERROR_WATCH_MAX) watch.delete(watch.keys().next().value!);
  }

  private onResponse(response: MsrpResponse): void {
    const tx = this.pending.get(response.tid);
    if (!tx) {
      const watcher = this.errorWatch.get(response.tid);
      if (watcher !== undefined) {
        this.errorWatch.delete(response.tid);
        if (response.status >= 300) watcher(response);
      }
      // Otherwise an unknown tid: a late answer to a transaction that timed out or was cancelled.
      return;
    }
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

  private settle(tx: MsrpTransaction, result: TransactionResult): void {
    tx.done = true;
    this.pending.delete(tx.tid);
    // Nothing left to time out: no timer keeps the process (or an idle connection) busy.
    if (this.pending.size === 0 && this.sweepTimer) this.cancelSweep();
    tx.onResult(result, tx);
  }

  private onDrain(): void {
    this.checkDrain();
  }

  private checkDrain(): void {
    const w = this.drainWaiter;
    if (w && !this.congested) {
      this.drainWaiter = undefined;
      w.resolve();
    }
  }

  /** @internal End of the turn: what waits behind an open chunk goes out (the chunk is interrupted), then the writev. */
  uncork(): void {
    const stream = this.outStream;
    if (stream && this.backlog.length > 0 && !this.closedFlag) {
      // Still corked: the interruption, the backlog and nothing else go into this turn's writev.
      this.writeOps(stream.interruptOps(), stream);
      this.outStream = undefined;
      this.flushBacklog();
      this.outStream = stream;
    }
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
    this.copySlabs?.close();
    this.abortIncoming();
    const stream = this.outStream;
    this.outStream = undefined;
    this.backlog = [];
    const failed = [...this.pending.values()];
    this.pending.clear();
    this.cancelSweep();
    for (const tx of failed) {
      tx.done = true;
      tx.onResult(error ? { kind: "closed", error } : { kind: "closed" }, tx);
    }
    stream?.connectionClosed();
    const w = this.drainWaiter;
    this.drainWaiter = undefined;
    w?.resolve();
    this.handler.onClose(this, error);
  }
}

/**
 * A chunk being written cut-through on a connection (see openStream): feed it the body segments,
 * then end it. Writes after the end, or after the connection closed, are ignored.
 */
export class MsrpOutboundStream {
  private readonly txs: MsrpTransaction[] = [];
  private settled = 0;
  private outcome: TransactionResult | undefined;
  private finished = false;
  private reported = false;
  private readonly ops: ChunkWireOp[] = [];
  /**
   * Dropped at the end (its head and tail are of no further use): an ended chunk waits for its
   * answer for a while, many at once on a busy relay, and holds as little as possible meanwhile.
   */
  private writer: OutboundChunkWriter | undefined;
  private endBytes = 0;

  constructor(
    private readonly conn: MsrpConnection,
    writer: OutboundChunkWriter,
    private readonly timeoutMs: number,
    private readonly onResult: ((result: TransactionResult, tx: MsrpTransaction) => void) | undefined,
  ) {
    this.writer = writer;
  }

  /** Body bytes passed on so far. */
  get bytes(): number {
    return this.writer?.bodyBytes ?? this.endBytes;
  }

  /** @internal */
  begin(): void {
    this.conn.writeOps(this.writer!.start(), this);
  }

  /** Passes body bytes on; false when the connection is congested (hold the source until waitDrain()). */
  write(data: Buffer): boolean {
    const writer = this.writer;
    if (this.finished || !writer) return true;
    const ops = this.ops;
    writer.write(data, ops);
    this.conn.writeOps(ops, this);
    // The ops hold views of the source's reads: not kept past the write.
    ops.length = 0;
    return !this.conn.congested;
  }

  /** Writes the end-line with `flag` (`#`: the message is aborted, e.g. its sender went away). */
  end(flag: ContinuationFlag): void {
    const writer = this.writer;
    if (this.finished || !writer) return;
    this.conn.writeOps(writer.end(flag), this);
    this.finish();
    this.conn.streamEnded(this);
    this.maybeReport();
  }

  /** @internal The ops that interrupt the open piece (the connection has other messages to send). */
  interruptOps(): ChunkWireOp[] {
    return this.finished || !this.writer ? [] : this.writer.interrupt();
  }

  private finish(): void {
    this.finished = true;
    this.endBytes = this.writer?.bodyBytes ?? this.endBytes;
    this.writer = undefined;
  }

  /** The chunk's source went away mid-body: end it as aborted. */
  abort(): void {
    this.end("#");
  }

  /** Its session closed: ends the chunk as aborted if still open and forgets its transactions (`cancelled`). */
  cancel(): void {
    this.end("#");
    for (const tx of this.txs) this.conn.cancel(tx);
  }

  /** @internal A piece's head is being written: its transaction starts. */
  pieceStarted(tid: string): void {
    if (!this.onResult) return;
    this.txs.push(this.conn.startTransaction(tid, this.timeoutMs, (r) => this.onPiece(r)));
  }

  /** @internal */
  connectionClosed(): void {
    this.finish();
    this.maybeReport();
  }

  private onPiece(r: TransactionResult): void {
    this.settled++;
    const failed = (x: TransactionResult | undefined): boolean =>
      x !== undefined && !(x.kind === "response" && x.response.status >= 200 && x.response.status < 300);
    if (!failed(this.outcome)) this.outcome = r;
    this.maybeReport();
  }

  private maybeReport(): void {
    const first = this.txs[0];
    if (this.reported || !this.finished || !this.onResult || this.settled < this.txs.length || !first) return;
    this.reported = true;
    this.onResult(this.outcome ?? { kind: "closed" }, first);
  }
}

/**
 * A body collected from segments: borrowed ones (socket-reads.ts) are copied once, into one
 * buffer that grows by doubling, so the body is not copied again to join it. A body that came as
 * one owned segment is kept as it is, unless it pins a much larger backing store.
 */
class BodyCollector {
  private only: Buffer | undefined;
  private buf: Buffer | undefined;
  private length = 0;

  add(bytes: Buffer): void {
    if (this.buf === undefined && this.only === undefined && !isBorrowed(bytes)) {
      this.only = bytes;
      return;
    }
    if (this.only !== undefined) {
      const first = this.only;
      this.only = undefined;
      this.append(first);
    }
    this.append(bytes);
  }

  take(): Buffer {
    const only = this.only;
    if (only !== undefined) return only.length * 4 >= only.buffer.byteLength ? only : Buffer.from(only);
    if (this.buf === undefined) return Buffer.alloc(0);
    const body = this.buf.subarray(0, this.length);
    return this.length * 2 >= this.buf.length ? body : Buffer.from(body);
  }

  private append(bytes: Buffer): void {
    const need = this.length + bytes.length;
    if (this.buf === undefined || need > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, 2 * (this.buf?.length ?? 0)));
      this.buf?.copy(grown, 0, 0, this.length);
      this.buf = grown;
    }
    bytes.copy(this.buf, this.length);
    this.length = need;
  }
}

function uncork(conn: MsrpConnection): void {
  conn.uncork();
}
