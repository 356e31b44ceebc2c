/**
 * SIP over UDP: one socket, one datagram = one message. A flow is the datagram's source address;
 * responses go back to that address and port (symmetric response routing, RFC 3581), which is
 * where every client we serve listens, and is right behind NAT too.
 */
import { createSocket, type Socket } from "node:dgram";
import { isIPv6 } from "node:net";
import { isKeepAlive, parseSipMessage } from "../../protocol/sip/parser.js";
import type { StatsCollector } from "../stats.js";
import type { Flow, RemoteAddress } from "./flow.js";
import type { TransportHandler } from "./transport-handler.js";

/** Bursts of thousands of REGISTERs arrive between two event-loop turns: give the kernel room. */
const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

export class UdpFlow implements Flow {
  readonly transport = "udp" as const;

  constructor(
    private readonly endpoint: UdpEndpoint,
    readonly remote: RemoteAddress,
  ) {}

  get isOpen(): boolean {
    return this.endpoint.isOpen;
  }

  send(data: Buffer): boolean {
    return this.endpoint.sendTo(data, this.remote.port, this.remote.address);
  }
}

export class UdpEndpoint {
  private open = true;

  private constructor(
    private readonly socket: Socket,
    handler: TransportHandler,
    stats: StatsCollector,
  ) {
    socket.on("message", (data, rinfo) => {
      // CRLF keep-alives (some clients send them over UDP too) need no answer and are no error.
      if (isKeepAlive(data)) return;
      const flow = new UdpFlow(this, { address: rinfo.address, port: rinfo.port });
      const result = parseSipMessage(data);
      if (result.ok) handler.onMessage(result.message, flow);
      else handler.onParseError(result.error, flow, result.partial);
    });
    // ICMP port-unreachable and the like surface here; they concern one peer, not the server.
    socket.on("error", () => {
      stats.transportErrors++;
    });
  }

  /** Bind host:port. Rejects with the raw bind error (bind.ts words it). */
  static bind(host: string, port: number, handler: TransportHandler, stats: StatsCollector): Promise<UdpEndpoint> {
    return new Promise((resolve, reject) => {
      const socket = createSocket({ type: isIPv6(host) ? "udp6" : "udp4", reuseAddr: false });
      const onError = (err: Error) => {
        socket.close();
        reject(err);
      };
      socket.once("error", onError);
      socket.bind({ address: host, port, exclusive: true }, () => {
        socket.off("error", onError);
        try {
          socket.setRecvBufferSize(RECEIVE_BUFFER_BYTES);
          socket.setSendBufferSize(RECEIVE_BUFFER_BYTES);
        } catch {
          // Capped by net.core.rmem_max; the default still works at lower rates.
        }
        resolve(new UdpEndpoint(socket, handler, stats));
      });
    });
  }

  get isOpen(): boolean {
    return this.open;
  }

  get port(): number {
    return this.socket.address().port;
  }

  sendTo(data: Buffer, port: number, address: string): boolean {
    if (!this.open) return false;
    this.socket.send(data, port, address);
    return true;
  }

  close(): Promise<void> {
    if (!this.open) return Promise.resolve();
    this.open = false;
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
