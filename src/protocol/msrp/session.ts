/**
 * One MSRP session (RFC 4975): the media stream of one SIP dialog, identified by our session-id
 * in `localPath`, carried by one TCP connection that it may share with other sessions.
 *
 * Set-up (RFC 4975 §5.4, RFC 6135): an `active` session connects to the first URI of the remote
 * path (reusing an open connection to the same scheme/host/port) and sends an empty SEND
 * (`Byte-Range: 1-0/0`) so the passive side can bind the connection; `connect()` resolves when
 * that SEND is answered 200. A `passive` session waits for the peer's first request naming it in
 * the To-Path (the endpoint does the lookup and the 481/506/403 checks); if none comes within
 * `connectTimeoutMs` of its creation the session fails with `msrp-connect-timeout`.
 *
 * Sending: `send()` cuts a message into chunks (chunker.ts); every chunk is its own transaction
 * with its own timer. Chunks are pipelined (the next one does not wait for the previous 200) and
 * the socket's backpressure paces the loop, so a stream source is never held in memory whole.
 * The result resolves once every chunk is answered 200 (and the success REPORT came, if asked
 * for), or at the first failure: an error status (413 means "stop sending this message": no more
 * chunks are sent — RFC 4975 §10.5 — and none with `#` either, since every chunk we sent was
 * complete), a timeout (408), the connection's loss or the session's close.
 *
 * Receiving: SENDs are answered (Failure-Report rules: `no` gets nothing, `partial` only errors)
 * and reassembled; whole messages are emitted as 'message' (the empty binding SEND is not a
 * message). With `Success-Report: yes` the completed message is confirmed by a REPORT. REPORTs are
 * never answered; they are emitted as 'report' and settle our own sends. A relay installs a chunk
 * handler instead (`setChunkHandler`) and gets every SEND chunk unassembled, to answer itself and
 * to forward with `forwardChunk()` on the other leg (see relay.ts). With a chunk stream handler
 * beside it (`setChunkStreamHandler`) a chunk still arriving is offered as its head first, and
 * `openForward()` passes it on cut-through, read by read. A receiver that keeps no bodies counts
 * the later chunks of a message as they arrive instead of collecting their bytes.
 */
import { EventEmitter } from "node:events";
import type { Clock, TimerHandle } from "../../time/clock.js";
import { type ByteRange, parseByteRange, parseStatusHeader } from "./byte-range.js";
import { type ChunkHeaderOptions, chunkIterable, chunkMessage } from "./chunker.js";
import type { MsrpBodySink, MsrpConnection, MsrpOutboundStream, MsrpTransaction, TransactionResult } from "./connection.js";
import {
  type ContinuationFlag,
  type FailureReport,
  formatPath,
  getFailureReport,
  getFromPath,
  getMsrpHeader,
  getSuccessReport,
  type MsrpHeaderList,
  type MsrpRequest,
  type MsrpResponse,
} from "./message.js";
import { type ReassembledMessage, MsrpReassembler } from "./reassembler.js";
import { createReport, responseRequired } from "./response.js";
import { MsrpSessionError } from "./session-error.js";
import { pickTransactionId, randomLongTransactionId, randomTransactionId } from "./transaction-id.js";
import { msrpUrisEqual, type MsrpUri, parseMsrpUri } from "./uri.js";

export type MsrpSetup = "active" | "passive";
export type MsrpSessionState = "idle" | "connecting" | "bound" | "closed";

export const DEFAULT_TRANSACTION_TIMEOUT_MS = 30_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
export const DEFAULT_CHUNK_SIZE = 64 * 1024;
/**
 * Shortest received tid a relay passes on as the tid of its own forwarded chunk (openForward): 16
 * base-62 characters carry ~95 bits, RFC 4975 §7.1 asks for 64 bits of randomness, so such a tid
 * does not collide with another sender's on the outgoing connection (and one in use there is not
 * reused). Shorter tids may be counters.
 */
export const REUSABLE_TID_LENGTH = 16;

/**
 * A received tid the relay may send as its own: alphanumerics only (a strict RFC 4975 ident: the
 * framer also accepts `.-+%=`, even first, from peers, but a strict receiver on the far leg, maybe a
 * trunk shared by many sessions, would not), REUSABLE_TID_LENGTH to 32 of them.
 */
const REUSABLE_TID = new RegExp(`^[A-Za-z0-9]{${REUSABLE_TID_LENGTH},32}$`);

export interface MsrpSessionOptions {
  /** Our session-id in the path (default: 20 random base-62 characters). */
  localSessionId?: string;
  setup: MsrpSetup;
  /** Content types we accept (`type/subtype`, `type/*` or `*`); others get 415. Default `*`. */
  acceptTypes?: readonly string[];
  /** For the SDP `a=accept-wrapped-types` (not enforced here: CPIM payloads are the caller's). */
  acceptWrappedTypes?: readonly string[];
  /** The peer's path from the SDP, when already known (else connect(path) / setRemotePath). */
  remotePath?: readonly string[];
  /** Per-chunk transaction timeout (RFC 4975 §7.1.1 suggests 30 s). */
  transactionTimeoutMs?: number;
  /** Active: TCP connect + binding SEND. Passive: time from creation until the peer binds. 0 = none. */
  connectTimeoutMs?: number;
  /** How long to wait for a success REPORT after the last 200. Default: the transaction timeout. */
  reportTimeoutMs?: number;
  /** Default chunk size of send(). */
  chunkSize?: number;
  /** Largest message reassembled; larger ones get 413. Default 64 MiB. */
  maxMessageBytes?: number;
  /**
   * False: incoming messages are tracked to completion but their bytes are not kept ('message'
   * events carry an empty body and the `size`): a load generator's receivers need to know that a
   * 50 MB message arrived whole, not to hold it. Default true.
   */
  keepBodies?: boolean;
  /** Passive: answer 403 to a binding request whose From-Path is not the expected remote path. Default true. */
  checkFromPath?: boolean;
  /**
   * Active: only sessions with the same group share a connection (e.g. one group per virtual
   * client for the per-client model). Default: every session of the endpoint may share.
   */
  connectionGroup?: string;
}

export interface MsrpSendOptions {
  contentType: string;
  /** Default: a fresh random id. */
  messageId?: string;
  chunkSize?: number;
  /** Ask the receiver for a REPORT; the result then waits for it. */
  successReport?: boolean;
  /** `no`: no responses are expected (chunks count as sent once written); `partial` likewise. */
  failureReport?: FailureReport;
  /** For stream sources: the size, written in every Byte-Range (else `*` until the last chunk). */
  totalBytes?: number;
  /** More headers for every chunk (e.g. Content-Disposition). */
  extraHeaders?: MsrpHeaderList;
  transactionTimeoutMs?: number;
  reportTimeoutMs?: number;
}

export type MsrpSendBody = Buffer | string | Iterable<Buffer> | AsyncIterable<Buffer>;

export interface MsrpSendResult {
  ok: boolean;
  messageId: string;
  /** 200 on success; the failing status otherwise (408 for timeouts, 0 for local failures). */
  status: number;
  error?: MsrpSessionError;
  /** Body bytes written. */
  bytes: number;
  /** Chunks written. */
  chunks: number;
  /** clock.nowNs() when send() was called and when the result was settled. */
  startNs: number;
  endNs: number;
  /** Per answered chunk: chunk written → its 200, in µs (in answer order). */
  chunkLatencyUs: number[];
  /** Last chunk answered (µs after startNs); undefined when no chunk was answered. */
  answeredUs?: number;
  /** The success REPORT's status and arrival (µs after startNs), when one was asked for and came. */
  reportStatus?: number;
  reportUs?: number;
}

export interface MsrpIncomingMessage {
  messageId: string;
  contentType?: string;
  /** Empty when the session discards bodies (keepBodies: false). */
  body: Buffer;
  /** Bytes in the message. */
  size: number;
  /** Headers of the first chunk received for this message. */
  headers: MsrpHeaderList;
  chunks: number;
  /** clock.nowNs() when the last missing chunk arrived. */
  receivedNs: number;
}

export interface MsrpIncomingReport {
  request: MsrpRequest;
  messageId?: string;
  /** The Status header's code (000 namespace), 0 when missing or malformed. */
  status: number;
  byteRange?: ByteRange;
}

export interface MsrpChunkResult {
  /** The downstream status; 408 for a timeout, 0 when the chunk could not be sent at all. */
  status: number;
  comment?: string;
  /** False when no answer was expected (Failure-Report no/partial) or none came. */
  answered: boolean;
  latencyUs: number;
  error?: MsrpSessionError;
}

export interface MsrpSessionCloseInfo {
  reason: "local" | "connection-lost" | "connect-timeout" | "endpoint-closed" | "bind-failed";
  error?: MsrpSessionError;
}

export interface MsrpSessionEvents {
  message: [message: MsrpIncomingMessage];
  report: [report: MsrpIncomingReport];
  bound: [];
  close: [info: MsrpSessionCloseInfo];
}

/** What a session needs from its endpoint (implemented by MsrpEndpoint). */
export interface MsrpSessionHost {
  readonly clock: Clock;
  /** Opens or reuses a connection to `uri` and binds `session` to it before resolving. */
  attachActive(session: MsrpSession, uri: MsrpUri, timeoutMs: number): Promise<MsrpConnection>;
  /**
   * Forgets the session (endpoint registry, its connection's table). An outgoing connection left
   * unused is kept for reuse when `reusable` (the session ended cleanly: it was bound and closed
   * locally), else closed: a connection whose binding failed or timed out is not to be trusted.
   */
  releaseSession(session: MsrpSession, reusable?: boolean): void;
}

/** One SEND chunk handed to a chunk handler; answer it exactly once with respond(). */
export class MsrpIncomingChunk {
  private answered = false;

  constructor(
    readonly session: MsrpSession,
    readonly request: MsrpRequest,
    /** @internal */ private readonly conn: MsrpConnection,
    readonly receivedNs: number,
  ) {}

  get messageId(): string | undefined {
    return getMsrpHeader(this.request, "Message-ID");
  }

  get responded(): boolean {
    return this.answered;
  }

  /** Sends the hop-by-hop response (nothing when Failure-Report forbids it). Later calls are ignored. */
  respond(status: number, comment?: string): void {
    if (this.answered) return;
    this.answered = true;
    if (!responseRequired(this.request, status) || this.conn.closed) return;
    this.conn.respond(this.request, status, comment, this.session.localUri);
  }
}

export type MsrpChunkHandler = (chunk: MsrpIncomingChunk) => void;

/**
 * Cut-through relays: offered every SEND whose body is still arriving, as a chunk whose request
 * is the head (empty body, flag `+`). Return a sink to take the body as it comes (and answer the
 * chunk, typically at its end), or undefined to get the chunk whole through the chunk handler.
 */
export type MsrpChunkStreamHandler = (chunk: MsrpIncomingChunk) => MsrpBodySink | undefined;

/** A chunk being forwarded cut-through on a leg (see MsrpSession.openForward). */
export interface MsrpForwardStream {
  /** Passes body bytes on; false when the leg is congested (hold the source until waitDrain()). */
  write(data: Buffer): boolean;
  /** The end-line with the chunk's flag. */
  end(flag: ContinuationFlag): void;
  /** Ends the chunk as aborted (`#`): its source went away. */
  abort(): void;
}

/** The handler's sink for a chunk's body, with the session counting the bytes on their way to it. */
class CountedSink implements MsrpBodySink {
  readonly forwardsBytes: boolean | undefined;

  constructor(
    private readonly session: MsrpSession,
    private readonly sink: MsrpBodySink,
  ) {
    this.forwardsBytes = sink.forwardsBytes;
  }

  data(bytes: Buffer): void {
    this.session.countReceived(bytes.length);
    this.sink.data(bytes);
  }

  end(flag: ContinuationFlag): void {
    this.sink.end(flag);
  }

  abort(): void {
    this.sink.abort();
  }
}

/** State of one send() in progress. */
interface Outgoing {
  messageId: string;
  startNs: number;
  bytes: number;
  chunks: number;
  outstanding: number;
  writingDone: boolean;
  successReport: boolean;
  /** Body size once known (after the last chunk). */
  total?: number;
  reportStatus?: number;
  reportNs?: number;
  lastAnsweredNs?: number;
  latencies: number[];
  reportTimer?: TimerHandle;
  /** Failure-Report partial: one callback for every chunk's error watch. */
  onError?: (response: MsrpResponse) => void;
  reportTimeoutMs: number;
  settled: boolean;
  resolve: (r: MsrpSendResult) => void;
  /** Wakes the send loop out of a drain wait when the message is settled meanwhile. */
  wake?: () => void;
}

export class MsrpSession extends EventEmitter<MsrpSessionEvents> {
  readonly localSessionId: string;
  readonly localUri: string;
  readonly setup: MsrpSetup;
  readonly acceptTypes: readonly string[];
  readonly acceptWrappedTypes: readonly string[];
  readonly connectionGroup: string | undefined;
  readonly transactionTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly reportTimeoutMs: number;
  readonly chunkSize: number;
  readonly checkFromPath: boolean;
  /** Message counters, for tests and stats. */
  messagesSent = 0;
  messagesReceived = 0;
  bytesSent = 0;
  bytesReceived = 0;

  private stateValue: MsrpSessionState = "idle";
  private remote: string[] | undefined;
  /** `remote` as a To-Path value, formatted once (every forwarded chunk carries it). */
  private remoteText = "";
  private conn: MsrpConnection | undefined;
  private readonly host: MsrpSessionHost;
  private readonly clock: Clock;
  private readonly maxMessageBytes: number | undefined;
  private readonly keepBodies: boolean;
  private reassembler: MsrpReassembler | undefined;
  private chunkHandler: MsrpChunkHandler | undefined;
  private chunkStreamHandler: MsrpChunkStreamHandler | undefined;
  private readonly inflight = new Set<MsrpTransaction>();
  /** Chunks being forwarded cut-through on this leg, until their result: how to cancel each. */
  /** @internal */ readonly forwards = new Set<ForwardStream>();
  private readonly outgoing = new Map<string, Outgoing>();
  private connectTimer: TimerHandle | undefined;
  private readonly boundPromise: Promise<void>;
  private resolveBound!: () => void;
  private rejectBound!: (e: MsrpSessionError) => void;
  private readonly acceptAll: boolean;
  private heldConn: MsrpConnection | undefined;
  private holds = 0;

  constructor(host: MsrpSessionHost, localUri: MsrpUri, opts: MsrpSessionOptions) {
    super();
    this.host = host;
    this.clock = host.clock;
    this.setup = opts.setup;
    this.localSessionId = localUri.sessionId!;
    this.localUri = formatUri(localUri);
    this.acceptTypes = opts.acceptTypes ?? ["*"];
    this.acceptWrappedTypes = opts.acceptWrappedTypes ?? [];
    this.acceptAll = this.acceptTypes.includes("*");
    this.connectionGroup = opts.connectionGroup;
    this.transactionTimeoutMs = opts.transactionTimeoutMs ?? DEFAULT_TRANSACTION_TIMEOUT_MS;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.reportTimeoutMs = opts.reportTimeoutMs ?? this.transactionTimeoutMs;
    this.chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
    this.maxMessageBytes = opts.maxMessageBytes;
    this.keepBodies = opts.keepBodies ?? true;
    this.checkFromPath = opts.checkFromPath ?? true;
    if (opts.remotePath) this.setRemotePath(opts.remotePath);
    this.boundPromise = new Promise<void>((resolve, reject) => {
      this.resolveBound = resolve;
      this.rejectBound = reject;
    });
    // Nobody may be waiting when a session fails; the rejection is also reported by 'close'.
    this.boundPromise.catch(() => {});
    if (this.setup === "passive" && this.connectTimeoutMs > 0) {
      this.connectTimer = this.clock.after(this.connectTimeoutMs, () => {
        this.connectTimer = undefined;
        if (this.stateValue === "bound" || this.stateValue === "closed") return;
        const error = new MsrpSessionError(
          "msrp-connect-timeout",
          `the peer did not connect to MSRP session ${this.localSessionId} within ${this.connectTimeoutMs} ms`,
        );
        this.terminate("connect-timeout", error);
      });
    }
  }

  get state(): MsrpSessionState {
    return this.stateValue;
  }

  get closed(): boolean {
    return this.stateValue === "closed";
  }

  get isBound(): boolean {
    return this.stateValue === "bound";
  }

  /** Our path for the SDP `a=path` (one URI: we use no relays of our own). */
  get localPath(): string[] {
    return [this.localUri];
  }

  get remotePath(): readonly string[] | undefined {
    return this.remote;
  }

  /** The connection carrying the session once bound. */
  get connection(): MsrpConnection | undefined {
    return this.conn;
  }

  /** True while the connection holds more unsent bytes than its high-water mark. */
  get congested(): boolean {
    return this.conn?.congested ?? false;
  }

  /** Resolves when the connection drained (at once when it is not congested or not there). */
  waitDrain(): Promise<void> {
    return this.conn?.waitDrain() ?? Promise.resolve();
  }

  /** Resolves when bound; rejects with the session's failure (connect timeout, close). */
  whenBound(): Promise<void> {
    return this.boundPromise;
  }

  /** Sets the peer's path from the SDP (relays first, the peer's own URI last). */
  setRemotePath(path: readonly string[]): void {
    if (path.length === 0 || !path.every((u) => parseMsrpUri(u) !== null)) {
      throw new MsrpSessionError("msrp-not-bound", `invalid MSRP path: ${formatPath(path)}`);
    }
    this.remote = [...path];
    this.remoteText = formatPath(this.remote);
  }

  /**
   * Active: connects (or reuses a connection) to the first URI of the remote path and binds with
   * an empty SEND; resolves once it is answered 200. Passive: resolves when the peer has bound.
   * Rejects with MsrpSessionError (connect-failed, connect-timeout, status 481/506/403, closed).
   * Calling it again returns the same outcome.
   */
  connect(remotePath?: readonly string[]): Promise<void> {
    if (remotePath) this.setRemotePath(remotePath);
    if (this.setup === "passive" || this.stateValue !== "idle") return this.boundPromise;
    if (!this.remote) {
      const error = new MsrpSessionError("msrp-not-bound", "connect() needs the remote MSRP path");
      this.terminate("bind-failed", error);
      return this.boundPromise;
    }
    this.stateValue = "connecting";
    void this.connectActive(this.remote);
    return this.boundPromise;
  }

  /**
   * Receive mode for relays: every SEND chunk goes to `handler` unassembled and unanswered (the
   * handler responds). `undefined` returns to reassembly and automatic answers.
   */
  setChunkHandler(handler: MsrpChunkHandler | undefined): void {
    this.chunkHandler = handler;
  }

  /**
   * Cut-through for relays, beside the chunk handler: see MsrpChunkStreamHandler. Chunks the
   * stream handler declines, and chunks that arrive whole, still go to the chunk handler.
   */
  setChunkStreamHandler(handler: MsrpChunkStreamHandler | undefined): void {
    this.chunkStreamHandler = handler;
  }

  /** Sends one message; see the module comment. Resolves (never rejects) with the outcome. */
  async send(body: MsrpSendBody, opts: MsrpSendOptions): Promise<MsrpSendResult> {
    const startNs = this.clock.nowNs();
    const messageId = opts.messageId ?? randomTransactionId(16);
    let resolve!: (r: MsrpSendResult) => void;
    const done = new Promise<MsrpSendResult>((r) => (resolve = r));
    const out: Outgoing = {
      messageId,
      startNs,
      bytes: 0,
      chunks: 0,
      outstanding: 0,
      writingDone: false,
      successReport: opts.successReport === true,
      latencies: [],
      reportTimeoutMs: opts.reportTimeoutMs ?? this.reportTimeoutMs,
      settled: false,
      resolve,
    };
    if (this.stateValue !== "bound") {
      const error = await this.waitUntilBound();
      if (error) {
        this.settle(out, error);
        return done;
      }
    }
    if (this.outgoing.has(messageId)) {
      this.settle(out, new MsrpSessionError("msrp-source-error", `message ${messageId} is already being sent`));
      return done;
    }
    this.outgoing.set(messageId, out);
    const failureReport = opts.failureReport ?? "yes";
    const timeoutMs = opts.transactionTimeoutMs ?? this.transactionTimeoutMs;
    const header: ChunkHeaderOptions & { chunkSize: number } = {
      toPath: this.remoteText,
      fromPath: this.localUri,
      messageId,
      contentType: opts.contentType,
      successReport: out.successReport,
      failureReport,
      chunkSize: opts.chunkSize ?? this.chunkSize,
    };
    if (opts.extraHeaders) header.extraHeaders = opts.extraHeaders;
    const source = typeof body === "string" ? Buffer.from(body, "utf8") : body;
    try {
      if (Buffer.isBuffer(source) || isSyncIterable(source)) {
        // Synchronous for in-memory bodies and synchronous sources (a virtual client's payload
        // stream): a one-chunk message is written in the caller's turn, and a large one costs no
        // promise per chunk, only a wait when the connection is congested.
        const chunks = chunkIterable({ ...header, source, ...(opts.totalBytes !== undefined ? { totalBytes: opts.totalBytes } : {}) });
        for (const chunk of chunks) {
          if (!this.writeChunk(out, chunk, failureReport, timeoutMs)) break;
          if (this.conn!.congested) await this.drain(out, failureReport === "yes" ? undefined : timeoutMs);
        }
      } else {
        const gen = chunkMessage({ ...header, source, ...(opts.totalBytes !== undefined ? { totalBytes: opts.totalBytes } : {}) });
        for await (const chunk of gen) {
          if (!this.writeChunk(out, chunk, failureReport, timeoutMs)) break;
          if (this.conn!.congested) await this.drain(out, failureReport === "yes" ? undefined : timeoutMs);
        }
      }
    } catch (e) {
      const text = e instanceof Error ? e.message : String(e);
      this.settle(out, new MsrpSessionError("msrp-source-error", `message ${messageId}: ${text}`));
      return done;
    }
    out.writingDone = true;
    out.total = out.bytes;
    if (!out.settled && out.chunks > 0 && this.stateValue !== "closed") this.messagesSent++;
    this.maybeComplete(out);
    return done;
  }

  /**
   * Forwards a SEND chunk received on another session onto this leg: new tid, this leg's
   * To-Path/From-Path, everything else kept (Message-ID, Byte-Range, Content-Type, flag, body).
   * Waits for the binding when the session is not bound yet. Resolves with the leg's answer.
   */
  forwardChunk(
    chunk: MsrpRequest,
    opts: { stripSuccessReport?: boolean; transactionTimeoutMs?: number } = {},
  ): Promise<MsrpChunkResult> {
    return new Promise<MsrpChunkResult>((resolve) => this.forwardChunkThen(chunk, opts, resolve));
  }

  /**
   * forwardChunk with a callback (relays forward every chunk: no promise and no microtask per
   * chunk). `onResult` is called exactly once, never synchronously.
   */
  forwardChunkThen(
    chunk: MsrpRequest,
    opts: { stripSuccessReport?: boolean; transactionTimeoutMs?: number; onLateError?: (response: MsrpResponse) => void },
    onResult: (r: MsrpChunkResult) => void,
  ): void {
    if (this.stateValue !== "bound") {
      void this.waitUntilBound().then((error) => {
        if (error) onResult({ status: 0, answered: false, latencyUs: 0, error });
        else this.forwardChunkThen(chunk, opts, onResult);
      });
      return;
    }
    const headers: MsrpHeaderList = [
      ["To-Path", this.remoteText],
      ["From-Path", this.localUri],
    ];
    for (const h of chunk.headers) {
      const name = h[0];
      if (name === "To-Path" || name === "From-Path") continue;
      if (opts.stripSuccessReport && name === "Success-Report") continue;
      headers.push(h);
    }
    const req: MsrpRequest = {
      kind: "request",
      tid: pickTransactionId(chunk.body),
      method: "SEND",
      headers,
      body: chunk.body,
      flag: chunk.flag,
    };
    const conn = this.conn!;
    this.bytesSent += chunk.body.length;
    const failureReport = getFailureReport(chunk);
    if (failureReport !== "yes") {
      conn.write(req);
      // `partial`: an error response comes after the chunk counted as passed on (onResult 200).
      const onLateError = opts.onLateError;
      if (failureReport === "partial" && onLateError !== undefined) conn.watchErrors(req.tid, onLateError);
      process.nextTick(onResult, { status: 200, answered: false, latencyUs: 0 });
      return;
    }
    const tx = conn.request(req, opts.transactionTimeoutMs ?? this.transactionTimeoutMs, (r, t) => {
      this.inflight.delete(t);
      onResult(chunkResult(r, t));
    });
    if (!tx.done) this.inflight.add(tx);
  }

  /**
   * Forwards a SEND chunk cut-through onto this leg while its body is still arriving: the head
   * (a new tid, or the chunk's own with `bodyFramedByTid`; this leg's To-Path/From-Path; the other
   * headers kept) goes out now, the body as the
   * returned stream is fed. Undefined when the leg cannot take it now (not bound yet, or its
   * connection is writing another such chunk): forward the whole chunk with forwardChunk()
   * instead. `onResult` gets the leg's answer once the chunk ended (200 at once when no answer is
   * expected: Failure-Report no/partial).
   */
  openForward(
    head: MsrpRequest,
    onResult: (r: MsrpChunkResult) => void,
    opts: {
      stripSuccessReport?: boolean;
      transactionTimeoutMs?: number;
      nextTid?: () => string;
      /** Failure-Report partial: called with an error response to any piece of the chunk. */
      onLateError?: (response: MsrpResponse) => void;
      /**
       * The body comes from an MSRP stream framed by `head.tid` (a relay passing on what its
       * framer reads): the chunk may then keep that tid, and its body is not scanned again.
       */
      bodyFramedByTid?: boolean;
    } = {},
  ): MsrpForwardStream | undefined {
    const conn = this.conn;
    if (this.stateValue !== "bound" || !conn || conn.streaming || conn.closed) return undefined;
    const headers: MsrpHeaderList = [
      ["To-Path", this.remoteText],
      ["From-Path", this.localUri],
    ];
    for (const h of head.headers) {
      const name = h[0];
      if (name === "To-Path" || name === "From-Path") continue;
      if (opts.stripSuccessReport && name === "Success-Report") continue;
      headers.push(h);
    }
    // The tid it came with, when its framing vouches for the body and the tid is safe to reuse on
    // this connection (a strict ident of 16 or more alphanumerics, so random-looking and valid for
    // any receiver; no request of ours is using it): the relay then reads every body byte once
    // instead of twice (OutboundChunkWriter). Otherwise a
    // fresh one: a streamed chunk is usually a large one (its body spans reads), and long tids make
    // every hop's end-line scan of it cheaper (LONG_TID_LENGTH).
    const keepTid = opts.bodyFramedByTid === true && REUSABLE_TID.test(head.tid) && !conn.tidInUse(head.tid);
    const tid = keepTid ? head.tid : randomLongTransactionId();
    const req: MsrpRequest = { kind: "request", tid, method: "SEND", headers, body: head.body, flag: "+" };
    const failureReport = getFailureReport(head);
    const fwd = new ForwardStream(this, failureReport === "yes", onResult);
    // Failure-Report partial: no transaction, but every tid the chunk goes out under (a piece
    // interrupted by another chunk continues under a new one) is watched for an error response.
    const onLateError = failureReport === "partial" ? opts.onLateError : undefined;
    let nextTid = opts.nextTid;
    if (onLateError !== undefined) {
      const base = nextTid ?? randomLongTransactionId;
      nextTid = () => {
        const tid = base();
        conn.watchErrors(tid, onLateError);
        return tid;
      };
    }
    const stream = conn.openStream(req, opts.transactionTimeoutMs ?? this.transactionTimeoutMs, fwd.answered ? fwd.onStreamResult : undefined, nextTid, keepTid);
    if (!stream) return undefined;
    if (onLateError !== undefined) conn.watchErrors(req.tid, onLateError);
    fwd.stream = stream;
    // Closing the session ends the chunk (`#`) and cancels its transactions (terminate()).
    this.forwards.add(fwd);
    return fwd;
  }

  /** Sends a REPORT on this leg (e.g. a relay passing the far end's REPORT back, or a failure report). */
  sendReport(opts: { messageId: string; status: number; byteRange: ByteRange; reason?: string }): boolean {
    if (this.stateValue !== "bound" || !this.remote) return false;
    const probe: Pick<MsrpRequest, "headers"> = {
      headers: [
        ["To-Path", this.localUri],
        ["From-Path", this.remoteText],
        ["Message-ID", opts.messageId],
      ],
    };
    const reportOpts: { fromPath: string; reason?: string } = { fromPath: this.localUri };
    if (opts.reason !== undefined) reportOpts.reason = opts.reason;
    return this.conn!.write(createReport(probe, opts.status, opts.byteRange, reportOpts));
  }

  /** Stops reading the session's connection (a relay whose other leg is congested). Counted. */
  holdReading(): void {
    if (!this.conn) return;
    if (this.holds++ === 0) {
      this.heldConn = this.conn;
      this.conn.holdReading();
    }
  }

  releaseReading(): void {
    if (this.holds === 0) return;
    if (--this.holds === 0) {
      this.heldConn?.releaseReading();
      this.heldConn = undefined;
    }
  }

  /** Ends the session: pending sends fail with msrp-session-closed; the connection is released. Safe twice. */
  async close(): Promise<void> {
    this.terminate("local");
  }

  // ---- called by the endpoint -------------------------------------------------------------

  /** @internal The expected peer URI check for a binding request (RFC 4975 §5.4). */
  acceptsBindingFrom(request: MsrpRequest): boolean {
    if (!this.checkFromPath || !this.remote) return true;
    const from = getFromPath(request);
    const peer = from[from.length - 1];
    const expected = this.remote[this.remote.length - 1]!;
    return peer !== undefined && msrpUrisEqual(peer, expected);
  }

  /**
   * @internal A connection was bound to this session (passive: by the peer's first request). A
   * passive session that was not told the remote path yet takes it from that request's From-Path
   * **[choice]**: the PF may relay towards a leg before the SDP answer was processed.
   */
  attached(conn: MsrpConnection, request?: MsrpRequest): void {
    this.conn = conn;
    if (!this.remote && request) {
      const from = getFromPath(request);
      if (from.length > 0) {
        this.remote = from;
        this.remoteText = formatPath(from);
      }
    }
    if (this.setup === "passive") this.markBound();
  }

  /** @internal The connection carrying the session is gone. */
  connectionLost(error: Error | undefined): void {
    const text = error ? `: ${error.message}` : "";
    this.terminate("connection-lost", new MsrpSessionError("msrp-connection-lost", `MSRP connection lost${text}`));
  }

  /** @internal The endpoint is closing. */
  endpointClosed(): void {
    this.terminate("endpoint-closed", new MsrpSessionError("msrp-session-closed", "the MSRP endpoint was closed"));
  }

  /** @internal A request routed to this session by the endpoint. */
  handleRequest(req: MsrpRequest, conn: MsrpConnection): void {
    if (this.stateValue === "closed") {
      respond(conn, req, 481, this.localUri);
      return;
    }
    switch (req.method) {
      case "SEND":
        this.bytesReceived += req.body.length;
        if (this.chunkHandler) {
          this.chunkHandler(new MsrpIncomingChunk(this, req, conn, this.clock.nowNs()));
        } else {
          this.receiveSend(req, conn);
        }
        return;
      case "REPORT":
        this.receiveReport(req);
        return;
      default:
        respond(conn, req, 501, this.localUri);
    }
  }

  /**
   * @internal A SEND head routed to this (bound) session by the endpoint: a sink when the chunk
   * stream handler takes it, undefined to have the request collected and delivered whole.
   */
  handleRequestHead(head: MsrpRequest, conn: MsrpConnection): MsrpBodySink | undefined {
    if (this.stateValue === "closed" || head.method !== "SEND") return undefined;
    const handler = this.chunkStreamHandler;
    if (!handler || !this.chunkHandler) return this.chunkHandler ? undefined : this.countingSink(head, conn);
    const sink = handler(new MsrpIncomingChunk(this, head, conn, this.clock.nowNs()));
    return sink ? new CountedSink(this, sink) : undefined;
  }

  /** @internal Body bytes of a chunk taken by the stream handler. */
  countReceived(n: number): void {
    this.bytesReceived += n;
  }

  /**
   * A receiver that keeps no bodies needs only the sizes of a message's later chunks: they are
   * counted as they arrive rather than collected into a Buffer nobody reads. A message's first
   * chunk (Byte-Range from 1) still comes whole, for whoever peeks at the start of a message.
   */
  private countingSink(head: MsrpRequest, conn: MsrpConnection): MsrpBodySink | undefined {
    if (this.keepBodies) return undefined;
    const range = getMsrpHeader(head, "Byte-Range");
    if (range === undefined || (parseByteRange(range)?.start ?? 1) <= 1) return undefined;
    let bytes = 0;
    return {
      data: (b) => {
        bytes += b.length;
      },
      end: (flag) => {
        this.bytesReceived += bytes;
        const req: MsrpRequest = { kind: "request", tid: head.tid, method: head.method, headers: head.headers, body: head.body, flag };
        if (this.stateValue === "closed") respond(conn, req, 481, this.localUri);
        else this.receiveSend(req, conn, bytes);
      },
      abort: () => {},
    };
  }

  // ---- internals ----------------------------------------------------------------------------

  private async connectActive(path: string[]): Promise<void> {
    const first = parseMsrpUri(path[0]!)!;
    const startNs = this.clock.nowNs();
    let conn: MsrpConnection;
    try {
      conn = await this.host.attachActive(this, first, this.connectTimeoutMs);
    } catch (e) {
      const error =
        e instanceof MsrpSessionError ? e : new MsrpSessionError("msrp-connect-failed", e instanceof Error ? e.message : String(e));
      this.terminate("bind-failed", error);
      return;
    }
    if (this.stateValue === "closed") return;
    const elapsedMs = (this.clock.nowNs() - startNs) / 1e6;
    const budget = this.connectTimeoutMs > 0 ? Math.max(1, this.connectTimeoutMs - elapsedMs) : this.transactionTimeoutMs;
    const bind: MsrpRequest = {
      kind: "request",
      tid: randomTransactionId(),
      method: "SEND",
      headers: [
        ["To-Path", formatPath(path)],
        ["From-Path", this.localUri],
        ["Message-ID", randomTransactionId(16)],
        ["Byte-Range", "1-0/0"],
      ],
      body: Buffer.alloc(0),
      flag: "$",
    };
    const tx = conn.request(bind, budget, (r, t) => {
      this.inflight.delete(t);
      if (this.stateValue === "closed") return;
      if (r.kind === "response" && r.response.status >= 200 && r.response.status < 300) {
        this.markBound();
        return;
      }
      let error: MsrpSessionError;
      if (r.kind === "response") {
        error = new MsrpSessionError(
          "msrp-status",
          `the binding SEND of session ${this.localSessionId} was answered ${r.response.status}`,
          r.response.status,
        );
      } else if (r.kind === "timeout") {
        error = new MsrpSessionError("msrp-connect-timeout", `the binding SEND of session ${this.localSessionId} was not answered in time`, 408);
      } else if (r.kind === "closed") {
        error = new MsrpSessionError("msrp-connection-lost", "the MSRP connection closed before the binding SEND was answered");
      } else {
        error = new MsrpSessionError("msrp-session-closed", "the session closed while binding");
      }
      this.terminate("bind-failed", error);
    });
    if (!tx.done) this.inflight.add(tx);
  }

  private markBound(): void {
    if (this.stateValue === "bound" || this.stateValue === "closed") return;
    this.stateValue = "bound";
    this.connectTimer?.cancel();
    this.connectTimer = undefined;
    this.resolveBound();
    this.emit("bound");
  }

  /** Undefined once bound; the failure otherwise. */
  private async waitUntilBound(): Promise<MsrpSessionError | undefined> {
    if (this.stateValue === "idle" && this.setup === "active") {
      return new MsrpSessionError("msrp-not-bound", "send() on an active MSRP session before connect()");
    }
    try {
      await this.boundPromise;
    } catch (e) {
      return e instanceof MsrpSessionError ? e : new MsrpSessionError("msrp-session-closed", String(e));
    }
    return this.stateValue === "bound" ? undefined : new MsrpSessionError("msrp-session-closed", "the MSRP session is closed");
  }

  /**
   * Waits for the socket to drain, or for the message to be settled (a timeout, the session's
   * close): a peer that stops reading must not keep send() from returning its failure. With
   * `limitMs` (chunks sent with Failure-Report no/partial: no transaction, so no transaction
   * timeout would ever fire) a connection that takes no data for that long fails the message with
   * msrp-transaction-timeout, as an unanswered chunk would.
   */
  private drain(out: Outgoing, limitMs?: number): Promise<void> {
    let limit: TimerHandle | undefined;
    return new Promise<void>((resolve) => {
      out.wake = resolve;
      void this.conn!.waitDrain().then(resolve);
      if (limitMs !== undefined) {
        limit = this.clock.after(limitMs, () =>
          this.settle(out, new MsrpSessionError("msrp-transaction-timeout", `the connection took no data of message ${out.messageId} for ${limitMs} ms`, 408)),
        );
      }
    }).then(() => {
      limit?.cancel();
      out.wake = undefined;
    });
  }

  /** False when the message must stop (failed, or the session went away). */
  private writeChunk(out: Outgoing, chunk: MsrpRequest, failureReport: FailureReport, timeoutMs: number): boolean {
    if (out.settled) return false;
    const conn = this.conn;
    if (this.stateValue !== "bound" || !conn) {
      this.settle(out, new MsrpSessionError("msrp-session-closed", "the MSRP session closed while sending"));
      return false;
    }
    out.chunks++;
    out.bytes += chunk.body.length;
    this.bytesSent += chunk.body.length;
    if (failureReport !== "yes") {
      conn.write(chunk);
      // `partial`: no 200 comes, but an error (413: stop sending this message) still ends it.
      if (failureReport === "partial") conn.watchErrors(chunk.tid, (out.onError ??= (response) => this.onChunkError(out, response)));
      return true;
    }
    out.outstanding++;
    const tx = conn.request(chunk, timeoutMs, (r, t) => this.onChunkResult(out, r, t));
    if (!tx.done) this.inflight.add(tx);
    return true;
  }

  private onChunkError(out: Outgoing, response: MsrpResponse): void {
    if (out.settled) return;
    const comment = response.comment ? ` (${response.comment})` : "";
    this.settle(out, new MsrpSessionError("msrp-status", `a chunk of message ${out.messageId} was answered ${response.status}${comment}`, response.status));
  }

  private onChunkResult(out: Outgoing, r: TransactionResult, tx: MsrpTransaction): void {
    this.inflight.delete(tx);
    if (out.settled) return;
    if (r.kind === "response") {
      const status = r.response.status;
      if (status >= 200 && status < 300) {
        out.outstanding--;
        out.latencies.push((r.answeredNs - tx.sentNs) / 1000);
        out.lastAnsweredNs = r.answeredNs;
        this.maybeComplete(out);
        return;
      }
      const comment = r.response.comment ? ` (${r.response.comment})` : "";
      this.settle(out, new MsrpSessionError("msrp-status", `a chunk of message ${out.messageId} was answered ${status}${comment}`, status));
    } else if (r.kind === "timeout") {
      this.settle(out, new MsrpSessionError("msrp-transaction-timeout", `a chunk of message ${out.messageId} was not answered in time`, 408));
    } else if (r.kind === "closed") {
      this.settle(out, new MsrpSessionError("msrp-connection-lost", `the MSRP connection closed while sending message ${out.messageId}`));
    } else {
      this.settle(out, new MsrpSessionError("msrp-session-closed", `the MSRP session closed while sending message ${out.messageId}`));
    }
  }

  private maybeComplete(out: Outgoing): void {
    if (out.settled || !out.writingDone || out.outstanding > 0) return;
    if (!out.successReport || out.reportStatus !== undefined) {
      this.settle(out);
      return;
    }
    if (!out.reportTimer) {
      out.reportTimer = this.clock.after(out.reportTimeoutMs, () => {
        out.reportTimer = undefined;
        this.settle(out, new MsrpSessionError("msrp-report-timeout", `no success REPORT for message ${out.messageId}`));
      });
    }
  }

  private settle(out: Outgoing, error?: MsrpSessionError): void {
    if (out.settled) return;
    out.settled = true;
    out.wake?.();
    out.reportTimer?.cancel();
    out.reportTimer = undefined;
    if (this.outgoing.get(out.messageId) === out) this.outgoing.delete(out.messageId);
    const endNs = this.clock.nowNs();
    const result: MsrpSendResult = {
      ok: error === undefined,
      messageId: out.messageId,
      status: error ? (error.status ?? 0) : 200,
      bytes: out.bytes,
      chunks: out.chunks,
      startNs: out.startNs,
      endNs,
      chunkLatencyUs: out.latencies,
    };
    if (error) result.error = error;
    if (out.lastAnsweredNs !== undefined) result.answeredUs = (out.lastAnsweredNs - out.startNs) / 1000;
    if (out.reportStatus !== undefined) result.reportStatus = out.reportStatus;
    if (out.reportNs !== undefined) result.reportUs = (out.reportNs - out.startNs) / 1000;
    out.resolve(result);
  }

  /** `bodyLength`: the body's size when its bytes were not kept (see countingSink). */
  private receiveSend(req: MsrpRequest, conn: MsrpConnection, bodyLength = req.body.length): void {
    const contentType = getMsrpHeader(req, "Content-Type");
    if (contentType !== undefined && !this.accepts(contentType)) {
      respond(conn, req, 415, this.localUri);
      return;
    }
    if (!this.reassembler) {
      const o: ConstructorParameters<typeof MsrpReassembler>[0] = { keepBodies: this.keepBodies };
      if (this.maxMessageBytes !== undefined) o.maxMessageBytes = this.maxMessageBytes;
      this.reassembler = new MsrpReassembler(o);
    }
    const r = this.reassembler.accept(req, bodyLength);
    if (r.kind === "error") {
      respond(conn, req, r.status, this.localUri, r.error.message);
      return;
    }
    respond(conn, req, 200, this.localUri);
    if (r.kind !== "complete") return;
    const m = r.message;
    if (getSuccessReport(req) || getSuccessReport(m)) {
      const total = m.size;
      conn.write(createReport(req, 200, { start: 1, end: total, total }, { fromPath: this.localUri }));
    }
    // The empty binding SEND carries no content: it is not a message.
    if (m.size === 0 && m.contentType === undefined) return;
    this.messagesReceived++;
    this.emit("message", incoming(m, this.clock.nowNs()));
  }

  private receiveReport(req: MsrpRequest): void {
    const messageId = getMsrpHeader(req, "Message-ID")?.trim();
    const statusText = getMsrpHeader(req, "Status");
    const status = statusText !== undefined ? (parseStatusHeader(statusText)?.code ?? 0) : 0;
    const rangeText = getMsrpHeader(req, "Byte-Range");
    const byteRange = rangeText !== undefined ? (parseByteRange(rangeText) ?? undefined) : undefined;
    const report: MsrpIncomingReport = { request: req, status };
    if (messageId !== undefined) report.messageId = messageId;
    if (byteRange !== undefined) report.byteRange = byteRange;
    const out = messageId !== undefined ? this.outgoing.get(messageId) : undefined;
    if (out && !out.settled) {
      if (status >= 200 && status < 300) {
        // A success report covers the bytes received so far: ours is complete when it reaches the end.
        const end = byteRange?.end;
        const covered = end === undefined || end === "*" || out.total === undefined || end >= out.total;
        if (out.successReport && covered && out.writingDone) {
          out.reportStatus = status;
          out.reportNs = this.clock.nowNs();
          this.maybeComplete(out);
        }
      } else {
        out.reportStatus = status;
        out.reportNs = this.clock.nowNs();
        this.settle(out, new MsrpSessionError("msrp-status", `a failure REPORT (${status}) came for message ${out.messageId}`, status));
      }
    }
    this.emit("report", report);
  }

  private accepts(contentType: string): boolean {
    if (this.acceptAll) return true;
    const semi = contentType.indexOf(";");
    const type = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
    const slash = type.indexOf("/");
    const major = slash < 0 ? type : type.slice(0, slash);
    for (const a of this.acceptTypes) {
      const t = a.toLowerCase();
      if (t === type || t === `${major}/*`) return true;
    }
    return false;
  }

  private terminate(reason: MsrpSessionCloseInfo["reason"], error?: MsrpSessionError): void {
    if (this.stateValue === "closed") return;
    // Errors are built only for someone to receive them (an Error captures a stack: a measurable
    // share of a client's CPU when every session closes): a bound session's promise is already
    // resolved, and only unsettled messages take the second one.
    const wasBound = this.stateValue === "bound";
    this.stateValue = "closed";
    this.connectTimer?.cancel();
    this.connectTimer = undefined;
    if (!wasBound) this.rejectBound(error ?? new MsrpSessionError("msrp-session-closed", `MSRP session ${this.localSessionId} was closed`));
    const conn = this.conn;
    for (const tx of [...this.inflight]) conn?.cancel(tx);
    this.inflight.clear();
    for (const fwd of [...this.forwards]) fwd.cancel();
    this.forwards.clear();
    if (this.outgoing.size > 0) {
      const closedError = error ?? new MsrpSessionError("msrp-session-closed", "the MSRP session was closed");
      for (const out of [...this.outgoing.values()]) this.settle(out, closedError);
    }
    this.reassembler?.clear();
    if (this.holds > 0) {
      this.holds = 0;
      this.heldConn?.releaseReading();
      this.heldConn = undefined;
    }
    this.host.releaseSession(this, wasBound && reason === "local");
    const info: MsrpSessionCloseInfo = { reason };
    if (error) info.error = error;
    this.emit("close", info);
  }
}

const UNANSWERED_OK: MsrpChunkResult = Object.freeze({ status: 200, answered: false, latencyUs: 0 });
const UNANSWERED_FAILED: MsrpChunkResult = Object.freeze({ status: 0, answered: false, latencyUs: 0 });

/**
 * A chunk being forwarded cut-through on a session (openForward): an object rather than a set
 * of closures, since a relay keeps many of them at once while the far leg answers.
 */
class ForwardStream implements MsrpForwardStream {
  /** @internal */ stream: MsrpOutboundStream | undefined;
  private settled = false;

  constructor(
    private readonly session: MsrpSession,
    readonly answered: boolean,
    private readonly onResult: (r: MsrpChunkResult) => void,
  ) {}

  readonly onStreamResult = (r: TransactionResult, tx: MsrpTransaction): void => this.report(chunkResult(r, tx));

  write(data: Buffer): boolean {
    const stream = this.stream;
    if (!stream) return true;
    this.session.bytesSent += data.length;
    return stream.write(data);
  }

  end(flag: ContinuationFlag): void {
    this.stream?.end(flag);
    if (!this.answered) this.report(UNANSWERED_OK);
  }

  abort(): void {
    this.stream?.abort();
    if (!this.answered) this.report(UNANSWERED_FAILED);
  }

  /** The session closed: the chunk ends aborted and its transactions are forgotten. */
  cancel(): void {
    this.stream?.cancel();
    this.report({ status: 0, answered: false, latencyUs: 0, error: new MsrpSessionError("msrp-session-closed", "the MSRP session closed") });
  }

  private report(r: MsrpChunkResult): void {
    if (this.settled) return;
    this.settled = true;
    this.session.forwards.delete(this);
    this.onResult(r);
  }
}

function respond(conn: MsrpConnection, req: MsrpRequest, status: number, localUri: string, comment?: string): void {
  if (!responseRequired(req, status) || conn.closed) return;
  const text = comment === undefined ? undefined : comment.replace(/[\r\n]/g, " ").slice(0, 200);
  conn.respond(req, status, text, localUri);
}

function incoming(m: ReassembledMessage, receivedNs: number): MsrpIncomingMessage {
  const out: MsrpIncomingMessage = { messageId: m.messageId, body: m.body, size: m.size, headers: m.headers, chunks: m.chunks, receivedNs };
  if (m.contentType !== undefined) out.contentType = m.contentType;
  return out;
}

function chunkResult(r: TransactionResult, tx: MsrpTransaction): MsrpChunkResult {
  switch (r.kind) {
    case "response": {
      const res: MsrpChunkResult = { status: r.response.status, answered: true, latencyUs: (r.answeredNs - tx.sentNs) / 1000 };
      if (r.response.comment !== undefined) res.comment = r.response.comment;
      if (r.response.status >= 300) {
        res.error = new MsrpSessionError("msrp-status", `the chunk was answered ${r.response.status}`, r.response.status);
      }
      return res;
    }
    case "timeout":
      return {
        status: 408,
        answered: false,
        latencyUs: 0,
        error: new MsrpSessionError("msrp-transaction-timeout", "the forwarded chunk was not answered in time", 408),
      };
    case "closed":
      return { status: 0, answered: false, latencyUs: 0, error: new MsrpSessionError("msrp-connection-lost", "the MSRP connection closed") };
    case "cancelled":
      return { status: 0, answered: false, latencyUs: 0, error: new MsrpSessionError("msrp-session-closed", "the MSRP session closed") };
  }
}

function formatUri(u: MsrpUri): string {
  const host = u.host.includes(":") ? `[${u.host}]` : u.host;
  return `${u.scheme}://${host}${u.port !== undefined ? `:${u.port}` : ""}/${u.sessionId};${u.transport}`;
}

function isSyncIterable(source: Iterable<Buffer> | AsyncIterable<Buffer>): source is Iterable<Buffer> {
  return typeof (source as Partial<Iterable<Buffer>>)[Symbol.iterator] === "function";
}
