/**
 * SIP over TCP: one SipStreamFramer per connection (Content-Length framing survives any split of
 * the byte stream). Input that cannot be re-synchronised closes that connection only; everyone
 * else keeps being served. A peer that stops reading while we write is cut off once its unsent
 * backlog passes a bound, so one stuck client cannot grow the server's memory without limit.
 */
import { Server, Socket, createServer } from "node:net";
import { SipStreamFramer } from "../../protocol/sip/parser.js";
import type { StatsCollector } from "../stats.js";
import type { Flow, RemoteAddress } from "./flow.js";
import type { TransportHandler } from "./transport-handler.js";

const MAX_WRITE_BACKLOG_BYTES = 16 * 1024 * 1024;
const PONG = Buffer.from("\r\n");

export class TcpFlow implements Flow {
  readonly transport = "tcp" as const;
  readonly remote: RemoteAddress;
  private open = true;
  private corked = false;

  constructor(private readonly socket: Socket) {
    this.remote = { address: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 };
  }

  get isOpen(): boolean {
    return this.open;
  }

  send(data: Buffer): boolean {
    if (!this.open) return false;
    if (this.socket.writableLength > MAX_WRITE_BACKLOG_BYTES) {
      this.socket.destroy();
      return false;
    }
    // Everything written to this connection in one turn of the event loop goes out in one writev
    // (uncorked in the check phase, after every read of this turn was handled): a B2BUA answers
    // one leg and sends on another for most messages it reads, and a syscall per message was the
    // largest single cost at thousands of sessions per second.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      setImmediate(uncork, this);
    }
    this.socket.write(data);
    return true;
  }

  /** @internal */
  uncork(): void {
    this.corked = false;
    if (!this.socket.destroyed) this.socket.uncork();
  }

  markClosed(): void {
    this.open = false;
  }
}

function uncork(flow: TcpFlow): void {
  flow.uncork();
}

export class TcpListener {
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    private readonly handler: TransportHandler,
    private readonly stats: StatsCollector,
  ) {
    server.on("connection", (socket) => this.accept(socket));
  }

  /** Listen on host:port (0 = ephemeral). Rejects with the raw listen error (bind.ts words it). */
  static listen(host: string, port: number, handler: TransportHandler, stats: StatsCollector): Promise<TcpListener> {
    return new Promise((resolve, reject) => {
      const server = createServer({ noDelay: true });
      const onError = (err: Error) => reject(err);
      server.once("error", onError);
      server.listen({ host, port, exclusive: true, backlog: 4096 }, () => {
        server.off("error", onError);
        // Later errors on an open listener (e.g. EMFILE on accept) must not crash the process.
        server.on("error", () => {});
        resolve(new TcpListener(server, handler, stats));
      });
    });
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === "object" && address !== null ? address.port : 0;
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  private accept(socket: Socket): void {
    const flow = new TcpFlow(socket);
    // RFC 5626 §4.4.1: a double-CRLF ping on a stream is answered with a single CRLF pong.
    const framer = new SipStreamFramer({ onKeepAlive: (kind) => kind === "ping" && flow.send(PONG) });
    this.sockets.add(socket);
    this.stats.tcpConnections++;
    this.stats.tcpConnectionsAccepted++;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      const frames = framer.push(chunk);
      for (const frame of frames) {
        if (frame.ok) {
          this.handler.onMessage(frame.message, flow);
        } else {
          this.handler.onParseError(frame.error, flow, frame.partial);
          if (frame.fatal) {
            socket.destroy();
            return;
          }
        }
      }
    });
    // Errors (ECONNRESET, EPIPE) end this connection only; 'close' does the bookkeeping.
    socket.on("error", () => {
      this.stats.transportErrors++;
    });
    socket.on("close", () => {
      flow.markClosed();
      this.sockets.delete(socket);
      this.stats.tcpConnections--;
    });
  }

  /** Stop accepting and close every connection. */
  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
    });
  }
}
