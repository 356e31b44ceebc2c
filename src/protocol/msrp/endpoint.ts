/**
 * The MSRP endpoint of one worker or one server: a TCP listener for passive sessions, a pool of
 * outgoing connections for active ones, and the registry that routes every incoming request to
 * its session.
 *
 * Connection reuse (RFC 4975 §5.4): an active session connects to the first URI of its remote
 * path; when a connection to the same scheme/host/port is already open (and the session is in the
 * same `connectionGroup`), it is reused, so one connection carries many sessions. An outgoing
 * connection whose last session is released stays open, idle, for `idleLingerMs` (RFC 4975 §5.1
 * lets later sessions to the same authority reuse it): the next session to the same host:port
 * within that time binds on it instead of opening a TCP connection (at a few hundred sessions/s,
 * one session in five paid for a connect, in the client and in the PF). It is closed when the
 * linger ends or the endpoint closes. Incoming connections are left to the peer.
 *
 * Routing and binding: a request belongs to the session named by the session-id of the first
 * To-Path URI (the receiving hop; RFC 4975 §7.3). Matching is by session-id alone, as RFC 6714
 * (CEMA) does, so a peer that rewrote host or port in the SDP still matches **[choice]**. On a
 * connection the session is not yet bound to:
 * - unknown or closed session → 481, and the connection stays open for others;
 * - a session bound to another connection (or an active session, which only its own connection
 *   may carry) → 506;
 * - a passive session whose expected peer URI (last URI of the remote path, when known) differs
 *   from the request's From-Path → 403 **[choice]**: RFC 4975 asks the passive side to check
 *   that the request comes from the expected peer; 403 ("action not allowed") is the status
 *   that says so without claiming the session does not exist;
 * - otherwise the connection is bound to the session and the request delivered.
 */
import { createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { adoptAcceptedSocket, BorrowedReads } from "./socket-reads.js";
import { UserError } from "../../errors.js";
import { Counter } from "../../metrics/names.js";
import type { MetricsSink } from "../../metrics/sink.js";
import { type Clock, realClock } from "../../time/clock.js";
import { type MsrpBodySink, MsrpConnection, type MsrpConnectionHandler } from "./connection.js";
import { getMsrpHeader, type MsrpRequest, parsePath } from "./message.js";
import { createMsrpResponse, responseRequired } from "./response.js";
import { MsrpSession, type MsrpSessionHost, type MsrpSessionOptions } from "./session.js";
import { MsrpSessionError } from "./session-error.js";
import { randomTransactionId } from "./transaction-id.js";
import { type MsrpUri, parseMsrpUri } from "./uri.js";

/** RFC 4975 §6: the port when an msrp URI names none. */
export const MSRP_DEFAULT_PORT = 2855;
/** The port written in the paths of an endpoint that does not listen (the discard port, as SDP does for inactive media). */
const NOT_LISTENING_PORT = 9;
const ROUTE_CACHE_LIMIT = 256;
/**
 * How long an idle outgoing connection waits for another session **[choice]**: long enough to
 * span the gaps between sessions of a loaded generator (and a client's next session a few
 * seconds on), short enough not to hold sockets a peer would rather see closed.
 */
export const DEFAULT_IDLE_LINGER_MS = 5_000;

export interface MsrpEndpointOptions {
  /** Address to listen on and to put in paths. Default 127.0.0.1. */
  host?: string;
  /** Listening port; 0 (default) picks a free one. */
  port?: number;
  /** Accept incoming connections (passive sessions). Default true. */
  listen?: boolean;
  /** Host written in our paths when it differs from the listen address. */
  advertisedHost?: string;
  clock?: Clock;
  /** Receives `msrp.bytes_sent` / `msrp.bytes_received` counts. */
  metrics?: MetricsSink;
  /** Largest single chunk the framer accepts before closing the connection. Default 16 MiB. */
  maxFrameBytes?: number;
  /**
   * Unsent bytes Node may hold on a connection before it counts as congested (senders then wait
   * for drain, relays stop reading the other leg). Default 1 MiB (see connection.ts).
   */
  sendBufferBytes?: number;
  /**
   * How long an outgoing connection stays open once its last session is released, for later
   * sessions to the same host:port to reuse; 0 closes it at once. Default DEFAULT_IDLE_LINGER_MS.
   */
  idleLingerMs?: number;
  /**
   * Read sockets into one reused buffer per thread (socket-reads.ts): larger reads and no
   * allocation per read, the faster path for large messages. Default true; false reads them the
   * way Node does by default (a fresh Buffer per read), kept for comparison and as a fallback.
   */
  reuseReadBuffer?: boolean;
  /** Defaults for every session (each createSession() may override them). */
  sessionDefaults?: Omit<MsrpSessionOptions, "setup" | "localSessionId" | "remotePath">;
}

export interface MsrpEndpointStats {
  sessions: number;
  inboundConnections: number;
  /** Open outgoing connections, idle ones (no session, lingering for reuse) included. */
  outboundConnections: number;
  /** Outgoing connections open with no session, waiting idleLingerMs for one. */
  idleOutboundConnections: number;
  /** Outgoing TCP connections established since the endpoint started. */
  outboundConnectionsOpened: number;
  bytesSent: number;
  bytesReceived: number;
  /** Requests answered 481 / 506 / 403 by the router, and malformed messages. */
  rejected481: number;
  rejected506: number;
  rejected403: number;
  badFrames: number;
}

interface PendingConnect {
  waiters: Array<{ session: MsrpSession; resolve: (c: MsrpConnection) => void; reject: (e: MsrpSessionError) => void }>;
  socket: Socket;
}

/** Starts an endpoint; rejects with UserError when the port is taken. */
export async function createMsrpEndpoint(opts: MsrpEndpointOptions = {}): Promise<MsrpEndpoint> {
  const endpoint = new MsrpEndpoint(opts);
  await endpoint.start();
  return endpoint;
}

export class MsrpEndpoint implements MsrpSessionHost, MsrpConnectionHandler {
  readonly clock: Clock;
  private readonly opts: MsrpEndpointOptions;
  private readonly listenHost: string;
  private readonly advertisedHost: string;
  private server: Server | undefined;
  private listenPort = 0;
  private readonly sessions = new Map<string, MsrpSession>();
  /** Every connection until its socket is gone (lingering ones included), so close() can destroy them. */
  private readonly connections = new Set<MsrpConnection>();
  private readonly pool = new Map<string, MsrpConnection>();
  private readonly connecting = new Map<string, PendingConnect>();
  /** Idle outgoing connections (still in the pool) and the timer that closes each. */
  private readonly idle = new Map<MsrpConnection, ReturnType<Clock["after"]>>();
  private readonly idleLingerMs: number;
  private readonly reuseReadBuffer: boolean;
  private closing: Promise<void> | undefined;
  private outboundOpened = 0;
  private readonly counters = { bytesSent: 0, bytesReceived: 0, rejected481: 0, rejected506: 0, rejected403: 0, badFrames: 0 };
  private readonly onBytes: (sent: number, received: number) => void;

  constructor(opts: MsrpEndpointOptions = {}) {
    this.opts = opts;
    this.clock = opts.clock ?? realClock;
    this.listenHost = opts.host ?? "127.0.0.1";
    this.advertisedHost = opts.advertisedHost ?? this.listenHost;
    this.reuseReadBuffer = opts.reuseReadBuffer ?? true;
    this.idleLingerMs = Math.max(0, opts.idleLingerMs ?? DEFAULT_IDLE_LINGER_MS);
    const metrics = opts.metrics;
    const c = this.counters;
    this.onBytes = metrics
      ? (sent, received) => {
          if (sent > 0) {
            c.bytesSent += sent;
            metrics.count(Counter.msrpBytesSent, sent);
          }
          if (received > 0) {
            c.bytesReceived += received;
            metrics.count(Counter.msrpBytesReceived, received);
          }
        }
      : (sent, received) => {
          c.bytesSent += sent;
          c.bytesReceived += received;
        };
  }

  /** @internal Use createMsrpEndpoint(). */
  async start(): Promise<void> {
    if (this.opts.listen === false) return;
    // Accepted sockets start paused so that they can be re-made with `onread` before any read.
    const server = createServer({ pauseOnConnect: this.reuseReadBuffer }, (socket) => this.onInbound(socket));
    this.server = server;
    const port = this.opts.port ?? 0;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(
          err.code === "EADDRINUSE"
            ? new UserError(`MSRP port ${port} on ${this.listenHost} is already in use: stop the other process or pass port 0.`)
            : err.code === "EADDRNOTAVAIL"
              ? new UserError(`Cannot listen for MSRP on ${this.listenHost}: use an address of this machine.`)
              : err,
        );
      };
      server.once("error", onError);
      server.listen(port, this.listenHost, () => {
        server.off("error", onError);
        resolve();
      });
    });
    // Errors after listening (EMFILE on accept…) must not crash the process: the peer just fails to connect.
    server.on("error", () => {});
    this.listenPort = (server.address() as { port: number }).port;
  }

  /** The listening address (port 0 when not listening). */
  get address(): { host: string; port: number } {
    return { host: this.advertisedHost, port: this.listenPort };
  }

  /** Creates a session with a fresh (or the given) session-id; its `localPath` goes into the SDP. */
  createSession(opts: MsrpSessionOptions): MsrpSession {
    if (this.closing) throw new MsrpSessionError("msrp-session-closed", "the MSRP endpoint is closed");
    const id = opts.localSessionId ?? randomTransactionId(20);
    if (this.sessions.has(id)) throw new MsrpSessionError("msrp-session-closed", `MSRP session id ${id} is already in use`);
    const uri: MsrpUri = {
      scheme: "msrp",
      host: this.advertisedHost,
      port: this.server ? this.listenPort : NOT_LISTENING_PORT,
      sessionId: id,
      transport: "tcp",
      params: {},
    };
    const session = new MsrpSession(this, uri, { ...this.opts.sessionDefaults, ...opts });
    this.sessions.set(id, session);
    return session;
  }

  getSession(localSessionId: string): MsrpSession | undefined {
    return this.sessions.get(localSessionId);
  }

  stats(): MsrpEndpointStats {
    let inbound = 0;
    let outbound = 0;
    for (const c of this.connections) {
      if (c.closed) continue;
      if (c.direction === "inbound") inbound++;
      else outbound++;
    }
    return {
      sessions: this.sessions.size,
      inboundConnections: inbound,
      outboundConnections: outbound,
      idleOutboundConnections: this.idle.size,
      outboundConnectionsOpened: this.outboundOpened,
      ...this.counters,
    };
  }

  /** Closes every session and connection and stops listening. Safe twice. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  // ---- MsrpSessionHost ------------------------------------------------------------------------

  /** @internal */
  attachActive(session: MsrpSession, uri: MsrpUri, timeoutMs: number): Promise<MsrpConnection> {
    if (this.closing) return Promise.reject(new MsrpSessionError("msrp-session-closed", "the MSRP endpoint is closed"));
    if (uri.scheme !== "msrp" || uri.transport.toLowerCase() !== "tcp") {
      return Promise.reject(
        new MsrpSessionError("msrp-connect-failed", `only msrp://…;tcp paths are supported, not ${uri.scheme}/${uri.transport}`),
      );
    }
    const port = uri.port ?? MSRP_DEFAULT_PORT;
    const key = `${session.connectionGroup ?? ""}|${uri.host.toLowerCase()}:${port}`;
    const open = this.pool.get(key);
    if (open && !open.closed) {
      this.unpark(open);
      this.bind(session, open);
      return Promise.resolve(open);
    }
    return new Promise<MsrpConnection>((resolve, reject) => {
      const pending = this.connecting.get(key) ?? this.openConnection(key, uri.host, port, timeoutMs);
      pending.waiters.push({ session, resolve, reject });
    });
  }

  /** @internal */
  releaseSession(session: MsrpSession, reusable = false): void {
    const id = session.localSessionId;
    if (this.sessions.get(id) === session) this.sessions.delete(id);
    const conn = session.connection;
    if (!conn || conn.sessions.get(id) !== session) return;
    conn.sessions.delete(id);
    if (conn.direction !== "outbound" || conn.sessions.size > 0) return;
    if (reusable) this.park(conn);
    else this.retire(conn);
  }

  // ---- MsrpConnectionHandler --------------------------------------------------------------------

  /**
   * @internal A SEND still arriving: the session it names, when bound to this connection, may
   * take its body as it comes (a relay cut-through, a receiver that keeps no bodies); anything
   * else (binding, rejections) is decided once the request is whole, by onRequest.
   */
  onRequestHead(conn: MsrpConnection, head: MsrpRequest): MsrpBodySink | undefined {
    return conn.sessions.get(this.routeOf(conn, head))?.handleRequestHead(head, conn);
  }

  /** The local session id a request is for: the first To-Path URI's (cached per connection). */
  private routeOf(conn: MsrpConnection, req: MsrpRequest): string {
    const toPath = getMsrpHeader(req, "To-Path") ?? "";
    let sid = conn.routeCache.get(toPath);
    if (sid === undefined) {
      sid = parseMsrpUri(parsePath(toPath)[0] ?? "")?.sessionId ?? "";
      if (conn.routeCache.size >= ROUTE_CACHE_LIMIT) conn.routeCache.clear();
      conn.routeCache.set(toPath, sid);
    }
    return sid;
  }

  /** @internal */
  onRequest(conn: MsrpConnection, req: MsrpRequest): void {
    const sid = this.routeOf(conn, req);
    const bound = conn.sessions.get(sid);
    if (bound) {
      bound.handleRequest(req, conn);
      return;
    }
    const session = this.sessions.get(sid);
    if (!session || session.closed) {
      this.counters.rejected481++;
      reject(conn, req, 481);
      return;
    }
    if (session.connection !== undefined || session.setup === "active") {
      this.counters.rejected506++;
      reject(conn, req, 506);
      return;
    }
    if (!session.acceptsBindingFrom(req)) {
      this.counters.rejected403++;
      reject(conn, req, 403, "From-Path is not the peer negotiated for this session");
      return;
    }
    conn.sessions.set(sid, session);
    session.attached(conn, req);
    session.handleRequest(req, conn);
  }

  /** @internal */
  onClose(conn: MsrpConnection, error: Error | undefined): void {
    this.unpark(conn);
    if (conn.poolKey !== undefined && this.pool.get(conn.poolKey) === conn) this.pool.delete(conn.poolKey);
    for (const session of [...conn.sessions.values()]) session.connectionLost(error);
    conn.sessions.clear();
  }

  /** @internal */
  onBadFrame(): void {
    this.counters.badFrames++;
  }

  // ---- internals --------------------------------------------------------------------------------

  private bind(session: MsrpSession, conn: MsrpConnection): void {
    conn.sessions.set(session.localSessionId, session);
    session.attached(conn);
  }

  private onInbound(accepted: Socket): void {
    if (this.closing) {
      accepted.destroy();
      return;
    }
    let socket = accepted;
    let reads: BorrowedReads | undefined;
    if (this.reuseReadBuffer) {
      reads = new BorrowedReads();
      const adopted = adoptAcceptedSocket(accepted, reads);
      if (adopted) socket = adopted;
      else {
        reads = undefined;
        accepted.resume();
      }
    }
    this.track(new MsrpConnection(socket, this.connectionOptions("inbound", undefined, reads)));
  }

  private connectionOptions(direction: "inbound" | "outbound", poolKey?: string, reads?: BorrowedReads) {
    const o: ConstructorParameters<typeof MsrpConnection>[1] = { direction, handler: this, clock: this.clock, onBytes: this.onBytes };
    if (reads) o.reads = reads;
    if (this.opts.maxFrameBytes !== undefined) o.maxFrameBytes = this.opts.maxFrameBytes;
    if (this.opts.sendBufferBytes !== undefined) o.sendBufferBytes = this.opts.sendBufferBytes;
    if (poolKey !== undefined) o.poolKey = poolKey;
    return o;
  }

  private track(conn: MsrpConnection): void {
    this.connections.add(conn);
    conn.socket.once("close", () => this.connections.delete(conn));
  }

  private openConnection(key: string, host: string, port: number, timeoutMs: number): PendingConnect {
    const reads = this.reuseReadBuffer ? new BorrowedReads() : undefined;
    const socket = netConnect(reads ? { host, port, onread: reads.onread } : { host, port });
    const pending: PendingConnect = { waiters: [], socket };
    this.connecting.set(key, pending);
    let timer: ReturnType<Clock["after"]> | undefined;
    const fail = (error: MsrpSessionError): void => {
      if (this.connecting.get(key) !== pending) return;
      this.connecting.delete(key);
      timer?.cancel();
      socket.destroy();
      for (const w of pending.waiters) w.reject(error);
    };
    const onError = (err: NodeJS.ErrnoException): void => {
      fail(new MsrpSessionError("msrp-connect-failed", `cannot open an MSRP connection to ${host}:${port} (${err.code ?? err.message})`));
    };
    if (timeoutMs > 0) {
      timer = this.clock.after(timeoutMs, () => {
        timer = undefined;
        fail(new MsrpSessionError("msrp-connect-timeout", `the MSRP connection to ${host}:${port} was not established within ${timeoutMs} ms`));
      });
    }
    socket.once("error", onError);
    socket.once("connect", () => {
      socket.off("error", onError);
      timer?.cancel();
      if (this.connecting.get(key) !== pending) return;
      this.connecting.delete(key);
      const conn = new MsrpConnection(socket, this.connectionOptions("outbound", key, reads));
      this.track(conn);
      this.pool.set(key, conn);
      this.outboundOpened++;
      for (const w of pending.waiters) {
        if (w.session.closed) {
          w.reject(new MsrpSessionError("msrp-session-closed", "the session closed while connecting"));
          continue;
        }
        this.bind(w.session, conn);
        w.resolve(conn);
      }
      if (conn.sessions.size === 0) this.park(conn);
    });
    return pending;
  }

  /** An outgoing connection without sessions: kept in the pool for idleLingerMs, then retired. */
  private park(conn: MsrpConnection): void {
    if (this.idleLingerMs === 0 || this.closing || conn.closed || conn.poolKey === undefined || this.pool.get(conn.poolKey) !== conn) {
      this.retire(conn);
      return;
    }
    if (this.idle.has(conn)) return;
    this.idle.set(
      conn,
      this.clock.after(this.idleLingerMs, () => {
        this.idle.delete(conn);
        if (conn.sessions.size === 0) this.retire(conn);
      }),
    );
  }

  /** A parked connection taken by a session again (or gone): its linger timer is dropped. */
  private unpark(conn: MsrpConnection): void {
    const timer = this.idle.get(conn);
    if (timer === undefined) return;
    timer.cancel();
    this.idle.delete(conn);
  }

  /** An outgoing connection nobody uses any more: out of the pool, closed after our last bytes. */
  private retire(conn: MsrpConnection): void {
    if (conn.poolKey !== undefined && this.pool.get(conn.poolKey) === conn) this.pool.delete(conn.poolKey);
    conn.end();
  }

  private async shutdown(): Promise<void> {
    // Resolve only once every socket handle is really gone, so callers (and tests) see nothing left.
    const gone: Promise<void>[] = [];
    const whenClosed = (socket: Socket): void => {
      if (!socket.closed) gone.push(new Promise<void>((r) => socket.once("close", () => r())));
    };
    for (const session of [...this.sessions.values()]) session.endpointClosed();
    for (const timer of this.idle.values()) timer.cancel();
    this.idle.clear();
    for (const [key, pending] of [...this.connecting]) {
      this.connecting.delete(key);
      whenClosed(pending.socket);
      pending.socket.destroy();
      for (const w of pending.waiters) w.reject(new MsrpSessionError("msrp-session-closed", "the MSRP endpoint was closed"));
    }
    for (const conn of [...this.connections]) {
      whenClosed(conn.socket);
      conn.close();
    }
    this.connections.clear();
    await Promise.all(gone);
    this.pool.clear();
    const server = this.server;
    if (server?.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function reject(conn: MsrpConnection, req: MsrpRequest, status: number, comment?: string): void {
  if (!responseRequired(req, status)) return;
  conn.write(createMsrpResponse(req, status, comment));
}
