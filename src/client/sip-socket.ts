/**
 * The client side's two kinds of SIP socket: a TCP connection (framed by Content-Length with the
 * codec's SipStreamFramer) and a connected UDP socket (one message per datagram). Both parse each
 * incoming message once and hand it on from the socket event itself (no microtask chains: they
 * starve timers under load), and count bytes in the metrics.
 */
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { connect as netConnect, type Socket } from "node:net";
import { Counter } from "../metrics/names.js";
import type { MetricsSink } from "../metrics/sink.js";
import type { SipMessage } from "../protocol/sip/message.js";
import { isKeepAlive, parseSipMessage, SipStreamFramer } from "../protocol/sip/parser.js";
import { TransportError } from "./link.js";

export interface SocketHandlers {
  onMessage(message: SipMessage, data: string): void;
  /** The socket closed or failed without us closing it. */
  onClose(error: Error): void;
}

export interface SipSocket {
  readonly protocol: "TCP" | "UDP";
  readonly localAddress: string;
  readonly localPort: number;
  readonly closed: boolean;
  send(data: string): boolean;
  close(): Promise<void>;
}

/** Human words for the errno codes a user meets when the target is wrong. */
export function describeSocketError(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ETIMEDOUT":
      return "connection timed out";
    case "EHOSTUNREACH":
      return "host unreachable";
    case "ENETUNREACH":
      return "network unreachable";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "host name not found";
    case "ECONNRESET":
      return "connection reset";
    case "EMFILE":
      return "too many open files";
    case "EADDRNOTAVAIL":
      return "no local address/port available";
    default:
      return error.code ?? error.message;
  }
}

// -------------------------------------------------------------------------------------------------
// TCP

export class TcpSipConnection implements SipSocket {
  readonly protocol = "TCP" as const;
  readonly localAddress: string;
  readonly localPort: number;
  private _closed = false;
  private closing = false;
  private readonly framer: SipStreamFramer;
  private readonly closedPromise: Promise<void>;
  /** Messages written this turn, not yet handed to the socket (see write). */
  private pending: string[] = [];
  private flushScheduled = false;

  /** Connects to the target; rejects with a TransportError naming the cause. */
  static connect(target: { host: string; port: number }, metrics: MetricsSink, handlers: SocketHandlers, connectTimeoutMs = 10_000): Promise<TcpSipConnection> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: target.host, port: target.port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new TransportError("connection timed out", "ETIMEDOUT"));
      }, connectTimeoutMs);
      const onError = (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new TransportError(describeSocketError(error), error.code));
      };
      socket.once("error", onError);
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.off("error", onError);
        resolve(new TcpSipConnection(socket, metrics, handlers));
      });
    });
  }

  private constructor(
    private readonly socket: Socket,
    private readonly metrics: MetricsSink,
    private readonly handlers: SocketHandlers,
  ) {
    this.localAddress = socket.localAddress ?? "127.0.0.1";
    this.localPort = socket.localPort ?? 0;
    // RFC 5626 4.4.1: answer a double-CRLF ping with a single CRLF.
    this.framer = new SipStreamFramer({ onKeepAlive: (kind) => kind === "ping" && this.write("\r\n") });
    let lastError: Error | undefined;
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (error: NodeJS.ErrnoException) => {
      lastError = new TransportError(describeSocketError(error), error.code);
    });
    this.closedPromise = new Promise((resolve) => {
      socket.once("close", () => {
        this._closed = true;
        resolve();
        if (!this.closing) this.handlers.onClose(lastError ?? new TransportError("connection closed by the peer"));
      });
    });
  }

  get closed(): boolean {
    return this._closed || this.closing;
  }

  private onData(chunk: Buffer): void {
    this.metrics.count(Counter.sipBytesReceived, chunk.length);
    const frames = this.framer.push(chunk);
    for (const frame of frames) {
      if (frame.ok) {
        this.handlers.onMessage(frame.message, frame.text ?? frame.bytes.toString("utf8"));
        if (this.closing) return;
      } else if (frame.fatal) {
        // The stream cannot be re-synchronised (RFC 3261 18.3): drop the connection.
        this.socket.destroy(new TransportError(`unframeable SIP stream: ${frame.error.message}`));
        return;
      }
      // A malformed but framed message is skipped: a client has nobody to answer 400 to.
    }
  }

  /**
   * Messages are gathered and written once per event-loop turn (in the check phase, right after
   * the poll phase that produced most of them): one syscall and one string→bytes conversion for
   * all the messages of the turn instead of one each. A shared connection carries many clients'
   * messages per turn; measured, the per-message writes were ~15 % of a client worker's CPU at
   * 400 sessions/s. Order is kept, and nothing waits longer than the rest of the current turn.
   */
  private write(data: string): boolean {
    if (this.closed) return false;
    this.pending.push(data);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushPending);
    }
    return true;
  }

  private readonly flushPending = (): void => {
    this.flushScheduled = false;
    const pending = this.pending;
    if (pending.length === 0) return;
    this.pending = [];
    if (this._closed) return;
    const bytes = Buffer.from(pending.length === 1 ? pending[0]! : pending.join(""), "utf8");
    this.socket.write(bytes);
    this.metrics.count(Counter.sipBytesSent, bytes.length);
  };

  send(data: string): boolean {
    return this.write(data);
  }

  close(): Promise<void> {
    if (!this.closing) {
      this.flushPending();
      this.closing = true;
      this.socket.destroySoon();
      // Do not wait for the peer's FIN forever.
      setTimeout(() => this.socket.destroy(), 1000).unref();
    }
    return this.closedPromise;
  }
}

// -------------------------------------------------------------------------------------------------
// UDP

export interface UdpOptions {
  /** Kernel buffer sizes; a shared socket carries a whole worker's traffic. */
  bufferBytes?: number;
}

export class UdpSipSocket implements SipSocket {
  readonly protocol = "UDP" as const;
  private _closed = false;
  private readonly closedPromise: Promise<void>;

  /** Opens a UDP socket connected to the target (so ICMP errors reach us as ECONNREFUSED). */
  static open(target: { host: string; port: number }, metrics: MetricsSink, handlers: SocketHandlers, opts: UdpOptions = {}): Promise<UdpSipSocket> {
    return new Promise((resolve, reject) => {
      const family = target.host.includes(":") ? "udp6" : "udp4";
      const socket = createSocket({
        type: family,
        ...(opts.bufferBytes ? { recvBufferSize: opts.bufferBytes, sendBufferSize: opts.bufferBytes } : {}),
      });
      const onError = (error: NodeJS.ErrnoException) => {
        socket.close();
        reject(new TransportError(describeSocketError(error), error.code));
      };
      socket.once("error", onError);
      socket.connect(target.port, target.host, () => {
        socket.off("error", onError);
        resolve(new UdpSipSocket(socket, metrics, handlers));
      });
    });
  }

  readonly localAddress: string;
  readonly localPort: number;
  /** Last ICMP-reported error (ECONNREFUSED: nothing listens at the target). */
  lastError: TransportError | undefined;

  private constructor(
    private readonly socket: UdpSocket,
    private readonly metrics: MetricsSink,
    private readonly handlers: SocketHandlers,
  ) {
    const address = socket.address();
    this.localAddress = address.address;
    this.localPort = address.port;
    socket.on("message", (datagram: Buffer) => this.onDatagram(datagram));
    // Unreliable transport: an ICMP error does not close the socket; transactions time out.
    socket.on("error", (error: NodeJS.ErrnoException) => {
      this.lastError = new TransportError(describeSocketError(error), error.code);
    });
    this.closedPromise = new Promise((resolve) => socket.once("close", () => resolve()));
  }

  get closed(): boolean {
    return this._closed;
  }

  private onDatagram(datagram: Buffer): void {
    this.metrics.count(Counter.sipBytesReceived, datagram.length);
    if (isKeepAlive(datagram)) return;
    const parsed = parseSipMessage(datagram);
    if (!parsed.ok) return;
    this.handlers.onMessage(parsed.message, datagram.toString("utf8"));
  }

  send(data: string): boolean {
    if (this._closed) return false;
    this.socket.send(data);
    this.metrics.count(Counter.sipBytesSent, Buffer.byteLength(data));
    return true;
  }

  close(): Promise<void> {
    if (!this._closed) {
      this._closed = true;
      this.socket.close();
    }
    return this.closedPromise;
  }
}
